"""Translate images with a trained generator into result grids (`python -m stargan_tf.translate`).

Each grid row is [input | one column per target]; by default the targets are those of
`labels.create_labels` (one per domain; hair colours exclusive), with --target one explicit
target. A user's own images have no labels, so their source labels are read off the trained
discriminator's classifier (D_cls): attribute present iff its logit > 0, RaFD class = argmax.

A joint model (--dataset=Both) translates CelebA test images (or own images, read as CelebA
faces) into every CelebA target and then every RaFD expression: 1 + 5 + 8 columns with the
default attributes. --target may name domains of either dataset (one dataset per target).
"""

import itertools
import os

from absl import logging
import numpy as np
import tensorflow as tf

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
  try:
    with open(path, 'rb') as f:
      contents = f.read()
  except OSError as e:
    raise UnusableImageError(path, (e.strerror or str(e)).lower()) from None
  if not contents:
    raise UnusableImageError(path, 'empty file')
  try:
    return ops.preprocess_own_image(contents, image_size)
  except tf.errors.InvalidArgumentError:
    raise UnusableImageError(path, _undecodable_reason(contents)) from None


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


def report_skipped(flag, folder, skipped, num_used):
  """Warns once, naming each file `read_own_images` skipped and why.

  Args:
    flag: the flag that gave the folder, e.g. '--input_dir'.
    folder: its value.
    skipped: the list filled by `read_own_images`.
    num_used: how many images were used.

  Raises:
    ValueError: no image was usable.
  """
  listing = ', '.join(f'{os.path.basename(e.path)} ({e.reason})' for e in skipped)
  if not num_used:
    raise ValueError(f'{flag}={folder} holds no usable image: {listing}.')
  if skipped:
    logging.warning('%s=%s: skipped %d file(s) that are not usable JPEG or PNG images: %s.',
                    flag, folder, len(skipped), listing)


def _own_batches(named_images, batch_size):
  """(float32 [B, S, S, 3], their B file names) of up to batch_size (name, image) pairs each."""
  named_images = iter(named_images)
  while batch := list(itertools.islice(named_images, batch_size)):
    names, x = zip(*batch)
    yield np.stack(x), list(names)


def labels_from_classifier(D, x, label_space, dataset):
  """Source labels of `dataset` [N, len(names)] as D_cls reads them."""
  return label_space.from_classifier(D(x, training=False)[1].numpy(), dataset)


def make_targets(c_org, config, target):
  """The G labels of each column for one batch of the sample dataset's images with labels
  c_org: LabelSpace.create_labels, or the single --target."""
  space, dataset = config.label_space, config.data.sample_dataset
  if target:
    target_dataset, updates = space.parse_target(target)
    if target_dataset != dataset:  # the image has no labels of that dataset
      c_org = np.zeros([len(c_org), len(space.names_of(target_dataset))], np.float32)
    return [space.apply_target(c_org, target_dataset, updates)]
  return space.create_labels(c_org, dataset)


def default_output_dir(work_dir, input_dir=''):
  """<work_dir>/results, or <work_dir>/results/<input folder name> for a user's images."""
  results = runs.Run(work_dir).results_dir
  if not input_dir:
    return results
  return os.path.join(results, os.path.basename(os.path.normpath(os.path.abspath(input_dir))))


def translate(work_dir, output_dir='', input_dir='', target='', batch_size=16, max_images=0,
              step=0):
  """Writes grids <output_dir>/<k>-images.png (k = 000001, ...); returns their paths.

  Each grid has a header row naming its columns (input, then each target's domain or the
  --target), and with input_dir the file name of each row. Files of input_dir that are not usable
  images are skipped with one warning naming them; max_images counts the images translated.

  Raises:
    ValueError: a bad --target, input_dir holds no usable image, or input_dir with a checkpoint
      holding no discriminator to read the images' attributes.
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
  if target:  # Fail on a bad --target before any work.
    space.parse_target(target)
  column_names = ('input',) + ((target,) if target else space.domain_names)
  output_dir = output_dir or default_output_dir(work_dir, input_dir)
  limit = max_images or None
  skipped = []  # the files of input_dir that are not usable images
  if input_dir:
    own = read_own_images(ops.list_images(input_dir, '--input_dir'), image_size, skipped)
    # (images, their source labels, row names): the file names travel with their images, so a
    # skipped file never shifts the names of the rows after it.
    batches = ((x, labels_from_classifier(D, x, space, dataset), names)
               for x, names in _own_batches(itertools.islice(own, limit), batch_size))
  else:
    paths, c_org = splits.load_split(config.data, 'test', dataset)
    batches = ((x.numpy(), c.numpy(), None) for x, c in pipeline.make_dataset(
        paths[:limit], c_org[:limit], config.data.crop_size_of(dataset), image_size, batch_size,
        training=False))
  generate = tf.function(lambda x, c: G(x, c, training=False))
  written, seen = [], 0
  for k, (x, c_org, row_names) in enumerate(batches, start=1):
    columns = [x] + [generate(tf.constant(x), tf.constant(c)).numpy()
                     for c in make_targets(c_org, config, target)]
    written.append(images.save_image(
        os.path.join(output_dir, f'{k:06d}-images.png'),
        images.make_grid(columns, column_names=column_names, row_names=row_names)))
    seen += len(x)
    logging.info('Translated %d images -> %s', seen, written[-1])
  if input_dir:
    report_skipped('--input_dir', input_dir, skipped, seen)
  return written
