"""Shared test set-up: marker registration and small configurations."""

import dataclasses
import os

import pytest

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# Two logical CPU devices for the whole session, set before any TensorFlow op runs: the
# distribution tests mirror over them; everything else runs on the first, as without them.
NUM_CPU_DEVICES = 2
from stargan_tf import distribute  # pylint: disable=g-import-not-at-top,wrong-import-position

distribute.configure_cpu_devices(NUM_CPU_DEVICES)


def pytest_configure(config):
  config.addinivalue_line(
      'markers', 'slow: training, learning and end-to-end tests (minutes); they run in CI; '
      'deselect locally with -m "not slow"')


TINY_IMAGES = 64
TINY_TEST_SIZE = 17  # -> 16 test images, 48 training images


@pytest.fixture(scope='session')
def synthetic_dir(tmp_path_factory):
  """A small synthetic dataset in the CelebA layout, written once per test session."""
  from stargan_tf.data import synthetic
  root = tmp_path_factory.mktemp('synthetic') / 'data'
  synthetic.generate(str(root), num_images=TINY_IMAGES, seed=0)
  return root


@pytest.fixture(scope='session')
def make_tiny_config(synthetic_dir):
  """Returns make(work_dir, **train_values): a tiny 32px model on the tiny synthetic dataset."""
  from stargan_tf import config as config_lib
  c = config_lib.Config()

  def make(work_dir, **train_values):
    train = dict(work_dir=str(work_dir), num_iters=4, num_iters_decay=2, n_critic=2, log_step=2,
                 sample_step=2, model_save_step=2)
    train.update(train_values)
    return config_lib.Config(
        data=dataclasses.replace(
            c.data, attr_path=str(synthetic_dir / 'list_attr_celeba.txt'),
            celeba_image_dir=str(synthetic_dir / 'img_align_celeba'), image_size=32,
            batch_size=4, test_size=TINY_TEST_SIZE),
        model=dataclasses.replace(c.model, image_size=32, g_conv_dim=8, d_conv_dim=8,
                                  g_repeat_num=1, d_repeat_num=3),
        loss=c.loss,
        train=dataclasses.replace(c.train, **train)).validate()

  return make


@pytest.fixture
def tiny_config(make_tiny_config, tmp_path):
  return make_tiny_config(tmp_path / 'run')


def joint(config, root):
  """`config` turned into --dataset=Both on the two synthetic datasets under `root`
  (root/celeba in the CelebA format, root/RaFD/{train,test} in the RaFD layout)."""
  from stargan_tf import config as config_lib
  return config_lib.Config(
      data=dataclasses.replace(
          config.data, dataset='Both',
          attr_path=str(root / 'celeba' / 'list_attr_celeba.txt'),
          celeba_image_dir=str(root / 'celeba' / 'img_align_celeba'),
          rafd_image_dir=str(root / 'RaFD' / 'train'), rafd_test_dir=str(root / 'RaFD' / 'test'),
          rafd_crop_size=178),
      model=dataclasses.replace(config.model, mask_vector=True),
      loss=config.loss, train=config.train).validate()


@pytest.fixture(scope='session')
def synthetic_both_dir(tmp_path_factory):
  """The two small synthetic datasets of joint training, written once per test session."""
  from stargan_tf.data import synthetic
  root = tmp_path_factory.mktemp('synthetic_both')
  synthetic.generate(str(root / 'celeba'), num_images=TINY_IMAGES, seed=0, expressions=True)
  synthetic.generate_rafd(str(root / 'RaFD'), num_images=TINY_IMAGES, seed=1, test_fraction=0.25)
  return root


@pytest.fixture(scope='session')
def make_tiny_both_config(make_tiny_config, synthetic_both_dir):
  """Like make_tiny_config, with --dataset=Both on the two tiny synthetic datasets."""
  return lambda work_dir, **train_values: joint(make_tiny_config(work_dir, **train_values),
                                                synthetic_both_dir)


@pytest.fixture(scope='session')
def trained_both(tmp_path_factory, make_tiny_both_config):
  """A tiny --dataset=Both run trained for 2 steps, shared by the tests that restore it."""
  from stargan_tf import trainer
  config = make_tiny_both_config(tmp_path_factory.mktemp('both_run'), num_iters=2,
                                 num_iters_decay=0, n_critic=1, log_step=1)
  trainer.train(config)
  return config


def demo_config(root, num_iters, synthetic_images, test_size=2000, image_size=32, both=False):
  """configs/synthetic.flags's model and data at a constant learning rate, under `root`.

  The set-up of the slow tests that need a generator really trained on the synthetic dataset;
  both=True: configs/synthetic_both.flags's (the two synthetic datasets, written on first use).
  """
  from stargan_tf import config as config_lib
  c = config_lib.Config()
  config = config_lib.Config(
      data=dataclasses.replace(
          c.data, attr_path=str(root / 'data' / 'list_attr_celeba.txt'),
          celeba_image_dir=str(root / 'data' / 'img_align_celeba'),
          synthetic_images=synthetic_images, test_size=test_size, image_size=image_size,
          batch_size=16),
      model=dataclasses.replace(c.model, image_size=image_size, g_conv_dim=16, d_conv_dim=16,
                                g_repeat_num=3, d_repeat_num=4),
      loss=c.loss,
      train=dataclasses.replace(c.train, work_dir=str(root / 'run'), num_iters=num_iters,
                                num_iters_decay=0, log_step=100, sample_step=num_iters,
                                model_save_step=num_iters))
  return joint(config, root / 'both') if both else config.validate()
