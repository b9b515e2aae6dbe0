"""Tests of stargan_tf.images: the layout of result grids and their column and row names."""

import numpy as np
from PIL import Image
import pytest

from stargan_tf import images

ROWS, HEIGHT, WIDTH = 2, 16, 20  # not square, so rows and columns cannot be confused
COLUMN_NAMES = ('input', 'Blond_Hair', 'Male')
ROW_NAMES = ('a.jpg', 'a_longer_name.png')


def _columns(num):
  """`num` columns of ROWS images; every cell is one flat grey of its own."""
  shade = -0.9 + 0.1 * np.arange(ROWS).reshape([ROWS, 1, 1, 1])
  return [np.full([ROWS, HEIGHT, WIDTH, 3], 0.3 * k) + shade for k in range(num)]


def _ink(band):
  """Where a band of a grid is written on (names are black on white)."""
  return (band < 128).any(axis=-1)


def _split(grid, num_columns):
  """(header height, row-name width) of a grid of `num_columns` columns of ROWS images."""
  return grid.shape[0] - ROWS * HEIGHT, grid.shape[1] - num_columns * WIDTH


def test_without_names_the_grid_is_the_images_side_by_side():
  columns = _columns(3)
  grid = images.make_grid(columns)
  assert grid.shape == (ROWS * HEIGHT, 3 * WIDTH, 3) and grid.dtype == np.uint8
  for r in range(ROWS):
    for k in range(3):
      np.testing.assert_array_equal(grid[r * HEIGHT:(r + 1) * HEIGHT, k * WIDTH:(k + 1) * WIDTH],
                                    images.denorm(columns[k][r]))


def test_names_frame_the_images():
  """A header band above the images (nothing above the row names), the row names left of them."""
  columns = _columns(3)
  grid = images.make_grid(columns, column_names=COLUMN_NAMES, row_names=ROW_NAMES)
  top, left = _split(grid, 3)
  assert top > 0 and left > 0
  np.testing.assert_array_equal(grid[top:, left:], images.make_grid(columns))
  header, labels = _ink(grid[:top]), _ink(grid[top:, :left])
  assert not header[:, :left].any()
  for k in range(3):
    assert header[:, left + k * WIDTH:left + (k + 1) * WIDTH].any(), COLUMN_NAMES[k]
  for r in range(ROWS):
    assert labels[r * HEIGHT:(r + 1) * HEIGHT].any(), ROW_NAMES[r]
  # Without row names the header starts at the first column.
  only_columns = images.make_grid(columns, column_names=COLUMN_NAMES)
  np.testing.assert_array_equal(only_columns, grid[:, left:])


def test_column_names_are_written_rotated_so_the_longest_sets_the_header_height():
  columns = _columns(2)
  short = images.make_grid(columns, column_names=('input', 'Male'))
  long = images.make_grid(columns, column_names=('input', 'Blond_Hair=1,Male=0,Young=1'))
  assert _split(long, 2)[0] > 2 * _split(short, 2)[0]
  assert long.shape[1] == short.shape[1] == 2 * WIDTH  # long names do not widen the columns


def test_each_column_and_row_shows_its_own_name():
  """Exchanging two names exchanges their bands and nothing else, so each band is its name."""
  columns = _columns(3)
  grid = images.make_grid(columns, column_names=COLUMN_NAMES, row_names=ROW_NAMES)
  swapped = images.make_grid(columns, column_names=(COLUMN_NAMES[0], COLUMN_NAMES[2],
                                                    COLUMN_NAMES[1]), row_names=ROW_NAMES[::-1])
  assert grid.shape == swapped.shape
  top, left = _split(grid, 3)
  band = lambda g, k: g[:top, left + k * WIDTH:left + (k + 1) * WIDTH]
  label = lambda g, r: g[top + r * HEIGHT:top + (r + 1) * HEIGHT, :left]
  np.testing.assert_array_equal(band(grid, 0), band(swapped, 0))
  np.testing.assert_array_equal(band(grid, 1), band(swapped, 2))
  np.testing.assert_array_equal(band(grid, 2), band(swapped, 1))
  assert not np.array_equal(band(grid, 1), band(grid, 2))
  np.testing.assert_array_equal(label(grid, 0), label(swapped, 1))
  np.testing.assert_array_equal(label(grid, 1), label(swapped, 0))
  assert not np.array_equal(label(grid, 0), label(grid, 1))


@pytest.mark.parametrize('kwargs, message', [
    ({'column_names': ('input', 'Male')}, 'make_grid: 2 column names for 3 columns'),
    ({'row_names': ('a.jpg',)}, 'make_grid: 1 row names for 2 rows'),
])
def test_names_must_match_the_columns_and_rows(kwargs, message):
  with pytest.raises(ValueError, match=message):
    images.make_grid(_columns(3), **kwargs)


def test_save_image_writes_the_grid_losslessly(tmp_path):
  grid = images.make_grid(_columns(2), column_names=('input', 'Male'), row_names=ROW_NAMES)
  path = images.save_image(str(tmp_path / 'grid.png'), grid)
  np.testing.assert_array_equal(np.asarray(Image.open(path)), grid)
  assert sorted(p.name for p in tmp_path.iterdir()) == ['grid.png']
