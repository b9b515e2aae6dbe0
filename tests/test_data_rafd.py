"""Tests for stargan_tf.data.rafd."""

import io
import logging
import os

import numpy as np
from PIL import Image
import pytest

from stargan_tf.data import rafd


def _write_image(path, fmt='JPEG'):
  buffer = io.BytesIO()
  Image.fromarray(np.full([6, 6, 3], 100, np.uint8)).save(buffer, format=fmt)
  with open(path, 'wb') as f:
    f.write(buffer.getvalue())


@pytest.fixture
def tree(tmp_path):
  """Three classes created out of order, mixed extensions, and a file that is not an image."""
  files = {
      'surprised': ['b.jpg', 'a.PNG'],
      'angry': ['x.jpeg'],
      'happy': ['c.jpg', 'd.jpg', 'e.png']
  }
  for name, images in files.items():
    os.makedirs(tmp_path / name)
    for image in images:
      fmt = 'PNG' if image.lower().endswith('png') else 'JPEG'
      _write_image(tmp_path / name / image, fmt)
  (tmp_path / 'happy' / 'notes.txt').write_text('not an image')
  (tmp_path / 'README').write_text('a file, not a class')
  return str(tmp_path)


def test_classes_are_sorted_folders_with_one_hot_labels(tree):
  paths, labels, class_names = rafd.rafd_split(tree)
  assert class_names == ['angry', 'happy', 'surprised']
  expected = [
      'angry/x.jpeg', 'happy/c.jpg', 'happy/d.jpg', 'happy/e.png', 'surprised/a.PNG',
      'surprised/b.jpg'
  ]
  assert paths == [os.path.join(tree, p) for p in expected]
  assert labels.dtype == np.float32
  np.testing.assert_array_equal(labels, np.eye(3)[[0, 1, 1, 1, 2, 2]])


def test_corrupt_images_are_skipped_with_a_warning(tree, caplog):
  open(os.path.join(tree, 'happy', 'd.jpg'), 'wb').close()
  with caplog.at_level(logging.WARNING):
    paths, labels, _ = rafd.rafd_split(tree)
  assert os.path.join(tree, 'happy', 'd.jpg') not in paths
  np.testing.assert_array_equal(labels, np.eye(3)[[0, 1, 1, 2, 2]])
  assert any(
      'skipping 1 of 6' in r.getMessage() and 'd.jpg' in r.getMessage() for r in caplog.records)


def test_missing_dir_says_where_and_how(tmp_path):
  missing = str(tmp_path / 'RaFD' / 'train')
  with pytest.raises(FileNotFoundError) as error:
    rafd.rafd_split(missing)
  assert missing in str(error.value)
  assert 'one sub-folder per expression' in str(error.value)


def test_empty_class_folder_is_an_error(tree):
  os.makedirs(os.path.join(tree, 'sad'))
  with pytest.raises(ValueError, match='sad'):
    rafd.rafd_split(tree)
