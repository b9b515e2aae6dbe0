"""Tests for stargan_tf.data.cache and make_dataset(cache_dir=...)."""

import dataclasses
import json
import logging
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import helpers
import photos
from stargan_tf.data import cache
from stargan_tf.data import ops
from stargan_tf.data import pipeline
from stargan_tf.data import splits


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CROP, SIZE = 24, 16
TOLERANCE = 1 / 255 + 1e-6  # uint8 rounding (0.5 of 255 levels) in [-1, 1] units


def _leftovers(cache_dir):
  """The temporary folders of cache writes beside `cache_dir`."""
  parent, name = os.path.split(cache_dir)
  return [n for n in os.listdir(parent) if n.startswith(f'.{name}.partial-')]


def _images(folder, shapes):
  """JPEGs of these (height, width) shapes, the last one a PNG."""
  os.makedirs(folder, exist_ok=True)
  paths = []
  for i, (height, width) in enumerate(shapes):
    name = f'{i:02d}.png' if i == len(shapes) - 1 else f'{i:02d}.jpg'
    paths.append(photos.write(os.path.join(folder, name), photos.photo(height, width, seed=i)))
  return paths


# (height, width): odd widths leave an odd margin around the 24-pixel crop; the last is a PNG.
SHAPES = [(30, 30), (31, 31), (32, 32), (33, 33), (30, 31), (35, 33), (26, 26), (27, 25)]
ODD = [i for i, (_, w) in enumerate(SHAPES) if (w - CROP) % 2]


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
  root = tmp_path_factory.mktemp('cache')
  paths = _images(root / 'images', SHAPES)
  labels = np.arange(2 * len(paths), dtype=np.float32).reshape(-1, 2)
  cache_dir = str(root / 'cache')
  assert cache.write_cache(paths, CROP, SIZE, cache_dir) == len(paths)
  return paths, labels, cache_dir


def test_manifest_records_sizes_sources_and_mirror_windows(dataset):
  paths, _, cache_dir = dataset
  manifest = cache.read_manifest(cache_dir)
  assert (manifest['crop_size'], manifest['image_size']) == (CROP, SIZE)
  assert manifest['sources'] == [os.path.abspath(p) for p in paths]
  assert manifest['mirror_window'] == ODD and ODD  # only odd width margins need a second file
  files, mirror_files = cache.lookup(cache_dir, paths, CROP, SIZE)
  assert all(os.path.getsize(f) == SIZE * SIZE * 3 for f in set(files + mirror_files))
  assert [f != m for f, m in zip(files, mirror_files)] == [i in ODD for i in range(len(paths))]
  assert sorted(os.listdir(cache_dir)) == ['images', cache.MANIFEST]
  assert not _leftovers(cache_dir)


def test_cached_images_equal_decoded_ones_up_to_uint8_rounding(dataset):
  paths, _, cache_dir = dataset
  files, mirror_files = cache.lookup(cache_dir, paths, CROP, SIZE)
  for path, file, mirror_file in zip(paths, files, mirror_files):
    for flip in (False, True):
      cached = cache.read_image(file, mirror_file, SIZE, flip)
      assert cached.dtype == tf.uint8 and cached.shape == (SIZE, SIZE, 3)
      decoded = ops.read_image(path, CROP, SIZE, flip).numpy()
      if flip:  # mirrored after resizing instead of before: float rounding differences too
        np.testing.assert_allclose(cached.numpy(), decoded, atol=0.5 + 1e-3, err_msg=path)
      else:  # only the uint8 rounding
        np.testing.assert_array_equal(cached.numpy(), np.round(decoded), err_msg=path)


def test_mirror_windows_matter_for_odd_margins(dataset):
  # Mirroring the unflipped cached image of an odd-margin image is one source column off.
  paths, _, cache_dir = dataset
  files, _ = cache.lookup(cache_dir, paths, CROP, SIZE)
  i = ODD[0]
  wrong = cache.read_image(files[i], files[i], SIZE, True).numpy().astype(np.float32)
  assert np.abs(wrong - ops.read_image(paths[i], CROP, SIZE, True).numpy()).max() > 2


def test_training_stream_from_the_cache_follows_the_source_stream(dataset):
  paths, labels, cache_dir = dataset
  kwargs = dict(crop_size=CROP, image_size=SIZE, batch_size=4, training=True, seed=2)
  source = [(x.numpy(), y.numpy()) for x, y in
            pipeline.make_dataset(paths, labels, **kwargs).take(7)]
  cached = [(x.numpy(), y.numpy()) for x, y in
            pipeline.make_dataset(paths, labels, cache_dir=cache_dir, **kwargs).take(7)]
  for (x1, y1), (x2, y2) in zip(source, cached):
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_allclose(x1, x2, atol=TOLERANCE)
    assert x2.dtype == np.float32 and -1 <= x2.min() and x2.max() <= 1
  resumed = [x.numpy() for x, _ in
             pipeline.make_dataset(paths, labels, cache_dir=cache_dir, start_step=4,
                                   **kwargs).take(3)]
  for (x1, _), x2 in zip(cached[4:], resumed):
    np.testing.assert_array_equal(x1, x2)


def test_eval_stream_from_the_cache(dataset):
  paths, labels, cache_dir = dataset
  subset = paths[5:1:-1]  # any subset, any order
  batches = list(pipeline.make_dataset(subset, labels[5:1:-1], CROP, SIZE, 3, training=False,
                                       cache_dir=cache_dir))
  assert [len(x) for x, _ in batches] == [3, 1]
  x = np.concatenate([x.numpy() for x, _ in batches])
  expected = np.stack([ops.load_image(p, CROP, SIZE).numpy() for p in subset])
  np.testing.assert_allclose(x, expected, atol=TOLERANCE)
  np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), labels[5:1:-1])


def test_a_cache_of_other_sizes_or_files_is_refused_naming_the_folder(dataset, tmp_path):
  paths, labels, cache_dir = dataset
  with pytest.raises(ValueError, match=re.escape(
      f'{cache_dir}: it was written with crop_size=24, image_size=16 but crop_size=24, '
      'image_size=32')):
    pipeline.make_dataset(paths, labels, CROP, 32, 4, training=True, cache_dir=cache_dir)
  other = _images(tmp_path / 'other', [(30, 30)])
  with pytest.raises(ValueError, match=re.escape(
      f'{cache_dir} does not hold 1 of the 2 requested images (e.g. {other[0]})')):
    cache.lookup(cache_dir, paths[:1] + other, CROP, SIZE)
  with pytest.raises(FileNotFoundError, match=re.escape(f'{tmp_path} holds no complete image')):
    pipeline.make_dataset(paths, labels, CROP, SIZE, 4, training=False, cache_dir=str(tmp_path))


def test_rewriting_is_a_no_op_and_another_cache_is_not_overwritten(dataset, tmp_path):
  paths, _, cache_dir = dataset
  manifest = os.path.join(cache_dir, cache.MANIFEST)
  before = os.stat(manifest).st_mtime_ns
  assert cache.write_cache(paths[:3], CROP, SIZE, cache_dir) == len(paths)
  assert os.stat(manifest).st_mtime_ns == before
  with pytest.raises(FileExistsError, match=re.escape(
      f'{cache_dir} holds another image cache: it was written with crop_size=24, image_size=16 '
      'but crop_size=24, image_size=8')):
    cache.write_cache(paths, CROP, 8, cache_dir)
  (tmp_path / 'busy').mkdir()
  (tmp_path / 'busy' / 'notes.txt').write_text('mine')
  with pytest.raises(FileExistsError, match='busy exists and is not an image cache'):
    cache.write_cache(paths, CROP, SIZE, str(tmp_path / 'busy'))
  assert os.listdir(tmp_path / 'busy') == ['notes.txt']


def test_a_bad_image_stops_the_write_naming_the_file_and_leaves_nothing(dataset, tmp_path):
  paths, _, _ = dataset
  corrupt = tmp_path / 'corrupt.jpg'
  corrupt.write_bytes(open(paths[0], 'rb').read()[:300])  # a JPEG cut short
  small = _images(tmp_path / 'small', [(30, 20)])
  cache_dir = str(tmp_path / 'cache')
  for bad in (str(corrupt), small[0], str(tmp_path / 'absent.jpg')):
    with pytest.raises(ValueError, match='^' + re.escape(f'{bad}: cannot be cached')):
      cache.write_cache(paths[:2] + [bad] + paths[2:], CROP, SIZE, cache_dir)
    assert not os.path.exists(cache_dir) and not _leftovers(cache_dir)


def test_an_interrupted_write_leaves_nothing(dataset, tmp_path, monkeypatch):
  paths, _, _ = dataset
  cache_dir = str(tmp_path / 'cache')
  write_file, written = cache._write_file, []

  def interrupted(path, array):
    if len(written) == 3:
      raise KeyboardInterrupt
    write_file(path, array)
    written.append(path)

  monkeypatch.setattr(cache, '_write_file', interrupted)
  with pytest.raises(KeyboardInterrupt):
    cache.write_cache(paths, CROP, SIZE, cache_dir)
  assert os.listdir(tmp_path) == []
  with pytest.raises(FileNotFoundError, match='holds no complete image cache'):
    cache.lookup(cache_dir, paths, CROP, SIZE)
  monkeypatch.undo()
  assert cache.write_cache(paths, CROP, SIZE, cache_dir) == len(paths)
  assert len(cache.lookup(cache_dir, paths, CROP, SIZE)[0]) == len(paths)


def test_the_next_write_removes_what_a_killed_writer_left(dataset, tmp_path, caplog):
  paths, _, _ = dataset
  cache_dir = str(tmp_path / 'cache')
  dead = helpers.partial_name(cache_dir, helpers.dead_pid())
  alive = helpers.partial_name(cache_dir, os.getpid())  # its writer (this process) still runs
  for leftover in (dead, alive):
    os.makedirs(os.path.join(leftover, 'images', '0000'))
    with open(os.path.join(leftover, 'images', '0000', '0000000.u8'), 'wb') as f:
      f.write(b'half an image')
  with caplog.at_level(logging.WARNING):
    assert cache.write_cache(paths, CROP, SIZE, cache_dir) == len(paths)
  assert not os.path.exists(dead) and os.path.exists(alive)
  assert f'Removed {dead}, left by an image cache write that was killed.' in caplog.text
  assert sorted(os.listdir(tmp_path)) == sorted(['cache', os.path.basename(alive)])


def test_progress_is_logged(dataset, tmp_path, caplog):
  paths, _, _ = dataset
  with caplog.at_level(logging.INFO):
    cache.write_cache(paths[:5], CROP, SIZE, str(tmp_path / 'cache'), log_every=2)
  progress = [r.getMessage().split(' (')[0] for r in caplog.records
              if r.getMessage().startswith('Cached ')]
  assert progress == ['Cached 2/5 images', 'Cached 4/5 images', 'Cached 5/5 images']


def test_a_truncated_cache_file_is_named(dataset, tmp_path):
  paths, _, cache_dir = dataset
  files, _ = cache.lookup(cache_dir, paths, CROP, SIZE)
  short = tmp_path / 'short.u8'
  short.write_bytes(open(files[0], 'rb').read()[:100])
  with pytest.raises(tf.errors.InvalidArgumentError, match='short.u8'):
    cache.read_image(str(short), str(short), SIZE)


def test_write_cache_for_config_caches_train_and_test(make_tiny_config, tmp_path):
  config = make_tiny_config(tmp_path / 'run')
  cache_dir = str(tmp_path / 'cache')
  train, _ = splits.load_split(config.data, 'train')
  test, _ = splits.load_split(config.data, 'test')
  data = dataclasses.replace(config.data, cache_dir=cache_dir)
  assert cache.write_cache_for_config(data, config.model.image_size) == len(train) + len(test)
  manifest = cache.read_manifest(cache_dir)
  assert manifest['crop_size'] == 178 and manifest['image_size'] == 32
  assert sorted(manifest['sources']) == sorted(os.path.abspath(p) for p in train + test)


@pytest.mark.slow
def test_command_line(synthetic_dir, tmp_path):
  cache_dir = tmp_path / 'cache'
  args = [sys.executable, '-m', 'stargan_tf.cache', '--flagfile=configs/synthetic.flags',
          f'--attr_path={synthetic_dir}/list_attr_celeba.txt',
          f'--celeba_image_dir={synthetic_dir}/img_align_celeba', '--synthetic_images=0',
          '--test_size=17']
  env = dict(os.environ, PYTHONPATH=ROOT)
  result = subprocess.run(args + [f'--cache_dir={cache_dir}'], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Cached 64/64 images' in result.stderr
  with open(cache_dir / cache.MANIFEST) as f:
    assert len(json.load(f)['sources']) == 64
  missing = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert missing.returncode != 0 and '--cache_dir is required' in missing.stderr
