"""RaFD reader: one sub-folder per expression -> (paths, one-hot labels, class names).

Layout (as the reference ImageFolder loader expects): `image_dir/<class>/<image>.jpg|.jpeg|.png`.
Class names are the sorted sub-folder names (`labels.RAFD_CLASSES` for the 8 RaFD expressions);
files are sorted within a class. Images go through the same cheap integrity check as CelebA
(`integrity.check_images`): bad files are skipped with one warning. Preprocessing crops the central
256x256 (the caller passes crop_size) before resizing.
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


def rafd_split(image_dir):
  """Lists an expression-per-folder image tree.

  Args:
    image_dir: folder with one sub-folder per class.

  Returns:
    (paths, labels, class_names): image paths (class by class, sorted), float32 one-hot
    [N, len(class_names)], and the sorted sub-folder names.

  Raises:
    FileNotFoundError: image_dir does not exist (the message says how to get RaFD).
    ValueError: no class sub-folders, a class without images, or all images bad.
  """
  names = class_names(image_dir)
  if tuple(names) != labels_lib.RAFD_CLASSES:
    logging.warning('RaFD classes in %s are %s, not the 8 RaFD expressions %s.', image_dir,
                    names, labels_lib.RAFD_CLASSES)
  paths, class_ids = [], []
  for class_id, name in enumerate(names):
    folder = os.path.join(image_dir, name)
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith(integrity.IMAGE_EXTENSIONS))
    if not files:
      raise ValueError(f'RaFD class folder {folder!r} has no {"/".join(integrity.IMAGE_EXTENSIONS)} '
                       f'images.')
    paths += [os.path.join(folder, f) for f in files]
    class_ids += [class_id] * len(files)
  labels = np.eye(len(names), dtype=np.float32)[class_ids]
  paths, labels = integrity.drop_bad_images(paths, labels, f'RaFD images in {image_dir}')
  return paths, labels, names
