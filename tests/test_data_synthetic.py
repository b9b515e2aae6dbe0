"""Tests for stargan_tf.data.synthetic: files, determinism, and measurable labels."""

import io
import os
import re
import subprocess
import sys
import time

import numpy as np
from PIL import Image
import pytest

import helpers
from stargan_tf import labels as labels_lib
from stargan_tf.data import celeba, integrity, pipeline, rafd, synthetic


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_IMAGES = 240
RAFD_IMAGES = 64


def _generate(root, num_images=NUM_IMAGES, seed=0, expressions=False):
  synthetic.generate(str(root), num_images=num_images, seed=seed, expressions=expressions)
  return str(root / synthetic.ATTR_FILE), str(root / synthetic.IMAGE_DIR)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
  """(paths, labels) of all generated images, in file order."""
  attr_path, image_dir = _generate(tmp_path_factory.mktemp('synthetic') / 'data')
  attr_names, lines = celeba.read_attr_file(attr_path)
  columns = [attr_names.index(a) for a in synthetic.SYNTHETIC_ATTRS]
  labels = np.array([[v[c] == '1' for c in columns] for _, v in lines], np.float32)
  return [os.path.join(image_dir, name) for name, _ in lines], labels


@pytest.fixture(scope='module')
def rafd_dir(tmp_path_factory):
  root = tmp_path_factory.mktemp('synthetic_rafd') / 'rafd'
  synthetic.generate_rafd(str(root), num_images=RAFD_IMAGES, seed=0)
  return root


def _load(paths, size):
  ds = pipeline.make_dataset(paths, np.zeros([len(paths), 1]), 178, size, 64, training=False)
  return np.concatenate([x.numpy() for x, _ in ds])


def _image_paths(image_dir):
  return sorted(os.path.join(image_dir, f) for f in os.listdir(image_dir))


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
  assert len(a) == 22 and a == b  # 20 images, the attribute file, the format file
  assert a[synthetic.FORMAT_FILE] == b'3\n'
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
  assert integrity.verify_images(paths, synthetic.SIDE) == [''] * len(paths)  # clean JPEGs


def test_celeba_reader_builds_the_reference_split(dataset):
  paths, labels = dataset
  attr_path = os.path.join(os.path.dirname(os.path.dirname(paths[0])), synthetic.ATTR_FILE)
  image_dir = os.path.dirname(paths[0])
  test_paths, test_labels = celeba.celeba_split(attr_path, image_dir, synthetic.SYNTHETIC_ATTRS,
                                                'test', synthetic.SIDE, test_size=41)
  train_paths, _ = celeba.celeba_split(attr_path, image_dir, synthetic.SYNTHETIC_ATTRS, 'train',
                                       synthetic.SIDE, test_size=41)
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
  # Two images can have close background colours (they lie on one curve): the median tells.
  assert different.min() > 0.1 and np.median(different) > 0.3


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


@pytest.mark.parametrize('measure', [synthetic.measure_attributes, synthetic.measure_expression])
def test_measurement_rejects_images_below_32_px(measure):
  with pytest.raises(ValueError, match='32 px'):
    measure(np.zeros([1, 16, 16, 3]))


def test_ensure_generates_only_when_the_attr_file_is_absent(tmp_path):
  root = tmp_path / 'data'
  synthetic.ensure(str(root), 5, seed=0)
  attr_path = root / synthetic.ATTR_FILE
  assert len(os.listdir(root / synthetic.IMAGE_DIR)) == 5
  attr_path.write_text(attr_path.read_text() + '\n')  # a marker a regeneration would erase
  marked = attr_path.read_text()
  synthetic.ensure(str(root), 5, seed=0)
  assert attr_path.read_text() == marked


def test_ensure_warns_about_a_dataset_of_an_earlier_image_design(tmp_path, caplog):
  root = tmp_path / 'data'
  synthetic.ensure(str(root), 5, seed=0)
  synthetic.ensure(str(root), 5, seed=0)
  assert 'earlier version' not in caplog.text
  (root / synthetic.FORMAT_FILE).unlink()  # as written before the file existed (design 1)
  synthetic.ensure(str(root), 5, seed=0)
  assert 'earlier version' in caplog.text and 'image design 1, now 3' in caplog.text
  assert not (root / synthetic.FORMAT_FILE).exists()  # the folder is the user's to delete


def _background_colours(x):
  """The identity region's background colour of each image (0..255): the median of its four 2x2
  corners inside the measuring margin, as a large shape can reach one corner."""
  [(rows, cols)] = synthetic.region_slices('identity', x.shape[1])
  region = x[:, rows, cols]
  corners = np.concatenate([region[:, :2, :2], region[:, :2, -2:], region[:, -2:, :2],
                            region[:, -2:, -2:]], axis=1)
  return np.median(corners.reshape(len(x), -1, 3), axis=1)


def test_identity_colours_lie_on_their_curves(dataset):
  """The background and shape colours come from `background_rgb` / `shape_rgb` (the design that
  leaves no colour map for G to hide the content in), not from the whole RGB cube."""
  paths, _ = dataset
  corner = _background_colours((_load(paths[:32], 64) + 1) * 127.5)
  curve = synthetic.background_rgb(np.linspace(0, 1, 1001)).astype(np.float32)
  distance = np.sqrt(((corner[:, None] - curve[None]) ** 2).sum(-1)).min(axis=1)
  assert distance.max() < 6, distance  # JPEG and resizing: a few levels
  # A colour map such as (R, G, B) -> (-B, G, -R) takes them far off the curve.
  mapped = 255 - corner[:, ::-1]
  mapped[:, 1] = corner[:, 1]
  off = np.sqrt(((mapped[:, None] - curve[None]) ** 2).sum(-1)).min(axis=1)
  assert np.median(off) > 60, off
  # Every shape colour stands out from every background colour.
  t = np.linspace(0, 1, 501)
  shape = synthetic.shape_rgb(t).astype(np.float32)
  assert np.sqrt(((curve[::2, None] - shape[None]) ** 2).sum(-1)).min() >= 60


def test_shape_colour_follows_the_background_colour(dataset):
  """Image design 3: one position t along both curves, so that a fake whose shape colour moved
  along its curve pairs with a background no real image has. Read back from the pixels."""
  paths, _ = dataset
  x = (_load(paths[:32], 64) + 1) * 127.5
  [(rows, cols)] = synthetic.region_slices('identity', 64)
  region = x[:, rows, cols]
  t = np.linspace(0, 1, 1001)

  def nearest_t(colours, curve):
    return t[np.argmin(((colours[:, None] - curve[None]) ** 2).sum(-1), axis=1)]

  background = _background_colours(x)
  distance = np.sqrt(((region - background[:, None, None]) ** 2).sum(-1))
  far = distance > 0.5 * distance.max(axis=(1, 2), keepdims=True)
  shape = np.stack([np.median(r[f], axis=0) for r, f in zip(region, far)])
  t_background = nearest_t(background, synthetic.background_rgb(t).astype(np.float32))
  t_shape = nearest_t(shape, synthetic.shape_rgb(t).astype(np.float32))
  assert np.ptp(t_background) > 0.5  # the images span the curves
  np.testing.assert_allclose(t_shape, t_background, atol=0.05)


def test_shape_overlap_is_one_for_the_same_shape_and_falls_as_the_outline_goes(dataset):
  paths, _ = dataset
  x = _load(paths[:32], 32)
  np.testing.assert_array_equal(synthetic.shape_overlap(x, x), 1.0)
  [(rows, cols)] = synthetic.region_slices('identity', 32, margin=0)
  # The shape painted over with the background colour (a corner pixel): nothing kept.
  erased = x.copy()
  erased[:, rows, cols] = x[:, rows.start:rows.start + 1, cols.start:cols.start + 1]
  assert synthetic.shape_overlap(x, erased).max() == 0
  # Moved by 3 pixels: partly kept.
  moved = x.copy()
  moved[:, rows, cols] = np.roll(x[:, rows, cols], 3, axis=2)
  overlap_moved = synthetic.shape_overlap(x, moved)
  assert 0.2 < overlap_moved.mean() < 0.8, overlap_moved
  # Blurred (5x5 box): the outline goes soft, less than moving it.
  pad = np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)], mode='edge')
  blurred = np.mean([pad[:, i:i + 32, j:j + 32] for i in range(5) for j in range(5)], axis=0)
  overlap_blurred = synthetic.shape_overlap(x, blurred)
  assert overlap_moved.mean() < overlap_blurred.mean() < 0.95, overlap_blurred
  # The same images another way round: another image's shape is mostly elsewhere.
  assert synthetic.shape_overlap(x, np.roll(x, 1, axis=0)).mean() < 0.6
  with pytest.raises(ValueError, match='Shapes differ'):
    synthetic.shape_overlap(x, x[:16])


WRITERS = [synthetic.generate, synthetic.generate_rafd]


@pytest.mark.parametrize('generate', WRITERS)
def test_generate_refuses_a_non_empty_folder(tmp_path, generate):
  (tmp_path / 'data').mkdir()
  (tmp_path / 'data' / 'keep.txt').write_text('user file')
  with pytest.raises(FileExistsError, match='not empty'):
    generate(str(tmp_path / 'data'), 16)
  assert os.listdir(tmp_path / 'data') == ['keep.txt']


@pytest.mark.parametrize('generate', WRITERS)
def test_interrupted_generation_leaves_nothing_behind(tmp_path, monkeypatch, generate):
  draw = synthetic._draw

  def failing_draw(p, i):
    if i == 7:
      raise KeyboardInterrupt
    return draw(p, i)

  monkeypatch.setattr(synthetic, '_draw', failing_draw)
  with pytest.raises(KeyboardInterrupt):
    generate(str(tmp_path / 'data'), 20)
  assert os.listdir(tmp_path) == []


def test_the_next_generation_removes_what_a_killed_one_left(tmp_path, caplog):
  out = tmp_path / 'data'
  code = f'from stargan_tf.data import synthetic; synthetic.generate({str(out)!r}, 100000)'
  writer = subprocess.Popen([sys.executable, '-c', code], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT))

  def writing_images(name):
    images = tmp_path / name / synthetic.IMAGE_DIR
    return '.partial-' in name and images.is_dir() and any(images.iterdir())

  try:
    deadline = time.monotonic() + 120
    leftovers = []
    while not leftovers and time.monotonic() < deadline and writer.poll() is None:
      time.sleep(0.05)
      leftovers = [n for n in os.listdir(tmp_path) if writing_images(n)]
  finally:
    writer.kill()  # SIGKILL: no clean-up
    writer.wait()
  assert len(leftovers) == 1 and not out.exists()
  alive = helpers.partial_name(str(out), os.getpid())  # its writer (this process) still runs
  os.makedirs(alive)
  with caplog.at_level('WARNING'):
    synthetic.generate(str(out), 16)
  assert sorted(os.listdir(tmp_path)) == sorted(['data', os.path.basename(alive)])
  assert f'Removed {tmp_path / leftovers[0]}, left by a generation that was killed.' in caplog.text
  assert len(os.listdir(out / synthetic.IMAGE_DIR)) == 16


# Expression marks on the CelebA-format images.


def test_expression_marks_have_their_own_stream_and_paint_only_the_mouth_box():
  plain = synthetic._celeba_plan(48, 3, expressions=False)
  marked = synthetic._celeba_plan(48, 3, expressions=True)
  assert set(marked) - set(plain) == {'expression'}
  for name, values in plain.items():
    np.testing.assert_array_equal(marked[name], values, err_msg=name)
  assert set(marked['expression']) == set(range(len(labels_lib.RAFD_CLASSES)))
  x0, y0, x1, y1 = synthetic._box_pixels('mouth')
  assert (x0 + x1 == synthetic.WIDTH and y1 == synthetic._box_pixels('identity')[3])
  for i in range(48):
    plain_image = np.asarray(synthetic._draw(plain, i))
    marked_image = np.array(synthetic._draw(marked, i))
    np.testing.assert_array_equal(marked_image[y0:y1, x0:x1],
                                  np.broadcast_to(synthetic.EXPRESSION_RGB[marked['expression'][i]],
                                                  (y1 - y0, x1 - x0, 3)))
    marked_image[y0:y1, x0:x1] = plain_image[y0:y1, x0:x1]
    np.testing.assert_array_equal(marked_image, plain_image)


def test_expression_marks_are_measurable_and_change_no_attribute(tmp_path):
  plain_attr, plain_dir = _generate(tmp_path / 'plain', 48, seed=3)
  marked_attr, marked_dir = _generate(tmp_path / 'marked', 48, seed=3, expressions=True)
  with open(plain_attr, 'rb') as f1, open(marked_attr, 'rb') as f2:
    assert f1.read() == f2.read()
  expressions = synthetic._celeba_plan(48, 3, expressions=True)['expression']
  for size in (32, 128):
    plain, marked = (_load(_image_paths(d), size) for d in (plain_dir, marked_dir))
    np.testing.assert_array_equal(synthetic.measure_attributes(marked),
                                  synthetic.measure_attributes(plain))
    np.testing.assert_array_equal(synthetic.measure_expression(marked), expressions)
    assert synthetic.identity_error(plain, marked, exclude_mouth=True).max() < 0.005
    assert synthetic.identity_error(plain, marked).min() > 0.02


def test_identity_error_can_exclude_the_mouth_box(dataset):
  paths, labels = dataset
  x = _load(paths[:32], 32)
  [(rows, cols)] = synthetic.region_slices('identity', 32)
  y = np.roll(x, 1, axis=0)
  np.testing.assert_array_equal(synthetic.identity_error(x, y),
                                np.abs(x[:, rows, cols] - y[:, rows, cols]).mean(axis=(1, 2, 3)))
  for k, rgb in enumerate(synthetic.EXPRESSION_RGB):
    edited = _repaint(x, 'mouth', rgb)
    np.testing.assert_array_equal(synthetic.measure_expression(edited), k)
    np.testing.assert_array_equal(synthetic.measure_attributes(edited), labels[:32])
    np.testing.assert_array_equal(synthetic.identity_error(x, edited, exclude_mouth=True), 0.0)
    assert synthetic.identity_error(x, edited).min() > 0.01
  outside = _repaint(x, 'identity', (128, 128, 128))
  assert synthetic.identity_error(x, outside, exclude_mouth=True).min() > 0.1


def test_ensure_passes_expressions_through(tmp_path, caplog):
  synthetic.ensure(str(tmp_path / 'a'), 5, seed=0, expressions=True)
  _generate(tmp_path / 'b', 5, seed=0, expressions=True)
  _generate(tmp_path / 'c', 5, seed=0)
  a, b, c = (_files(tmp_path / n) for n in 'abc')
  assert a == b and a != c
  assert 'expression marks' not in caplog.text
  # Reusing a folder written the other way warns (a two-dataset run needs the marks).
  synthetic.ensure(str(tmp_path / 'c'), 5, seed=0, expressions=True)
  assert 'written without expression marks' in caplog.text


# The RaFD-layout dataset.


def _rafd_names(root):
  """{split: {class: [file names]}} of a RaFD-layout folder."""
  return {
      split: {c: sorted(os.listdir(root / split / c)) for c in sorted(os.listdir(root / split))}
      for split in sorted(os.listdir(root)) if split != synthetic.FORMAT_FILE
  }


def test_rafd_layout_has_the_rafd_classes_and_disjoint_splits(rafd_dir):
  names = _rafd_names(rafd_dir)
  assert list(names) == ['test', 'train']
  counts = {}
  for split, classes in names.items():
    assert tuple(classes) == labels_lib.RAFD_CLASSES
    for c, files in classes.items():
      assert files, (split, c)
      counts[split, c] = len(files)
  everything = [f for classes in names.values() for files in classes.values() for f in files]
  assert sorted(everything) == [f'{i:06d}.jpg' for i in range(1, RAFD_IMAGES + 1)]  # disjoint
  per_class = RAFD_IMAGES // len(labels_lib.RAFD_CLASSES)
  for c in labels_lib.RAFD_CLASSES:
    assert counts['train', c] + counts['test', c] == per_class
    assert counts['test', c] == round(0.1 * per_class)
  with Image.open(rafd_dir / 'train' / 'angry' / names['train']['angry'][0]) as image:
    assert image.format == 'JPEG' and image.size == (178, 218) and image.mode == 'RGB'


@pytest.mark.parametrize('size', [32, 128])
@pytest.mark.parametrize('split', ['train', 'test'])
def test_measure_expression_recovers_every_class_through_the_pipeline(rafd_dir, split, size):
  paths, labels = rafd.rafd_split(str(rafd_dir / split), labels_lib.RAFD_CLASSES, synthetic.SIDE)
  ds = pipeline.make_dataset(paths, labels, crop_size=178, image_size=size, batch_size=32,
                             training=False)
  measured = np.concatenate([synthetic.measure_expression(x) for x, _ in ds])
  assert measured.dtype == np.int64 and measured.shape == (len(paths),)
  np.testing.assert_array_equal(measured, labels.argmax(axis=1))
  assert set(measured) == set(range(len(labels_lib.RAFD_CLASSES)))


def test_measure_expression_on_flipped_training_batches(rafd_dir):
  paths, labels = rafd.rafd_split(str(rafd_dir / 'train'), labels_lib.RAFD_CLASSES,
                                  synthetic.SIDE)
  ds = pipeline.make_dataset(paths, labels, 178, 32, 16, training=True, seed=5)
  for x, y in ds.take(4):
    np.testing.assert_array_equal(synthetic.measure_expression(x), y.numpy().argmax(axis=1))


def test_rafd_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
  for name, seed in (('a', 7), ('b', 7), ('c', 8)):
    synthetic.generate_rafd(str(tmp_path / name), num_images=synthetic.MIN_RAFD_IMAGES, seed=seed)
  a, b, c = (_files(tmp_path / n) for n in 'abc')
  assert len(a) == synthetic.MIN_RAFD_IMAGES + 1 and a == b and a != c  # + the format file
  assert sorted(os.listdir(tmp_path)) == ['a', 'b', 'c']  # no temporary folders left
  for classes in _rafd_names(tmp_path / 'a').values():
    assert all(len(files) == 1 for files in classes.values())


def test_rafd_content_differs_from_the_celeba_format_images_of_the_same_seed(tmp_path):
  synthetic.generate_rafd(str(tmp_path / 'rafd'), num_images=16, seed=0)
  _, image_dir = _generate(tmp_path / 'celeba', 16, seed=0)
  rafd_paths = [p for split in ('train', 'test') for p in rafd.rafd_split(
      str(tmp_path / 'rafd' / split), labels_lib.RAFD_CLASSES, synthetic.SIDE)[0]]
  celeba_paths = [os.path.join(image_dir, os.path.basename(p)) for p in rafd_paths]
  rafd_images, celeba_images = _load(rafd_paths, 32), _load(celeba_paths, 32)
  assert synthetic.identity_error(rafd_images, celeba_images, exclude_mouth=True).min() > 0.05


@pytest.mark.parametrize('num_images,test_fraction,match', [
    (synthetic.MIN_RAFD_IMAGES - 1, 0.1, f'num_images >= {synthetic.MIN_RAFD_IMAGES}'),
    (16, 0.0, 'test_fraction'),
    (16, 1.0, 'test_fraction'),
])
def test_rafd_rejects_too_few_images_and_bad_fractions(tmp_path, num_images, test_fraction,
                                                         match):
  with pytest.raises(ValueError, match=match):
    synthetic.generate_rafd(str(tmp_path / 'rafd'), num_images, test_fraction=test_fraction)
  assert os.listdir(tmp_path) == []


def test_ensure_rafd_generates_only_when_train_is_absent(tmp_path, monkeypatch, caplog):
  calls = []
  generate_rafd = synthetic.generate_rafd

  def counting_generate_rafd(*args):
    calls.append(args)
    generate_rafd(*args)

  monkeypatch.setattr(synthetic, 'generate_rafd', counting_generate_rafd)
  root = str(tmp_path / 'rafd')
  synthetic.ensure_rafd(root, 16, seed=0)
  synthetic.ensure_rafd(root, 16, seed=0)
  assert len(calls) == 1 and 'asked for' not in caplog.text
  synthetic.ensure_rafd(root, 24, seed=0)
  assert len(calls) == 1
  assert 'with 16 images (asked for 24)' in caplog.text
