"""Tests for stargan_tf.data.rafd."""

import dataclasses
import io
import logging
import os
import re

import numpy as np
from PIL import Image
import pytest

from stargan_tf import config as config_lib
from stargan_tf.data import rafd
from stargan_tf.data import splits


CLASSES = ('angry', 'happy', 'surprised')
CROP = 6  # the side of the test images


def _write_image(path, fmt='JPEG'):
  buffer = io.BytesIO()
  Image.fromarray(np.full([CROP, CROP, 3], 100, np.uint8)).save(buffer, format=fmt)
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
  assert rafd.class_names(tree) == list(CLASSES)
  paths, labels = rafd.rafd_split(tree, CLASSES, CROP)
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
    paths, labels = rafd.rafd_split(tree, CLASSES, CROP)
  assert os.path.join(tree, 'happy', 'd.jpg') not in paths
  np.testing.assert_array_equal(labels, np.eye(3)[[0, 1, 1, 2, 2]])
  assert any(
      'skipping 1 of 6' in r.getMessage() and 'd.jpg' in r.getMessage() for r in caplog.records)


def test_missing_dir_says_where_and_how(tmp_path):
  missing = str(tmp_path / 'RaFD' / 'train')
  with pytest.raises(FileNotFoundError) as error:
    rafd.rafd_split(missing, CLASSES, CROP)
  assert missing in str(error.value)
  assert 'one sub-folder per expression' in str(error.value)


def test_empty_class_folder_is_an_error(tree):
  os.makedirs(os.path.join(tree, 'sad'))
  with pytest.raises(ValueError, match='sad'):
    rafd.rafd_split(tree, CLASSES + ('sad',), CROP)


@pytest.mark.parametrize('expected, missing, unexpected', [
    (CLASSES + ('sad',), "['sad']", 'none'),  # e.g. the test folder lacks a training class
    (CLASSES[:2], 'none', "['surprised']"),
])
def test_class_folders_other_than_the_runs_classes_are_an_error(tree, expected, missing,
                                                                  unexpected):
  with pytest.raises(ValueError) as error:
    rafd.rafd_split(tree, expected, CROP)
  assert str(error.value).startswith(
      f"RaFD folder {tree!r} has the class folders ['angry', 'happy', 'surprised'], but the run "
      f'expects {list(expected)} (the class folders of --rafd_image_dir, in label order); '
      f'missing: {missing}, unexpected: {unexpected}. Give the training and test folders '
      '(--rafd_image_dir, --rafd_test_dir) the same class folders')


def test_images_smaller_than_the_crop_are_skipped(tree, caplog):
  small = os.path.join(tree, 'happy', 'c.jpg')
  Image.fromarray(np.zeros([CROP - 1, CROP + 4, 3], np.uint8)).save(small)
  with caplog.at_level(logging.WARNING):
    paths, labels = rafd.rafd_split(tree, CLASSES, CROP)
  assert small not in paths and len(paths) == 5
  np.testing.assert_array_equal(labels, np.eye(3)[[0, 1, 1, 2, 2]])
  assert f'{small} (5x10 pixels (height x width), smaller than the 6x6 center crop)' in caplog.text


def test_load_split_passes_the_runs_classes_and_the_rafd_crop(tree, tmp_path_factory):
  test_dir = tmp_path_factory.mktemp('test')
  for name in CLASSES[:2]:  # no 'surprised' test images
    os.makedirs(test_dir / name)
    _write_image(test_dir / name / 'x.jpg')
  data = dataclasses.replace(config_lib.DataConfig(), dataset='RaFD', rafd_image_dir=tree,
                             rafd_test_dir=str(test_dir), rafd_classes=CLASSES,
                             rafd_crop_size=CROP)
  paths, labels = splits.load_split(data, 'train')
  assert len(paths) == 6 and labels.shape == (6, 3)
  with pytest.raises(ValueError, match=re.escape(
      f"RaFD folder {str(test_dir)!r} has the class folders ['angry', 'happy'], but the run "
      "expects ['angry', 'happy', 'surprised']")):
    splits.load_split(data, 'test')
  too_small = dataclasses.replace(data, rafd_crop_size=CROP + 1)
  with pytest.raises(ValueError, match=re.escape(
      f'RaFD images in {tree}: all 6 images are missing, corrupt or smaller than the 7x7 crop')):
    splits.load_split(too_small, 'train')
