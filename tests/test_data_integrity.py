"""Tests for stargan_tf.data.integrity: unusable images are found once, named and skipped."""

import dataclasses
import io
import json
import logging
import os
import re

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from stargan_tf import config as config_lib
from stargan_tf.data import integrity
from stargan_tf.data import ops
from stargan_tf.data import splits
from stargan_tf.data import synthetic


NUM_IMAGES = 24
CROP = synthetic.SIDE  # CelebA's crop of the 178x218 images


def _compressed_data(jpeg):
  """(start, end) of a baseline JPEG's compressed data: after the SOS header, before EOI."""
  sos = jpeg.index(b'\xff\xda')
  return sos + 2 + int.from_bytes(jpeg[sos + 2:sos + 4], 'big'), jpeg.rindex(b'\xff\xd9')


def _garbled(jpeg):
  """16 bytes in the middle of the compressed data replaced by 64 one-bits (FF 00 is a stuffed FF
  byte). No Huffman code is all ones, so libjpeg meets a bad code whatever the encoder wrote
  there, and decodes the rest out of step. Same size as the original."""
  start, end = _compressed_data(jpeg)
  middle = (start + end) // 2
  return jpeg[:middle] + b'\xff\x00' * 8 + jpeg[middle + 16:]


def _cut_short(jpeg):
  """The second half of the compressed data lost, the end marker kept."""
  start, end = _compressed_data(jpeg)
  return jpeg[:(start + end) // 2] + jpeg[end:]


def _bad_huffman_table(jpeg):
  """The first Huffman table's 16 code counts set to 255 (more codes than 16 bits can hold)."""
  dht = jpeg.index(b'\xff\xc4')
  return jpeg[:dht + 5] + b'\xff' * 16 + jpeg[dht + 21:]


def _too_small(_):
  buffer = io.BytesIO()
  Image.fromarray(np.full([CROP - 1, CROP + 10, 3], 90, np.uint8)).save(buffer, format='JPEG')
  return buffer.getvalue()


# File name -> (how it is damaged, the reason the warning gives).
DAMAGE = {
    '000003.jpg': (_garbled, 'Corrupt JPEG data: bad Huffman code'),
    '000004.jpg': (_cut_short, 'Corrupt JPEG data: premature end of data segment'),
    '000008.jpg': (_bad_huffman_table, 'cannot be decoded: Bogus Huffman table definition'),
    '000011.jpg': (_too_small, '177x188 pixels (height x width), smaller than the 178x178 center '
                   'crop'),
    '000015.jpg': (lambda _: b'Just some notes, saved with the wrong name.\n',
                   'not a JPEG or PNG file'),
    '000020.jpg': (lambda _: b'', 'empty file'),
}
NOT_DECODED = ('000015.jpg', '000020.jpg')  # the cheap first stage already rejects them


@pytest.fixture
def dataset(tmp_path):
  """(DataConfig of a synthetic CelebA-format dataset whose images are all in the training split
  (a partition file), its image folder)."""
  root = tmp_path / 'celeba'
  synthetic.generate(str(root), num_images=NUM_IMAGES)
  image_dir = str(root / synthetic.IMAGE_DIR)
  partition = root / 'list_eval_partition.txt'
  partition.write_text(''.join(f'{name} 0\n' for name in sorted(os.listdir(image_dir))))
  data = dataclasses.replace(config_lib.DataConfig(), attr_path=str(root / synthetic.ATTR_FILE),
                             celeba_image_dir=image_dir, partition_path=str(partition),
                             selected_attrs=synthetic.SYNTHETIC_ATTRS)
  return data, image_dir


def _damage(image_dir, names=tuple(DAMAGE)):
  """Damages the images `names` as DAMAGE says; returns {path: the reason expected}."""
  expected = {}
  for name in names:
    path = os.path.join(image_dir, name)
    with open(path, 'rb') as f:
      jpeg = f.read()
    damage, reason = DAMAGE[name]
    with open(path, 'wb') as f:
      f.write(damage(jpeg))
    expected[path] = reason
  return expected


def _count_decodes(monkeypatch):
  """Counts the images integrity decodes: returns the list of decoded paths, growing."""
  decoded, decode = [], integrity._decode

  def counting_decode(path):
    decoded.append(path)
    return decode(path)

  monkeypatch.setattr(integrity, '_decode', counting_decode)
  return decoded


def _warnings(caplog):
  return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_the_damage_is_what_training_meets():
  # Garbled and cut-short data decode without an error (training would use the garbled pixels);
  # a bad Huffman table is an error (training would stop at the batch that reaches it).
  buffer = io.BytesIO()
  synthetic._draw(synthetic._celeba_plan(1, seed=0, expressions=False), 0).save(
      buffer, format='JPEG', quality=synthetic.JPEG_QUALITY)
  jpeg = buffer.getvalue()
  intact = ops.decode(jpeg).numpy()
  for damage in (_garbled, _cut_short):
    garbled = ops.decode(damage(jpeg)).numpy()
    assert garbled.shape == intact.shape and np.abs(garbled.astype(int) - intact).max() > 100
  with pytest.raises(tf.errors.InvalidArgumentError):
    ops.decode(_bad_huffman_table(jpeg))


def test_unusable_images_are_skipped_with_one_warning_naming_each(dataset, caplog, monkeypatch):
  data, image_dir = dataset
  expected = _damage(image_dir)
  decoded = _count_decodes(monkeypatch)
  with caplog.at_level(logging.WARNING):
    paths, labels = splits.load_split(data, 'train')
  everything = [os.path.join(image_dir, n) for n in sorted(os.listdir(image_dir))]
  assert paths == [p for p in everything if p not in expected]  # the rest of the split is kept
  assert labels.shape == (NUM_IMAGES - len(DAMAGE), len(synthetic.SYNTHETIC_ATTRS))
  [warning] = _warnings(caplog)
  assert warning.startswith(f'CelebA train split of {image_dir}: skipping 6 of 24 images that are '
                            'missing, corrupt or smaller than the 178x178 crop: ')
  for path, reason in list(expected.items())[:5]:  # the first five are named
    assert f'{path} ({reason})' in warning
  assert warning.endswith(', ...')
  assert set(decoded) == {p for p in everything if os.path.basename(p) not in NOT_DECODED}

  # Once verified, a split is not decoded again: neither its good nor its bad images.
  decoded.clear()
  caplog.clear()
  with caplog.at_level(logging.WARNING):
    again, again_labels = splits.load_split(data, 'train')
  assert decoded == []
  assert again == paths and np.array_equal(again_labels, labels)
  assert _warnings(caplog) == [warning]


def test_the_record_is_keyed_by_size_and_mtime_and_a_changed_file_is_verified_again(
    dataset, monkeypatch):
  data, image_dir = dataset
  splits.load_split(data, 'train')
  target = os.path.join(image_dir, '000003.jpg')
  before = os.stat(target)
  with open(integrity.record_path(image_dir)) as f:
    record = json.load(f)
  assert record['folder'] == image_dir and len(record['images']) == NUM_IMAGES
  assert record['images']['000003.jpg'] == [before.st_size, before.st_mtime_ns, 218, 178, '']

  decoded = _count_decodes(monkeypatch)
  _damage(image_dir, ['000003.jpg'])  # same size, later mtime
  assert os.stat(target).st_size == before.st_size
  assert os.stat(target).st_mtime_ns != before.st_mtime_ns
  paths, _ = splits.load_split(data, 'train')
  assert set(decoded) == {target} and target not in paths and len(paths) == NUM_IMAGES - 1
  with open(integrity.record_path(image_dir)) as f:
    entry = json.load(f)['images']['000003.jpg']
  assert entry[1] == os.stat(target).st_mtime_ns and entry[4] == DAMAGE['000003.jpg'][1]


def test_libjpeg_messages_go_to_the_warning_and_other_output_to_stderr(dataset, capfd,
                                                                       monkeypatch):
  _, image_dir = dataset
  paths = [os.path.join(image_dir, n) for n in sorted(os.listdir(image_dir))]
  _damage(image_dir, ['000003.jpg'])
  decode, calls = integrity._decode, []

  def chatty_decode(path):
    # 000005.jpg says something every time it is decoded (like a warning about metadata); while
    # 000006.jpg is decoded the first time, another part of the program writes to stderr.
    calls.append(path)
    if path.endswith('000005.jpg'):
      os.write(2, b'a note about 000005.jpg\n')
    if path.endswith('000006.jpg') and calls.count(path) == 1:
      os.write(2, b'a message of another thread\n')
    return decode(path)

  monkeypatch.setattr(integrity, '_decode', chatty_decode)
  problems = integrity.verify_images(paths, CROP)
  assert problems == [DAMAGE['000003.jpg'][1] if p.endswith('000003.jpg') else '' for p in paths]
  err = capfd.readouterr().err
  assert 'Corrupt JPEG data' not in err  # no longer an anonymous line on stderr
  assert err.count('a note about 000005.jpg\n') == 1
  assert err.count('a message of another thread\n') == 1


def test_long_passes_log_progress_with_a_rate(dataset, monkeypatch, caplog):
  _, image_dir = dataset
  paths = [os.path.join(image_dir, n) for n in sorted(os.listdir(image_dir))][:10]
  monkeypatch.setattr(integrity, '_ROUND', 4)
  with caplog.at_level(logging.INFO):
    integrity.verify_images(paths, CROP, log_every=4)
  progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith('Verified ')]
  assert [m.split(' (')[0] for m in progress] == [
      'Verified 4 / 10 images', 'Verified 8 / 10 images', 'Verified 10 / 10 images']
  assert all(re.search(r' \(\d+ images/s\)\.$', m) for m in progress)


def test_the_records_folder(monkeypatch, tmp_path):
  monkeypatch.setenv(integrity.CACHE_ENV, str(tmp_path / 'mine'))
  assert os.path.dirname(integrity.record_path('/data/images')) == str(tmp_path / 'mine' /
                                                                       'verified')
  assert integrity.record_path('/data/images') != integrity.record_path('/data/images2')
  monkeypatch.delenv(integrity.CACHE_ENV)
  monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
  assert integrity.cache_root() == str(tmp_path / 'xdg' / 'stargan_tf')
  monkeypatch.delenv('XDG_CACHE_HOME')
  monkeypatch.setenv('HOME', str(tmp_path / 'home'))
  assert integrity.cache_root() == str(tmp_path / 'home' / '.cache' / 'stargan_tf')


def test_an_unwritable_records_folder_only_warns(dataset, monkeypatch, tmp_path, caplog):
  _, image_dir = dataset
  paths = [os.path.join(image_dir, n) for n in sorted(os.listdir(image_dir))]
  _damage(image_dir, ['000004.jpg'])
  (tmp_path / 'a_file').write_text('not a folder')
  monkeypatch.setenv(integrity.CACHE_ENV, str(tmp_path / 'a_file' / 'cache'))
  with caplog.at_level(logging.WARNING):
    problems = integrity.verify_images(paths, CROP)
  assert [bool(p) for p in problems] == [p.endswith('000004.jpg') for p in paths]
  [warning] = _warnings(caplog)
  assert warning.startswith('Cannot write the image verification record '
                            f'{tmp_path}/a_file/cache/verified/')
  assert warning.endswith(f'the images of {image_dir} will be decoded again next time. Set '
                          'STARGAN_TF_CACHE to a writable folder.')
