"""The training loop: n_critic schedule, lr decay, checkpoints, summaries, sample grids, resume.

With --dataset=Both each iteration trains on one CelebA batch and then one RaFD batch (a D update
for each, and every n_critic-th iteration a G update right after each D update); the logged
losses are named per dataset ('CelebA/D/loss_cls', 'RaFD/G/loss_rec', ...).

Outputs under work_dir: checkpoints/ (G, D, both optimizers, step, RNG state), samples/ (grids),
logs/ (TensorBoard), config.json. Running again with the same work_dir resumes from the latest
checkpoint; `resume_iters` picks an older one. Checkpoints hold the same objects whatever the
strategy and precision (the Adam optimizers, not their loss-scale wrappers), so a run can resume
under another strategy or precision.

Under multi_worker only the chief writes these outputs (see `distribute`); every worker restores
from the chief's checkpoints, so the work_dir must be on a file system all workers share.
"""

import contextlib
import dataclasses
import os
import time

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from stargan_tf import config as config_lib
from stargan_tf import distribute
from stargan_tf import images
from stargan_tf import models
from stargan_tf import train_step
from stargan_tf.data import pipeline
from stargan_tf.data import rafd
from stargan_tf.data import splits

NUM_SAMPLE_IMAGES = 8


def build_models(model_config):
  """Returns (G, D) built on dummy inputs so their variables exist."""
  m = model_config
  G = models.Generator(conv_dim=m.g_conv_dim, c_dim=m.label_dim, repeat_num=m.g_repeat_num)
  D = models.Discriminator(image_size=m.image_size, conv_dim=m.d_conv_dim, c_dim=m.num_domains,
                           repeat_num=m.d_repeat_num)
  x = tf.zeros([1, m.image_size, m.image_size, 3])
  G(x, tf.zeros([1, m.label_dim]))
  D(x)
  return G, D


@contextlib.contextmanager
def dtype_policy(precision):
  """Sets Keras' global dtype policy to `precision` for the layers created inside the block."""
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(precision)
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


def build_optimizer(lr, train_config, variables):
  """Adam with the run's betas, built on `variables`; loss-scaled under mixed_float16."""
  # Built eagerly on the variables: a lazy build inside a replica context fails.
  opt = keras.optimizers.Adam(learning_rate=lr, beta_1=train_config.beta1,
                              beta_2=train_config.beta2)
  if train_config.precision == 'mixed_float16':
    opt = keras.optimizers.LossScaleOptimizer(opt)
  opt.build(variables)
  return opt


def _adam(optimizer):
  return getattr(optimizer, 'inner_optimizer', optimizer)


def make_checkpoint(G, D, g_optimizer, d_optimizer, step, rng):
  return tf.train.Checkpoint(G=G, D=D, g_optimizer=_adam(g_optimizer),
                             d_optimizer=_adam(d_optimizer), step=step, rng=rng)


def checkpoint_path(checkpoint_dir, step):
  """The path of the checkpoint saved at `step`, or FileNotFoundError listing the saved ones."""
  path = os.path.join(checkpoint_dir, f'ckpt-{step}')
  if tf.io.gfile.exists(path + '.index'):
    return path
  state = tf.train.get_checkpoint_state(checkpoint_dir)
  saved = [os.path.basename(p) for p in state.all_model_checkpoint_paths] if state else []
  raise FileNotFoundError(f'no checkpoint for step {step} in {checkpoint_dir}; saved: '
                          f'{", ".join(saved) or "none"}.')


def restore_models(work_dir, step=0):
  """Returns (config, G, D) with the weights of checkpoint `step` (0: the latest)."""
  config = config_lib.load(work_dir)
  ckpt_dir = os.path.join(work_dir, 'checkpoints')
  path = checkpoint_path(ckpt_dir, step) if step else tf.train.latest_checkpoint(ckpt_dir)
  if not path:
    raise FileNotFoundError(f'no checkpoint in {ckpt_dir}: train first with --work_dir={work_dir}.')
  G, D = build_models(config.model)
  tf.train.Checkpoint(G=G, D=D).restore(path).expect_partial().assert_existing_objects_matched()
  logging.info('Restored G and D from %s.', path)
  return config, G, D


def _check_compatible(config, work_dir):
  """Refuses to resume a run whose saved model/data shape differs from this one."""
  try:
    saved = config_lib.load(work_dir)
  except FileNotFoundError:
    return
  for section in ('model',):
    old, new = getattr(saved, section), getattr(config, section)
    diff = {k: (getattr(old, k), getattr(new, k)) for k in dataclasses.asdict(old)
            if getattr(old, k) != getattr(new, k)}
    if diff:
      raise ValueError(f'{work_dir} holds a run with a different {section} configuration '
                       f'(saved vs requested: {diff}); use another --work_dir.')
  if tuple(saved.data.selected_attrs) != tuple(config.data.selected_attrs):
    raise ValueError(f'{work_dir} was trained on --selected_attrs '
                     f'{" ".join(saved.data.selected_attrs)}; use the same or another --work_dir.')


def _format_eta(seconds):
  seconds = int(seconds)
  days, rem = divmod(seconds, 86400)
  text = time.strftime('%H:%M:%S', time.gmtime(rem))
  return f'{days}d {text}' if days else text


class SampleWriter:
  """Translates a fixed batch of test images into every target domain and writes the grid.

  With --dataset=Both the images are CelebA's and the columns every CelebA target, then every
  RaFD class (`labels.LabelSpace.create_labels`).
  """

  def __init__(self, G, data_config, sample_dir):
    self.G = G
    self.sample_dir = sample_dir
    dataset = data_config.sample_dataset
    paths, c_org = splits.load_split(data_config, 'test', dataset)
    n = min(NUM_SAMPLE_IMAGES, len(paths))
    ds = pipeline.make_dataset(paths[:n], c_org[:n], data_config.crop_size_of(dataset),
                               data_config.image_size, n, training=False)
    self.x_fixed, c_fixed = next(iter(ds))
    self.targets = [tf.constant(c) for c in data_config.label_space.create_labels(
        c_fixed.numpy(), dataset)]
    self._translate = tf.function(lambda x, c: tf.cast(self.G(x, c, training=False), tf.float32))

  def write(self, step):
    columns = [self.x_fixed.numpy()] + [self._translate(self.x_fixed, c).numpy()
                                        for c in self.targets]
    grid = images.make_grid(columns)
    path = images.save_image(os.path.join(self.sample_dir, f'{step:06d}-images.png'), grid)
    tf.summary.image('samples', grid[None], step=step)
    return path


def train(config, stop_after=None):
  """Trains (or resumes training) as configured; returns the last logged metrics as floats.

  Args:
    config: a Config.
    stop_after: if set, return (with a checkpoint) once this step is reached, as a run that is
      interrupted and later resumed with the same config would.
  """
  config.validate()
  d_cfg, t_cfg = config.data, config.train
  work_dir = t_cfg.work_dir
  ckpt_dir = os.path.join(work_dir, 'checkpoints')
  _check_compatible(config, work_dir)

  distribute.configure_cpu_devices(t_cfg.cpu_devices)
  strategy = distribute.make_strategy(t_cfg.strategy)
  chief = distribute.is_chief(strategy)
  train_splits = {}
  for dataset in d_cfg.datasets:
    paths, c_org = splits.load_split(d_cfg, 'train', dataset)
    flag = '--c2_dim' if dataset == 'RaFD' and config.model.mask_vector else '--c_dim'
    expected = config.model.c2_dim if flag == '--c2_dim' else config.model.c_dim
    if c_org.shape[1] != expected:
      raise ValueError(f'the {dataset} training labels have {c_org.shape[1]} domains but '
                       f'{flag}={expected}; set {flag}={c_org.shape[1]}.')
    train_splits[dataset] = paths, c_org
  if 'RaFD' in d_cfg.datasets:  # the class names go with the run (grids, export, clients)
    d_cfg = dataclasses.replace(d_cfg, rafd_classes=tuple(rafd.class_names(d_cfg.rafd_image_dir)))
    config = dataclasses.replace(config, data=d_cfg)
  if chief:
    config_lib.save(config, work_dir)
  space = d_cfg.label_space
  replicas = strategy.num_replicas_in_sync
  if d_cfg.batch_size % replicas:
    raise ValueError(f'--batch_size={d_cfg.batch_size} (the global batch) must be divisible by '
                     f'the {replicas} replicas of --strategy={t_cfg.strategy}.')
  task_type, task_id = distribute.task(strategy)
  logging.info('Training on %s; %d replica(s), global batch %d%s; precision %s%s.',
               ' and '.join(f'{len(p):,} images of {k}' for k, (p, _) in train_splits.items()),
               replicas, d_cfg.batch_size,
               f'; this is {task_type} {task_id}' if task_type else '', t_cfg.precision,
               ', XLA' if t_cfg.jit_compile else '')

  keras.utils.set_random_seed(t_cfg.seed)  # initial weights follow the seed too
  with strategy.scope(), dtype_policy(t_cfg.precision):
    G, D = build_models(config.model)
    g_optimizer = build_optimizer(t_cfg.g_lr, t_cfg, G.trainable_variables)
    d_optimizer = build_optimizer(t_cfg.d_lr, t_cfg, D.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
    rng = tf.random.Generator.from_seed(t_cfg.seed)
  logging.info('G: %s parameters, D: %s parameters.', f'{G.count_params():,}',
               f'{D.count_params():,}')

  checkpoint = make_checkpoint(G, D, g_optimizer, d_optimizer, step, rng)
  # Every worker saves (a collective operation); only the chief's copy is kept.
  manager = tf.train.CheckpointManager(checkpoint, distribute.scratch_dir(ckpt_dir, strategy),
                                       max_to_keep=t_cfg.max_to_keep)
  if t_cfg.resume_iters:
    restore_path = checkpoint_path(ckpt_dir, t_cfg.resume_iters)
  else:
    restore_path = tf.train.latest_checkpoint(ckpt_dir)
  if restore_path:
    checkpoint.restore(restore_path).assert_consumed()
    logging.info('Resumed from %s at step %d.', restore_path, int(step.numpy()))
  start = int(step.numpy())
  if start >= t_cfg.num_iters:
    logging.info('Step %d >= num_iters %d: nothing to train.', start, t_cfg.num_iters)
    return {}

  options = tf.data.Options()
  # Every worker builds the same stream and keeps its share of each global batch.
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  batches = {}
  for dataset, (paths, c_org) in train_splits.items():
    ds = pipeline.make_dataset(paths, c_org, d_cfg.crop_size_of(dataset), d_cfg.image_size,
                               d_cfg.batch_size, training=True, seed=t_cfg.seed, start_step=start,
                               deterministic=d_cfg.deterministic_input,
                               cache_dir=d_cfg.cache_dir_of(dataset) or None)
    batches[dataset] = iter(strategy.experimental_distribute_dataset(ds.with_options(options)))
  steps = train_step.Steps(G, D, g_optimizer, d_optimizer, config.loss, space, strategy, rng,
                           jit_compile=t_cfg.jit_compile)
  if chief:
    writer = tf.summary.create_file_writer(os.path.join(work_dir, 'logs'))
    samples = SampleWriter(G, d_cfg, os.path.join(work_dir, 'samples'))
  else:
    writer, samples = tf.summary.create_noop_writer(), None

  metrics, logged = {}, {}
  lrs = None
  t0, t_start = time.time(), start
  with writer.as_default():
    end = min(t_cfg.num_iters, stop_after or t_cfg.num_iters)
    for i in range(start, end):
      new_lrs = tuple(train_step.linear_decay_lr(i, lr, t_cfg.num_iters, t_cfg.num_iters_decay)
                      for lr in (t_cfg.g_lr, t_cfg.d_lr))
      if new_lrs != lrs:
        lrs = new_lrs
        g_optimizer.learning_rate.assign(lrs[0])
        d_optimizer.learning_rate.assign(lrs[1])
      for dataset, dataset_batches in batches.items():
        x_real, c_real = next(dataset_batches)
        c_trg, alpha = steps.draw(c_real)
        prefix = f'{dataset}/' if space.mask else ''
        parts = steps.d_step(x_real, c_real, c_trg, alpha, dataset)
        if (i + 1) % t_cfg.n_critic == 0:
          parts.update(steps.g_step(x_real, c_real, c_trg, dataset))
        metrics.update({prefix + k: v for k, v in parts.items()})
      step.assign(i + 1)
      done = i + 1

      last = done == end
      if done % t_cfg.log_step == 0 or last:
        logged = {k: float(v) for k, v in metrics.items()}
        for k, v in logged.items():
          tf.summary.scalar(k, v, step=done)
        tf.summary.scalar('lr/G', lrs[0], step=done)
        tf.summary.scalar('lr/D', lrs[1], step=done)
        rate = (done - t_start) / max(time.time() - t0, 1e-9)
        logging.info('step %d/%d | %s | %.2f it/s | ETA %s', done, t_cfg.num_iters,
                     ' '.join(f'{k} {v:.4f}' for k, v in sorted(logged.items())), rate,
                     _format_eta((t_cfg.num_iters - done) / max(rate, 1e-9)))
        if any(not np.isfinite(v) for v in logged.values()):
          raise FloatingPointError(f'non-finite loss at step {done}: {logged}; the last good '
                                   f'checkpoint is {manager.latest_checkpoint}.')
      if samples and (done % t_cfg.sample_step == 0 or last):
        logging.info('Saved samples to %s.', samples.write(done))
      if done % t_cfg.model_save_step == 0 or last:
        saved = manager.save(checkpoint_number=done)
        if chief:
          logging.info('Saved checkpoint %s.', saved)
    writer.flush()
  distribute.remove_scratch(ckpt_dir, strategy)
  return logged
