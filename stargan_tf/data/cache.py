"""Optional on-disk cache of preprocessed images: decode, crop and resize once, not every epoch.

  python -m stargan_tf.cache --flagfile=configs/celeba.flags --cache_dir=/fast/celeba128

writes the center-cropped, resized images of a dataset's train and test splits (uint8, before any
flip) into `--cache_dir`; `pipeline.make_dataset(..., cache_dir=...)` then reads them instead of
the source images. Reading 48 KiB of raw pixels replaces a JPEG decode and an antialiased resize,
the two costs of the input pipeline (see benchmarks/input_pipeline.py).

Layout of a cache folder:
  manifest.json          written last: format, crop_size, image_size, the absolute paths of the
                         source images in cache order, and which of them have a mirror file.
  images/<k>/<i>.u8      image i (k = i // 1000): raw uint8 [S, S, 3] bytes, the center crop
                         resized to S = image_size and rounded.
  images/<k>/<i>-m.u8    only for images whose width - crop_size is odd: the crop at the window
                         the mirrored image is cropped at (one column to the right; see
                         `ops.crop_offsets`), resized and rounded, still unmirrored.

Random access by index stays possible (one file per image, found by arithmetic), so a training
stream from the cache is still a pure function of (seed, step). The flip is applied after loading:
the mirrored image is reversed after resizing instead of before. The antialiased resize kernel is
symmetric, so this equals the reference order up to float rounding (the mirror files keep the
windows identical). With the uint8 rounding of the cache, cached images differ from
`ops.read_image` by at most half a level in [0, 255] (plus < 1e-3 for mirrored images), 1/255
after normalising to [-1, 1] (tests check both, flipped and not).

Format, chosen by measurement (2-core AMD EPYC, TF 2.21, 128 px, batch 16, page cache warm).
Reading alone, in a tf.data map with per-batch normalisation: one raw file per image
(`tf.io.read_file` + `tf.io.decode_raw`) costs 0.15-0.2 ms of CPU per image; the same images as
PNG files are half the size (25 KiB against 48 KiB) but cost 0.7-0.8 ms, a 4x slower pipeline;
one memory-mapped array gathered per batch in `tf.py_function` costs about as much as raw files
(0.19 ms) but puts the Python interpreter (GIL, no graph serialisation) into the input pipeline;
TFRecord shards are read sequentially only and would break random access. The whole training
stream (benchmarks/input_pipeline.py, 2026-11-26): ~7,800 images/s from the raw cache (0.24 ms
CPU per image) against ~1,220 images/s decoding the CelebA JPEGs (1.45 ms). Raw files take
48 KiB per image at 128 px (CelebA: 202,599 images, 10 GB, against ~1.4 GB of source JPEGs);
7,800 images/s read ~370 MB/s, so on a slow disk raw reads become the limit, though still above
what PNG decoding delivers.

The cache is keyed by source path, not content: rewrite it (delete the folder first) if images
change. Writing goes to a temporary folder beside `<cache_dir>` that is renamed to `<cache_dir>`
only when complete (`fileio.atomic_dir`), so an interrupted write never looks like a cache; the
next write removes the temporary folders of writers that were killed (`fileio.remove_stale`).
"""

import json
import os
import time

from absl import logging
import tensorflow as tf

from stargan_tf import fileio
from stargan_tf.data import ops
from stargan_tf.data import splits

MANIFEST = 'manifest.json'
FORMAT = 'stargan_tf.data.cache/raw-uint8-v1'
_FILES_PER_FOLDER = 1000
_WRITE_BATCH = 64  # images per step of the writer (Python iterates batches, not images)


def _image_file(cache_dir, index, mirror=False):
  name = f'{index:07d}-m.u8' if mirror else f'{index:07d}.u8'
  return os.path.join(cache_dir, 'images', f'{index // _FILES_PER_FOLDER:04d}', name)


def _unique_sources(paths):
  """Absolute paths in first-seen order (train and test lists may share files)."""
  return list(dict.fromkeys(os.path.abspath(p) for p in paths))


def _write_command(cache_dir):
  return (f'python -m stargan_tf.cache --cache_dir={cache_dir} with the flags (or flagfile) of '
          'the training run')


def read_manifest(cache_dir):
  """The manifest of a complete cache.

  Raises:
    FileNotFoundError: `cache_dir` holds no complete cache (no manifest).
    ValueError: the manifest is of another format.
  """
  path = os.path.join(cache_dir, MANIFEST)
  if not os.path.exists(path):
    raise FileNotFoundError(f'--cache_dir={cache_dir} holds no complete image cache ({MANIFEST} '
                            f'is missing); write one with {_write_command(cache_dir)}.')
  with open(path) as f:
    manifest = json.load(f)
  if manifest.get('format') != FORMAT:
    raise ValueError(f'--cache_dir={cache_dir}: {MANIFEST} is of format '
                     f'{manifest.get("format")!r}, expected {FORMAT!r}; rewrite the cache with '
                     f'{_write_command(cache_dir)}.')
  return manifest


def _size_mismatch(manifest, crop_size, image_size):
  if (manifest['crop_size'], manifest['image_size']) == (crop_size, image_size):
    return ''
  return (f'it was written with crop_size={manifest["crop_size"]}, '
          f'image_size={manifest["image_size"]} but crop_size={crop_size}, '
          f'image_size={image_size} are asked for')


def _missing(manifest, sources):
  cached = set(manifest['sources'])
  return [s for s in sources if s not in cached]


def lookup(cache_dir, paths, crop_size, image_size):
  """The cache files of `paths`, checked against the cache's manifest.

  Args:
    cache_dir: a folder written by `write_cache`.
    paths: source image paths (any subset of the cached ones, in any order).
    crop_size, image_size: the preprocessing the caller wants.

  Returns:
    (files, mirror_files): lists of str, one per path; mirror_files[i] is the file to read when
    image i is flipped (files[i] itself unless the image has a mirror window of its own).

  Raises:
    FileNotFoundError, ValueError: no complete cache, or it was written for other sizes or does
      not hold every path; the message names the cache folder and what differs.
  """
  manifest = read_manifest(cache_dir)
  problem = _size_mismatch(manifest, crop_size, image_size)
  if problem:
    raise ValueError(f'--cache_dir={cache_dir}: {problem}; write a cache for these sizes into '
                     f'another folder with {_write_command(cache_dir)}.')
  sources = [os.path.abspath(p) for p in paths]
  missing = _missing(manifest, sources)
  if missing:
    raise ValueError(
        f'--cache_dir={cache_dir} does not hold {len(missing)} of the {len(sources)} requested '
        f'images (e.g. {", ".join(missing[:3])}); it holds {len(manifest["sources"])} images '
        f'such as {manifest["sources"][0]}. Write a cache of this dataset into another folder '
        f'with {_write_command(cache_dir)}.')
  index = {s: i for i, s in enumerate(manifest['sources'])}
  mirrored = set(manifest['mirror_window'])
  files, mirror_files = [], []
  for s in sources:
    i = index[s]
    files.append(_image_file(cache_dir, i))
    mirror_files.append(_image_file(cache_dir, i, mirror=True) if i in mirrored else files[-1])
  return files, mirror_files


def read_image(file, mirror_file, image_size, flip=False):
  """A cached image -> uint8 [image_size, image_size, 3], mirrored (after resizing) if `flip`.

  Args:
    file, mirror_file: scalar string tensors from `lookup`.
    image_size: S.
    flip: bool or scalar bool tensor.
  """
  flip = tf.convert_to_tensor(flip, tf.bool)
  path = tf.where(flip, mirror_file, file)
  data = tf.io.read_file(path)
  expected = image_size * image_size * 3
  check = tf.debugging.Assert(tf.equal(tf.strings.length(data), expected), [
      'image cache file', path, 'has', tf.strings.length(data), 'bytes, expected', expected
  ])
  with tf.control_dependencies([check]):
    image = tf.reshape(tf.io.decode_raw(data, tf.uint8), [image_size, image_size, 3])
  return ops.mirror_if(flip, image)


def _to_uint8(image):
  return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)


def _preprocessor(crop_size, image_size):
  """path -> (uint8 image, uint8 mirror-window image, has_mirror_window)."""

  def preprocess(path):
    contents = tf.io.read_file(path)
    width = ops.image_shape(contents)[1]
    has_mirror = tf.equal((width - crop_size) % 2, 1)

    def window(flip):
      return _to_uint8(ops.resize(ops.decode_window(contents, crop_size, flip, source=path),
                                  image_size))

    image = window(False)
    return image, tf.cond(has_mirror, lambda: window(True), lambda: image), has_mirror

  return preprocess


def _unreadable(sources, preprocess, crop_size, error):
  """The error naming the first of `sources` (a failed batch) that cannot be preprocessed."""
  for source in sources:
    try:
      preprocess(tf.constant(source))
    except tf.errors.OpError as e:
      return ValueError(f'{source}: cannot be cached (not a readable image of at least '
                        f'{crop_size}x{crop_size} pixels?): {e.message}')
  return ValueError(f'Caching one of {sources[0]} .. {sources[-1]} failed: {error.message}')


def _write_file(path, array):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'wb') as f:
    f.write(array.tobytes())


def _write_images(sources, crop_size, image_size, folder, log_every):
  """Writes the image files into `folder`; returns the indices that have a mirror file."""
  preprocess = _preprocessor(crop_size, image_size)
  batches = iter(tf.data.Dataset.from_tensor_slices(sources).map(
      preprocess, num_parallel_calls=tf.data.AUTOTUNE,
      deterministic=True).batch(_WRITE_BATCH).prefetch(2))
  mirror_window = []
  start = time.perf_counter()
  for first in range(0, len(sources), _WRITE_BATCH):
    try:
      images, mirrors, has_mirror = (t.numpy() for t in next(batches))
    except tf.errors.OpError as e:
      raise _unreadable(sources[first:first + _WRITE_BATCH], preprocess, crop_size, e) from e
    for i in range(first, first + len(images)):
      _write_file(_image_file(folder, i), images[i - first])
      if has_mirror[i - first]:
        _write_file(_image_file(folder, i, mirror=True), mirrors[i - first])
        mirror_window.append(i)
      if (i + 1) % log_every == 0 or i + 1 == len(sources):
        logging.info('Cached %d/%d images (%.0f images/s).', i + 1, len(sources),
                     (i + 1) / (time.perf_counter() - start))
  return mirror_window


def write_cache(paths, crop_size, image_size, cache_dir, log_every=1000):
  """Writes the preprocessed images of `paths` into a new cache folder.

  Idempotent: if `cache_dir` already holds a complete cache of these sizes with every path, it is
  left as it is.

  Args:
    paths: source image paths (duplicates are cached once).
    crop_size: central square kept before resizing.
    image_size: side S of the cached images.
    cache_dir: folder to create.
    log_every: log progress every this many images.

  Returns:
    the number of images in the cache.

  Raises:
    FileExistsError: `cache_dir` exists and is not a complete cache of these images and sizes.
    ValueError: a source image cannot be read or is smaller than crop_size (names the file).
  """
  sources = _unique_sources(paths)
  if not sources:
    raise ValueError('write_cache: no images to cache.')
  for leftover in fileio.remove_stale(cache_dir):
    logging.warning('Removed %s, left by an image cache write that was killed.', leftover)
  if os.path.exists(os.path.join(cache_dir, MANIFEST)):
    manifest = read_manifest(cache_dir)
    problem = _size_mismatch(manifest, crop_size, image_size)
    missing = _missing(manifest, sources)
    if not problem and not missing:
      logging.info('%s already holds the %d images.', cache_dir, len(sources))
      return len(manifest['sources'])
    problem = problem or (f'it lacks {len(missing)} of the {len(sources)} images (e.g. '
                          f'{missing[0]})')
    raise FileExistsError(f'--cache_dir={cache_dir} holds another image cache: {problem}. '
                          'Delete it or choose another --cache_dir.')
  if os.path.exists(cache_dir) and (not os.path.isdir(cache_dir) or os.listdir(cache_dir)):
    raise FileExistsError(f'--cache_dir={cache_dir} exists and is not an image cache (no '
                          f'{MANIFEST}); choose a new folder.')

  logging.info('Caching %d images (crop %d, resize %d) into %s.', len(sources), crop_size,
               image_size, cache_dir)
  # A bad image or an interrupt leaves nothing behind; a kill leaves the temporary folder, which
  # the next call removes (above).
  with fileio.atomic_dir(cache_dir, replace_empty=True) as partial:
    mirror_window = _write_images(sources, crop_size, image_size, partial, log_every)
    manifest = dict(format=FORMAT, crop_size=crop_size, image_size=image_size,
                    shape=[image_size, image_size, 3], dtype='uint8', sources=sources,
                    mirror_window=mirror_window)
    with open(os.path.join(partial, MANIFEST), 'w') as f:
      json.dump(manifest, f)
  logging.info('Wrote %s: %d images, %d mirror windows.', cache_dir, len(sources),
               len(mirror_window))
  return len(sources)


def write_cache_for_config(data_config, image_size):
  """Caches the train and test splits of a `stargan_tf.config.DataConfig` at `image_size` into
  its cache_dir (with --dataset=Both one cache per dataset, <cache_dir>/CelebA and
  <cache_dir>/RaFD).

  Returns the number of images cached.
  """
  d = data_config
  total = 0
  for dataset in d.datasets:
    paths = []
    for split in ('train', 'test'):
      split_paths, _ = splits.load_split(d, split, dataset)
      paths.extend(split_paths)
    total += write_cache(paths, d.crop_size_of(dataset), image_size, d.cache_dir_of(dataset))
  return total
