"""Tests for stargan_tf.data.pipeline: shapes, determinism, resume, evaluation order."""

import numpy as np
import pytest
import tensorflow as tf

import photos
from stargan_tf.data import celeba, ops, pipeline, synthetic


NUM_IMAGES = 23  # not a multiple of the batch size: batches straddle epoch boundaries
BATCH = 4
SIZE = 32


@pytest.fixture(scope='module')
def split(tmp_path_factory):
  root = tmp_path_factory.mktemp('synthetic') / 'data'
  synthetic.generate(str(root), num_images=NUM_IMAGES, seed=3)
  return celeba.celeba_split(str(root / synthetic.ATTR_FILE),
                             str(root / synthetic.IMAGE_DIR),
                             synthetic.SYNTHETIC_ATTRS,
                             'train',
                             synthetic.SIDE,
                             test_size=1)


def _train(split, num_batches, **kwargs):
  paths, labels = split
  ds = pipeline.make_dataset(paths, labels, 178, SIZE, BATCH, training=True, **kwargs)
  return [(x.numpy(), y.numpy()) for x, y in ds.take(num_batches)]


@pytest.fixture(scope='module')
def eval_images(split):
  paths, _ = split
  return np.stack([ops.load_image(p, 178, SIZE).numpy() for p in paths])


def test_training_batches_have_the_right_shapes_dtypes_and_range(split):
  for x, y in _train(split, 3):
    assert x.shape == (BATCH, SIZE, SIZE, 3) and x.dtype == np.float32
    assert y.shape == (BATCH, 5) and y.dtype == np.float32
    assert -1.0 <= x.min() and x.max() <= 1.0 and x.std() > 0.1


def test_training_stream_is_deterministic_and_depends_on_the_seed(split):
  first, second = _train(split, 8), _train(split, 8)
  for (x1, y1), (x2, y2) in zip(first, second):
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
  other = _train(split, 8, seed=1)
  assert not all(np.array_equal(a[0], b[0]) for a, b in zip(first, other))


@pytest.mark.parametrize('start_step', [1, 5, 6, 11])
def test_resume_yields_the_batches_of_an_uninterrupted_run(split, start_step):
  # Step 5 covers elements 20..23 (epoch 0 ends at 22); step 11 is in the third epoch.
  uninterrupted = _train(split, 14)
  resumed = _train(split, 3, start_step=start_step)
  for (x1, y1), (x2, y2) in zip(uninterrupted[start_step:], resumed):
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)


def test_each_epoch_is_a_fresh_permutation_with_random_flips(split, eval_images):
  _, labels = split
  batches = _train(split, 3 * NUM_IMAGES // BATCH)
  images = np.concatenate([x for x, _ in batches])
  stream_labels = np.concatenate([y for _, y in batches])
  sources, flips = [], []
  for x in images:
    plain = np.abs(eval_images - x).max(axis=(1, 2, 3))
    mirrored = np.abs(eval_images[:, :, ::-1] - x).max(axis=(1, 2, 3))
    best = min(plain.min(), mirrored.min())
    assert best < 1e-4  # every element is one of the images, maybe mirrored
    flips.append(mirrored.min() < plain.min())
    sources.append(int(np.argmin(np.minimum(plain, mirrored))))
  np.testing.assert_array_equal(stream_labels, labels[sources])
  epochs = [sources[e * NUM_IMAGES:(e + 1) * NUM_IMAGES] for e in range(2)]
  assert all(sorted(e) == list(range(NUM_IMAGES)) for e in epochs)
  assert epochs[0] != epochs[1] and epochs[0] != list(range(NUM_IMAGES))
  assert 0.2 < np.mean(flips) < 0.8


def test_eval_mode_keeps_file_order_and_the_remainder(split, eval_images):
  paths, labels = split
  batches = [(x.numpy(), y.numpy())
             for x, y in pipeline.make_dataset(paths, labels, 178, SIZE, BATCH, training=False)]
  assert [len(x) for x, _ in batches] == [4, 4, 4, 4, 4, 3]
  np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), eval_images)
  np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), labels)


def test_training_split_smaller_than_a_batch_is_an_error(split):
  paths, labels = split
  with pytest.raises(ValueError, match='fewer than batch_size=16'):
    pipeline.make_dataset(paths[:10], labels[:10], 178, SIZE, 16, training=True)


def test_labels_must_match_paths(split):
  paths, labels = split
  with pytest.raises(ValueError, match=r'labels of shape \[22, c\]'):
    pipeline.make_dataset(paths[:22], labels, 178, SIZE, BATCH, training=False)


@pytest.fixture(scope='module')
def odd_margin_split(tmp_path_factory):
  """9 JPEGs (4:2:0) whose width margin around a 24-pixel crop is odd or even, and a PNG."""
  root = tmp_path_factory.mktemp('odd')
  paths = []
  for i in range(9):
    paths.append(photos.write(root / f'{i}.jpg', photos.photo(30 + i, 31 + i % 2, seed=i),
                              quality=90))
  paths.append(photos.write(root / 'last.png', photos.photo(33, 27, seed=9)))
  labels = np.arange(20, dtype=np.float32).reshape(10, 2)
  return paths, labels


def _by_definition(paths, labels, num_elements, seed):
  """The stream the module docstring defines, built the slow, obvious way."""
  n = len(paths)
  images, rows = [], []
  for k in range(num_elements):
    order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64),
                                                     seed=[seed, k // n]).numpy()
    i = order[k % n]
    image = ops.decode(tf.io.read_file(paths[i]))
    image = tf.image.stateless_random_flip_left_right(image, seed=tf.constant([seed, k], tf.int64))
    images.append(ops.normalize(ops.resize(ops.center_crop(image, 24), 16)).numpy())
    rows.append(labels[i])
  return np.stack(images), np.stack(rows)


@pytest.mark.parametrize('fast_jpeg', [True, False])
def test_training_stream_is_the_defined_one_with_odd_margins(odd_margin_split, fast_jpeg):
  paths, labels = odd_margin_split
  ds = pipeline.make_dataset(paths, labels, 24, 16, 4, training=True, seed=3, start_step=1,
                             fast_jpeg=fast_jpeg)
  x, y = (np.concatenate(t) for t in zip(*[(x.numpy(), y.numpy()) for x, y in ds.take(6)]))
  expected_x, expected_y = _by_definition(paths, labels, 4 + 24, seed=3)
  np.testing.assert_array_equal(y, expected_y[4:])
  np.testing.assert_array_equal(x, expected_x[4:])


def _element_keys(batches):
  return [x.tobytes() + y.tobytes() for xs, ys in batches for x, y in zip(xs, ys)]


def test_nondeterministic_stream_has_the_same_elements_up_to_local_reordering(split):
  # 23 images, batch 4: 12 batches are two epochs and a bit. Out-of-order reads only swap
  # elements that were read at the same time, so the first 8 batches of the ordered stream are
  # all among the first 12 unordered batches, which are all among the first 16 ordered ones.
  ordered = _element_keys(_train(split, 16))
  unordered_batches = _train(split, 12, deterministic=False)
  unordered = _element_keys(unordered_batches)
  assert len(unordered) == 48 and all(x.shape == (BATCH, SIZE, SIZE, 3)
                                      for x, _ in unordered_batches)
  assert set(ordered[:32]) <= set(unordered)
  assert set(unordered) <= set(ordered)
