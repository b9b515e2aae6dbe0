"""The shipped flag files parse into validated configs with the reference settings."""

import json
import os
import subprocess
import sys

import pytest

from stargan_tf import labels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PARSE = ('import json, sys; from absl import flags; from stargan_tf import flags as f; '
          'f.define_train_flags(); flags.FLAGS(sys.argv); c = f.config_from_flags(); '
          'print(json.dumps({**c.to_dict(), "label_space": c.label_space.to_dict()}))')


def _config(flagfile):
  result = subprocess.run([sys.executable, '-c', _PARSE, f'--flagfile=configs/{flagfile}'],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
                          text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  return json.loads(result.stdout)


REFERENCE = {'image_size': 128, 'g_conv_dim': 64, 'd_conv_dim': 64, 'g_repeat_num': 6,
             'd_repeat_num': 6}


@pytest.mark.parametrize('flagfile, dataset, widths', [
    ('celeba.flags', 'CelebA', [5]),
    ('rafd.flags', 'RaFD', [8]),
    ('both.flags', 'Both', [5, 8]),
])
def test_reference_flag_files(flagfile, dataset, widths):
  c = _config(flagfile)
  assert c['data']['dataset'] == dataset
  assert c['model'] == REFERENCE
  space = labels.LabelSpace.from_dict(c['label_space'])
  assert [p.width for p in space.parts] == widths
  assert (c['data']['celeba_crop_size'], c['data']['rafd_crop_size']) == (178, 256)
  assert c['data']['batch_size'] == 16
  train = c['train']
  assert (train['num_iters'], train['num_iters_decay'], train['n_critic']) == (200000, 100000, 5)
  assert (train['g_lr'], train['d_lr'], train['beta1'], train['beta2']) == (1e-4, 1e-4, 0.5, 0.999)
  assert (c['loss']['lambda_cls'], c['loss']['lambda_rec'], c['loss']['lambda_gp']) == (1, 10, 10)


@pytest.mark.parametrize('flagfile, dataset', [('synthetic.flags', 'CelebA'),
                                               ('synthetic_both.flags', 'Both')])
def test_demo_flag_files(flagfile, dataset):
  c = _config(flagfile)
  assert c['data']['dataset'] == dataset and c['data']['synthetic_images'] == 6000
  assert labels.LabelSpace.from_dict(c['label_space']).mask == (dataset == 'Both')
  assert c['model']['image_size'] == 32
