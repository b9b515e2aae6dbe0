"""Tests for stargan_tf.data.celeba on generated files in the official CelebA layout."""

import io
import logging
import os
import random

import numpy as np
from PIL import Image
import pytest

from stargan_tf import labels as labels_lib
from stargan_tf.data import celeba
from stargan_tf.data import integrity


CROP = 8  # the side of the test images: every one is large enough


def _jpeg_bytes(value=128, size=8):
  buffer = io.BytesIO()
  Image.fromarray(np.full([size, size, 3], value, np.uint8)).save(buffer, format='JPEG')
  return buffer.getvalue()


def _png_bytes():
  buffer = io.BytesIO()
  Image.fromarray(np.zeros([4, 4, 3], np.uint8)).save(buffer, format='PNG')
  return buffer.getvalue()


def _write_celeba(root, num_records, seed=0):
  """Writes list_attr_celeba.txt exactly as the official file looks, plus tiny JPEGs.

  Returns (attr_path, image_dir, names, values int8 [N, 40]).
  """
  rng = np.random.default_rng(seed)
  values = rng.choice(np.array([-1, 1], np.int8), size=[num_records, 40])
  names = [f'{i + 1:06d}.jpg' for i in range(num_records)]
  # Official layout: a count, the names with a trailing space, and values right-aligned in
  # two-character fields after one space (hence runs of spaces before each 1).
  lines = [str(num_records), ' '.join(labels_lib.CELEBA_ATTRS) + ' ']
  lines += [name + ' ' + ' '.join(f'{v:2d}' for v in row) for name, row in zip(names, values)]
  attr_path = os.path.join(root, 'list_attr_celeba.txt')
  with open(attr_path, 'w') as f:
    f.write('\n'.join(lines) + '\n')
  image_dir = os.path.join(root, 'img_align_celeba')
  os.makedirs(image_dir)
  jpeg = _jpeg_bytes()
  for name in names:
    with open(os.path.join(image_dir, name), 'wb') as f:
      f.write(jpeg)
  return attr_path, image_dir, names, values


@pytest.fixture
def small(tmp_path):
  return _write_celeba(str(tmp_path), 30)


def _reference_split(attr_path, test_constant):
  """The reference data loader's split loop, verbatim in behaviour: (test names, train names)."""
  lines = [line.rstrip() for line in open(attr_path, 'r')][2:]
  random.seed(1234)
  random.shuffle(lines)
  test, train = [], []
  for i, line in enumerate(lines):
    (test if (i + 1) < test_constant else train).append(line.split()[0])
  return test, train


def test_read_attr_file_parses_the_official_layout(small):
  attr_path, _, names, values = small
  attr_names, lines = celeba.read_attr_file(attr_path)
  assert attr_names == list(labels_lib.CELEBA_ATTRS)
  assert [name for name, _ in lines] == names
  np.testing.assert_array_equal(np.array([[int(v) for v in row] for _, row in lines]), values)


def test_labels_follow_selected_attrs_order(small):
  attr_path, image_dir, names, values = small
  selected = ['Young', 'Black_Hair', 'Male']
  paths, labels = celeba.celeba_split(attr_path, image_dir, selected, 'train', CROP, test_size=1)
  columns = [labels_lib.CELEBA_ATTRS.index(a) for a in selected]
  order = [names.index(os.path.basename(p)) for p in paths]
  assert labels.dtype == np.float32 and labels.shape == (30, 3)
  np.testing.assert_array_equal(labels, (values[order][:, columns] == 1).astype(np.float32))


def test_reference_split_matches_the_reference_loop_and_is_reproducible(small):
  attr_path, image_dir, _, _ = small
  test_paths, test_labels = celeba.celeba_split(attr_path, image_dir, ['Male'], 'test', CROP,
                                                test_size=11)
  train_paths, train_labels = celeba.celeba_split(attr_path, image_dir, ['Male'], 'train', CROP,
                                                  test_size=11)
  assert (len(test_paths), len(train_paths)) == (10, 20)
  assert test_labels.shape == (10, 1) and train_labels.shape == (20, 1)
  ref_test, ref_train = _reference_split(attr_path, test_constant=11)
  assert [os.path.basename(p) for p in test_paths] == ref_test
  assert [os.path.basename(p) for p in train_paths] == ref_train
  again, _ = celeba.celeba_split(attr_path, image_dir, ['Male'], 'test', CROP, test_size=11)
  assert again == test_paths


def test_split_does_not_touch_the_global_random_state(small):
  attr_path, image_dir, _, _ = small
  random.seed(5)
  expected = random.random()
  random.seed(5)
  celeba.celeba_split(attr_path, image_dir, ['Male'], 'test', CROP, test_size=11)
  assert random.random() == expected


def test_default_test_size_gives_the_reference_1999_test_images(tmp_path):
  attr_path, image_dir, _, _ = _write_celeba(str(tmp_path), 2100)
  attrs = labels_lib.DEFAULT_ATTRS
  test_paths, _ = celeba.celeba_split(attr_path, image_dir, attrs, 'test', CROP)
  train_paths, _ = celeba.celeba_split(attr_path, image_dir, attrs, 'train', CROP)
  assert celeba.REFERENCE_TEST_SIZE == 2000
  ref_test, ref_train = _reference_split(attr_path, test_constant=2000)
  assert [os.path.basename(p) for p in test_paths] == ref_test
  assert [os.path.basename(p) for p in train_paths] == ref_train
  assert (len(test_paths), len(train_paths)) == (1999, 101)


def test_partition_file_mode(small, tmp_path):
  attr_path, image_dir, names, values = small
  partition = [i % 3 for i in range(30)]
  partition_path = str(tmp_path / 'list_eval_partition.txt')
  with open(partition_path, 'w') as f:
    f.write(''.join(f'{n} {p}\n' for n, p in zip(names, partition)))
  for split, pid in (('train', 0), ('val', 1), ('test', 2)):
    paths, labels = celeba.celeba_split(attr_path, image_dir, ['Male', 'Young'], split, CROP,
                                        partition_path=partition_path)
    expected = [i for i in range(30) if partition[i] == pid]
    assert paths == [os.path.join(image_dir, names[i]) for i in expected]
    np.testing.assert_array_equal(labels, values[expected][:, [20, 39]] == 1)


def test_partition_file_missing_a_record_is_an_error(small, tmp_path):
  attr_path, image_dir, names, _ = small
  partition_path = str(tmp_path / 'list_eval_partition.txt')
  with open(partition_path, 'w') as f:
    f.write(''.join(f'{n} 0\n' for n in names[:-1]))
  with pytest.raises(ValueError, match=names[-1]):
    celeba.celeba_split(attr_path, image_dir, ['Male'], 'train', CROP,
                        partition_path=partition_path)


def test_val_split_needs_a_partition_file(small):
  attr_path, image_dir, _, _ = small
  with pytest.raises(ValueError, match='val'):
    celeba.celeba_split(attr_path, image_dir, ['Male'], 'val', CROP)


def test_empty_split_is_an_error_naming_split_and_file(small):
  attr_path, image_dir, _, _ = small
  with pytest.raises(ValueError, match=r"'train'.*list_attr_celeba.txt"):
    celeba.celeba_split(attr_path, image_dir, ['Male'], 'train', CROP)  # 30 records < 1999


def test_unknown_attribute_lists_valid_names(small):
  attr_path, image_dir, _, _ = small
  with pytest.raises(ValueError) as error:
    celeba.celeba_split(attr_path, image_dir, ['Male', 'Purple_Hair'], 'train', CROP,
                        test_size=5)
  assert 'Purple_Hair' in str(error.value)
  assert all(name in str(error.value) for name in labels_lib.CELEBA_ATTRS)


def test_missing_attr_file_says_where_and_how(tmp_path):
  missing = str(tmp_path / 'nowhere' / 'list_attr_celeba.txt')
  with pytest.raises(FileNotFoundError) as error:
    celeba.celeba_split(missing, str(tmp_path), ['Male'], 'train', CROP)
  message = str(error.value)
  assert missing in message
  hints = ('img_align_celeba', '--attr_path', '--celeba_image_dir', 'configs/synthetic.flags')
  for hint in hints:
    assert hint in message


def test_missing_image_dir_says_where_and_how(small, tmp_path):
  attr_path, _, _, _ = small
  missing = str(tmp_path / 'no_images')
  with pytest.raises(FileNotFoundError) as error:
    celeba.celeba_split(attr_path, missing, ['Male'], 'train', CROP, test_size=5)
  assert missing in str(error.value) and '--celeba_image_dir' in str(error.value)


@pytest.mark.parametrize('bad_line, expected', [
    ('000031.jpg ' + ' '.join(['1'] * 39), r'line 33: expected a file name and 40 values.*got 39'),
    ('000031.jpg ' + ' '.join(['1'] * 39 + ['0']),
     r"line 33: expected attribute values 1 or -1, got '0'"),
])
def test_malformed_line_names_file_line_and_expectation(small, bad_line, expected):
  attr_path, _, _, _ = small
  with open(attr_path, 'a') as f:
    f.write(bad_line + '\n')
  with pytest.raises(ValueError, match=expected) as error:
    celeba.read_attr_file(attr_path)
  assert attr_path in str(error.value)


def test_non_numeric_count_line_is_an_error(tmp_path):
  path = tmp_path / 'list_attr_celeba.txt'
  path.write_text(' '.join(labels_lib.CELEBA_ATTRS) + '\n000001.jpg ' + ' 1' * 40 + '\n')
  with pytest.raises(ValueError, match='line 1: expected the number of records'):
    celeba.read_attr_file(str(path))


def test_a_file_name_on_two_lines_is_an_error_naming_both_lines(small):
  attr_path, image_dir, names, _ = small
  with open(attr_path, 'a') as f:
    f.write(names[4] + ' ' + ' '.join(['1'] * 40) + '\n')  # line 33, again for line 7's image
  with pytest.raises(ValueError) as error:
    celeba.celeba_split(attr_path, image_dir, ['Male'], 'train', CROP, test_size=11)
  assert str(error.value).startswith(
      f'{attr_path}: {names[4]} has two records, on lines 7 and 33; every image must have '
      'exactly one')


def test_count_line_disagreeing_with_the_records_is_a_warning(small, caplog):
  attr_path, _, _, _ = small
  with open(attr_path) as f:
    text = f.read()
  with open(attr_path, 'w') as f:
    f.write('31' + text[2:])
  with caplog.at_level(logging.WARNING):
    _, lines = celeba.read_attr_file(attr_path)
  assert len(lines) == 30
  assert any('announces 31 records but the file has 30' in r.getMessage() for r in caplog.records)


def _make_bad_images(image_dir, names):
  """Corrupts four images in four ways; returns their paths."""
  bad = [os.path.join(image_dir, n) for n in names[:4]]
  with open(bad[0], 'wb') as f:
    f.write(b'this is not an image at all')
  with open(bad[1], 'wb') as f:
    f.write(_jpeg_bytes()[:-40])  # truncated JPEG: no end marker
  open(bad[2], 'wb').close()  # zero bytes
  os.remove(bad[3])
  return bad


def test_verify_images_names_garbage_truncated_empty_and_missing(small, tmp_path):
  _, image_dir, names, _ = small
  bad = _make_bad_images(image_dir, names)
  png = str(tmp_path / 'ok.png')
  with open(png, 'wb') as f:
    f.write(_png_bytes())
  truncated_png = str(tmp_path / 'bad.png')
  with open(truncated_png, 'wb') as f:
    f.write(_png_bytes()[:-12])
  paths = [os.path.join(image_dir, n) for n in names] + [png, truncated_png]
  problems = integrity.verify_images(paths, crop_size=4)
  assert problems[:4] == ['not a JPEG or PNG file', 'truncated JPEG (no end marker)',
                          'empty file', 'cannot be read (No such file or directory)']
  assert problems[-1] == 'truncated PNG (no IEND chunk)'
  assert not any(problems[4:-1])


def test_split_skips_corrupt_images_with_one_warning(small, caplog):
  attr_path, image_dir, names, values = small
  bad = _make_bad_images(image_dir, names)
  with caplog.at_level(logging.WARNING):
    paths, labels = celeba.celeba_split(attr_path, image_dir, ['Male'], 'train', CROP, test_size=1)
  assert len(paths) == 26 and labels.shape == (26, 1)
  assert not set(bad) & set(paths)
  order = [names.index(os.path.basename(p)) for p in paths]
  np.testing.assert_array_equal(labels[:, 0], values[order, 20] == 1)  # labels stay aligned
  warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
  assert len(warnings) == 1
  assert 'skipping 4 of 30 images that are missing, corrupt or smaller than the 8x8 crop' in (
      warnings[0])
  assert all(os.path.basename(b) in warnings[0] for b in bad)


def test_split_with_only_corrupt_images_is_an_error(small):
  attr_path, image_dir, names, _ = small
  for name in names:
    open(os.path.join(image_dir, name), 'wb').close()
  with pytest.raises(ValueError, match=f'CelebA test split of {image_dir}: all 10 images'):
    celeba.celeba_split(attr_path, image_dir, ['Male'], 'test', CROP, test_size=11)
