"""The training loop: n_critic schedule, lr decay, checkpoints, summaries, sample grids, resume.

With --dataset=Both each iteration trains on one CelebA batch and then one RaFD batch (a D update
for each, and every n_critic-th iteration a G update right after each D update); the logged
losses are named per dataset ('CelebA/D/loss_cls', 'RaFD/G/loss_rec', ...).

Outputs go to the run folder (`runs.Run`): checkpoints/ (G, D, both optimizers, step, RNG state),
samples/ (grids), logs/ (TensorBoard), config.json. Running again with the same work_dir resumes
from the latest checkpoint; `resume_iters` picks an older one. Checkpoints hold the same objects
whatever the strategy and precision (the Adam optimizers, not their loss-scale wrappers), so a run
can resume under another strategy or precision.

A start checks everything it can before it writes anything: the configuration, the data, the
batch split over replicas, the checkpoint to resume from, that no other process trains in the
folder (`Run.lock`) and that the folder is writable; only then is config.json written. Debris of
killed runs is removed. A checkpoint is saved only when every weight and optimizer moment is
finite, so the checkpoint a divergence message names is one training can resume from.

Under multi_worker only the chief writes these outputs (see `distribute`); every worker restores
from the chief's checkpoints, so the work_dir must be on a file system all workers share.
"""

import contextlib
import dataclasses
import time

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from stargan_tf import distribute
from stargan_tf import images
from stargan_tf import models
from stargan_tf import progress
from stargan_tf import runs
from stargan_tf import train_step
from stargan_tf.data import pipeline
from stargan_tf.data import splits

NUM_SAMPLE_IMAGES = 8


@contextlib.contextmanager
def dtype_policy(precision):
  """Sets Keras' global dtype policy to `precision` for the layers created inside the block."""
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(precision)
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


@dataclasses.dataclass
class _State:
  """What a checkpoint holds (`runs.training_checkpoint`), built under the strategy's scope."""
  G: keras.Model
  D: keras.Model
  g_optimizer: keras.optimizers.Optimizer
  d_optimizer: keras.optimizers.Optimizer
  step: tf.Variable
  rng: tf.random.Generator

  def checkpoint(self):
    return runs.training_checkpoint(self.G, self.D, self.g_optimizer, self.d_optimizer, self.step,
                                    self.rng)

  def non_finite(self):
    return models.non_finite_weights({'G': self.G, 'D': self.D,
                                      'g_optimizer': runs.adam(self.g_optimizer),
                                      'd_optimizer': runs.adam(self.d_optimizer)})


def _check_compatible(config, run):
  """Refuses to resume a run whose saved model or labels differ from this one."""
  if not run.has_config():
    return
  saved = run.load_config()
  diff = {k: (v, getattr(config.model, k)) for k, v in dataclasses.asdict(saved.model).items()
          if getattr(config.model, k) != v}
  if diff:
    raise ValueError(f'{run.work_dir} holds a run with a different model configuration (saved vs '
                     f'requested: {diff}); use another --work_dir.')
  if saved.label_space != config.label_space:
    raise ValueError(f'{run.work_dir} was trained on the labels {saved.label_space.layout}, not '
                     f'{config.label_space.layout}; use the same data and --selected_attrs, or '
                     'another --work_dir.')


def _load_splits(config):
  """{dataset: (paths, labels)} of the training splits; errors name what is wrong with the data."""
  space = config.label_space
  train_splits = {}
  for dataset in config.data.datasets:
    paths, c_org = splits.load_split(config.data, 'train', dataset)
    space.part(dataset).check(c_org)
    train_splits[dataset] = paths, c_org
  return train_splits


def _restore_path(run, train_config):
  """The checkpoint to resume from (resume_iters, else the latest), or None for a new run.

  Raises:
    ValueError: that checkpoint lacks objects training needs (a generator imported alone).
  """
  if train_config.resume_iters:
    path = run.checkpoint_path(train_config.resume_iters)
  else:
    path = run.latest_checkpoint()
  if path:
    held = runs.checkpoint_objects(path)
    missing = [name for name in runs.TRAINING_OBJECTS if name not in held]
    if missing:
      raise ValueError(f'{path} holds no {", ".join(missing)}, which training resumes from. A '
                       'generator imported from PyTorch without --discriminator holds G alone: '
                       'enough to translate and export, not to train on. Import the pair of files '
                       'again with --discriminator into a new --work_dir to continue training.')
  return path


def _build_state(config, strategy, device_kind):
  t_cfg = config.train
  keras.utils.set_random_seed(t_cfg.seed)  # initial weights follow the seed too
  with strategy.scope(), dtype_policy(t_cfg.precision):
    G, D = models.build(config.model, config.label_space, device_kind=device_kind)
    state = _State(G, D, runs.build_optimizer(t_cfg.g_lr, t_cfg, G.trainable_variables),
                   runs.build_optimizer(t_cfg.d_lr, t_cfg, D.trainable_variables),
                   tf.Variable(0, dtype=tf.int64, trainable=False, name='step'),
                   tf.random.Generator.from_seed(t_cfg.seed))
  logging.info('G: %s parameters, D: %s parameters.', f'{G.count_params():,}',
               f'{D.count_params():,}')
  log_convolutions({'G': G, 'D': D}, device_kind)
  return state


def log_convolutions(networks, device_kind):
  """Logs how each network's convolutions compute on `device_kind` (`models.Conv2D` 'auto')."""
  for name, model in networks.items():
    logging.info('%s convolutions on %s: %s.', name, device_kind, models.conv_summary(model))


def _input_streams(config, train_splits, strategy, start):
  """{dataset: iterator of distributed (x_real, c_org) batches from step `start` on}."""
  d_cfg, t_cfg = config.data, config.train
  options = tf.data.Options()
  # Every worker builds the same stream and keeps its share of each global batch.
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  batches = {}
  for dataset, (paths, c_org) in train_splits.items():
    ds = pipeline.make_dataset(paths, c_org, d_cfg.crop_size_of(dataset), config.model.image_size,
                               d_cfg.batch_size, training=True, seed=t_cfg.seed, start_step=start,
                               deterministic=d_cfg.deterministic_input,
                               cache_dir=d_cfg.cache_dir_of(dataset) or None)
    batches[dataset] = iter(strategy.experimental_distribute_dataset(ds.with_options(options)))
  return batches


class SampleWriter:
  """Translates a fixed batch of test images into every target domain and writes the grid.

  Columns: the input, then one per domain of the label space (`LabelSpace.create_labels`), each
  headed by its name. With --dataset=Both the images are CelebA's and the columns every CelebA
  target, then every RaFD class.
  """

  def __init__(self, G, config, sample_dir):
    self.G = G
    self.sample_dir = sample_dir
    d = config.data
    dataset = d.sample_dataset
    paths, c_org = splits.load_split(d, 'test', dataset)
    n = min(NUM_SAMPLE_IMAGES, len(paths))
    ds = pipeline.make_dataset(paths[:n], c_org[:n], d.crop_size_of(dataset),
                               config.model.image_size, n, training=False)
    self.x_fixed, c_fixed = next(iter(ds))
    space = config.label_space
    self.targets = [tf.constant(c) for c in space.create_labels(c_fixed.numpy(), dataset)]
    self.column_names = ('input',) + space.domain_names
    self._translate = tf.function(lambda x, c: tf.cast(self.G(x, c, training=False), tf.float32))

  def write(self, step):
    columns = [self.x_fixed.numpy()] + [self._translate(self.x_fixed, c).numpy()
                                        for c in self.targets]
    grid = images.make_grid(columns, column_names=self.column_names)
    path = images.save_image(f'{self.sample_dir}/{runs.Run.sample_name(step)}', grid)
    tf.summary.image('samples', grid[None], step=step)
    return path


def _check_finite_and_save(state, manager, step):
  """Saves a checkpoint of `step` if every weight and moment is finite; raises otherwise."""
  bad = state.non_finite()
  if bad:
    raise FloatingPointError(
        f'training diverged: non-finite values at step {step} in {", ".join(bad[:4])}'
        f'{", ..." if len(bad) > 4 else ""}; not saved. {_last_good(manager)}')
  return manager.save(checkpoint_number=step)


def _last_good(manager):
  if manager.latest_checkpoint:
    step = manager.latest_checkpoint.rsplit('-', 1)[1]
    return (f'The last checkpoint, {manager.latest_checkpoint}, is finite: lower --g_lr/--d_lr '
            f'and resume from it with --resume_iters={step}.')
  return 'No checkpoint was saved yet: lower --g_lr/--d_lr and start again.'


def train(config):
  """Trains (or resumes training) as configured; returns the last logged metrics as floats."""
  config.validate()
  t_cfg = config.train
  run = runs.Run(t_cfg.work_dir)
  _check_compatible(config, run)
  distribute.configure_cpu_devices(t_cfg.cpu_devices)
  strategy = distribute.make_strategy(t_cfg.strategy)
  replicas = strategy.num_replicas_in_sync
  if config.data.batch_size % replicas:
    raise ValueError(f'--batch_size={config.data.batch_size} (the global batch) must be divisible '
                     f'by the {replicas} replicas of --strategy={t_cfg.strategy}.')
  train_splits = _load_splits(config)
  chief = distribute.is_chief(strategy)
  with run.lock() if chief else contextlib.nullcontext():
    _check_compatible(config, run)  # again: another run may have started meanwhile
    restore_path = _restore_path(run, t_cfg)
    if chief:
      run.remove_debris()
      run.check_writable()
      run.save_config(config)
    task_type, task_id = distribute.task(strategy)
    logging.info('Training on %s; %d replica(s), global batch %d%s; precision %s%s.',
                 ' and '.join(f'{len(p):,} images of {k}' for k, (p, _) in train_splits.items()),
                 replicas, config.data.batch_size,
                 f'; this is {task_type} {task_id}' if task_type else '', t_cfg.precision,
                 ', XLA' if t_cfg.jit_compile else '')
    device_kind = distribute.device_kind(strategy)
    distribute.warn_if_bfloat16_emulated(t_cfg.precision, device_kind)
    state = _build_state(config, strategy, device_kind)
    checkpoint = state.checkpoint()
    # Every worker saves (a collective operation); only the chief's copy is kept.
    manager = tf.train.CheckpointManager(
        checkpoint, distribute.scratch_dir(run.checkpoint_dir, strategy),
        max_to_keep=t_cfg.max_to_keep)
    if restore_path:
      checkpoint.restore(restore_path).assert_consumed()
      logging.info('Resumed from %s at step %d.', restore_path, int(state.step.numpy()))
    start = int(state.step.numpy())
    if start >= t_cfg.num_iters:
      logging.info('Step %d >= num_iters %d: nothing to train.', start, t_cfg.num_iters)
      return {}
    logged = _loop(config, run, state, manager, strategy, train_splits, start,
                   chief)
  distribute.remove_scratch(run.checkpoint_dir, strategy)
  if chief:
    _log_summary(run, config, manager.latest_checkpoint)
  return logged


def _loop(config, run, state, manager, strategy, train_splits, start, chief):
  """Iterations start..num_iters-1; returns the last logged metrics."""
  t_cfg = config.train
  end = t_cfg.num_iters
  space = config.label_space
  batches = _input_streams(config, train_splits, strategy, start)
  steps = train_step.Steps(state.G, state.D, state.g_optimizer, state.d_optimizer, config.loss,
                           space, strategy, state.rng, jit_compile=t_cfg.jit_compile)
  if chief:
    writer = tf.summary.create_file_writer(run.log_dir)
    samples = SampleWriter(state.G, config, run.sample_dir)
  else:
    writer, samples = tf.summary.create_noop_writer(), None
  metrics, logged, lrs = {}, {}, None
  t0 = time.time()
  with writer.as_default():
    for i in range(start, end):
      new_lrs = tuple(train_step.linear_decay_lr(i, lr, t_cfg.num_iters, t_cfg.num_iters_decay)
                      for lr in (t_cfg.g_lr, t_cfg.d_lr))
      if new_lrs != lrs:
        lrs = new_lrs
        state.g_optimizer.learning_rate.assign(lrs[0])
        state.d_optimizer.learning_rate.assign(lrs[1])
      for dataset, dataset_batches in batches.items():
        x_real, c_real = next(dataset_batches)
        c_trg, alpha = steps.draw(c_real)
        prefix = f'{dataset}/' if space.mask else ''
        parts = steps.d_step(x_real, c_real, c_trg, alpha, dataset)
        if (i + 1) % t_cfg.n_critic == 0:
          parts.update(steps.g_step(x_real, c_real, c_trg, dataset))
        metrics.update({prefix + k: v for k, v in parts.items()})
      done = i + 1
      state.step.assign(done)
      last = done == end
      if done % t_cfg.log_step == 0 or last:
        logged = _log(metrics, lrs, done, t_cfg.num_iters, (done - start) / max(time.time() - t0,
                                                                                 1e-9))
        if any(not np.isfinite(v) for v in logged.values()):
          raise FloatingPointError(f'training diverged: non-finite loss at step {done}: {logged}. '
                                   f'{_last_good(manager)}')
      if samples and (done % t_cfg.sample_step == 0 or last):
        logging.info('Saved samples to %s.', samples.write(done))
      if done % t_cfg.model_save_step == 0 or last:
        saved = _check_finite_and_save(state, manager, done)
        if chief:
          logging.info('Saved checkpoint %s.', saved)
    writer.flush()
  return logged


def _log(metrics, lrs, done, num_iters, rate):
  """Writes the metrics and learning rates to TensorBoard and the log; returns them as floats."""
  logged = {k: float(v) for k, v in metrics.items()}
  for k, v in logged.items():
    tf.summary.scalar(k, v, step=done)
  tf.summary.scalar('lr/G', lrs[0], step=done)
  tf.summary.scalar('lr/D', lrs[1], step=done)
  logging.info('step %d/%d | %s | %.2f it/s | ETA %s', done, num_iters,
               ' '.join(f'{k} {v:.4f}' for k, v in sorted(logged.items())), rate,
               progress.format_eta((num_iters - done) / max(rate, 1e-9)))
  return logged


def _log_summary(run, config, checkpoint):
  """Says where everything was written and what to run next."""
  w = run.work_dir
  lines = [f'Training finished; outputs in {w}:',
           f'  config      {run.config_path}',
           f'  checkpoint  {checkpoint}',
           f'  samples     {run.sample_dir}/ (one grid every {config.train.sample_step} steps)',
           f'  logs        {run.log_dir}/ (tensorboard --logdir {run.log_dir})',
           'Next:',
           f'  python -m stargan_tf.translate --work_dir={w}        # result grids of the test '
           'split',
           f'  python -m stargan_tf.export --work_dir={w} --export_dir=exports/stargan']
  if config.data.synthetic_images:
    lines.insert(-2, f'  python -m stargan_tf.evaluate --work_dir={w}         # scores on the '
                     'synthetic ground truth')
  logging.info('\n'.join(lines))
