"""Translate images with a trained generator into result grids (`python -m stargan_tf.translate`).

Each grid row is [input | one column per target]; by default the targets are those of
`labels.create_labels` (one per domain; hair colours exclusive), with --target one explicit
target (values from 0 to 1: 0.5 asks for half the change), with --target and --interpolate=N the
N labels from the source label to that target. A user's own images have no labels, so their
source labels are read off the trained discriminator's classifier (D_cls): attribute present iff
its logit > 0, RaFD class = argmax.

A user's photos are translated face by face (`faces.py`): each face found is aligned to CelebA's
framing, the grid has one row per face, and each photo is also written whole with its faces
translated and pasted back, one copy per column: <output_dir>/<column name>/<photo name>. With
align=False (--no_align) the central square of each photo is translated instead, grids only.

A joint model (--dataset=Both) translates CelebA test images (or own images, read as CelebA
faces) into every CelebA target and then every RaFD expression: 1 + 5 + 8 columns with the
default attributes. --target may name domains of either dataset (one dataset per target).
"""

import itertools
import os
import re

from absl import logging
import numpy as np
from PIL import Image
import tensorflow as tf

from stargan_tf import faces
from stargan_tf import images
from stargan_tf import runs
from stargan_tf.data import integrity
from stargan_tf.data import ops
from stargan_tf.data import pipeline
from stargan_tf.data import splits


class UnusableImageError(ValueError):
  """An image file that cannot be read or decoded; the message names the file and the reason.

  A ValueError, so the commands show it as a one-line error.

  Attributes:
    path: the file.
    reason: why it cannot be used, e.g. 'empty file' or 'truncated or corrupt JPEG data'.
  """

  def __init__(self, path, reason):
    super().__init__(f'{path}: {reason}; expected a JPEG or PNG image.')
    self.path = path
    self.reason = reason


def _undecodable_reason(contents):
  if contents.startswith(integrity.JPEG_SIGNATURE):
    return 'truncated or corrupt JPEG data'
  if contents.startswith(integrity.PNG_SIGNATURE):
    return 'truncated or corrupt PNG data'
  return 'not a JPEG or PNG image'


def load_own_image(path, image_size):
  """A user's image file: central square of its shorter side, resized, in [-1, 1].

  Raises:
    UnusableImageError: the file is missing, unreadable, a folder, empty or not a decodable JPEG
      or PNG.
  """
  contents = _read_contents(path)
  try:
    return ops.preprocess_own_image(contents, image_size)
  except tf.errors.InvalidArgumentError:
    raise UnusableImageError(path, _undecodable_reason(contents)) from None


def load_photo(path):
  """A user's photo file: uint8 [H, W, 3], upright by its EXIF orientation.

  Raises:
    UnusableImageError: as `load_own_image`.
  """
  contents = _read_contents(path)
  try:
    return faces.decode_photo(contents)
  except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
    raise UnusableImageError(path, _undecodable_reason(contents)) from None


def _read_contents(path):
  """The bytes of a user's image file; UnusableImageError if missing, unreadable or empty."""
  try:
    with open(path, 'rb') as f:
      contents = f.read()
  except OSError as e:
    raise UnusableImageError(path, (e.strerror or str(e)).lower()) from None
  if not contents:
    raise UnusableImageError(path, 'empty file')
  return contents


def read_own_images(paths, image_size, skipped):
  """Yields (file name, float32 [S, S, 3]) of each usable image of `paths`, in order.

  A folder of a user's photos may hold a few files that are not images (empty, truncated, another
  format under a .jpg name): they are left out, so they cost their own rows only.

  Args:
    paths: image files.
    image_size: S.
    skipped: a list; the UnusableImageError of each file left out is appended to it.
  """
  for path in paths:
    try:
      image = load_own_image(path, image_size)
    except UnusableImageError as e:
      skipped.append(e)
      continue
    yield os.path.basename(path), image.numpy()


NO_FACE = 'no face found'


def read_own_faces(paths, image_size, crop_size, skipped):
  """Yields (path, uint8 photo [H, W, 3], its faces as `faces.AlignedFace`s) of each usable photo
  of `paths` in which a face is found, in order.

  Args:
    paths: image files.
    image_size: the model's side S.
    crop_size: the centre crop of CelebA's aligned frame the model was trained with.
    skipped: a list; an UnusableImageError for each file left out (unusable, or no face found) is
      appended to it.
  """
  for path in paths:
    try:
      photo = load_photo(path)
      aligned = faces.align_photo(photo, image_size, crop_size, name=os.path.basename(path))
    except UnusableImageError as e:
      skipped.append(e)
      continue
    except faces.NoFaceError:
      skipped.append(UnusableImageError(path, NO_FACE))
      continue
    yield path, photo, aligned


def report_skipped(flag, folder, skipped, num_used):
  """Warns once, naming each file `read_own_images` or `read_own_faces` skipped and why.

  Args:
    flag: the flag that gave the folder, e.g. '--input_dir'.
    folder: its value.
    skipped: the list filled by `read_own_images` or `read_own_faces`.
    num_used: how many images were used.

  Raises:
    ValueError: no image was usable.
  """
  listing = ', '.join(f'{os.path.basename(e.path)} ({e.reason})' for e in skipped)
  if any(e.reason == NO_FACE for e in skipped):
    listing += ('; --no_align translates the central square of each image instead of the faces '
                'found')
  if not num_used:
    raise ValueError(f'{flag}={folder} holds no usable image: {listing}.')
  if skipped:
    logging.warning('%s=%s: skipped %d file(s): %s.', flag, folder, len(skipped), listing)


def _batches(rows, batch_size):
  """Cuts rows (image [S, S, 3], [one output [S, S, 3] per column], name) into batches
  (images [B, S, S, 3], columns [B, S, S, 3] each, B names) of up to batch_size rows."""
  rows = iter(rows)
  while batch := list(itertools.islice(rows, batch_size)):
    x, columns, names = zip(*batch)
    yield np.stack(x), [np.stack(c) for c in zip(*columns)], list(names)


def _rows(x, columns, names):
  """The rows of a batch: (image, [output of each column], name)."""
  return ((x[i], [c[i] for c in columns], names[i]) for i in range(len(x)))


def labels_from_classifier(D, x, label_space, dataset):
  """Source labels of `dataset` [N, len(names)] as D_cls reads them."""
  return label_space.from_classifier(D(x, training=False)[1].numpy(), dataset)


def make_targets(c_org, config, target, interpolate=0):
  """The G labels of each column for one batch of the sample dataset's images with labels
  c_org: LabelSpace.create_labels, the single --target, or with interpolate=N the N labels from
  the source label to the --target."""
  space, dataset = config.label_space, config.data.sample_dataset
  if not target:
    return space.create_labels(c_org, dataset)
  target_dataset, updates = space.parse_target(target)
  if target_dataset != dataset:  # the image has no labels of that dataset
    c_org = np.zeros([len(c_org), len(space.names_of(target_dataset))], np.float32)
  c_trg = space.apply_target(c_org, target_dataset, updates)
  if not interpolate:
    return [c_trg]
  return space.interpolate(space.embed(c_org, target_dataset), c_trg, interpolate)


def column_names(space, target='', interpolate=0):
  """The grid's header: 'input', then each target's domain, the --target, or the steps t=0.00
  (the source label) ... t=1.00 (the --target) of --interpolate."""
  if not target:
    return ('input',) + space.domain_names
  if not interpolate:
    return ('input', target)
  return ('input',) + tuple(f't={t:.2f}' for t in np.linspace(0.0, 1.0, interpolate))


def photo_path(output_dir, column, photo):
  """Where the photo `photo` translated for the grid column `column` goes:
  <output_dir>/<column>/<photo's file name> (characters other than letters, digits and
  _.=,+- in the column name become _)."""
  return os.path.join(output_dir, re.sub(r'[^\w.=,+-]', '_', column), os.path.basename(photo))


def default_output_dir(work_dir, input_dir=''):
  """<work_dir>/results, or <work_dir>/results/<input folder name> for a user's images."""
  results = runs.Run(work_dir).results_dir
  if not input_dir:
    return results
  return os.path.join(results, os.path.basename(os.path.normpath(os.path.abspath(input_dir))))


def translate(work_dir, output_dir='', input_dir='', target='', batch_size=16, max_images=0,
              step=0, align=True, interpolate=0):
  """Writes grids <output_dir>/<k>-images.png (k = 000001, ...); returns their paths.

  Each grid has a header row naming its columns (`column_names`), and with input_dir the name of
  each row. With input_dir and align, each photo's faces are aligned and translated (one row per
  face: the file name, then #1, #2, ... for several) and the photo is written whole with them
  pasted back for each column (`photo_path`); files of input_dir that are not usable images or
  show no face are skipped with one warning naming them. max_images counts the images
  translated.

  Raises:
    ValueError: a bad --target or --interpolate, input_dir holds no usable image, or input_dir
      with a checkpoint holding no discriminator to read the images' attributes.
    ImportError: align needs OpenCV for face detection, and it is missing.
  """
  restored = runs.Run(work_dir).restore(step)
  config, G, D = restored.config, restored.G, restored.D
  if input_dir and D is None:
    raise ValueError(f'{restored.path} holds only a generator (imported without '
                     '--discriminator), and --input_dir reads the attributes of your images off '
                     'the discriminator\'s classifier. Import again with --discriminator, or '
                     'translate single photos with `python -m serving.client` or `python -m '
                     'stargan_tf.tflite --run`, whose --base gives the photo\'s own attributes.')
  space, dataset = config.label_space, config.data.sample_dataset
  image_size = config.model.image_size
  if interpolate and not target:
    raise ValueError(f'--interpolate={interpolate} needs a --target to interpolate to, e.g. '
                     f'--target="{space.domain_names[0]}=1".')
  # Fail on a bad --target or --interpolate before any work.
  make_targets(np.zeros([1, len(space.names_of(dataset))], np.float32), config, target,
               interpolate)
  names = column_names(space, target, interpolate)
  output_dir = output_dir or default_output_dir(work_dir, input_dir)
  limit = max_images or None
  skipped = []  # the files of input_dir that are not usable images
  generate = tf.function(lambda x, c: G(x, c, training=False))

  def translated(x, c_org):
    return [generate(tf.constant(x), tf.constant(c)).numpy()
            for c in make_targets(c_org, config, target, interpolate)]

  if input_dir and align:
    photos = read_own_faces(ops.list_images(input_dir, '--input_dir'), image_size,
                            config.data.celeba_crop_size, skipped)
    rows = itertools.chain.from_iterable(
        _photo_rows(path, photo, aligned, names, translated, D, space, dataset, output_dir)
        for path, photo, aligned in itertools.islice(photos, limit))
  elif input_dir:
    own = read_own_images(ops.list_images(input_dir, '--input_dir'), image_size, skipped)
    # The file names travel with their images, so a skipped file never shifts the names of the
    # rows after it.
    rows = itertools.chain.from_iterable(
        _rows(x, translated(x, labels_from_classifier(D, x, space, dataset)), row_names)
        for x, row_names in _own_batches(itertools.islice(own, limit), batch_size))
  else:
    paths, c_org = splits.load_split(config.data, 'test', dataset)
    rows = itertools.chain.from_iterable(
        _rows(x.numpy(), translated(x.numpy(), c.numpy()), [None] * len(x))
        for x, c in pipeline.make_dataset(paths[:limit], c_org[:limit],
                                          config.data.crop_size_of(dataset), image_size,
                                          batch_size, training=False))
  written, seen = [], 0
  for k, (x, columns, row_names) in enumerate(_batches(rows, batch_size), start=1):
    written.append(images.save_image(
        os.path.join(output_dir, f'{k:06d}-images.png'),
        images.make_grid([x] + columns, column_names=names,
                         row_names=row_names if input_dir else None)))
    seen += len(x)
    logging.info('Translated %d images -> %s', seen, written[-1])
  if input_dir:
    report_skipped('--input_dir', input_dir, skipped, seen)
  return written


def _own_batches(named_images, batch_size):
  """(float32 [B, S, S, 3], their B file names) of up to batch_size (name, image) pairs each."""
  named_images = iter(named_images)
  while batch := list(itertools.islice(named_images, batch_size)):
    names, x = zip(*batch)
    yield np.stack(x), list(names)


def _photo_rows(path, photo, aligned, names, translated, D, space, dataset, output_dir):
  """Translates the faces of one photo, writes the photo with them pasted back for each column,
  and returns the grid rows of its faces."""
  x = np.stack([face.image for face in aligned])
  columns = translated(x, labels_from_classifier(D, x, space, dataset))
  for name, y in zip(names[1:], columns):
    images.save_image(photo_path(output_dir, name, path), faces.paste_faces(photo, aligned, y))
  base = os.path.basename(path)
  row_names = [base] if len(aligned) == 1 else [f'{base} #{i}' for i in range(1, len(x) + 1)]
  logging.info('%s: %d face(s) translated.', base, len(aligned))
  return list(_rows(x, columns, row_names))
