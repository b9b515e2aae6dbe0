"""Training speed of one full StarGAN iteration on this machine, and where the time goes.

  PYTHONPATH=. python benchmarks/train_speed.py                      # every row
  PYTHONPATH=. python benchmarks/train_speed.py --rows=128/float32 --cycles=3
  PYTHONPATH=. python benchmarks/train_speed.py --profile_layers --image_size=128
  PYTHONPATH=. python benchmarks/train_speed.py --rows=128/float32 --onednn=both  # oneDNN off, on
  PYTHONPATH=. python benchmarks/train_speed.py --rows=128/float32 \
      --reference_model=stargan/model.py         # beside the reference PyTorch implementation

An iteration is the reference schedule: a D update every iteration and a G update every
n_critic = 5th, so one cycle is 5 D steps + 1 G step; seconds per iteration = cycle time / 5. The
full-size networks (G 64 channels with 6 residual blocks, D 64 channels with 6 layers, c_dim 5) run
at the global batch 16 under the default strategy, on random weights and a fixed random batch (the
input pipeline is measured by benchmarks/input_pipeline.py). After `--warmup` untimed cycles
(tracing, memory planning), the median of `--cycles` timed cycles is reported.

Rows are `<image size>/<precision>[+xla]`: float32 or mixed_bfloat16 Keras policies, `+xla`
compiling each replica's forward and backward pass with XLA (`--jit_compile`).

Achieved GFLOP/s counts 61.06 GFLOP per image per iteration at 128 px (15.26 at 64 px: the cost
scales with the pixel count), multiplied by the batch size and divided by the seconds per iteration.
The fraction is of this machine's float32 matmul peak, measured first in the same process
(best of several 2048x2048 products).

`--reference_model=PATH/to/model.py` (the reference PyTorch implementation's file, from
`git clone https://github.com/yunjey/stargan`; needs PyTorch, the CPU build) also times the
reference's training iteration on the CPU, with as many PyTorch threads as cores usable, for each
float32 row (once per image size; "n/a" for other precisions): its Generator and Discriminator with
our shapes (stargan_tf.config defaults: G 64 channels and 6 residual blocks, D 64 channels and
d_repeat_num strided layers, which stays 6 at 64 px, c_dim 5), Adam with our learning rate and
betas, and the paper's losses with our lambdas (written out in benchmarks/reference_torch.py),
under the same warm-up and median rule. A row "<row> reference (PyTorch x.y.z)" follows each of
ours (its GFLOP/s uses the same count, though its G step also computes D's weight gradients), and
our rows get a last column, the speed-up: reference seconds / our seconds per iteration. Without
the flag the table is as before. PyTorch's threads slow down badly on a busy machine: compare on
an idle one (the header warns when the load average is high).

`--profile_layers` prints, instead, forward and forward+backward times of every convolution shape
of G and D at the batch and size given, for each `models.Conv2D` implementation (native,
transposed, patches), and which one `impl='auto'` picks: the measurements behind those choices.
"""

import datetime
import platform
import statistics
import time

from absl import app
from absl import flags
from absl import logging
import keras
import numpy as np
import tensorflow as tf

import machine  # benchmarks/machine.py, beside this script
import reference_torch  # benchmarks/reference_torch.py: --reference_model
from stargan_tf import config as config_lib
from stargan_tf import distribute
from stargan_tf import labels
from stargan_tf import models
from stargan_tf import runs
from stargan_tf import train_step
from stargan_tf import trainer

GFLOP_PER_IMAGE_128 = 61.06  # one amortised iteration (D step + G step / 5), per image, 128 px
ROWS = ('128/float32', '128/float32+xla', '128/mixed_bfloat16', '64/float32', '64/float32+xla',
        '64/mixed_bfloat16')
N_CRITIC = 5

flags.DEFINE_list('rows', list(ROWS), f'Rows to run: <size>/<precision>[+xla], e.g. '
                  f'{", ".join(ROWS)}.')
flags.DEFINE_integer('batch_size', 16, 'Global batch.')
flags.DEFINE_integer('cycles', 3, 'Timed cycles (5 iterations each) per row; the median is shown.')
flags.DEFINE_integer('warmup', 1, 'Untimed cycles first.')
flags.DEFINE_boolean('profile_layers', False, 'Time each convolution shape per implementation '
                     'instead.')
flags.DEFINE_integer('image_size', 128, 'With --profile_layers: the image size.')


def parse_row(row):
  try:
    size, rest = row.split('/')
    precision, _, xla = rest.partition('+')
    size = int(size)
  except ValueError:
    raise app.UsageError(f'--rows: {row!r} is not <size>/<precision>[+xla].') from None
  if precision not in config_lib.PRECISIONS or xla not in ('', 'xla') or size % 64:
    raise app.UsageError(f'--rows: {row!r}: size a multiple of 64, precision one of '
                         f'{", ".join(config_lib.PRECISIONS)}, optional +xla.')
  return size, precision, xla == 'xla'


def header(title):
  return '\n'.join([
      f'# {title}',
      f'# date        {datetime.datetime.now().isoformat(timespec="minutes")}',
      f'# machine     {machine.cpu_model()}, {machine.usable_cores()} cores usable, load average '
      f'{machine.load_average()} at start',
      f'# versions    Python {platform.python_version()}, TensorFlow {tf.__version__}, '
      f'Keras {keras.__version__}',
      f'# oneDNN      {machine.onednn_state()} (--onednn=both for a row set each way)',
  ])


def matmul_peak(n=2048, repeats=10):
  """Best float32 GFLOP/s of an n x n matmul."""
  a = tf.random.uniform([n, n])
  product = tf.function(lambda a: tf.matmul(a, a))
  product(a).numpy()
  best = float('inf')
  for _ in range(repeats):
    start = time.perf_counter()
    product(a).numpy()
    best = min(best, time.perf_counter() - start)
  return 2 * n ** 3 / best / 1e9


def make_steps(size, precision, jit_compile):
  model = config_lib.ModelConfig(image_size=size)
  train = config_lib.TrainConfig(precision=precision)
  strategy = tf.distribute.get_strategy()
  keras.utils.set_random_seed(0)
  device_kind = distribute.device_kind(strategy)
  distribute.warn_if_bfloat16_emulated(precision, device_kind)
  with strategy.scope(), trainer.dtype_policy(precision):
    G, D = models.build(model, labels.label_space('CelebA'), device_kind=device_kind)
    g_opt = runs.build_optimizer(train.g_lr, train, G.trainable_variables)
    d_opt = runs.build_optimizer(train.d_lr, train, D.trainable_variables)
    rng = tf.random.Generator.from_seed(0)
  trainer.log_convolutions({'G': G, 'D': D}, device_kind)
  return train_step.Steps(G, D, g_opt, d_opt, config_lib.LossConfig(),
                          labels.label_space('CelebA'), strategy, rng, jit_compile=jit_compile)


def our_cycle(steps, size, batch_size):
  """cycle() for `time_cycles`: N_CRITIC D steps, then one G step, on a fixed random batch."""
  r = np.random.default_rng(0)
  x = tf.constant(r.uniform(-1, 1, [batch_size, size, size, 3]), tf.float32)
  c = tf.constant(r.integers(0, 2, [batch_size, 5]), tf.float32)

  def cycle():
    for _ in range(N_CRITIC):
      c_trg, alpha = steps.draw(c)
      d = steps.d_step(x, c, c_trg, alpha, 'CelebA')
    g = steps.g_step(x, c, c_trg, 'CelebA')
    return float(d['D/loss']), float(g['G/loss'])  # wait for the last step

  return cycle


def reference_cycle(reference, size, batch_size):
  """cycle() of the reference PyTorch iteration with our networks' shapes, losses and optimiser
  settings (the defaults of stargan_tf.config), on the CPU."""
  model = config_lib.ModelConfig(image_size=size)
  loss = config_lib.LossConfig()
  train = config_lib.TrainConfig()
  return reference.train_cycle(
      image_size=size, batch_size=batch_size, c_dim=labels.label_space('CelebA').label_dim,
      g_conv_dim=model.g_conv_dim, g_repeat_num=model.g_repeat_num, d_conv_dim=model.d_conv_dim,
      d_repeat_num=model.d_repeat_num, lr=train.d_lr, beta1=train.beta1, beta2=train.beta2,
      lambda_cls=loss.lambda_cls, lambda_rec=loss.lambda_rec, lambda_gp=loss.lambda_gp,
      n_critic=N_CRITIC)


def time_cycles(cycle, cycles, warmup, name):
  """Median seconds of cycle() over `cycles` calls after `warmup` untimed ones (each logged)."""
  times = []
  for k in range(warmup + cycles):
    start = time.perf_counter()
    cycle()
    seconds = time.perf_counter() - start
    logging.info('%s: cycle %d/%d: %.1f s%s', name, k + 1, warmup + cycles, seconds,
                 ' (warm-up)' if k < warmup else '')
    if k >= warmup:
      times.append(seconds)
  return statistics.median(times)


def run_rows(rows, batch_size, cycles, warmup, reference=None):
  """The table; with `reference`, each float32 row's speed-up over the reference PyTorch code and
  a row of the reference itself (timed once per image size, n/a for other precisions)."""
  peak = matmul_peak()
  lines = [header(f'StarGAN training iteration (D every iteration, G every {N_CRITIC}th), '
                  f'global batch {batch_size}, default strategy, random data'),
           f'# peak        {peak:.0f} GFLOP/s float32 matmul (2048x2048, best of 10)']
  if reference:
    lines += [f'# reference   {line}' for line in reference.describe()]
    lines.append('# speed-up    reference s / our s per iteration (above 1: ours is faster)')
  lines += ['', '| row | s / iteration | images/s | GFLOP/s | of peak |' + (
      ' speed-up |' if reference else ''),
            '| --- | ---: | ---: | ---: | ---: |' + (' ---: |' if reference else '')]
  reference_seconds = {}  # image size -> s / iteration

  def cells(per_iteration, size):
    gflops = GFLOP_PER_IMAGE_128 * (size / 128) ** 2 * batch_size / per_iteration
    return (f'{per_iteration:.2f} | {batch_size / per_iteration:.2f} | {gflops:.0f} | '
            f'{gflops / peak:.0%}')

  for row in rows:
    size, precision, xla = parse_row(row)
    logging.info('Row %s: building the networks.', row)
    steps = make_steps(size, precision, xla)
    per_iteration = time_cycles(our_cycle(steps, size, batch_size), cycles, warmup,
                                row) / N_CRITIC
    line = f'| {row} | {cells(per_iteration, size)} |'
    if reference:
      reference_row = f'{row} reference ({reference.label})'
      if precision != 'float32':
        line += ' n/a |'
        reference_line = f'| {reference_row} | n/a | n/a | n/a | n/a | |'
      else:
        if size not in reference_seconds:
          logging.info('Row %s: building the reference networks.', reference_row)
          reference_seconds[size] = time_cycles(
              reference_cycle(reference, size, batch_size), cycles, warmup,
              reference_row) / N_CRITIC
        line += f' {reference_seconds[size] / per_iteration:.2f}x |'
        reference_line = f'| {reference_row} | {cells(reference_seconds[size], size)} | |'
    logging.info('%s', line)
    lines.append(line)
    if reference:
      logging.info('%s', reference_line)
      lines.append(reference_line)
  return '\n'.join(lines)


def conv_shapes(size):
  """(network, layer, input shape [H, W, C], filters, kernel, stride, padding, fixed size)."""
  shapes = [('G', 'conv_in', (size, size, 8), 64, 7, 1, 'same', False),
            ('G', 'down1_conv', (size, size, 64), 128, 4, 2, 'same', False),
            ('G', 'down2_conv', (size // 2, size // 2, 128), 256, 4, 2, 'same', False),
            ('G', 'res*/conv*', (size // 4, size // 4, 256), 256, 3, 1, 'same', False),
            ('G', 'conv_out', (size, size, 64), 3, 7, 1, 'same', False)]
  side, channels = size, 3
  for i in range(1, 7):
    shapes.append(('D', f'conv{i}', (side, side, channels), 64 * 2 ** (i - 1), 4, 2, 'same', True))
    side, channels = side // 2, 64 * 2 ** (i - 1)
  shapes.append(('D', 'conv_src', (side, side, channels), 1, 3, 1, 'same', True))
  shapes.append(('D', 'conv_cls', (side, side, channels), 5, side, 1, 'valid', True))
  return shapes


def profile_layers(size, batch_size, repeats=4):
  lines = [header(f'Convolutions of G and D at {size} px, batch {batch_size}: ms forward / '
                  'forward+backward (input and kernel gradients), best of 4'), '',
           '| layer | input | native | transposed | patches | auto |',
           '| --- | --- | ---: | ---: | ---: | --- |']
  for net, name, shape, filters, kernel, stride, padding, fixed in conv_shapes(size):
    x = tf.random.uniform((batch_size,) + shape)
    cells, auto = {}, None
    for impl in ('auto',) + models.CONV_IMPLS[1:]:
      if impl == 'patches' and not fixed:
        cells[impl] = 'n/a'  # G takes any image size; patches need the size fixed at build
        continue
      layer = models.Conv2D(filters, kernel, strides=stride, padding=padding, impl=impl,
                            fixed_input_size=fixed)
      try:
        layer.build(x.shape)
      except ValueError:
        cells[impl] = 'n/a'
        continue
      if impl == 'auto':
        auto = layer.resolved_impl
        continue

      def forward_backward(layer=layer):
        with tf.GradientTape() as tape:
          tape.watch(x)
          y = layer(x)
          loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x, layer.kernel])

      forward = tf.function(lambda layer=layer: layer(x))
      both = tf.function(forward_backward)
      best = [float('inf'), float('inf')]
      for k in range(repeats + 1):
        t0 = time.perf_counter()
        forward().numpy()
        t1 = time.perf_counter()
        [g.numpy() for g in both()]  # pylint: disable=expression-not-assigned
        t2 = time.perf_counter()
        if k:  # the first call traces
          best = [min(best[0], t1 - t0), min(best[1], t2 - t1)]
      cells[impl] = f'{best[0] * 1e3:.0f} / {best[1] * 1e3:.0f}'
      logging.info('%s %s %s: %s ms', net, name, impl, cells[impl])
    lines.append(f'| {net} {name} | {"x".join(map(str, shape))} -> {filters}, k{kernel} s{stride} '
                 f'| {cells["native"]} | {cells["transposed"]} | {cells["patches"]} | {auto} |')
  return '\n'.join(lines)


def main(argv):
  del argv
  f = flags.FLAGS
  if f.profile_layers:
    if f.reference_model:
      raise app.UsageError('--reference_model times training rows; not with --profile_layers.')
  else:
    for row in f.rows:
      parse_row(row)
  reference = reference_torch.load_or_exit(f.reference_model)  # errors before any timing
  if machine.rerun_per_onednn(f.onednn):
    return
  if f.profile_layers:
    print(profile_layers(f.image_size, f.batch_size))
    return
  print(run_rows(f.rows, f.batch_size, f.cycles, f.warmup, reference))


if __name__ == '__main__':
  app.run(main)
