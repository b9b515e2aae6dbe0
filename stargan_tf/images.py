"""Image grids and image files."""

import os

import numpy as np
from PIL import Image


def denorm(x):
  """Float images in [-1, 1] (any leading shape, channels last) -> uint8 in [0, 255]."""
  x = (np.asarray(x, np.float32) + 1.0) * 127.5
  return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def make_grid(columns):
  """Lays out result columns side by side: one row per image.

  Args:
    columns: list of float arrays [N, H, W, 3] in [-1, 1] (input first, then one per target).
  Returns:
    uint8 array [N*H, len(columns)*W, 3].
  """
  rows = np.concatenate([np.asarray(c, np.float32) for c in columns], axis=2)  # [N, H, C*W, 3]
  return denorm(rows.reshape(-1, rows.shape[2], rows.shape[3]))


def save_image(path, array):
  """Writes a uint8 [H, W, 3] array; atomic, so a kill never leaves a truncated picture."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  root, ext = os.path.splitext(path)
  tmp = f'{root}.tmp{ext}'
  Image.fromarray(array).save(tmp)
  os.replace(tmp, path)
  return path
