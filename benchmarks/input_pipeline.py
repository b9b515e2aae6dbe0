"""Input pipeline throughput on this CPU: source JPEGs (whole or window decode) and the raw cache.

  PYTHONPATH=. python benchmarks/input_pipeline.py                    # every row, 2,000 images
  PYTHONPATH=. python benchmarks/input_pipeline.py --image_dir=data/celeba/img_align_celeba \
      --num_images=20000 --rows=fast_jpeg,raw_cache
  PYTHONPATH=. python benchmarks/input_pipeline.py --width=681 --height=1024 --crop_size=256 \
      --num_images=500                                             # RaFD-sized images

Times `pipeline.make_dataset(..., training=True)` alone (no model): --num_images CelebA-like
JPEGs (--width x --height, default 178x218, smooth random content with a little noise, quality
95, 4:2:0 chroma, written to a temporary folder; or the first --num_images files of --image_dir),
center crop --crop_size, resize to --image_size, batch --batch_size. A timed run builds a row's
dataset, pulls --warmup batches (tracing, autotuning, page cache), then times --batches batches.
The rows take turns, --repeats rounds of one run each, so a busy spell on the machine is spread
over all rows; each row reports its median. Rows:

  generic                 fast_jpeg=False: decode the whole JPEG, mirror, crop (the old path).
  fast_jpeg               decode only the crop window (the default; identical output).
  fast_jpeg_nondet        fast_jpeg with deterministic=False.
  raw_cache               a cache written by `cache.write_cache` (raw uint8 files).
  raw_cache_nondet        raw_cache with deterministic=False.

The files are read from the page cache (they were just written or read); a cold disk adds its
read time. A table of median images/s, their range over the runs and the median CPU time of this
process per image is printed, with the machine, the library versions, the load and the date in its
header. CPU time per image is the steadier number on a shared machine; cores / CPU time per image
bounds images/s.
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
import numpy as np
from PIL import Image
import tensorflow as tf

import machine  # benchmarks/machine.py, beside this script
from stargan_tf.data import cache
from stargan_tf.data import ops
from stargan_tf.data import pipeline

ROWS = ('generic', 'fast_jpeg', 'fast_jpeg_nondet', 'raw_cache', 'raw_cache_nondet')

flags.DEFINE_list('rows', list(ROWS), f'Rows to run, from: {", ".join(ROWS)}.')
flags.DEFINE_string('image_dir', '', 'Time these JPEGs (the first --num_images, sorted) instead '
                    'of generated ones; they must be at least --crop_size on each side.')
flags.DEFINE_integer('width', 178, 'Width of the generated JPEGs.')
flags.DEFINE_integer('height', 218, 'Height of the generated JPEGs.')
flags.DEFINE_integer('crop_size', 178, 'Center crop before resizing.')
flags.DEFINE_integer('num_images', 2000, 'Images in the dataset.')
flags.DEFINE_integer('image_size', 128, 'Output side.')
flags.DEFINE_integer('batch_size', 16, 'Batch size.')
flags.DEFINE_integer('batches', 100, 'Batches per timed run.')
flags.DEFINE_integer('repeats', 5, 'Rounds of one timed run per row (the median is reported).')
flags.DEFINE_integer('warmup', 20, 'Untimed batches first.')


def write_jpegs(folder, num_images, width, height, seed=0):
  """JPEGs of smooth random colour fields with a little noise; returns the paths."""
  rng = np.random.default_rng(seed)
  paths = []
  for i in range(num_images):
    coarse = rng.uniform(0, 255, [6, 5, 3]).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC))
    noisy = smooth + rng.normal(0, 3, smooth.shape)
    path = os.path.join(folder, f'{i + 1:06d}.jpg')
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, quality=95)
    paths.append(path)
  return paths


def header(paths, crop_size, image_size, batch_size, source, write_rate):
  mean_kib = np.mean([os.path.getsize(p) for p in paths]) / 1024
  return '\n'.join([
      f'# Input pipeline (make_dataset, training=True), center crop {crop_size} -> '
      f'{image_size}px, batch {batch_size}',
      f'# date        {datetime.datetime.now().isoformat(timespec="minutes")}',
      f'# machine     {machine.cpu_model()}, {machine.usable_cores()} cores usable, load average '
      f'{machine.load_average()} before timing',
      f'# versions    Python {platform.python_version()}, TensorFlow {tf.__version__}',
      f'# data        {len(paths)} {source} JPEGs, {mean_kib:.1f} KiB on average, page cache warm',
      f'# cache write {write_rate:.0f} images/s (cache.write_cache, decode + crop + resize + '
      'write)',
  ])


def time_run(ds, batch_size, warmup, batches):
  """(images/s, process CPU ms per image) over `batches` batches of a fresh iterator."""
  it = iter(ds)
  for _ in range(warmup):
    next(it)
  start, cpu_start = time.perf_counter(), time.process_time()
  for _ in range(batches):
    next(it)
  images = batches * batch_size
  return (images / (time.perf_counter() - start),
          (time.process_time() - cpu_start) * 1e3 / images)


def make_row_dataset(row, paths, labels, crop_size, image_size, batch_size, cache_dir):
  return pipeline.make_dataset(paths, labels, crop_size, image_size, batch_size, training=True,
                               deterministic=not row.endswith('_nondet'),
                               cache_dir=cache_dir if row.startswith('raw_cache') else None,
                               fast_jpeg=row != 'generic')


def main(argv):
  del argv
  f = flags.FLAGS
  machine.check_rows(f.rows, ROWS)
  with tempfile.TemporaryDirectory() as tmp:
    if f.image_dir:
      paths = ops.list_images(f.image_dir, '--image_dir')[:f.num_images]
      source = f'files of {f.image_dir}:'
    else:
      logging.info('Writing %d JPEGs to %s.', f.num_images, tmp)
      paths = write_jpegs(tmp, f.num_images, f.width, f.height)
      source = f'generated {f.width}x{f.height} q95'
    labels = np.zeros([len(paths), 5], np.float32)
    cache_dir = os.path.join(tmp, 'cache')
    start = time.perf_counter()
    cache.write_cache(paths, f.crop_size, f.image_size, cache_dir)
    write_rate = len(paths) / (time.perf_counter() - start)
    lines = [header(paths, f.crop_size, f.image_size, f.batch_size, source, write_rate), '',
             '| variant          | images/s | range (runs) | CPU ms / image |',
             '| ---------------- | -------: | -----------: | -------------: |']
    rows = [row for row in ROWS if row in f.rows]
    runs = {row: [] for row in rows}
    for _ in range(f.repeats):
      for row in rows:
        ds = make_row_dataset(row, paths, labels, f.crop_size, f.image_size, f.batch_size,
                              cache_dir)
        runs[row].append(time_run(ds, f.batch_size, f.warmup, f.batches))
        logging.info('%s: %.0f images/s, %.2f CPU ms per image', row, *runs[row][-1])
    for row in rows:
      rates = [rate for rate, _ in runs[row]]
      spread = f'{min(rates):.0f}-{max(rates):.0f}'
      cpu = statistics.median(cpu for _, cpu in runs[row])
      lines.append(f'| {row:<16} | {statistics.median(rates):>8.0f} | {spread:>12} | '
                   f'{cpu:>14.2f} |')
  lines.append(f'\n# load average {machine.load_average()} at the end')
  print('\n'.join(lines))


if __name__ == '__main__':
  app.run(main)
