"""tf.data pipelines of (image float32 [B, S, S, 3] in [-1, 1], label float32 [B, c]) batches.

Training streams are a pure function of (paths, labels, seed, step): epoch e visits the examples
in the order `stateless_shuffle(range(N), seed=[seed, e])`, and element k of the endless stream
(k = e * N + position) is flipped as `stateless_random_flip_left_right(seed=[seed, k])` would flip
it. A run resumed at step s therefore starts at element s * batch_size, found by arithmetic without
reading or decoding anything before it, and sees exactly the batches an uninterrupted run would
have seen from step s on. Nothing depends on TensorFlow's global seed or on how many times a
dataset was iterated.

Images are read either from the source files (JPEGs decode only their crop window, see
`ops.decode_window`) or from a preprocessed cache (`cache.py`), by a parallel map with tf.data's
autotuning, and normalised per batch (half the CPU time of normalising each image of the cache).
tf.data's default options are kept: setting a private thread pool, max_intra_op_parallelism=1 or
experimental_slack changed neither throughput nor CPU time per image beyond run-to-run noise on
2 cores (benchmarks/input_pipeline.py).
"""

import numpy as np
import tensorflow as tf

from stargan_tf.data import cache
from stargan_tf.data import ops


def _check(paths, labels):
  labels = np.asarray(labels, dtype=np.float32)
  if labels.ndim != 2 or labels.shape[0] != len(paths):
    raise ValueError(f'Expected labels of shape [{len(paths)}, c] (one row per path), got '
                     f'{labels.shape}.')
  if not len(paths):
    raise ValueError('Cannot build a dataset from an empty list of images.')
  return list(paths), labels


def _image_reader(paths, crop_size, image_size, cache_dir, fast_jpeg):
  """read(index, flip) -> image i in [0, 255], [S, S, 3] (uint8 from a cache, else float32)."""
  if cache_dir:
    files, mirror_files = cache.lookup(cache_dir, paths, crop_size, image_size)
    files_t, mirror_files_t = tf.constant(files), tf.constant(mirror_files)
    return lambda i, flip: cache.read_image(files_t[i], mirror_files_t[i], image_size, flip)
  paths_t = tf.constant(paths)
  return lambda i, flip: ops.read_image(paths_t[i], crop_size, image_size, flip, fast_jpeg)


def _normalize_batch(images, labels):
  return ops.normalize(images), labels


def make_dataset(paths, labels, crop_size, image_size, batch_size, training, seed=0, start_step=0,
                 deterministic=True, cache_dir=None, fast_jpeg=True):
  """Builds the input pipeline of one split.

  Args:
    paths: image file paths.
    labels: float32 [N, c].
    crop_size: central square kept before resizing.
    image_size: output side S.
    batch_size: B.
    training: True for the endless, shuffled, flipped stream of full batches; False for one pass
      in file order, without flips, keeping the last partial batch.
    seed: shuffle and flip seed (training only).
    start_step: training step to resume at; the first batch is the one an uninterrupted run
      would get at that step.
    deterministic: training only. False lets parallel reads finish out of order, which helps
      when read times vary (slow or network disks; from the page cache it measured no faster):
      every epoch still visits each image once with the same flips, but which images share a
      batch varies slightly from run to run, so a resumed run no longer sees exactly the batches
      of an uninterrupted one. Evaluation always keeps file order.
    cache_dir: a folder written by `cache.write_cache` (or `python -m stargan_tf.data.cache`)
      holding these paths at these sizes, to read instead of the source images; None or '' to
      read the sources. Cached images differ from decoded ones by the uint8 rounding of the
      cache (at most 1/255 after normalising), see `cache.py`.
    fast_jpeg: decode only the crop window of JPEG files (identical output, less work on images
      much larger than the crop); False decodes whole images (for comparison and benchmarks).

  Returns:
    tf.data.Dataset of (images float32 [B, S, S, 3] in [-1, 1], labels float32 [B, c]).

  Raises:
    ValueError: inconsistent arguments, or a cache that does not match (names the folder and
      what differs).
  """
  paths, labels = _check(paths, labels)
  read = _image_reader(paths, crop_size, image_size, cache_dir, fast_jpeg)
  labels_t = tf.constant(labels)
  if not training:
    ds = tf.data.Dataset.range(len(paths)).map(lambda i: (read(i, False), labels_t[i]),
                                                num_parallel_calls=tf.data.AUTOTUNE,
                                                deterministic=True)
    ds = ds.batch(batch_size).map(_normalize_batch)
    return ds.prefetch(tf.data.AUTOTUNE)

  n = len(paths)
  if n < batch_size:
    raise ValueError(f'The training split has {n} images, fewer than batch_size={batch_size}.')
  if start_step < 0:
    raise ValueError(f'start_step must be >= 0, got {start_step}.')
  first_epoch, offset = divmod(start_step * batch_size, n)
  seed = tf.constant(seed, tf.int64)

  def epoch_order(epoch):
    order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64),
                                                     seed=tf.stack([seed, epoch]))
    return tf.data.Dataset.from_tensor_slices(order)

  def load(element, index):
    flip = ops.flip_decision(tf.stack([seed, element]))
    return read(index, flip), labels_t[index]

  ds = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max).flat_map(epoch_order)
  ds = ds.enumerate(start=first_epoch * n).skip(offset)
  ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
  ds = ds.batch(batch_size, drop_remainder=True).map(_normalize_batch)
  return ds.prefetch(tf.data.AUTOTUNE)
