"""Tests for stargan_tf.data.ops, eagerly and inside tf.data."""

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

import photos
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


def _write_jpeg(path, array, subsampling=2, progressive=False):
  return photos.write(path, array, quality=90, subsampling=subsampling, progressive=progressive)


def _reference_crop(path, crop_size, flip):
  """The reference order on the whole decoded image: mirror, then center crop."""
  image = ops.decode(tf.io.read_file(path))
  return ops.center_crop(image[:, ::-1] if flip else image, crop_size).numpy()


def test_flip_decision_is_the_decision_of_stateless_random_flip_left_right():
  probe = tf.constant([[[0], [1]]])  # mirrored iff the first pixel becomes 1
  decisions = []
  for seed in [[s, 7 * s + 1] for s in range(64)]:
    seed = tf.constant(seed, tf.int64)
    flipped = tf.image.stateless_random_flip_left_right(probe, seed)[0, 0, 0] == 1
    assert bool(ops.flip_decision(seed)) == bool(flipped)
    decisions.append(bool(flipped))
  assert 16 <= sum(decisions) <= 48


def test_crop_offsets_of_the_mirrored_image_shift_right_when_the_margin_is_odd():
  # Width 7, crop 4: unmirrored columns 1..4; the mirrored image's crop covers columns 5..2.
  assert [int(v) for v in ops.crop_offsets(5, 7, 4, False)] == [0, 1]
  assert [int(v) for v in ops.crop_offsets(5, 7, 4, True)] == [0, 2]
  assert [int(v) for v in ops.crop_offsets(5, 8, 4, True)] == [0, 2]  # even margin: the same


# (height, width, crop): odd and even margins in both directions; windows away from every border
# (where libjpeg's chroma upsampling at the window's edges would show) and touching them.
JPEG_GEOMETRIES = [(41, 31, 24), (40, 32, 24), (39, 30, 25), (30, 30, 30), (16, 57, 16),
                   (218, 178, 178)]


@pytest.mark.parametrize('subsampling, progressive', [(0, False), (1, False), (2, False),
                                                      (2, True)])
def test_fast_jpeg_path_equals_decoding_the_whole_image(tmp_path, subsampling, progressive):
  for i, (height, width, crop) in enumerate(JPEG_GEOMETRIES):
    path = _write_jpeg(tmp_path / f'{i}.jpg', photos.photo(height, width, seed=i), subsampling,
                       progressive)
    contents = tf.io.read_file(path)
    for flip in (False, True):
      expected = _reference_crop(path, crop, flip)
      fast = ops.decode_center_crop(contents, crop, flip).numpy()
      generic = ops.decode_center_crop(contents, crop, flip, fast_jpeg=False).numpy()
      assert fast.shape == (crop, crop, 3)
      np.testing.assert_array_equal(fast, expected, err_msg=f'{(height, width, crop, flip)}')
      np.testing.assert_array_equal(generic, expected)


def test_fast_jpeg_path_is_the_same_inside_tf_data(tmp_path):
  paths = [_write_jpeg(tmp_path / f'{i}.jpg', photos.photo(41, 31 + i, seed=i)) for i in range(4)]
  seeds = np.array([[5, i] for i in range(4)], np.int64)
  ds = tf.data.Dataset.from_tensor_slices((paths, seeds)).map(
      lambda p, s: (ops.load_image(p, 24, 16, flip_seed=s),
                    ops.load_image(p, 24, 16, flip_seed=s, fast_jpeg=False)),
      num_parallel_calls=2)
  flips = []
  for (fast, generic), path, seed in zip(ds, paths, seeds):
    flip = bool(ops.flip_decision(seed))
    flips.append(flip)
    expected = ops.normalize(ops.resize(_reference_crop(path, 24, flip), 16)).numpy()
    np.testing.assert_array_equal(fast.numpy(), expected)
    np.testing.assert_array_equal(generic.numpy(), expected)
  assert len(set(flips)) == 2  # both branches were exercised


def test_png_and_greyscale_jpeg_take_their_paths_with_the_same_result(tmp_path):
  png = _write_png(tmp_path / 'x.png', photos.photo(41, 31))
  grey = str(tmp_path / 'g.jpg')
  Image.fromarray(photos.photo(41, 31)).convert('L').save(grey, quality=90)
  for path in (png, grey):
    for flip in (False, True):
      out = ops.decode_center_crop(tf.io.read_file(path), 24, flip).numpy()
      np.testing.assert_array_equal(out, _reference_crop(path, 24, flip))


def test_too_small_jpeg_fails_naming_the_file_eagerly_and_in_tf_data(tmp_path):
  path = _write_jpeg(tmp_path / 'tiny.jpg', photos.photo(20, 30))
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'(?s)tiny\.jpg.*smaller than crop_size'):
    ops.load_image(path, 24, 16)
  ds = tf.data.Dataset.from_tensor_slices([path]).map(lambda p: ops.load_image(p, 24, 16))
  with pytest.raises(tf.errors.InvalidArgumentError, match='tiny.jpg'):
    next(iter(ds))


def test_image_shape_reads_jpeg_headers_and_decodes_others(tmp_path):
  jpeg = _write_jpeg(tmp_path / 'x.jpg', photos.photo(41, 31))
  png = _write_png(tmp_path / 'x.png', photos.photo(17, 12))
  assert ops.image_shape(tf.io.read_file(jpeg)).numpy().tolist() == [41, 31]
  assert ops.image_shape(tf.io.read_file(png)).numpy().tolist() == [17, 12]


def test_read_image_is_load_image_before_normalising(tmp_path):
  path = _write_jpeg(tmp_path / 'x.jpg', photos.photo(41, 31))
  seed = tf.constant([1, 2], tf.int64)
  raw = ops.read_image(path, 24, 16, ops.flip_decision(seed)).numpy()
  assert raw.dtype == np.float32 and raw.max() > 1.0
  np.testing.assert_array_equal(ops.normalize(raw).numpy(),
                                ops.load_image(path, 24, 16, flip_seed=seed).numpy())
