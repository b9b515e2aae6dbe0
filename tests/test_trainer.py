import dataclasses
import glob
import json
import os

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from stargan_tf import config as config_lib
from stargan_tf import trainer


def _with_train(config, **values):
  return dataclasses.replace(config, train=dataclasses.replace(config.train, **values))


def _event_tags(log_dir):
  tags = {}
  for path in glob.glob(os.path.join(log_dir, 'events.out.tfevents.*')):
    for event in tf.compat.v1.train.summary_iterator(path):
      for v in event.summary.value:
        tags.setdefault(v.tag, []).append(event.step)
  return tags


def _state(work_dir, config, step):
  """All checkpointed values of one checkpoint, by name."""
  path = trainer.checkpoint_path(os.path.join(work_dir, 'checkpoints'), step)
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
  assert config_lib.load(work_dir) == tiny_config
  with open(os.path.join(work_dir, 'config.json')) as f:
    assert json.load(f)['model']['g_conv_dim'] == 8
  ckpts = tf.train.get_checkpoint_state(os.path.join(work_dir, 'checkpoints'))
  assert [os.path.basename(p) for p in ckpts.all_model_checkpoint_paths] == ['ckpt-2', 'ckpt-4']
  samples = sorted(os.listdir(os.path.join(work_dir, 'samples')))
  assert samples == ['000002-images.png', '000004-images.png']
  grid = np.asarray(Image.open(os.path.join(work_dir, 'samples', samples[-1])))
  # 8 fixed test images (rows) x [input + 5 targets] (columns) at 32 px.
  assert grid.shape == (8 * 32, 6 * 32, 3)
  tags = _event_tags(os.path.join(work_dir, 'logs'))
  for tag in ('D/loss_real', 'D/loss_gp', 'G/loss_rec', 'lr/G', 'lr/D'):
    assert tags[tag] == [2, 4], tag
  assert tags['samples'] == [2, 4]
  # Training past num_iters does nothing.
  assert trainer.train(tiny_config) == {}


@pytest.mark.slow
def test_resume_matches_an_uninterrupted_run(tiny_config, tmp_path):
  config = _with_train(tiny_config, num_iters=6, num_iters_decay=4, model_save_step=100)
  whole = _with_train(config, work_dir=str(tmp_path / 'whole'))
  parts = _with_train(config, work_dir=str(tmp_path / 'parts'))
  trainer.train(whole)
  trainer.train(parts, stop_after=3)  # interrupted after step 3 (odd: mid n_critic cycle)
  assert os.path.exists(os.path.join(parts.train.work_dir, 'checkpoints', 'ckpt-3.index'))
  trainer.train(parts)  # the same command again resumes at step 3
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
  trainer.train(tiny_config)
  with pytest.raises(FileNotFoundError, match='no checkpoint for step 3 .*saved: ckpt-2, ckpt-4'):
    trainer.train(_with_train(tiny_config, resume_iters=3))
  before = _state(tiny_config.train.work_dir, tiny_config, 4)
  trainer.train(_with_train(tiny_config, resume_iters=2))  # redo steps 3-4
  after = _state(tiny_config.train.work_dir, tiny_config, 4)
  for name in before:
    np.testing.assert_allclose(before[name], after[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_refuses_a_work_dir_of_another_model(tiny_config):
  config_lib.save(tiny_config, tiny_config.train.work_dir)
  other = dataclasses.replace(tiny_config,
                              model=dataclasses.replace(tiny_config.model, g_conv_dim=16))
  with pytest.raises(ValueError, match="different model configuration.*'g_conv_dim': \\(8, 16\\)"):
    trainer.train(other)


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
  config = dataclasses.replace(tiny_config, data=data,
                               model=dataclasses.replace(tiny_config.model, c_dim=3))
  metrics = trainer.train(_with_train(config, num_iters=2))
  assert np.isfinite(metrics['D/loss_cls']) and np.isfinite(metrics['G/loss_cls'])
  grid = np.asarray(Image.open(os.path.join(config.train.work_dir, 'samples', '000002-images.png')))
  assert grid.shape == (3 * 32, 4 * 32, 3)  # 3 test images x [input + one column per class]
  # The run records its class folders: grids, exports and clients name these classes.
  assert config_lib.load(config.train.work_dir).data.label_space.domain_names == classes
  wrong = dataclasses.replace(config, model=dataclasses.replace(config.model, c_dim=8),
                              train=dataclasses.replace(config.train,
                                                        work_dir=str(tmp_path / 'wrong')))
  with pytest.raises(ValueError, match='labels have 3 domains but --c_dim=8; set --c_dim=3'):
    trainer.train(wrong)


@pytest.mark.slow
def test_trains_from_an_image_cache(tiny_config, tmp_path):
  """--cache_dir: the same run reads preprocessed images instead of decoding the JPEGs."""
  from stargan_tf.data import cache  # pylint: disable=g-import-not-at-top
  cache_dir = str(tmp_path / 'cache')
  config = dataclasses.replace(
      tiny_config, data=dataclasses.replace(tiny_config.data, cache_dir=cache_dir))
  cache.write_cache_for_config(config.data)
  metrics = trainer.train(_with_train(config, num_iters=2))
  assert metrics and all(np.isfinite(v) for v in metrics.values())
  missing = dataclasses.replace(
      config, data=dataclasses.replace(config.data, cache_dir=str(tmp_path / 'none')))
  with pytest.raises(FileNotFoundError, match='none'):
    trainer.train(_with_train(missing, work_dir=str(tmp_path / 'run2')))


def test_joint_models_have_the_reference_parameter_counts():
  """--dataset=Both at 128 px: G takes 3 + 5 + 8 + 2 channels, D classifies 5 + 8 domains."""
  model = config_lib.ModelConfig(mask_vector=True)
  G, D = trainer.build_models(model)
  assert (G.count_params(), D.count_params()) == (8_461_888, 44_827_584)


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
  trainer.train(parts, stop_after=1)
  metrics = trainer.train(parts)
  assert all(np.isfinite(v) for v in metrics.values()) and 'RaFD/G/loss_cls' in metrics
  a, b = _state(whole.train.work_dir, whole, 2), _state(parts.train.work_dir, parts, 2)
  assert a.keys() == b.keys()
  for name in a:
    np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6, err_msg=name)

  grid = np.asarray(Image.open(os.path.join(whole.train.work_dir, 'samples',
                                            '000002-images.png')))
  assert grid.shape == (8 * 32, 14 * 32, 3)
  _, G, _ = trainer.restore_models(whole.train.work_dir)
  paths, c_org = splits.load_split(whole.data, 'test', 'CelebA')
  x, c = next(iter(pipeline.make_dataset(paths[:8], c_org[:8], 178, 32, 8, training=False)))
  targets = whole.data.label_space.create_labels(c.numpy(), 'CelebA')
  assert [t[0, -2:].tolist() for t in targets] == [[1, 0]] * 5 + [[0, 1]] * 8
  for k, c_trg in enumerate(targets, start=1):
    expected = (np.asarray(G(x, c_trg, training=False)) + 1) * 127.5
    column = grid[:, 32 * k:32 * (k + 1)].reshape(8, 32, 32, 3).astype(np.float32)
    assert np.abs(column - expected).max() <= 1.0, k
