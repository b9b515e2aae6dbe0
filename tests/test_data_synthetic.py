"""Tests for stargan_tf.data.synthetic: files, determinism, and measurable attributes."""

import io
import os
import re

import numpy as np
from PIL import Image
import pytest

from stargan_tf import labels as labels_lib
from stargan_tf.data import celeba, pipeline, synthetic

NUM_IMAGES = 240


def _generate(root, num_images=NUM_IMAGES, seed=0):
  synthetic.generate(str(root), num_images=num_images, seed=seed)
  return str(root / synthetic.ATTR_FILE), str(root / synthetic.IMAGE_DIR)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
  """(paths, labels) of all generated images, in file order."""
  attr_path, image_dir = _generate(tmp_path_factory.mktemp('synthetic') / 'data')
  attr_names, lines = celeba.read_attr_file(attr_path)
  columns = [attr_names.index(a) for a in synthetic.SYNTHETIC_ATTRS]
  labels = np.array([[v[c] == '1' for c in columns] for _, v in lines], np.float32)
  return [os.path.join(image_dir, name) for name, _ in lines], labels


def _load(paths, size):
  ds = pipeline.make_dataset(paths, np.zeros([len(paths), 1]), 178, size, 64, training=False)
  return np.concatenate([x.numpy() for x, _ in ds])


def _files(root):
  return {
      os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), 'rb').read()
      for d, _, files in os.walk(root) for f in files
  }


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
  _generate(tmp_path / 'a', 20, seed=7)
  _generate(tmp_path / 'b', 20, seed=7)
  _generate(tmp_path / 'c', 20, seed=8)
  a, b, c = (_files(tmp_path / n) for n in 'abc')
  assert len(a) == 21 and a == b
  assert a[synthetic.ATTR_FILE] != c[synthetic.ATTR_FILE]
  assert sorted(os.listdir(tmp_path)) == ['a', 'b', 'c']  # no temporary folders left


def test_attr_file_has_the_official_layout(dataset):
  paths, _ = dataset
  with open(os.path.join(os.path.dirname(os.path.dirname(paths[0])), synthetic.ATTR_FILE)) as f:
    lines = f.read().splitlines()
  assert lines[0] == str(NUM_IMAGES)
  assert lines[1].split(' ') == list(labels_lib.CELEBA_ATTRS)
  assert len(lines) == NUM_IMAGES + 2
  unused = [i for i, a in enumerate(labels_lib.CELEBA_ATTRS) if a not in synthetic.SYNTHETIC_ATTRS]
  for i, line in enumerate(lines[2:]):
    assert re.fullmatch(rf'{i + 1:06d}\.jpg  (-?1 ){{39}}-?1', line)
    values = line.split()[1:]
    assert all(values[j] == '-1' for j in unused)


def test_images_are_celeba_sized_jpegs(dataset):
  paths, _ = dataset
  with Image.open(paths[0]) as image:
    assert image.format == 'JPEG' and image.size == (178, 218) and image.mode == 'RGB'
  assert celeba.check_images(paths)[0].all()


def test_celeba_reader_builds_the_reference_split(dataset):
  paths, labels = dataset
  attr_path = os.path.join(os.path.dirname(os.path.dirname(paths[0])), synthetic.ATTR_FILE)
  image_dir = os.path.dirname(paths[0])
  test_paths, test_labels = celeba.celeba_split(attr_path,
                                                image_dir,
                                                synthetic.SYNTHETIC_ATTRS,
                                                'test',
                                                test_size=41)
  train_paths, _ = celeba.celeba_split(attr_path,
                                       image_dir,
                                       synthetic.SYNTHETIC_ATTRS,
                                       'train',
                                       test_size=41)
  assert len(test_paths) == 40 and len(train_paths) == NUM_IMAGES - 40
  np.testing.assert_array_equal(test_labels, labels[[paths.index(p) for p in test_paths]])


def test_attributes_are_balanced_and_hair_is_exclusive(dataset):
  _, labels = dataset
  np.testing.assert_array_equal(labels[:, :3].sum(axis=1), 1.0)
  np.testing.assert_allclose(labels[:, :3].mean(axis=0), 1 / 3, atol=0.07)
  np.testing.assert_allclose(labels[:, 3:].mean(axis=0), 0.5, atol=0.08)
  # Independence: the Male/Young combinations are each about a quarter.
  combos = np.bincount((2 * labels[:, 3] + labels[:, 4]).astype(int), minlength=4) / NUM_IMAGES
  np.testing.assert_allclose(combos, 0.25, atol=0.07)


@pytest.mark.parametrize('size', [32, 64, 128])
def test_measure_attributes_recovers_the_labels_through_the_pipeline(dataset, size):
  paths, labels = dataset
  measured = synthetic.measure_attributes(_load(paths, size))
  assert measured.dtype == np.float32 and measured.shape == (NUM_IMAGES, 5)
  np.testing.assert_array_equal(measured, labels)


def test_measure_attributes_on_flipped_training_batches(dataset):
  paths, labels = dataset
  ds = pipeline.make_dataset(paths, labels, 178, 32, 16, training=True, seed=5)
  for x, y in ds.take(4):
    np.testing.assert_array_equal(synthetic.measure_attributes(x), y.numpy())


def _reencode(images, quality):
  out = []
  for x in images:
    buffer = io.BytesIO()
    Image.fromarray(np.round((x + 1) * 127.5).astype(np.uint8)).save(buffer,
                                                                     'JPEG',
                                                                     quality=quality)
    out.append(np.asarray(Image.open(buffer), np.float32) / 127.5 - 1)
  return np.stack(out)


def test_identity_error_separates_same_and_different_content(dataset):
  paths, _ = dataset
  x = _load(paths[:32], 64)
  np.testing.assert_array_equal(synthetic.identity_error(x, x), 0.0)
  assert synthetic.identity_error(x, _reencode(x, 75)).max() < 0.1
  different = synthetic.identity_error(x, np.roll(x, 1, axis=0))
  assert different.min() > 0.15 and np.median(different) > 0.4


def _repaint(x, region, rgb):
  x = x.copy()
  for rows, cols in synthetic.region_slices(region, x.shape[1], margin=0):
    x[:, rows, cols] = np.asarray(rgb, np.float32) / 127.5 - 1
  return x


def test_editing_an_attribute_region_changes_only_that_measurement(dataset):
  paths, labels = dataset
  x = _load(paths[:32], 64)
  hair = labels[:32, :3].argmax(axis=1)
  new_hair = (hair + 1) % 3
  edited = np.stack(
      [_repaint(x[i:i + 1], 'hair', synthetic.HAIR_RGB[new_hair[i]])[0] for i in range(32)])
  expected = labels[:32].copy()
  expected[:, :3] = np.eye(3)[new_hair]
  np.testing.assert_array_equal(synthetic.measure_attributes(edited), expected)
  np.testing.assert_array_equal(synthetic.identity_error(x, edited), 0.0)
  for region, column, colors in (('male', 3, synthetic.MALE_RGB), ('young', 4,
                                                                   synthetic.YOUNG_RGB)):
    edited = _repaint(x, region, colors[1])
    expected = labels[:32].copy()
    expected[:, column] = 1.0
    np.testing.assert_array_equal(synthetic.measure_attributes(edited), expected)
    np.testing.assert_array_equal(synthetic.identity_error(x, edited), 0.0)


def test_editing_the_identity_region_changes_no_attribute(dataset):
  paths, labels = dataset
  x = _load(paths[:32], 32)
  edited = _repaint(x, 'identity', (128, 128, 128))
  np.testing.assert_array_equal(synthetic.measure_attributes(edited), labels[:32])
  assert synthetic.identity_error(x, edited).min() > 0.1


def test_measurement_rejects_images_below_32_px():
  with pytest.raises(ValueError, match='32 px'):
    synthetic.measure_attributes(np.zeros([1, 16, 16, 3]))


def test_ensure_generates_only_when_the_attr_file_is_absent(tmp_path):
  root = tmp_path / 'data'
  synthetic.ensure(str(root), 5, seed=0)
  attr_path = root / synthetic.ATTR_FILE
  assert len(os.listdir(root / synthetic.IMAGE_DIR)) == 5
  attr_path.write_text(attr_path.read_text() + '\n')  # a marker a regeneration would erase
  marked = attr_path.read_text()
  synthetic.ensure(str(root), 5, seed=0)
  assert attr_path.read_text() == marked


def test_generate_refuses_a_non_empty_folder(tmp_path):
  (tmp_path / 'data').mkdir()
  (tmp_path / 'data' / 'keep.txt').write_text('user file')
  with pytest.raises(FileExistsError, match='not empty'):
    synthetic.generate(str(tmp_path / 'data'), 3)
  assert os.listdir(tmp_path / 'data') == ['keep.txt']


def test_interrupted_generation_leaves_nothing_behind(tmp_path, monkeypatch):
  draw = synthetic._draw

  def failing_draw(p, i):
    if i == 7:
      raise KeyboardInterrupt
    return draw(p, i)

  monkeypatch.setattr(synthetic, '_draw', failing_draw)
  with pytest.raises(KeyboardInterrupt):
    synthetic.generate(str(tmp_path / 'data'), 20)
  assert os.listdir(tmp_path) == []
