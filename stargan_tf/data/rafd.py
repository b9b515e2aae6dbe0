"""RaFD reader: one sub-folder per expression -> (paths, one-hot labels, class names).

Layout (as the reference ImageFolder loader expects): `image_dir/<class>/<image>.jpg|.jpeg|.png`.
Class names are the sorted sub-folder names (`labels.RAFD_CLASSES` for the 8 RaFD expressions);
files are sorted within a class. A run's classes are those of its training folder (flags.py reads
them with `class_names`); every folder it reads must have exactly these class folders, since a
label is the class's position among them. Images go through the same verification as CelebA
(`integrity.drop_bad_images`): files that are missing, corrupt or smaller than the crop are
skipped with one warning. Preprocessing crops the central 256x256 (the caller passes crop_size)
before resizing.
"""

import os

from absl import logging
import numpy as np

from stargan_tf import labels as labels_lib
from stargan_tf.data import integrity


_HOW_TO_GET = (
    'RaFD is not downloaded automatically: it must be requested from its owners '
    '(https://rafd.socsci.ru.nl/), then arranged as one sub-folder per expression '
    '(angry, contemptuous, ..., surprised) holding that expression\'s images, and passed with '
    '--rafd_image_dir.')


def class_names(image_dir):
  """The sorted class sub-folder names of image_dir (FileNotFoundError/ValueError if none)."""
  if not os.path.isdir(image_dir):
    raise FileNotFoundError(f'RaFD image folder not found: {image_dir!r}. {_HOW_TO_GET}')
  names = sorted(e.name for e in os.scandir(image_dir) if e.is_dir())
  if not names:
    raise ValueError(f'No class sub-folders in {image_dir!r}. {_HOW_TO_GET}')
  return names


def rafd_split(image_dir, classes, crop_size):
  """Lists an expression-per-folder image tree.

  Args:
    image_dir: folder with one sub-folder per class.
    classes: the class names expected, in label order (config.DataConfig.rafd_classes): the
      sorted sub-folder names must be exactly these.
    crop_size: the center crop of preprocessing; smaller images are left out.

  Returns:
    (paths, labels): image paths (class by class, sorted), and float32 one-hot
    [N, len(classes)].

  Raises:
    FileNotFoundError: image_dir does not exist (the message says how to get RaFD).
    ValueError: no class sub-folders, other class sub-folders than `classes`, a class without
      images, or all images bad.
  """
  names = class_names(image_dir)
  if names != list(classes):
    missing = [c for c in classes if c not in names]
    extra = [n for n in names if n not in classes]
    raise ValueError(
        f'RaFD folder {image_dir!r} has the class folders {names}, but the run expects '
        f'{list(classes)} (the class folders of --rafd_image_dir, in label order); missing: '
        f'{missing or "none"}, unexpected: {extra or "none"}. Give the training and test folders '
        '(--rafd_image_dir, --rafd_test_dir) the same class folders, each holding images of its '
        'class.')
  if tuple(names) != labels_lib.RAFD_CLASSES:
    logging.warning('RaFD classes in %s are %s, not the 8 RaFD expressions %s.', image_dir,
                    names, labels_lib.RAFD_CLASSES)
  paths, class_ids = [], []
  for class_id, name in enumerate(names):
    folder = os.path.join(image_dir, name)
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith(integrity.IMAGE_EXTENSIONS))
    if not files:
      raise ValueError(f'RaFD class folder {folder!r} has no '
                       f'{"/".join(integrity.IMAGE_EXTENSIONS)} images.')
    paths += [os.path.join(folder, f) for f in files]
    class_ids += [class_id] * len(files)
  labels = np.eye(len(names), dtype=np.float32)[class_ids]
  return integrity.drop_bad_images(paths, labels, f'RaFD images in {image_dir}', crop_size)
