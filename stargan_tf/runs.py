"""A run folder: what training writes and every tool reads.

Layout of `<work_dir>`:

  config.json      the resolved configuration, label space included (written atomically, once
                   every check of a training start has passed)
  checkpoints/     ckpt-<step>.index / .data-*: G, D, both Adam optimizers, step, RNG state (a
                   generator imported from PyTorch without its discriminator: G alone)
  samples/         <step>-images.png: fixed test images in every domain, every sample_step
  logs/            TensorBoard events
  results/         grids written by `translate`
  classifier/      the domain classifier of the evaluation (`train_classifier`): its weights and
                   a JSON record (written as a whole folder, atomically)
  evaluation/      <step>.json: the scores `evaluate` measured on the checkpoint of that step
  .lock            held by the training process using the folder (an flock: released by the
                   kernel when that process dies, even by kill -9)

`Run` is the one place that knows this layout: training, translate, evaluate, export and the
tools that come later open runs through it and restore models with `Run.restore`, never through
the training loop.
"""

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile

from absl import logging

from stargan_tf import config as config_lib
from stargan_tf import fileio

CONFIG_FILE = 'config.json'
CHECKPOINTS = 'checkpoints'
SAMPLES = 'samples'
LOGS = 'logs'
RESULTS = 'results'
CLASSIFIER = 'classifier'
EVALUATION = 'evaluation'
LOCK_FILE = '.lock'
_CHECKPOINT_PREFIX = 'ckpt'
_CHECKPOINT_INDEX = re.compile(rf'^{_CHECKPOINT_PREFIX}-(\d+)\.index$')
# What tf.train.Checkpoint leaves when it is killed while saving: its temporary folder.
_CHECKPOINT_TEMP = re.compile(rf'^{_CHECKPOINT_PREFIX}-\d+_temp$')
# The objects of a training checkpoint, by their names in it.
TRAINING_OBJECTS = ('G', 'D', 'g_optimizer', 'd_optimizer', 'step', 'rng')


class RunLockedError(RuntimeError):
  """Another process trains in this run folder."""


@dataclasses.dataclass(frozen=True)
class Restored:
  """Models restored from a run: config, G, D, the checkpoint path and its step.

  D is None when the checkpoint holds only G (a generator imported without its discriminator).
  """
  config: config_lib.Config
  G: object
  D: object
  path: str
  step: int


class Run:
  """The run folder `work_dir` (it need not exist yet)."""

  def __init__(self, work_dir):
    if not work_dir:
      raise ValueError('--work_dir is empty: give the run folder.')
    self.work_dir = work_dir

  def __repr__(self):
    return f'Run({self.work_dir!r})'

  def _path(self, name):
    return os.path.join(self.work_dir, name)

  @property
  def config_path(self):
    return self._path(CONFIG_FILE)

  @property
  def checkpoint_dir(self):
    return self._path(CHECKPOINTS)

  @property
  def sample_dir(self):
    return self._path(SAMPLES)

  @property
  def log_dir(self):
    return self._path(LOGS)

  @property
  def results_dir(self):
    return self._path(RESULTS)

  @property
  def classifier_dir(self):
    return self._path(CLASSIFIER)

  @property
  def evaluation_dir(self):
    return self._path(EVALUATION)

  def evaluation_path(self, step):
    return os.path.join(self.evaluation_dir, f'{step:06d}.json')

  @staticmethod
  def sample_name(step):
    return f'{step:06d}-images.png'

  # The configuration.

  def has_config(self):
    return os.path.exists(self.config_path)

  def load_config(self):
    """The run's Config; FileNotFoundError or ValueError naming the file otherwise."""
    if not self.has_config():
      raise FileNotFoundError(f'{self.config_path} not found: --work_dir must be the folder a '
                              'training run wrote (it holds config.json and checkpoints/).')
    try:
      with open(self.config_path) as f:
        return config_lib.Config.from_dict(json.load(f))
    except (ValueError, KeyError, TypeError) as e:
      raise ValueError(f'{self.config_path} is not a readable run configuration '
                       f'({type(e).__name__}: {e}).') from None

  def save_config(self, config):
    """Writes config.json atomically (a kill never leaves a truncated file)."""
    return fileio.write_json(self.config_path, config.to_dict())

  # Checkpoints.

  def checkpoint_steps(self):
    """Steps of the complete checkpoints (their index file written), ascending."""
    if not os.path.isdir(self.checkpoint_dir):
      return []
    steps = (_CHECKPOINT_INDEX.match(n) for n in os.listdir(self.checkpoint_dir))
    return sorted(int(m.group(1)) for m in steps if m)

  @property
  def checkpoint_prefix(self):
    """The prefix tf.train.CheckpointManager saves under (checkpoints/ckpt)."""
    return os.path.join(self.checkpoint_dir, _CHECKPOINT_PREFIX)

  def checkpoint_path(self, step=0):
    """The checkpoint of `step` (0: the latest); FileNotFoundError listing the saved ones."""
    steps = self.checkpoint_steps()
    if not steps:
      raise FileNotFoundError(f'no checkpoint in {self.checkpoint_dir}: train first with '
                              f'--work_dir={self.work_dir}.')
    if step and step not in steps:
      raise FileNotFoundError(f'no checkpoint for step {step} in {self.checkpoint_dir}; saved: '
                              f'{", ".join(f"ckpt-{s}" for s in steps)}.')
    return f'{self.checkpoint_prefix}-{step or steps[-1]}'

  def latest_checkpoint(self):
    """The latest checkpoint's path, or None."""
    steps = self.checkpoint_steps()
    return f'{self.checkpoint_prefix}-{steps[-1]}' if steps else None

  def restore(self, step=0):
    """Builds G and D and loads the checkpoint of `step` (0: the latest) into them.

    A checkpoint holding only G (imported without a discriminator) restores with D None.

    Raises:
      FileNotFoundError: no config or no such checkpoint (the message lists the saved ones).
      FloatingPointError: the checkpoint holds non-finite weights (a diverged run).
    """
    import tensorflow as tf  # pylint: disable=g-import-not-at-top (layout users need no TF)
    from stargan_tf import models  # pylint: disable=g-import-not-at-top
    config = self.load_config()
    path = self.checkpoint_path(step)
    G, D = models.build(config.model, config.label_space)
    if 'D' not in checkpoint_objects(path):
      D = None
    networks = {'G': G, 'D': D} if D is not None else {'G': G}
    tf.train.Checkpoint(**networks).restore(path).expect_partial().assert_existing_objects_matched()
    bad = models.non_finite_weights(networks)
    if bad:
      raise FloatingPointError(f'{path} holds non-finite weights ({", ".join(bad[:3])}'
                               f'{", ..." if len(bad) > 3 else ""}): the run diverged before '
                               'this checkpoint. Saved steps: '
                               f'{", ".join(map(str, self.checkpoint_steps()))}.')
    logging.info('Restored %s from %s.', ' and '.join(networks), path)
    return Restored(config, G, D, path, int(path.rsplit('-', 1)[1]))

  # Training's use of the folder.

  @contextlib.contextmanager
  def lock(self):
    """Holds the folder for one training process; RunLockedError if another one holds it.

    The lock is an flock on `.lock`: the kernel releases it when its process ends, however it
    ends, so a killed run never leaves the folder locked.
    """
    os.makedirs(self.work_dir, exist_ok=True)
    path = self._path(LOCK_FILE)
    with open(path, 'a+') as f:
      try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except OSError as e:
        if e.errno not in (errno.EAGAIN, errno.EACCES):
          raise
        f.seek(0)
        holder = f.read().strip() or 'another process'
        raise RunLockedError(f'{self.work_dir} is in use by another training run ({holder}); '
                             'wait for it to end, or use another --work_dir.') from None
      f.seek(0)
      f.truncate()
      f.write(f'pid {os.getpid()} on {os.uname().nodename}\n')
      f.flush()
      try:
        yield
      finally:
        f.truncate(0)
        fcntl.flock(f, fcntl.LOCK_UN)

  def remove_debris(self):
    """Removes what killed runs left: checkpoint temporary folders and partial files.

    Call it holding `lock()`: then no other training process writes here, so every temporary
    checkpoint folder is a dead writer's. Returns the removed paths.
    """
    removed = []
    if os.path.isdir(self.checkpoint_dir):
      for name in sorted(os.listdir(self.checkpoint_dir)):
        if _CHECKPOINT_TEMP.match(name):
          path = os.path.join(self.checkpoint_dir, name)
          shutil.rmtree(path, ignore_errors=True)
          removed.append(path)
    for folder in (self.work_dir, self.sample_dir, self.results_dir):
      removed += fileio.remove_stale_in(folder)
    for path in removed:
      logging.info('Removed %s, left by an interrupted run.', path)
    return removed

  def check_writable(self):
    """Creates the output folders and checks that files can be written in each (before any step
    is trained, so a read-only folder does not cost the steps before the first save)."""
    for folder in (self.work_dir, self.checkpoint_dir, self.sample_dir, self.log_dir):
      try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder) as f:
          f.write(b'ok')
      except OSError as e:
        raise PermissionError(f'cannot write to {folder} ({e.strerror}); training writes its '
                              'checkpoints, samples and logs there: make it writable or choose '
                              'another --work_dir.') from None


# What a checkpoint holds.


def checkpoint_objects(path):
  """The names of the objects the checkpoint at `path` holds values of, e.g. {'G', 'D', 'step',
  ...} for a training checkpoint, {'G', ...} for a generator imported alone."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top (layout users need no TF)
  return {name.split('/', 1)[0] for name, _ in tf.train.list_variables(path)}


def build_optimizer(lr, train_config, variables):
  """Adam with the run's betas, built on `variables`; loss-scaled under mixed_float16."""
  import keras  # pylint: disable=g-import-not-at-top (layout users need no TF)
  # Built eagerly on the variables: a lazy build inside a replica context fails.
  opt = keras.optimizers.Adam(learning_rate=lr, beta_1=train_config.beta1,
                              beta_2=train_config.beta2)
  if train_config.precision == 'mixed_float16':
    opt = keras.optimizers.LossScaleOptimizer(opt)
  opt.build(variables)
  return opt


def adam(optimizer):
  """The Adam optimizer of `build_optimizer`'s result (inside its loss-scale wrapper, if any)."""
  return getattr(optimizer, 'inner_optimizer', optimizer)


def training_checkpoint(G, D, g_optimizer, d_optimizer, step, rng):
  """The tf.train.Checkpoint of a training run, holding TRAINING_OBJECTS.

  It holds the Adam optimizers, not their loss-scale wrappers, so that a run can resume under
  another precision (and, the objects being the same under every strategy, another strategy).

  Args:
    G, D: the built networks.
    g_optimizer, d_optimizer: their optimizers from `build_optimizer`.
    step: the int64 variable counting the iterations done.
    rng: the tf.random.Generator of the training draws.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top (layout users need no TF)
  return tf.train.Checkpoint(G=G, D=D, g_optimizer=adam(g_optimizer),
                             d_optimizer=adam(d_optimizer), step=step, rng=rng)
