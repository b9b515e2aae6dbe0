"""tf.data pipelines of (image float32 [B, S, S, 3] in [-1, 1], label float32 [B, c]) batches.

Training streams are a pure function of (paths, labels, seed, step): epoch e visits the examples
in the order `stateless_shuffle(range(N), seed=[seed, e])`, and element k of the endless stream
(k = e * N + position) is flipped with `stateless_random_flip_left_right(seed=[seed, k])`. A run
resumed at step s therefore starts at element s * batch_size, found by arithmetic without reading
or decoding anything before it, and sees exactly the batches an uninterrupted run would have seen
from step s on. Nothing depends on TensorFlow's global seed or on how many times a dataset was
iterated.
"""

import numpy as np
import tensorflow as tf

from stargan_tf.data import ops


def _check(paths, labels):
  labels = np.asarray(labels, dtype=np.float32)
  if labels.ndim != 2 or labels.shape[0] != len(paths):
    raise ValueError(f'Expected labels of shape [{len(paths)}, c] (one row per path), got '
                     f'{labels.shape}.')
  if not len(paths):
    raise ValueError('Cannot build a dataset from an empty list of images.')
  return list(paths), labels


def make_dataset(paths, labels, crop_size, image_size, batch_size, training, seed=0, start_step=0):
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

  Returns:
    tf.data.Dataset of (images float32 [B, S, S, 3] in [-1, 1], labels float32 [B, c]).
  """
  paths, labels = _check(paths, labels)
  if not training:
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    ds = ds.map(lambda path, label: (ops.load_image(path, crop_size, image_size), label),
                num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

  n = len(paths)
  if n < batch_size:
    raise ValueError(f'The training split has {n} images, fewer than batch_size={batch_size}.')
  if start_step < 0:
    raise ValueError(f'start_step must be >= 0, got {start_step}.')
  first_epoch, offset = divmod(start_step * batch_size, n)
  seed = tf.constant(seed, tf.int64)
  paths_t = tf.constant(paths)
  labels_t = tf.constant(labels)

  def epoch_order(epoch):
    order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64),
                                                     seed=tf.stack([seed, epoch]))
    return tf.data.Dataset.from_tensor_slices(order)

  def load(element, index):
    image = ops.load_image(paths_t[index],
                           crop_size,
                           image_size,
                           flip_seed=tf.stack([seed, element]))
    return image, labels_t[index]

  ds = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max).flat_map(epoch_order)
  ds = ds.enumerate(start=first_epoch * n).skip(offset)
  ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
