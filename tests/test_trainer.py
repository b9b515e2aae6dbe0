import dataclasses
import glob
import json
import logging
import os
import signal
import socket
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

import helpers
from helpers import killed_after
from helpers import train_as_in_a_new_process as train_fresh
from helpers import with_train as _with_train
from stargan_tf import distribute
from stargan_tf import runs
from stargan_tf import trainer


def _event_tags(log_dir):
  tags = {}
  for path in glob.glob(os.path.join(log_dir, 'events.out.tfevents.*')):
    for event in tf.compat.v1.train.summary_iterator(path):
      for v in event.summary.value:
        tags.setdefault(v.tag, []).append(event.step)
  return tags


def _state(work_dir, config, step):
  """All checkpointed values of one checkpoint, by name."""
  path = runs.Run(work_dir).checkpoint_path(step)
  reader = tf.train.load_checkpoint(path)
  return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)
          if not name.startswith('save_counter') and name != '_CHECKPOINTABLE_OBJECT_GRAPH'}


@pytest.mark.slow
def test_smoke_run_writes_every_output(tiny_config):
  work_dir = tiny_config.train.work_dir
  metrics = trainer.train(tiny_config)
  assert set(metrics) >= {'D/loss_real', 'D/loss_fake', 'D/loss_cls', 'D/loss_gp', 'G/loss_fake',
                          'G/loss_rec', 'G/loss_cls'}
  assert all(np.isfinite(v) for v in metrics.values())
  assert runs.Run(work_dir).load_config() == tiny_config
  with open(os.path.join(work_dir, 'config.json')) as f:
    assert json.load(f)['model']['g_conv_dim'] == 8
  ckpts = tf.train.get_checkpoint_state(os.path.join(work_dir, 'checkpoints'))
  assert [os.path.basename(p) for p in ckpts.all_model_checkpoint_paths] == ['ckpt-2', 'ckpt-4']
  samples = sorted(os.listdir(os.path.join(work_dir, 'samples')))
  assert samples == ['000002-images.png', '000004-images.png']
  grid = np.asarray(Image.open(os.path.join(work_dir, 'samples', samples[-1])))
  # 8 fixed test images (rows) x [input + 5 targets] (columns) at 32 px, under a header row
  # naming the columns.
  assert grid.shape[0] > 8 * 32 and grid.shape[1:] == (6 * 32, 3)
  assert (grid[:grid.shape[0] - 8 * 32] < 128).any()  # the names are written in the header
  tags = _event_tags(os.path.join(work_dir, 'logs'))
  for tag in ('D/loss_real', 'D/loss_gp', 'G/loss_rec', 'lr/G', 'lr/D'):
    assert tags[tag] == [2, 4], tag
  assert tags['samples'] == [2, 4]
  # Training past num_iters does nothing.
  assert trainer.train(tiny_config) == {}


@pytest.mark.slow
def test_resume_matches_an_uninterrupted_run(tiny_config, tmp_path):
  config = _with_train(tiny_config, num_iters=6, num_iters_decay=4, model_save_step=3)
  whole = _with_train(config, work_dir=str(tmp_path / 'whole'))
  parts = _with_train(config, work_dir=str(tmp_path / 'parts'))
  train_fresh(whole)
  # Killed after step 3 (odd: mid n_critic cycle), then the same command again.
  killed_after(whole.train.work_dir, parts.train.work_dir, 3)
  assert runs.Run(parts.train.work_dir).checkpoint_steps() == [3]
  train_fresh(parts)
  a = _state(whole.train.work_dir, whole, 6)
  b = _state(parts.train.work_dir, parts, 6)
  assert a.keys() == b.keys()
  names = list(a)
  # Weights, both optimizers' moments and iteration counts, the step and the RNG state.
  assert any(n.startswith('G/') for n in names) and any(n.startswith('d_optimizer/') for n in names)
  assert any(n.startswith('rng/') for n in names) and any(n.startswith('step') for n in names)
  for name in names:
    np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6, err_msg=name)
  # The decayed learning rate at the end is the same too: step 5 of 6, decay over the last 4.
  np.testing.assert_allclose(a['g_optimizer/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE'],
                             1e-4 * (6 - 5) / 4, rtol=1e-6)


@pytest.mark.slow
def test_resume_iters_picks_an_older_checkpoint(tiny_config):
  train_fresh(tiny_config)
  with pytest.raises(FileNotFoundError, match='no checkpoint for step 3 .*saved: ckpt-2, ckpt-4'):
    trainer.train(_with_train(tiny_config, resume_iters=3))
  before = _state(tiny_config.train.work_dir, tiny_config, 4)
  train_fresh(_with_train(tiny_config, resume_iters=2))  # redo steps 3-4
  after = _state(tiny_config.train.work_dir, tiny_config, 4)
  for name in before:
    np.testing.assert_allclose(before[name], after[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_refuses_a_work_dir_of_another_model(tiny_config):
  runs.Run(tiny_config.train.work_dir).save_config(tiny_config)
  other = dataclasses.replace(tiny_config,
                              model=dataclasses.replace(tiny_config.model, g_conv_dim=16))
  with pytest.raises(ValueError, match="different model configuration.*'g_conv_dim': \\(8, 16\\)"):
    trainer.train(other)


@pytest.mark.parametrize('kind, precision, convolutions, warned', [
    ('CPU', 'float32', ('native x6', 'native x4, transposed x1 (conv_src)'), False),
    ('CPU', 'mixed_bfloat16', ('native x6', 'native x4, transposed x1 (conv_src)'), True),
    ('GPU', 'mixed_bfloat16', ('native x6', 'native x5'), False),
])
def test_start_up_logs_the_convolutions_and_warns_of_emulated_bfloat16(
    tiny_config, monkeypatch, caplog, kind, precision, convolutions, warned):
  monkeypatch.setattr(trainer, '_loop', lambda *args: {})  # the start-up alone
  monkeypatch.setattr(distribute, 'device_kind', lambda strategy=None: kind)
  monkeypatch.setattr(distribute, '_read_cpuinfo', lambda: 'flags\t\t: fpu sse2 avx2\n')
  monkeypatch.setattr(distribute, 'onednn_enabled', lambda: True)
  with caplog.at_level(logging.INFO):
    trainer.train(_with_train(tiny_config, precision=precision))
  messages = [r.getMessage() for r in caplog.records]
  assert f'G convolutions on {kind}: {convolutions[0]}.' in messages
  assert f'D convolutions on {kind}: {convolutions[1]}.' in messages
  warnings = [m for m in messages if 'emulates bfloat16 on this CPU' in m]
  assert len(warnings) == warned, warnings


def test_missing_dataset_error_names_the_path(tiny_config, tmp_path):
  missing = str(tmp_path / 'nowhere' / 'list_attr_celeba.txt')
  config = dataclasses.replace(tiny_config,
                               data=dataclasses.replace(tiny_config.data, attr_path=missing))
  with pytest.raises(FileNotFoundError, match='nowhere/list_attr_celeba.txt'):
    trainer.train(config)


def _rafd_tree(root, classes, per_class):
  r = np.random.RandomState(0)
  for k, name in enumerate(classes):
    (root / name).mkdir(parents=True)
    for j in range(per_class):
      image = np.full([40, 40, 3], 40 * k, np.uint8) + r.randint(0, 30, [40, 40, 3], np.uint8)
      Image.fromarray(image).save(root / name / f'{j}.png')


@pytest.mark.slow
def test_rafd_training_and_label_width_check(tiny_config, tmp_path):
  classes = ('angry', 'happy', 'sad')
  _rafd_tree(tmp_path / 'rafd' / 'train', classes, 4)
  _rafd_tree(tmp_path / 'rafd' / 'test', classes, 1)
  data = dataclasses.replace(tiny_config.data, dataset='RaFD', rafd_crop_size=32,
                             rafd_image_dir=str(tmp_path / 'rafd' / 'train'),
                             rafd_test_dir=str(tmp_path / 'rafd' / 'test'))
  config = dataclasses.replace(tiny_config, data=dataclasses.replace(data, rafd_classes=classes))
  metrics = trainer.train(_with_train(config, num_iters=2))
  assert np.isfinite(metrics['D/loss_cls']) and np.isfinite(metrics['G/loss_cls'])
  grid = np.asarray(Image.open(os.path.join(config.train.work_dir, 'samples', '000002-images.png')))
  assert grid.shape[-2:] == (4 * 32, 3)  # [input + one column per class]
  # The run records its classes: grids, exports and clients name these classes.
  assert runs.Run(config.train.work_dir).load_config().label_space.domain_names == classes
  from stargan_tf import contract, export_lib  # pylint: disable=g-import-not-at-top
  exported = export_lib.export_from_work_dir(config.train.work_dir, str(tmp_path / 'exports'))
  space = contract.read_export_metadata(exported).label_space
  assert space.domain_names == classes and space.parts[0].kind == 'one_hot'


@pytest.mark.slow
def test_trains_from_an_image_cache(tiny_config, tmp_path):
  """--cache_dir: the same run reads preprocessed images instead of decoding the JPEGs."""
  from stargan_tf.data import cache  # pylint: disable=g-import-not-at-top
  cache_dir = str(tmp_path / 'cache')
  config = dataclasses.replace(
      tiny_config, data=dataclasses.replace(tiny_config.data, cache_dir=cache_dir))
  cache.write_cache_for_config(config.data, config.model.image_size)
  metrics = trainer.train(_with_train(config, num_iters=2))
  assert metrics and all(np.isfinite(v) for v in metrics.values())
  missing = dataclasses.replace(
      config, data=dataclasses.replace(config.data, cache_dir=str(tmp_path / 'none')))
  with pytest.raises(FileNotFoundError, match='none'):
    trainer.train(_with_train(missing, work_dir=str(tmp_path / 'run2')))


@pytest.mark.slow
def test_joint_training_resumes_and_samples_every_domain_of_both_datasets(trained_both, tmp_path):
  """One CelebA and one RaFD batch per iteration; the grid is [input | 5 CelebA | 8 RaFD]."""
  from stargan_tf.data import pipeline  # pylint: disable=g-import-not-at-top
  from stargan_tf.data import splits  # pylint: disable=g-import-not-at-top
  whole = trained_both  # 2 iterations, n_critic 1, logged every step
  tags = _event_tags(os.path.join(whole.train.work_dir, 'logs'))
  for dataset in ('CelebA', 'RaFD'):
    for name in ('D/loss_real', 'D/loss_cls', 'D/loss_gp', 'G/loss_cls', 'G/loss_rec'):
      assert tags[f'{dataset}/{name}'] == [1, 2], (dataset, name)

  parts = _with_train(whole, work_dir=str(tmp_path / 'parts'))
  killed_after(whole.train.work_dir, parts.train.work_dir, 1)
  metrics = train_fresh(parts)
  assert all(np.isfinite(v) for v in metrics.values()) and 'RaFD/G/loss_cls' in metrics
  a, b = _state(whole.train.work_dir, whole, 2), _state(parts.train.work_dir, parts, 2)
  assert a.keys() == b.keys()
  for name in a:
    np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6, err_msg=name)

  grid = np.asarray(Image.open(os.path.join(whole.train.work_dir, 'samples',
                                            '000002-images.png')))[-8 * 32:]  # below the header
  assert grid.shape == (8 * 32, 14 * 32, 3)
  G = runs.Run(whole.train.work_dir).restore().G
  paths, c_org = splits.load_split(whole.data, 'test', 'CelebA')
  x, c = next(iter(pipeline.make_dataset(paths[:8], c_org[:8], 178, 32, 8, training=False)))
  targets = whole.label_space.create_labels(c.numpy(), 'CelebA')
  assert [t[0, -2:].tolist() for t in targets] == [[1, 0]] * 5 + [[0, 1]] * 8
  for k, c_trg in enumerate(targets, start=1):
    expected = (np.asarray(G(x, c_trg, training=False)) + 1) * 127.5
    column = grid[:, 32 * k:32 * (k + 1)].reshape(8, 32, 32, 3).astype(np.float32)
    assert np.abs(column - expected).max() <= 1.0, k


def _read(path):
  with open(path, 'rb') as f:
    return f.read()


@pytest.mark.slow
def test_a_diverged_run_never_saves_a_non_finite_checkpoint(tiny_config):
  """Learning rates of 100 make NaN within a few steps; losses are logged only every 100."""
  config = _with_train(tiny_config, num_iters=40, num_iters_decay=0, n_critic=1, g_lr=100.0,
                       d_lr=100.0, log_step=100, model_save_step=1, sample_step=100)
  run = runs.Run(config.train.work_dir)
  with pytest.raises(FloatingPointError, match='training diverged: non-finite values at step') as e:
    trainer.train(config)
  saved = run.checkpoint_steps()
  assert saved, 'diverged before the first checkpoint: use a smaller learning rate in this test'
  assert f'The last checkpoint, {run.checkpoint_path(saved[-1])}, is finite' in str(e.value)
  assert f'--resume_iters={saved[-1]}' in str(e.value)
  for step in saved:  # every checkpoint restores (Run.restore refuses non-finite weights) ...
    run.restore(step)
    state = _state(run.work_dir, config, step)  # ... and its optimizer moments are finite too
    assert all(np.isfinite(v).all() for v in state.values()
               if isinstance(v, np.ndarray) and v.dtype.kind == 'f'), step


def test_restore_refuses_a_checkpoint_with_non_finite_weights(tiny_run, tmp_path):
  """A checkpoint written before this check existed: tools refuse it, naming the variable."""
  import shutil  # pylint: disable=g-import-not-at-top
  work_dir = str(tmp_path / 'run')
  shutil.copytree(tiny_run.train.work_dir, work_dir)
  restored = runs.Run(work_dir).restore()
  restored.G.conv_in.kernel.assign(restored.G.conv_in.kernel * float('nan'))
  checkpoint = tf.train.Checkpoint(G=restored.G, D=restored.D)
  checkpoint.save_counter  # pylint: disable=pointless-statement (saved too, as training saves it)
  checkpoint.write(restored.path)
  with pytest.raises(FloatingPointError, match='holds non-finite weights .*conv_in'):
    runs.Run(work_dir).restore()


def test_a_second_run_on_a_work_dir_in_use_is_refused_and_writes_nothing(tiny_config):
  run = runs.Run(tiny_config.train.work_dir)
  with run.lock():
    with pytest.raises(runs.RunLockedError, match=f'in use by another training run \\(pid '
                       f'{os.getpid()} on {socket.gethostname()}'):
      trainer.train(tiny_config)
  assert os.listdir(run.work_dir) == ['.lock']


def test_a_killed_run_leaves_the_work_dir_unlocked(tmp_path):
  """The lock is an flock, released by the kernel when its holder dies (here by SIGKILL)."""
  work_dir = str(tmp_path / 'run')
  holder = subprocess.Popen(
      [sys.executable, '-c', 'import sys, time\nfrom stargan_tf import runs\n'
       f'with runs.Run({work_dir!r}).lock():\n  print("locked", flush=True)\n  time.sleep(600)'],
      stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=os.getcwd()))
  try:
    assert holder.stdout.readline().strip() == 'locked'
    with pytest.raises(runs.RunLockedError, match=f'pid {holder.pid}'):
      with runs.Run(work_dir).lock():
        pass
  finally:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
  with runs.Run(work_dir).lock():
    pass


@pytest.mark.slow
def test_a_refused_start_leaves_config_json_as_it_was(tiny_config):
  trainer.train(tiny_config)  # checkpoints at steps 2 and 4
  path = runs.Run(tiny_config.train.work_dir).config_path
  before = _read(path)
  refused = [
      (_with_train(tiny_config, resume_iters=3, num_iters=60), FileNotFoundError,
       'no checkpoint for step 3'),
      (_with_train(tiny_config, strategy='mirrored', num_iters=60), None, None),
  ]
  odd_batch = dataclasses.replace(refused[1][0], data=dataclasses.replace(tiny_config.data,
                                                                          batch_size=3))
  refused[1] = (odd_batch, ValueError, '--batch_size=3 .* must be divisible by the 2 replicas')
  for config, error, message in refused:
    with pytest.raises(error, match=message):
      trainer.train(config)
    assert _read(path) == before


def test_an_unwritable_work_dir_is_found_before_training(tiny_config):
  work_dir = tiny_config.train.work_dir
  os.makedirs(work_dir)
  os.symlink('/sys', os.path.join(work_dir, 'checkpoints'))  # not writable, even by root
  with pytest.raises(PermissionError, match='cannot write to .*checkpoints .*make it writable'):
    trainer.train(tiny_config)
  assert not os.path.exists(os.path.join(work_dir, 'config.json'))


@pytest.mark.slow
def test_debris_of_killed_runs_is_removed(tiny_config):
  run = runs.Run(tiny_config.train.work_dir)
  temp = os.path.join(run.checkpoint_dir, 'ckpt-2_temp')
  os.makedirs(temp)
  with open(os.path.join(temp, 'part-00000-of-00001.index'), 'w') as f:
    f.write('half a checkpoint')
  stale = helpers.partial_name(run.config_path, helpers.dead_pid())
  alive = helpers.partial_name(run.config_path, os.getpid())
  for path in (stale, alive):
    with open(path, 'w') as f:
      f.write('{')
  trainer.train(_with_train(tiny_config, num_iters=2))
  assert not os.path.exists(temp) and not os.path.exists(stale)
  assert os.path.exists(alive)  # its writer (this process) still runs: not provably debris
  assert run.checkpoint_steps() == [2]
