"""Built-in synthetic CelebA-format and RaFD-layout datasets with labels measurable from pixels.

They are the offline default for the demo, the tests, the benchmarks and the learning tests.
`generate` writes CelebA's exact layout (`list_attr_celeba.txt` with all 40 names,
`img_align_celeba/000001.jpg`, 178 wide x 218 high); `generate_rafd` writes RaFD's folder layout
(`train/<class>/000001.jpg` and `test/<class>/...` for the 8 classes of `labels.RAFD_CLASSES`, same
178x218 images, read with rafd_crop_size=178). The real readers and pipeline consume both
unchanged, and every label is painted into its own region so a translated image can be scored by
`measure_attributes` and `measure_expression`.

Geometry is given in normalised coordinates (u right, v down, both 0..1) of the central 178x178
square that CelebA preprocessing keeps (center crop 178 of 178x218, then resize to image_size), so
measurement is the same at any image_size >= 32. The hair and Male bands continue into the 20 rows
above and below the square that the crop drops.

      u=0       0.2  0.3             0.7  0.8        1
  v=0  +---------------------------------------------+
       |  hair band: black / blond / brown           |   Black_Hair | Blond_Hair | Brown_Hair
 v=0.2 +---------+-------------------------+---------+
       |         |                         |         |
       |  Young  |  identity: skin-like bg |  Young  |   Young: green / Not young: light grey
       |  strip  |  colour + one circle,   |  strip  |
       |         |  square or triangle of  |         |
       |         |  a blue-red colour set  |         |
       |         |  by the background's,   |         |
       |         |  random size, position  |         |
 v=0.6 |         |   +-----------------+   |         |
       |         |   | expression mark |   |         |   8 expressions: 8 colours
 v=0.8 +---------+---+-----------------+---+---------+
       |  Male band: blue (male) / pink (female)     |   Male
  v=1  +---------------------------------------------+

The expression mark is a filled rectangle over the mouth box, drawn on top of the identity shape;
it is symmetric under horizontal flips, like every region.

Which dataset labels what:
  * CelebA-format files (`generate`) label hair colour, Male and Young only. Their images carry no
    expression mark, or with expressions=True a random one that no label records (an
    `EXPRESSION_MARKS` file beside the attribute file says the marks are there).
  * RaFD-layout files (`generate_rafd`) label the expression only (the class folder); their hair,
    Male, Young and identity content is random and unrecorded, drawn like the CelebA-format images.

Sampling: hair colour uniform over the three (exactly one per image), Male and Young fair coins,
expression uniform over the eight, all independent of each other and of the identity content.

Identity colours: the background of the identity region is a skin-like colour from dark brown to
pale (`background_rgb`), the shape's colour one from dark blue to red (`shape_rgb`), each a point
of a curved line through RGB, both at the same position t along their curves, drawn uniformly. They
used to be uniform over the whole RGB cube (image design 1), and then StarGAN's losses had a
cheaper solution than keeping the content: a uniform colour distribution is unchanged by colour
maps such as (R, G, B) -> (-B, G, -R) in [-1, 1] units, so a fake whose colours went through such
a map looked as real to D as any image, and applying the same map again (an involution)
reconstructed the input for the cycle loss. A trained demo G did exactly that: its fakes'
background colours were that map of the input's (affine fit R^2 0.93). On a curved line no such
simple map takes the colours back into the data, so D rejects them, and keeping the colours is the
cheapest way to pass both D and the cycle.
The two curves stay >= 60 apart in RGB, so the shape is always visible on its background.

Why the shape's colour follows the background's (image design 3). In design 2 the two colours were
drawn independently and shapes were smaller (radius 0.08-0.17 of the square). Trained demo
generators then kept colours and positions but drew every shape as a round dot, and some seeds
reversed the shape's colour along its curve (blue <-> red): that curve is nearly straight, so the
reversal is close to an affine map, which the cycle loss undoes just as well. With one t for both
colours, a fake whose shape colour moved along its curve has a shape and background that no real
image pairs, so D rejects it; reversing the shape colour would mean changing the background too,
which G has no reason to do. Larger shapes (radius 0.13-0.22) cover enough pixels at 32 px for
their outlines to matter to the losses. Measured on the single-dataset demo (3 seeds), the
identity ratio went from 0.15-0.25 to 0.16 and the shape overlap to 0.87-0.88 (docs/demo.md).

Prototype colours are >= 150 apart in RGB within each label, so JPEG noise and resizing to 32 px
never flip a measurement. Measurements average the inner part of a region (`MARGIN` away from its
borders, which is more than the antialiasing footprint at 32 px) and pick the nearest prototype
colour.

Random streams: the CelebA-format content is drawn from `np.random.default_rng(seed)` alone, so
adding expression marks (their own stream) leaves every other pixel and the attribute file as they
are without them; the RaFD-layout dataset has its own streams, so its images differ from the
CelebA-format ones of the same seed.
"""

import concurrent.futures
import itertools
import math
import os

from absl import logging
import numpy as np
from PIL import Image, ImageDraw

from stargan_tf import fileio
from stargan_tf import labels as labels_lib

SYNTHETIC_ATTRS = ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young')
ATTR_FILE = 'list_attr_celeba.txt'
MARKS_FILE = 'EXPRESSION_MARKS'  # present in a CelebA-format dataset written with expressions=True
# Written into every dataset folder: the version of the image design (3: the shape's colour set by
# the background's, larger shapes; 2: identity colours on curves, drawn independently; folders
# without the file were written by version 1, colours over the whole RGB cube).
FORMAT_FILE = 'SYNTHETIC_FORMAT'
FORMAT = '3'
IMAGE_DIR = 'img_align_celeba'
RAFD_SPLITS = ('train', 'test')  # the sub-folders written by generate_rafd
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
    'mouth': ((0.3, 0.6, 0.7, 0.8),),  # over the identity region, painted last
}

# Prototype colours (RGB 0..255), index = class.
HAIR_RGB = np.array([[20, 20, 20], [245, 215, 60], [165, 85, 25]], np.float32)  # black/blond/brown
MALE_RGB = np.array([[235, 70, 150], [40, 80, 230]], np.float32)  # [female, male]
YOUNG_RGB = np.array([[200, 200, 200], [60, 210, 70]], np.float32)  # [not young, young]
# The corners of the RGB cube pulled in (>= 175 apart), in labels.RAFD_CLASSES order.
EXPRESSION_RGB = np.array(list(itertools.product((40, 215), repeat=3)), np.float32)

# Identity colours lie on two curved lines of RGB (dark end, light end, per-channel exponent),
# not all over the RGB cube: see the module docstring for why.
BACKGROUND_CURVE = ((70, 40, 25), (250, 225, 200), (0.7, 1.0, 1.4))
SHAPE_CURVE = ((30, 50, 150), (210, 40, 60), (0.8, 1.5, 1.0))
_SHAPES = ('circle', 'square', 'triangle')
_LOG_EVERY = 1000
# Entropy appended to the seed for the random streams other than the CelebA-format content.
_EXPRESSION_STREAM, _RAFD_CONTENT_STREAM, _RAFD_CLASS_STREAM = 1, 2, 3
MIN_RAFD_IMAGES = 2 * len(labels_lib.RAFD_CLASSES)  # a train and a test image per class


def region_slices(region, size, margin=MARGIN):
  """Pixel boxes of a region in a size x size image (the cropped square), shrunk by `margin`.

  A negative margin enlarges the boxes.

  Returns:
    list of (row slice, column slice), one per box of REGIONS[region].
  """

  def span(a, b):
    return slice(
        max(0, math.ceil((a + margin) * size - 1e-6)),
        min(size, math.floor((b - margin) * size + 1e-6)))

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


def measure_expression(images):
  """Reads the expression mark back from pixels.

  Args:
    images: float [N, S, S, 3] in [-1, 1] (the cropped square at any S >= 32).

  Returns:
    int64 [N]: the index into labels.RAFD_CLASSES of the nearest EXPRESSION_RGB prototype.
  """
  images = _as_square_batch(images)
  return _nearest(_region_rgb(images, 'mouth'), EXPRESSION_RGB).astype(np.int64)


def identity_error(x_in, x_out, exclude_mouth=False):
  """Mean absolute difference over the inner identity region, in [-1, 1] units: float32 [N].

  Args:
    x_in: float [N, S, S, 3] in [-1, 1].
    x_out: the same shape.
    exclude_mouth: leave out the mouth box enlarged by MARGIN (which covers the antialiasing
      around it), for translations that are meant to change the expression mark. This drops the
      identity region's rows below v=0.55.
  """
  x_in, x_out = _as_square_batch(x_in), _as_square_batch(x_out)
  if x_in.shape != x_out.shape:
    raise ValueError(f'Shapes differ: {x_in.shape} vs {x_out.shape}.')
  size = x_in.shape[1]
  [(rows, cols)] = region_slices('identity', size)
  keep = _kept_pixels(size, rows, cols, exclude_mouth)[None, :, :, None]
  return np.abs(x_in[:, rows, cols] - x_out[:, rows, cols]).mean(axis=(1, 2, 3), where=keep)


def _kept_pixels(size, rows, cols, exclude_mouth):
  """[rows, cols] bool mask of the identity region's pixels to compare."""
  keep = np.ones([size, size], bool)
  if exclude_mouth:
    [(mouth_rows, mouth_cols)] = region_slices('mouth', size, margin=-MARGIN)
    keep[mouth_rows, mouth_cols] = False
  return keep[rows, cols]


def shape_overlap(x_in, x_out, exclude_mouth=False):
  """How well x_out keeps x_in's shape outline: intersection over union of the two images' shape
  pixels, float32 [N] in [0, 1] (1: the same pixels).

  The input's background colour is the median of the identity region's four corner 2x2 blocks
  (a shape reaches at most one corner); its shape colour is the mean of the pixels farther than
  half the largest distance from it. A pixel of either image is a shape pixel when it is nearer
  the input's shape colour than the input's background colour. Measured over the whole identity
  region, antialiased edges included: resizing alone keeps it at 1, a blurred outline lowers it.

  Args:
    x_in: float [N, S, S, 3] in [-1, 1].
    x_out: the same shape.
    exclude_mouth: leave out the mouth box enlarged by MARGIN, as identity_error does.
  """
  x_in, x_out = _as_square_batch(x_in), _as_square_batch(x_out)
  if x_in.shape != x_out.shape:
    raise ValueError(f'Shapes differ: {x_in.shape} vs {x_out.shape}.')
  size = x_in.shape[1]
  [(rows, cols)] = region_slices('identity', size, margin=0)
  keep = _kept_pixels(size, rows, cols, exclude_mouth)
  a, b = x_in[:, rows, cols], x_out[:, rows, cols]
  corners = np.concatenate([a[:, :2, :2], a[:, :2, -2:], a[:, -2:, :2], a[:, -2:, -2:]], axis=1)
  background = np.median(corners.reshape(len(a), -1, 3), axis=1)[:, None, None]
  distance = np.sqrt(((a - background) ** 2).sum(-1))
  far = (distance > 0.5 * distance.max(axis=(1, 2), keepdims=True)) & keep
  shape = ((a * far[..., None]).sum(axis=(1, 2)) /
           np.maximum(far.sum(axis=(1, 2)), 1)[:, None])[:, None, None]

  def shape_pixels(x):
    return (((x - shape) ** 2).sum(-1) < ((x - background) ** 2).sum(-1)) & keep

  mask_in, mask_out = shape_pixels(a), shape_pixels(b)
  union = (mask_in | mask_out).sum(axis=(1, 2))
  both = (mask_in & mask_out).sum(axis=(1, 2))
  return np.where(union > 0, both / np.maximum(union, 1), 1.0).astype(np.float32)


def _on_curve(t, dark, light, exponents):
  """Colours (0..255 ints) along a curve from `dark` (t=0) to `light` (t=1), channel k moving as
  t ** exponents[k]: [N, 3]."""
  t = np.asarray(t)[:, None]
  dark, light = np.array(dark, np.float64), np.array(light, np.float64)
  return np.round(dark + (light - dark) * t**np.array(exponents)).astype(int)


def background_rgb(t):
  """The identity region's background colour for t in [0, 1]: dark brown to pale, skin-like."""
  return _on_curve(t, *BACKGROUND_CURVE)


def shape_rgb(t):
  """The shape's colour for t in [0, 1]: dark blue to red."""
  return _on_curve(t, *SHAPE_CURVE)


def _sample(rng, num_images):
  """The random content of every image, drawn up front so images can be drawn in any order."""
  radius = rng.uniform(0.13, 0.22, num_images)
  hair = rng.integers(0, 3, num_images)
  male = rng.integers(0, 2, num_images)
  young = rng.integers(0, 2, num_images)
  t = rng.uniform(0, 1, num_images)  # one position along both colour curves
  return {
      'hair': hair,
      'male': male,
      'young': young,
      'background': background_rgb(t),
      'shape_rgb': shape_rgb(t),
      'shape': rng.integers(0, len(_SHAPES), num_images),
      'radius': radius,
      'center_u': rng.uniform(0.22 + radius, 0.78 - radius),
      'center_v': rng.uniform(0.22 + radius, 0.78 - radius),
  }


def _celeba_plan(num_images, seed, expressions):
  """The draws of the CelebA-format dataset; see `generate`."""
  p = _sample(np.random.default_rng(seed), num_images)
  if expressions:
    expression_rng = np.random.default_rng([seed, _EXPRESSION_STREAM])
    p['expression'] = expression_rng.integers(0, len(labels_lib.RAFD_CLASSES), num_images)
  return p


def _to_pixels(u, v):
  """Normalised square coordinates -> full-image (x, y) pixel coordinates."""
  return u * SIDE, TOP + v * SIDE


def _box_pixels(region):
  """The pixel bounds (x0, y0, x1, y1), ends exclusive, of a one-box region in the full image."""
  [(u0, v0, u1, v1)] = REGIONS[region]
  x0, y0 = (round(c) for c in _to_pixels(u0, v0))
  x1, y1 = (round(c) for c in _to_pixels(u1, v1))
  return x0, y0, x1, y1


def _draw(p, i):
  """Draws image i as a PIL RGB image of WIDTH x HEIGHT."""
  image = np.empty([HEIGHT, WIDTH, 3], np.uint8)
  image[:] = p['background'][i]
  x_lo, y_lo, x_hi, y_hi = _box_pixels('identity')
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
  if 'expression' in p:
    x0, y0, x1, y1 = _box_pixels('mouth')
    mouth_fill = tuple(int(c) for c in EXPRESSION_RGB[p['expression'][i]])
    draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=mouth_fill)  # PIL includes both corners
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


def _write_dataset(out_dir, p, image_paths, text_files, description):
  """Writes image i of `p` to out_dir/image_paths[i] and {name: text} files, all or nothing.

  Files are written into a temporary sibling folder that is renamed to out_dir at the end
  (`fileio.atomic_dir`), so an interrupted run never leaves a complete-looking dataset; the
  temporary folders of generations killed before (whose process no longer runs) are removed first.

  Raises:
    FileExistsError: out_dir exists and is not empty.
  """
  out_dir = os.path.abspath(out_dir)
  for leftover in fileio.remove_stale(out_dir):
    logging.warning('Removed %s, left by a generation that was killed.', leftover)
  if os.path.isdir(out_dir) and os.listdir(out_dir):
    raise FileExistsError(f'Not generating the synthetic dataset into {out_dir!r}: the folder '
                          f'exists and is not empty.')
  with fileio.atomic_dir(out_dir, replace_empty=True) as tmp:
    for folder in sorted({os.path.dirname(path) for path in image_paths}):
      os.makedirs(os.path.join(tmp, folder), exist_ok=True)

    def write(i):
      _draw(p, i).save(os.path.join(tmp, image_paths[i]), quality=JPEG_QUALITY)

    num_images = len(image_paths)
    logging.info('Generating %d %s into %s', num_images, description, out_dir)
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
      for done, _ in enumerate(pool.map(write, range(num_images)), start=1):
        if done % _LOG_EVERY == 0 or done == num_images:
          logging.info('Synthetic dataset: %d / %d images', done, num_images)
    for name, text in {**text_files, FORMAT_FILE: FORMAT + '\n'}.items():
      with open(os.path.join(tmp, name), 'w') as f:
        f.write(text)


def generate(out_dir, num_images=6000, seed=0, expressions=False):
  """Writes the CelebA-format dataset: out_dir/list_attr_celeba.txt and out_dir/img_align_celeba/.

  Deterministic in (num_images, seed, expressions); atomic (see `_write_dataset`).

  Args:
    out_dir: the dataset folder; absent or empty.
    num_images: N.
    seed: the random seed.
    expressions: also paint a random expression mark on every image (not in the attribute file);
      everything else is unchanged, byte for byte.

  Raises:
    FileExistsError: out_dir exists and is not empty.
  """
  p = _celeba_plan(num_images, seed, expressions)
  image_paths = [os.path.join(IMAGE_DIR, _file_name(i)) for i in range(num_images)]
  marks = ' with expression marks' if expressions else ''
  text_files = {ATTR_FILE: _attr_lines(p, num_images)}
  if expressions:
    text_files[MARKS_FILE] = 'The images carry unlabelled expression marks.\n'
  _write_dataset(out_dir, p, image_paths, text_files,
                 f'synthetic CelebA-format images{marks} (seed {seed})')


def _rafd_plan(num_images, seed, test_fraction):
  """(p, image paths relative to out_dir) of the RaFD-layout dataset; see `generate_rafd`."""
  if num_images < MIN_RAFD_IMAGES:
    raise ValueError(f'The synthetic RaFD-layout dataset needs num_images >= {MIN_RAFD_IMAGES} '
                     f'(a train and a test image for each of the {len(labels_lib.RAFD_CLASSES)} '
                     f'classes), got {num_images}.')
  if not 0 < test_fraction < 1:
    raise ValueError(f'test_fraction must be in (0, 1), got {test_fraction}.')
  p = _sample(np.random.default_rng([seed, _RAFD_CONTENT_STREAM]), num_images)
  num_classes = len(labels_lib.RAFD_CLASSES)
  class_rng = np.random.default_rng([seed, _RAFD_CLASS_STREAM])
  p['expression'] = class_rng.permutation(np.arange(num_images) % num_classes)
  counts = np.bincount(p['expression'], minlength=num_classes)
  num_test = np.clip(np.round(test_fraction * counts).astype(int), 1, counts - 1)
  rank = np.empty(num_images, int)  # position of each image within its class, in index order
  for k in range(num_classes):
    members = np.flatnonzero(p['expression'] == k)
    rank[members] = np.arange(len(members))
  image_paths = []
  for i, k in enumerate(p['expression']):
    split = 'test' if rank[i] >= counts[k] - num_test[k] else 'train'
    image_paths.append(os.path.join(split, labels_lib.RAFD_CLASSES[k], _file_name(i)))
  return p, image_paths


def generate_rafd(out_dir, num_images=4000, seed=0, test_fraction=0.1):
  """Writes the RaFD-layout dataset: out_dir/{train,test}/<class>/NNNNNN.jpg.

  Classes are balanced: each of the 8 gets num_images // 8 images or one more, in random order
  (so each image's class is uniform over the 8). Within a class, the last
  round(test_fraction * count) images (at least 1, at most count - 1) go to test, the others to
  train. File numbers are unique over the whole dataset. Deterministic in (num_images, seed,
  test_fraction); atomic (see `_write_dataset`).

  Args:
    out_dir: the dataset folder; absent or empty.
    num_images: N >= MIN_RAFD_IMAGES.
    seed: the random seed.
    test_fraction: the share of each class written to test, in (0, 1).

  Raises:
    ValueError: num_images < MIN_RAFD_IMAGES or test_fraction outside (0, 1).
    FileExistsError: out_dir exists and is not empty.
  """
  p, image_paths = _rafd_plan(num_images, seed, test_fraction)
  _write_dataset(out_dir, p, image_paths, {}, f'synthetic RaFD-layout images (seed {seed})')


def _ensure(out_dir, marker, make, count, num_images):
  """Runs make() unless `marker` exists; warns if the existing dataset has another image design
  (FORMAT_FILE) or count() != num_images."""
  if not os.path.exists(marker):
    try:
      make()
    except OSError:
      if not os.path.exists(marker):  # else another process generated it meanwhile
        raise
    return
  format_path = os.path.join(out_dir, FORMAT_FILE)
  written = '1'
  if os.path.exists(format_path):
    with open(format_path) as f:
      written = f.read().strip()
  if written != FORMAT:
    logging.warning('The synthetic dataset in %s was written by an earlier version of stargan-tf '
                    '(image design %s, now %s: the identity content differs), so results will not '
                    'match the documented ones; delete the folder to regenerate it.', out_dir,
                    written, FORMAT)
  existing = count()
  if existing != str(num_images):
    logging.warning(
        'Using the existing synthetic dataset in %s with %s images (asked for %d);'
        ' delete the folder to regenerate it.', out_dir, existing, num_images)


def ensure(out_dir, num_images, seed, expressions=False):
  """Generates the CelebA-format dataset unless out_dir/list_attr_celeba.txt already exists."""
  attr_path = os.path.join(out_dir, ATTR_FILE)

  def count():
    with open(attr_path) as f:
      return f.readline().strip()

  _ensure(out_dir, attr_path, lambda: generate(out_dir, num_images, seed, expressions), count,
          num_images)
  if os.path.exists(os.path.join(out_dir, MARKS_FILE)) != expressions:
    logging.warning('The synthetic dataset in %s was written %s expression marks, but this run '
                    'asked for it %s them (two-dataset runs use marks); give it another folder or '
                    'delete it to regenerate.', out_dir, 'without' if expressions else 'with',
                    'with' if expressions else 'without')


def ensure_rafd(out_dir, num_images, seed):
  """Generates the RaFD-layout dataset unless out_dir/train already exists."""

  def count():
    return str(
        sum(
            len(files) for split in RAFD_SPLITS
            for _, _, files in os.walk(os.path.join(out_dir, split))))

  _ensure(out_dir, os.path.join(out_dir, 'train'),
          lambda: generate_rafd(out_dir, num_images, seed), count, num_images)
