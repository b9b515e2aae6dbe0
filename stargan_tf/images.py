"""Image grids and image files (numpy and Pillow only)."""

import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont

from stargan_tf import fileio

_FONT_SIZE = 11
JPEG_QUALITY = 95  # of photos written as .jpg
_PAD = 3
_BACKGROUND = 255
_INK = 0


def denorm(x):
  """Float images in [-1, 1] (any leading shape, channels last) -> uint8 in [0, 255]."""
  x = (np.asarray(x, np.float32) + 1.0) * 127.5
  return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _font():
  return ImageFont.load_default(size=_FONT_SIZE)


def _text_size(text, font):
  left, top, right, bottom = font.getbbox(text)
  return right - left, bottom - top


def _header(names, cell, font):
  """A white band with `names` written bottom-up (rotated), one per `cell`-wide column."""
  longest = max(_text_size(n, font)[0] for n in names)
  band = Image.new('L', (len(names) * cell, longest + 2 * _PAD), _BACKGROUND)
  for k, name in enumerate(names):
    width, height = _text_size(name, font)
    label = Image.new('L', (width + 1, height + 4), _BACKGROUND)
    ImageDraw.Draw(label).text((0, -font.getbbox(name)[1]), name, fill=_INK, font=font)
    label = label.rotate(90, expand=True)
    x = k * cell + max((cell - label.width) // 2, 0)
    band.paste(label, (x, band.height - _PAD - label.height))
  return np.asarray(band)


def _row_labels(names, cell, font):
  """A white column with `names` written left to right, one per `cell`-high row."""
  longest = max(_text_size(n, font)[0] for n in names)
  column = Image.new('L', (longest + 2 * _PAD, len(names) * cell), _BACKGROUND)
  draw = ImageDraw.Draw(column)
  for k, name in enumerate(names):
    height = _text_size(name, font)[1]
    draw.text((_PAD, k * cell + max((cell - height) // 2, 0) - font.getbbox(name)[1]), name,
              fill=_INK, font=font)
  return np.asarray(column)


def make_grid(columns, column_names=None, row_names=None):
  """Lays out result columns side by side: one row per image.

  Args:
    columns: list of float arrays [N, H, W, 3] in [-1, 1] (input first, then one per target).
    column_names: optional name of each column, written above it (rotated, so long domain names
      fit over small images).
    row_names: optional name of each row (e.g. the image's file name), written left of it.
  Returns:
    uint8 array [header + N*H, names + len(columns)*W, 3]. The images always fill the
    bottom-right N*H x len(columns)*W block.
  """
  rows = np.concatenate([np.asarray(c, np.float32) for c in columns], axis=2)  # [N, H, C*W, 3]
  n, height = rows.shape[0], rows.shape[1]
  grid = denorm(rows.reshape(-1, rows.shape[2], rows.shape[3]))
  font = _font() if column_names is not None or row_names is not None else None
  if row_names is not None:
    if len(row_names) != n:
      raise ValueError(f'make_grid: {len(row_names)} row names for {n} rows.')
    labels = _row_labels(list(row_names), height, font)
    grid = np.concatenate([np.repeat(labels[..., None], 3, axis=2), grid], axis=1)
  if column_names is not None:
    if len(column_names) != len(columns):
      raise ValueError(f'make_grid: {len(column_names)} column names for {len(columns)} columns.')
    width = np.asarray(columns[0]).shape[2]
    header = _header(list(column_names), width, font)
    header = np.repeat(header[..., None], 3, axis=2)
    left = grid.shape[1] - header.shape[1]  # the row-name column, if any
    header = np.concatenate(
        [np.full([header.shape[0], left, 3], _BACKGROUND, np.uint8), header], axis=1)
    grid = np.concatenate([header, grid], axis=0)
  return grid


def save_image(path, array):
  """Writes a uint8 [H, W, 3] array, in the format of the file's extension (JPEG at quality
  JPEG_QUALITY); atomic, so a kill never leaves a truncated picture."""
  with fileio.atomic_path(path) as tmp:
    jpeg = path.lower().endswith(('.jpg', '.jpeg'))
    Image.fromarray(array).save(tmp, **({'quality': JPEG_QUALITY} if jpeg else {}))
  return path
