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


def _parse(*args):
  return subprocess.run([sys.executable, '-c', _PARSE, *args], cwd=ROOT,
                        env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                        timeout=120)


def _config(flagfile, *args):
  result = _parse(f'--flagfile=configs/{flagfile}', *args)
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


def _class_folders(root, names):
  for name in names:
    (root / name).mkdir(parents=True)
  return str(root)


def test_rafd_classes_are_the_class_folders_and_c_dim_must_agree(tmp_path):
  train = _class_folders(tmp_path / 'train', ('calm', 'joy', 'rage'))
  c = _config('rafd.flags', f'--rafd_image_dir={train}', '--c_dim=3')
  space = labels.LabelSpace.from_dict(c['label_space'])
  assert space.domain_names == ('calm', 'joy', 'rage') and c['data']['rafd_classes'] == [
      'calm', 'joy', 'rage']
  assert space.parts[0].kind == labels.ONE_HOT
  wrong = _parse('--flagfile=configs/rafd.flags', f'--rafd_image_dir={train}')  # c_dim 8
  assert wrong.returncode != 0
  assert (f'--c_dim=8 but --rafd_image_dir={train} holds 3 class folders (calm, joy, rage); set '
          '--c_dim=3.') in wrong.stderr
  both = _parse('--flagfile=configs/both.flags', f'--rafd_image_dir={train}')
  assert '--c2_dim=8 but --rafd_image_dir' in both.stderr


def test_c_dim_must_agree_with_the_selected_attributes():
  result = _parse('--flagfile=configs/celeba.flags', '--c_dim=4')
  assert result.returncode != 0
  assert ('--c_dim=4 but --selected_attrs names 5 attributes (Black_Hair Blond_Hair Brown_Hair '
          'Male Young); they must agree.') in result.stderr


def test_a_shortened_run_decays_over_the_whole_run():
  result = _parse('--flagfile=configs/celeba.flags', '--num_iters=10')
  assert result.returncode == 0, result.stderr[-2000:]
  assert json.loads(result.stdout)['train']['num_iters_decay'] == 10
  assert ('--num_iters_decay=100000 is longer than --num_iters=10: the learning rates decay '
          'linearly to 0 over all 10 iterations.') in result.stderr
