"""Tests for stargan_tf.data.ops, eagerly and inside tf.data."""

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from stargan_tf.data import ops


def _gradient(height, width):
  """uint8 [H, W, 3] whose pixels encode their position (distinct rows/columns/channels)."""
  rows, cols = np.mgrid[0:height, 0:width]
  return np.stack([rows % 256, cols % 256, (rows + 2 * cols) % 256], axis=-1).astype(np.uint8)


def _write_png(path, array):
  Image.fromarray(array).save(path)
  return str(path)


def test_normalize_maps_0_255_to_minus1_1():
  x = tf.constant([0, 51, 255], tf.uint8)
  np.testing.assert_allclose(ops.normalize(x).numpy(), [-1.0, -0.6, 1.0], atol=1e-6)
  assert ops.normalize(x).dtype == tf.float32
  np.testing.assert_allclose(ops.normalize(tf.constant([127.5])).numpy(), [0.0])


def test_center_crop_takes_the_central_square_of_a_celeba_sized_image():
  image = _gradient(218, 178)
  np.testing.assert_array_equal(ops.center_crop(image, 178).numpy(), image[20:198, :])


def test_center_crop_rounds_offsets_down():
  image = _gradient(7, 6)
  np.testing.assert_array_equal(ops.center_crop(image, 4).numpy(), image[1:5, 1:5])


def test_center_crop_of_a_too_small_image_fails_clearly():
  with pytest.raises(tf.errors.InvalidArgumentError, match='smaller than crop_size'):
    ops.center_crop(_gradient(100, 200), 178)


def test_resize_keeps_constants_and_is_identity_at_the_same_size():
  constant = np.full([178, 178, 3], 77, np.uint8)
  out = ops.resize(constant, 32).numpy()
  assert out.shape == (32, 32, 3) and out.dtype == np.float32
  np.testing.assert_allclose(out, 77.0, atol=1e-4)
  image = _gradient(40, 40)
  np.testing.assert_array_equal(ops.resize(image, 40).numpy(), image.astype(np.float32))


def test_resize_is_antialiased_bilinear():
  # Halving a ramp whose pixel i has value i: output pixel j is centred on source position
  # 2j + 1 (pixel centres at i + 0.5), i.e. on the value 2j + 0.5, with a symmetric
  # (antialiasing) triangle kernel spanning several source pixels. Without antialiasing the
  # value would be the same but a one-pixel spike would not spread; check both.
  ramp = np.tile(np.arange(64, dtype=np.float32)[None, :, None], [64, 1, 3])
  out = ops.resize(ramp, 32).numpy()
  np.testing.assert_allclose(out[10, 2:-2, 0], 2 * np.arange(2, 30) + 0.5, atol=1e-3)
  spike = np.zeros([64, 64, 1], np.float32)
  spike[32, 32] = 1.0
  out = ops.resize(spike, 32).numpy()[..., 0]
  assert np.count_nonzero(out > 1e-6) > 1
  np.testing.assert_allclose(out.sum(), 0.25, rtol=1e-4)  # mass is kept (4x fewer pixels)


def test_decode_gives_three_channels(tmp_path):
  grey = _write_png(tmp_path / 'g.png', np.full([5, 6], 9, np.uint8))
  rgba = _write_png(tmp_path / 'a.png', np.full([5, 6, 4], 9, np.uint8))
  for path in (grey, rgba):
    image = ops.decode(tf.io.read_file(path))
    assert image.shape == (5, 6, 3) and image.dtype == tf.uint8


def test_load_image_crops_resizes_and_normalises(tmp_path):
  image = _gradient(218, 178)
  path = _write_png(tmp_path / 'x.png', image)
  full = ops.load_image(path, 178, 178).numpy()
  np.testing.assert_allclose(full, image[20:198].astype(np.float32) / 127.5 - 1.0, atol=1e-6)
  small = ops.load_image(path, 178, 64).numpy()
  expected = ops.normalize(ops.resize(image[20:198], 64)).numpy()
  assert small.shape == (64, 64, 3) and small.dtype == np.float32
  np.testing.assert_allclose(small, expected, atol=1e-6)
  assert small.min() >= -1.0 and small.max() <= 1.0


def _flip_outcomes(path, seeds):
  return [ops.load_image(path, 4, 4, flip_seed=tf.constant(s, tf.int64)).numpy() for s in seeds]


def test_flip_comes_before_the_crop_and_mirrors(tmp_path):
  # Width 7, crop 4: the crop starts at column 1, so flip-then-crop (reference order) keeps
  # columns 5..2 while crop-then-flip would keep columns 4..1.
  image = _gradient(4, 7)
  path = _write_png(tmp_path / 'x.png', image)
  flipped = ops.normalize(image[:, ::-1][:, 1:5]).numpy()
  unflipped = ops.normalize(image[:, 1:5]).numpy()
  outcomes = _flip_outcomes(path, [[0, s] for s in range(32)])
  is_flipped = [np.array_equal(o, flipped) for o in outcomes]
  assert all(f or np.array_equal(o, unflipped) for f, o in zip(is_flipped, outcomes))
  assert 8 <= sum(is_flipped) <= 24  # p = 0.5
  # Deterministic in the seed.
  again = _flip_outcomes(path, [[0, s] for s in range(32)])
  assert all(np.array_equal(a, b) for a, b in zip(outcomes, again))


def test_load_image_is_the_same_eagerly_and_in_tf_data(tmp_path):
  paths = [_write_png(tmp_path / f'{i}.png', _gradient(30 + i, 25 + 2 * i)) for i in range(6)]
  seeds = np.array([[3, i] for i in range(6)], np.int64)
  ds = tf.data.Dataset.from_tensor_slices(
      (paths, seeds)).map(lambda p, s:
                          (ops.load_image(p, 24, 16, flip_seed=s), ops.load_image(p, 24, 16)),
                          num_parallel_calls=2)
  for (in_graph_flip, in_graph), path, seed in zip(ds, paths, seeds):
    np.testing.assert_array_equal(in_graph_flip.numpy(),
                                  ops.load_image(path, 24, 16, flip_seed=seed).numpy())
    np.testing.assert_array_equal(in_graph.numpy(), ops.load_image(path, 24, 16).numpy())


def test_too_small_image_fails_inside_tf_data_naming_the_file(tmp_path):
  path = _write_png(tmp_path / 'small.png', _gradient(20, 30))
  ds = tf.data.Dataset.from_tensor_slices([path]).map(lambda p: ops.load_image(p, 24, 16))
  with pytest.raises(tf.errors.InvalidArgumentError, match='small.png'):
    next(iter(ds))
