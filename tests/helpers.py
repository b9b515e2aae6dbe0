"""Configurations and builders shared by the tests (fixtures live in conftest.py)."""

import dataclasses
import os
import shutil
import socket
import subprocess
import sys

from stargan_tf import config as config_lib

# The session splits the CPU into this many logical devices (conftest.py), for the mirrored tests.
NUM_CPU_DEVICES = 2

# The demo's set-up trained for the tests that need a trained generator (conftest.py's demo_run);
# its tests run in one xdist group, so that one worker trains it once.
DEMO_RUN_ITERS = 4500
DEMO_RUN_GROUP = 'demo_run'

TINY_IMAGES = 64
TINY_TEST_SIZE = 17  # -> 16 test images, 48 training images


def tiny_config(synthetic_dir, work_dir, **train_values):
  """A tiny 32 px model on the tiny synthetic CelebA-format dataset in `synthetic_dir`."""
  c = config_lib.Config()
  train = dict(work_dir=str(work_dir), num_iters=4, num_iters_decay=2, n_critic=2, log_step=2,
               sample_step=2, model_save_step=2)
  train.update(train_values)
  return config_lib.Config(
      data=dataclasses.replace(
          c.data, attr_path=str(synthetic_dir / 'list_attr_celeba.txt'),
          celeba_image_dir=str(synthetic_dir / 'img_align_celeba'), batch_size=4,
          test_size=TINY_TEST_SIZE),
      model=dataclasses.replace(c.model, image_size=32, g_conv_dim=8, d_conv_dim=8,
                                g_repeat_num=1, d_repeat_num=3),
      loss=c.loss,
      train=dataclasses.replace(c.train, **train)).validate()


def joint(config, root):
  """`config` turned into --dataset=Both on the two synthetic datasets under `root`
  (root/celeba in the CelebA format, root/RaFD/{train,test} in the RaFD layout)."""
  return dataclasses.replace(config, data=dataclasses.replace(
      config.data, dataset='Both',
      attr_path=str(root / 'celeba' / 'list_attr_celeba.txt'),
      celeba_image_dir=str(root / 'celeba' / 'img_align_celeba'),
      rafd_image_dir=str(root / 'RaFD' / 'train'), rafd_test_dir=str(root / 'RaFD' / 'test'),
      rafd_crop_size=178)).validate()


def with_train(config, **values):
  """`config` with some TrainConfig values replaced."""
  return dataclasses.replace(config, train=dataclasses.replace(config.train, **values))


CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, 'configs')


def demo_lr(flagfile):
  """The G learning rate set in configs/<flagfile> (the demos set G's and D's alike)."""
  with open(os.path.join(CONFIGS, flagfile)) as f:
    [lr] = [line.split('=', 1)[1] for line in f.read().splitlines() if line.startswith('--g_lr=')]
  return float(lr)


def demo_config(root, num_iters, synthetic_images, test_size=2000, image_size=32, both=False,
                lr=None, num_iters_decay=0):
  """configs/synthetic.flags's model and data under `root`, for `num_iters` iterations.

  The set-up of the slow tests that need a generator really trained on the synthetic dataset;
  both=True: configs/synthetic_both.flags's (the two synthetic datasets, written on first use).
  lr: G's and D's learning rate (default: the paper's 1e-4; the demo configurations use more),
  decaying linearly to 0 over the last `num_iters_decay` iterations (default: constant).
  """
  c = config_lib.Config()
  config = config_lib.Config(
      data=dataclasses.replace(
          c.data, attr_path=str(root / 'data' / 'list_attr_celeba.txt'),
          celeba_image_dir=str(root / 'data' / 'img_align_celeba'),
          synthetic_images=synthetic_images, test_size=test_size, batch_size=16),
      model=dataclasses.replace(c.model, image_size=image_size, g_conv_dim=16, d_conv_dim=16,
                                g_repeat_num=3, d_repeat_num=4),
      loss=c.loss,
      train=dataclasses.replace(c.train, work_dir=str(root / 'run'), num_iters=num_iters,
                                num_iters_decay=num_iters_decay, log_step=100,
                                sample_step=num_iters,
                                model_save_step=num_iters, g_lr=lr or c.train.g_lr,
                                d_lr=lr or c.train.d_lr))
  return joint(config, root / 'both') if both else config.validate()


def train_as_in_a_new_process(config, **kwargs):
  """trainer.train with Keras' global state reset first, as in a new process.

  Tests that compare two runs in one process (resume against uninterrupted) use this: Keras names
  the models of each run differently within one process (generator, generator_1, ...), and
  TensorFlow's graph optimiser fuses operations of identical graphs differently depending on those
  names on some CPUs (measured: 4e-6 after two Adam steps), while a resumed run in its own process
  builds exactly the graphs of the original.
  """
  import keras  # pylint: disable=g-import-not-at-top
  from stargan_tf import trainer  # pylint: disable=g-import-not-at-top
  keras.backend.clear_session()
  return trainer.train(config, **kwargs)


def killed_after(work_dir, copy_dir, step):
  """Copies the run in `work_dir` to `copy_dir` as a kill right after its checkpoint of `step`
  would have left it: the later checkpoints are gone. Returns copy_dir."""
  from stargan_tf import runs  # pylint: disable=g-import-not-at-top
  shutil.copytree(work_dir, copy_dir)
  run = runs.Run(str(copy_dir))
  assert step in run.checkpoint_steps(), (step, run.checkpoint_steps())
  for later in run.checkpoint_steps():
    if later > step:
      for name in os.listdir(run.checkpoint_dir):
        if name.startswith(f'ckpt-{later}.'):
          os.remove(os.path.join(run.checkpoint_dir, name))
  os.remove(os.path.join(run.checkpoint_dir, 'checkpoint'))  # TensorFlow's list of the saved ones
  return copy_dir


def dead_pid():
  """The process id of a process that has ended."""
  return int(subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                            capture_output=True, text=True, check=True).stdout)


def partial_name(path, pid):
  """The temporary name that fileio gives an atomic write of `path` by process `pid` (on this
  host)."""
  return os.path.join(os.path.dirname(path),
                      f'.{os.path.basename(path)}.partial-{socket.gethostname()}-{pid}-x1')


# A short training of a small domain classifier that learns the synthetic attributes at 32 px.
CLASSIFIER_TRAINING = dict(num_iters=50, batch_size=32, lr=3e-3, width=8, seed=0)
