"""Built-in synthetic CelebA-format dataset with attributes that can be measured from pixels.

It is the offline default for the demo, the tests, the benchmarks and the learning test: the files
have CelebA's exact layout (`list_attr_celeba.txt` with all 40 names, `img_align_celeba/000001.jpg`,
178 wide x 218 high), so the real reader and pipeline consume them unchanged, and every attribute
is painted into its own region so a translated image can be scored by `measure_attributes`.

Geometry is given in normalised coordinates (u right, v down, both 0..1) of the central 178x178
square that CelebA preprocessing keeps (center crop 178 of 178x218, then resize to image_size), so
measurement is the same at any image_size >= 32. The hair and Male bands continue into the 20 rows
above and below the square that the crop drops.

      u=0       0.2                       0.8        1
  v=0  +---------------------------------------------+
       |  hair band: black / blond / brown           |   Black_Hair | Blond_Hair | Brown_Hair
 v=0.2 +---------+-------------------------+---------+
       |         |                         |         |
       |  Young  |  identity: random bg    |  Young  |   Young: green / Not young: light grey
       |  strip  |  colour + one circle,   |  strip  |
       |         |  square or triangle of  |         |
       |         |  random colour/size/pos |         |
 v=0.8 +---------+-------------------------+---------+
       |  Male band: blue (male) / pink (female)     |   Male
  v=1  +---------------------------------------------+

Sampling: hair colour uniform over the three (exactly one per image), Male and Young fair coins,
all independent of each other and of the identity content. Prototype colours are >= 150 apart in
RGB within each attribute, so JPEG noise and resizing to 32 px never flip a measurement.
Measurements average the inner part of a region (`MARGIN` away from its borders, which is more than
the antialiasing footprint at 32 px) and pick the nearest prototype colour.
"""

import concurrent.futures
import math
import os
import shutil
import tempfile

from absl import logging
import numpy as np
from PIL import Image, ImageDraw

from stargan_tf import labels as labels_lib

SYNTHETIC_ATTRS = ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young')
ATTR_FILE = 'list_attr_celeba.txt'
IMAGE_DIR = 'img_align_celeba'
WIDTH, HEIGHT = 178, 218  # CelebA aligned image size
SIDE = 178  # the central square kept by the CelebA crop
TOP = (HEIGHT - SIDE) // 2
JPEG_QUALITY = 95
MIN_SIZE = 32
MARGIN = 0.05  # normalised distance kept from region borders when measuring

# Regions as boxes (u0, v0, u1, v1) in normalised coordinates of the central square.
REGIONS = {
    'hair': ((0.0, 0.0, 1.0, 0.2),),
    'male': ((0.0, 0.8, 1.0, 1.0),),
    'young': ((0.0, 0.2, 0.2, 0.8), (0.8, 0.2, 1.0, 0.8)),
    'identity': ((0.2, 0.2, 0.8, 0.8),),
}

# Prototype colours (RGB 0..255), index = class.
HAIR_RGB = np.array([[20, 20, 20], [245, 215, 60], [165, 85, 25]], np.float32)  # black/blond/brown
MALE_RGB = np.array([[235, 70, 150], [40, 80, 230]], np.float32)  # [female, male]
YOUNG_RGB = np.array([[200, 200, 200], [60, 210, 70]], np.float32)  # [not young, young]

_SHAPES = ('circle', 'square', 'triangle')
_LOG_EVERY = 1000


def region_slices(region, size, margin=MARGIN):
  """Pixel boxes of a region in a size x size image (the cropped square), shrunk by `margin`.

  Returns:
    list of (row slice, column slice), one per box of REGIONS[region].
  """

  def span(a, b):
    return slice(math.ceil((a + margin) * size - 1e-6), math.floor((b - margin) * size + 1e-6))

  return [(span(v0, v1), span(u0, u1)) for u0, v0, u1, v1 in REGIONS[region]]


def _region_rgb(images, region):
  """Mean colour (0..255) of a region's inner part: [N, 3]."""
  boxes = region_slices(region, images.shape[1])
  total = sum(images[:, r, c, :].sum(axis=(1, 2)) for r, c in boxes)
  count = sum((r.stop - r.start) * (c.stop - c.start) for r, c in boxes)
  return (total / count + 1.0) * 127.5


def _nearest(rgb, prototypes):
  return np.argmin(((rgb[:, None, :] - prototypes[None])**2).sum(-1), axis=1)


def _as_square_batch(images):
  images = np.asarray(images, dtype=np.float32)
  if images.ndim != 4 or images.shape[1] != images.shape[2] or images.shape[3] != 3:
    raise ValueError(f'Expected square NHWC RGB images, got shape {images.shape}.')
  if images.shape[1] < MIN_SIZE:
    raise ValueError(f'Synthetic attributes are measurable from {MIN_SIZE} px up, got '
                     f'{images.shape[1]} px.')
  return images


def measure_attributes(images):
  """Reads the synthetic attributes back from pixels.

  Args:
    images: float [N, S, S, 3] in [-1, 1] (the cropped square at any S >= 32).

  Returns:
    float32 [N, 5] of 0/1 in SYNTHETIC_ATTRS order; exactly one hair colour is 1.
  """
  images = _as_square_batch(images)
  hair = np.eye(3, dtype=np.float32)[_nearest(_region_rgb(images, 'hair'), HAIR_RGB)]
  male = _nearest(_region_rgb(images, 'male'), MALE_RGB).astype(np.float32)
  young = _nearest(_region_rgb(images, 'young'), YOUNG_RGB).astype(np.float32)
  return np.concatenate([hair, male[:, None], young[:, None]], axis=1)


def identity_error(x_in, x_out):
  """Mean absolute difference over the inner identity region, in [-1, 1] units: float32 [N]."""
  x_in, x_out = _as_square_batch(x_in), _as_square_batch(x_out)
  if x_in.shape != x_out.shape:
    raise ValueError(f'Shapes differ: {x_in.shape} vs {x_out.shape}.')
  [(rows, cols)] = region_slices('identity', x_in.shape[1])
  return np.abs(x_in[:, rows, cols] - x_out[:, rows, cols]).mean(axis=(1, 2, 3))


def _sample(num_images, seed):
  """All random choices of the dataset, drawn up front so images can be drawn in any order."""
  rng = np.random.default_rng(seed)
  background = rng.integers(0, 256, (num_images, 3))
  radius = rng.uniform(0.08, 0.17, num_images)
  return {
      'hair': rng.integers(0, 3, num_images),
      'male': rng.integers(0, 2, num_images),
      'young': rng.integers(0, 2, num_images),
      'background': background,
      # Every channel differs from the background by >= 80 (mod 256), so the shape is visible.
      'shape_rgb': (background + rng.integers(80, 177, (num_images, 3))) % 256,
      'shape': rng.integers(0, len(_SHAPES), num_images),
      'radius': radius,
      'center_u': rng.uniform(0.22 + radius, 0.78 - radius),
      'center_v': rng.uniform(0.22 + radius, 0.78 - radius),
  }


def _to_pixels(u, v):
  """Normalised square coordinates -> full-image (x, y) pixel coordinates."""
  return u * SIDE, TOP + v * SIDE


def _draw(p, i):
  """Draws image i as a uint8 [HEIGHT, WIDTH, 3] array."""
  image = np.empty([HEIGHT, WIDTH, 3], np.uint8)
  image[:] = p['background'][i]
  [(u0, v0, u1, v1)] = REGIONS['identity']
  x_lo, y_lo = (round(c) for c in _to_pixels(u0, v0))
  x_hi, y_hi = (round(c) for c in _to_pixels(u1, v1))
  image[:y_lo] = HAIR_RGB[p['hair'][i]]
  image[y_hi:] = MALE_RGB[p['male'][i]]
  image[y_lo:y_hi, :x_lo] = YOUNG_RGB[p['young'][i]]
  image[y_lo:y_hi, x_hi:] = YOUNG_RGB[p['young'][i]]
  pil = Image.fromarray(image)
  x, y = _to_pixels(p['center_u'][i], p['center_v'][i])
  r = p['radius'][i] * SIDE
  fill = tuple(int(c) for c in p['shape_rgb'][i])
  draw = ImageDraw.Draw(pil)
  kind = _SHAPES[p['shape'][i]]
  if kind == 'circle':
    draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)
  elif kind == 'square':
    draw.rectangle([x - r, y - r, x + r, y + r], fill=fill)
  else:
    draw.polygon([(x, y - r), (x + r, y + r), (x - r, y + r)], fill=fill)
  return pil


def _file_name(i):
  return f'{i + 1:06d}.jpg'


def _attr_lines(p, num_images):
  """The attribute file text: all 40 CelebA columns, the ones not drawn here all -1."""
  truth = {name: p['hair'] == k for k, name in enumerate(SYNTHETIC_ATTRS[:3])}
  truth['Male'], truth['Young'] = p['male'] == 1, p['young'] == 1
  table = np.full([num_images, len(labels_lib.CELEBA_ATTRS)], '-1', dtype=object)
  for name, is_set in truth.items():
    table[is_set, labels_lib.CELEBA_ATTRS.index(name)] = '1'
  lines = [str(num_images), ' '.join(labels_lib.CELEBA_ATTRS)]
  lines += [f'{_file_name(i)}  ' + ' '.join(row) for i, row in enumerate(table)]
  return '\n'.join(lines) + '\n'


def generate(out_dir, num_images=6000, seed=0):
  """Writes the dataset: out_dir/list_attr_celeba.txt and out_dir/img_align_celeba/*.jpg.

  Deterministic in (num_images, seed). Files are written into a temporary sibling folder that is
  renamed to out_dir at the end, so an interrupted run never leaves a complete-looking dataset.

  Raises:
    FileExistsError: out_dir exists and is not empty.
  """
  out_dir = os.path.abspath(out_dir)
  if os.path.isdir(out_dir) and os.listdir(out_dir):
    raise FileExistsError(f'Not generating the synthetic dataset into {out_dir!r}: the folder '
                          f'exists and is not empty.')
  parent = os.path.dirname(out_dir)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=os.path.basename(out_dir) + '.partial-', dir=parent)
  try:
    image_dir = os.path.join(tmp, IMAGE_DIR)
    os.mkdir(image_dir)
    p = _sample(num_images, seed)

    def write(i):
      _draw(p, i).save(os.path.join(image_dir, _file_name(i)), quality=JPEG_QUALITY)

    logging.info('Generating %d synthetic images (seed %d) into %s', num_images, seed, out_dir)
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
      for done, _ in enumerate(pool.map(write, range(num_images)), start=1):
        if done % _LOG_EVERY == 0 or done == num_images:
          logging.info('Synthetic dataset: %d / %d images', done, num_images)
    with open(os.path.join(tmp, ATTR_FILE), 'w') as f:
      f.write(_attr_lines(p, num_images))
    if os.path.isdir(out_dir):
      os.rmdir(out_dir)  # empty, checked above
    os.rename(tmp, out_dir)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise


def ensure(out_dir, num_images, seed):
  """Generates the dataset unless out_dir/list_attr_celeba.txt already exists."""
  attr_path = os.path.join(out_dir, ATTR_FILE)
  if not os.path.exists(attr_path):
    try:
      generate(out_dir, num_images, seed)
    except OSError:
      if not os.path.exists(attr_path):  # else another process generated it meanwhile
        raise
    return
  with open(attr_path) as f:
    count = f.readline().strip()
  if count != str(num_images):
    logging.warning(
        'Using the existing synthetic dataset in %s with %s images (asked for %d);'
        ' delete the folder to regenerate it.', out_dir, count, num_images)
