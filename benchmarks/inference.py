"""Generator inference latency and throughput on this CPU: Keras, SavedModel and TFLite variants.

  PYTHONPATH=. python benchmarks/inference.py                       # every row, 128 px
  PYTHONPATH=. python benchmarks/inference.py --rows=saved_model,tflite_int8 --repeats=20
  PYTHONPATH=. python benchmarks/inference.py --onednn=both       # oneDNN off, then on
  PYTHONPATH=. python benchmarks/inference.py --rows=saved_model \
      --reference_model=stargan/model.py     # and the reference PyTorch implementation's G

The full-size generator (64 channels, 6 residual blocks, c_dim 5; 8.43M parameters) with random
weights (speed does not depend on the values) is exported with `stargan_tf.export` and converted
with `stargan_tf.tflite`, then each row times `--repeats` calls after `--warmup` untimed ones and
reports the median. Rows:

  keras_eager     G(x, c) called eagerly.
  keras_function  G(x, c) inside tf.function (graph mode, oneDNN kernels).
  saved_model     the export's serving_default, loaded with tf.saved_model.load.
  tflite_<q>      the LiteRT interpreter (XNNPACK delegate, --num_threads threads) on the .tflite
                  converted with --quantize=<q>. Its signature is fixed to batch 1 (the mobile
                  shape), so batch 16 is 16 sequential batch-1 invokes.
  reference_torch only with --reference_model=PATH/to/model.py (the reference PyTorch
                  implementation's file, from `git clone https://github.com/yunjey/stargan`; needs
                  PyTorch, CPU build): its Generator with the same shapes and random weights, on
                  the CPU with as many PyTorch threads as cores usable. It runs as the reference's
                  test code translates: under torch.no_grad() with G in training mode (that code
                  never calls eval()), so its InstanceNorm2d layers, which track running
                  statistics, normalise each image with its own statistics, as ours do. The time
                  includes converting the NHWC batch to NCHW tensors (well under a millisecond).

A table of median latency per call (ms), per image (ms) and throughput (images/s) is printed, with
the machine, the library versions and the date in its header.
"""

import datetime
import os
import platform
import statistics
import tempfile
import time

from absl import app
from absl import flags
from absl import logging
import ai_edge_litert
import keras
import numpy as np
import tensorflow as tf

import machine  # benchmarks/machine.py, beside this script
import reference_torch  # benchmarks/reference_torch.py: --reference_model
from stargan_tf import contract
from stargan_tf import export_lib
from stargan_tf import labels as labels_lib
from stargan_tf import models
from stargan_tf import tflite_lib

ROWS = ('keras_eager', 'keras_function', 'saved_model') + tuple(
    f'tflite_{q}' for q in tflite_lib.QUANTIZATIONS)
REFERENCE_ROW = 'reference_torch'  # added by --reference_model

flags.DEFINE_list('rows', list(ROWS), f'Rows to run, from: {", ".join(ROWS)}; '
                  f'{REFERENCE_ROW} is added by --reference_model.')
flags.DEFINE_list('batch_sizes', ['1', '16'], 'Batch sizes.')
flags.DEFINE_integer('repeats', 10, 'Timed calls per row and batch size (the median is reported).')
flags.DEFINE_integer('warmup', 2, 'Untimed calls first (graph tracing, memory planning).')
flags.DEFINE_integer('image_size', 128, 'Image side.')
flags.DEFINE_integer('num_threads', 2, 'LiteRT interpreter threads.')
flags.DEFINE_integer('num_calibration', 16, 'Calibration images for the int8 model (latency does '
                     'not depend on how good the calibration is).')


def header(image_size, num_threads, reference=None):
  lines = [
      f'# G inference, {image_size}x{image_size}, c_dim 5, conv_dim 64, 6 residual blocks',
      f'# date        {datetime.datetime.now().isoformat(timespec="minutes")}',
      f'# machine     {machine.cpu_model()}, {machine.usable_cores()} cores usable, load average '
      f'{machine.load_average()} at start',
      f'# versions    Python {platform.python_version()}, TensorFlow {tf.__version__}, '
      f'Keras {keras.__version__}, ai-edge-litert {ai_edge_litert.__version__}',
      f'# TFLite      {num_threads} interpreter threads; batch N = N sequential batch-1 invokes',
      f'# oneDNN      {machine.onednn_state()} (TensorFlow rows; --onednn=both for each way)',
  ]
  if reference:
    lines += [f'# reference   {line}' for line in reference.describe()]
    lines.append('# reference   G in training mode under torch.no_grad(), as the reference\'s '
                 'test code runs it')
  return '\n'.join(lines)


def time_calls(fn, repeats, warmup):
  """Median seconds per call of fn()."""
  for _ in range(warmup):
    fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def make_callables(row, G, saved_model_dir, model_dir, image_size, num_threads, num_calibration,
                   reference=None):
  """fn(x, c) -> numpy output, for the row."""
  if row == REFERENCE_ROW:
    generate = reference.generator(c_dim=G.c_dim, conv_dim=G.conv_dim, repeat_num=G.repeat_num)
    return lambda x, c: generate(x.numpy(), c.numpy())
  if row == 'keras_eager':
    return lambda x, c: G(x, c, training=False).numpy()
  if row == 'keras_function':
    generate = tf.function(lambda x, c: G(x, c, training=False))
    return lambda x, c: generate(x, c).numpy()
  if row == 'saved_model':
    loaded = tf.saved_model.load(saved_model_dir)  # the signature needs it alive: keep using it
    return lambda x, c: loaded.signatures['serving_default'](image=x, target=c)['image'].numpy()
  quantize = row[len('tflite_'):]
  path = os.path.join(model_dir, f'{quantize}.tflite')
  logging.info('Converting to %s.', path)
  tflite_lib.convert(saved_model_dir, path, quantize=quantize, image_size=image_size,
                 num_calibration=num_calibration, num_threads=num_threads)
  runner = tflite_lib.load_interpreter(path, num_threads).get_signature_runner('serving_default')

  def run(x, c):
    x, c = x.numpy(), c.numpy()
    return [runner(image=x[i:i + 1], target=c[i:i + 1])['image'] for i in range(len(x))]

  return run


def main(argv):
  del argv
  f = flags.FLAGS
  machine.check_rows(f.rows, ROWS + (REFERENCE_ROW,))
  if REFERENCE_ROW in f.rows and not f.reference_model:
    raise app.UsageError(f'--rows={REFERENCE_ROW} needs --reference_model=PATH/to/model.py.')
  reference = reference_torch.load_or_exit(f.reference_model)  # errors before any timing
  if machine.rerun_per_onednn(f.onednn):
    return
  rows = list(f.rows) + ([REFERENCE_ROW] if reference and REFERENCE_ROW not in f.rows else [])
  batch_sizes = [int(b) for b in f.batch_sizes]
  keras.utils.set_random_seed(0)
  G = models.Generator(conv_dim=64, c_dim=5, repeat_num=6)
  G(tf.zeros([1, f.image_size, f.image_size, 3]), tf.zeros([1, 5]))
  logging.info('G: %s parameters.', f'{G.count_params():,}')
  space = labels_lib.label_space('CelebA')
  rng = np.random.default_rng(0)
  lines = [header(f.image_size, f.num_threads, reference), '',
           f'| {"variant":<15} | batch | ms / call | ms / image | images/s |',
           f'| {"-" * 15} | ----: | --------: | ---------: | -------: |']
  with tempfile.TemporaryDirectory() as tmp:
    saved_model_dir = export_lib.export_generator(
        G, os.path.join(tmp, 'export'),
        contract.ModelMetadata(label_space=space, image_size=f.image_size))
    for row in ROWS + (REFERENCE_ROW,):
      if row not in rows:
        continue
      fn = make_callables(row, G, saved_model_dir, tmp, f.image_size, f.num_threads,
                          f.num_calibration, reference)
      for batch in batch_sizes:
        x = tf.constant(rng.uniform(-1, 1, [batch, f.image_size, f.image_size, 3]), tf.float32)
        c = tf.constant(space.sample_targets(batch))
        seconds = time_calls(lambda: fn(x, c), f.repeats, f.warmup)
        line = (f'| {row:<15} | {batch:>5} | {seconds * 1e3:>9.1f} | '
                f'{seconds * 1e3 / batch:>10.1f} | {batch / seconds:>8.2f} |')
        logging.info('%s', line)
        lines.append(line)
  print('\n'.join(lines))


if __name__ == '__main__':
  app.run(main)
