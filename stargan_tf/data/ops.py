"""Image tensor ops: decode, flip, center crop, resize, normalise.

All ops are plain TensorFlow functions on one HWC image, so they behave the same eagerly and inside
`tf.data` map functions (both are tested). The training preprocessing mirrors the reference
`get_loader` transform chain: RandomHorizontalFlip -> CenterCrop(crop_size) -> Resize(image_size)
-> ToTensor + Normalize(0.5, 0.5).

JPEG files take a path with the same output that decodes only the crop window
(`decode_window`, `tf.io.decode_and_crop_jpeg`); the flip decision is taken before decoding, so the
window is the one the mirrored image would have been cropped at. libjpeg upsamples the chroma of
the outermost columns of a decoded window as if they were the image border, so the window is
decoded 2 pixels wider on every side (clipped to the image) and trimmed; the result is then
bit-identical to decoding the whole image (checked on 4:4:4, 4:2:2 and 4:2:0 subsampling,
progressive and greyscale files, every window of small images). On RaFD-sized images
(681x1024, crop 256 -> 128) this takes 25-40% less CPU per image; CelebA's window (178 of 218 rows)
saves too little to measure (benchmarks/input_pipeline.py).
"""

import os

import tensorflow as tf

from stargan_tf.data import integrity

# Extra pixels decoded around a JPEG crop window and trimmed: libjpeg's fancy chroma upsampling
# treats the window's outer columns as the image border (1 pixel would do but for windows of
# 1-2 pixels, where libjpeg switches to plain upsampling; 2 keeps every window exact).
_JPEG_WINDOW_PAD = 2


def decode(contents):
  """Decodes JPEG or PNG bytes into a uint8 [H, W, 3] image (grey and RGBA become RGB)."""
  image = tf.io.decode_image(contents, channels=3, expand_animations=False)
  image.set_shape([None, None, 3])
  return image


def is_jpeg(contents):
  """Scalar bool: the bytes start with the JPEG signature."""
  signature = integrity.JPEG_SIGNATURE
  return tf.equal(tf.strings.substr(contents, 0, len(signature)), signature)


def image_shape(contents):
  """int32 [height, width] of JPEG (read from the header) or other image bytes (decoded)."""
  return tf.cond(is_jpeg(contents), lambda: tf.io.extract_jpeg_shape(contents)[:2],
                 lambda: tf.shape(decode(contents))[:2])


def flip_decision(seed):
  """Whether `tf.image.stateless_random_flip_left_right(image, seed)` mirrors an [H, W, C] image.

  That op mirrors iff `stateless_uniform([], seed) < 0.5`; taking the decision separately lets the
  JPEG path choose its crop window before decoding. Tests check the two agree.

  Args:
    seed: shape [2] int32/int64 seed.

  Returns:
    scalar bool tensor.
  """
  return tf.random.stateless_uniform([], seed=seed, minval=0, maxval=1.0) < 0.5


def mirror_if(flip, image):
  """Mirrors an [H, W, C] image left-right if the scalar bool `flip` holds."""
  return tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)


def crop_offsets(height, width, crop_size, flip):
  """(top, left) of the center crop window in the original image's coordinates.

  Column c of the mirrored image is column width - 1 - c of the original, so the mirrored image's
  window [left, left + crop_size) is the original's [width - crop_size - left, ...): one column
  to the right of the unmirrored window when width - crop_size is odd.
  """
  top = (height - crop_size) // 2
  left = (width - crop_size) // 2
  return top, tf.where(flip, width - crop_size - left, left)


def _check_fits(height, width, crop_size, source):
  return tf.debugging.Assert(tf.logical_and(height >= crop_size, width >= crop_size), [
      'center_crop: image', source, 'of height x width', height, width, 'is smaller than crop_size',
      crop_size
  ])


def center_crop(image, crop_size, source=''):
  """Crops the central crop_size x crop_size square of an [H, W, C] image.

  The offsets are floor((H - crop_size) / 2) and floor((W - crop_size) / 2), which is what the
  reference CenterCrop gives for CelebA (178x218 -> rows 20..197).

  Raises:
    tf.errors.InvalidArgumentError: the image is smaller than crop_size in height or width
      (`source`, e.g. the file path, is included in the message).
  """
  return _crop_window(tf.convert_to_tensor(image), crop_size, False, source)


def _crop_window(image, crop_size, flip, source):
  shape = tf.shape(image)
  height, width = shape[0], shape[1]
  with tf.control_dependencies([_check_fits(height, width, crop_size, source)]):
    top, left = crop_offsets(height, width, crop_size, flip)
  return image[top:top + crop_size, left:left + crop_size, :]


def _decode_window_jpeg(contents, crop_size, flip, source):
  shape = tf.io.extract_jpeg_shape(contents)
  height, width = shape[0], shape[1]
  with tf.control_dependencies([_check_fits(height, width, crop_size, source)]):
    top, left = crop_offsets(height, width, crop_size, flip)
  y0 = tf.maximum(top - _JPEG_WINDOW_PAD, 0)
  x0 = tf.maximum(left - _JPEG_WINDOW_PAD, 0)
  y1 = tf.minimum(top + crop_size + _JPEG_WINDOW_PAD, height)
  x1 = tf.minimum(left + crop_size + _JPEG_WINDOW_PAD, width)
  window = tf.io.decode_and_crop_jpeg(contents, tf.stack([y0, x0, y1 - y0, x1 - x0]), channels=3)
  return window[top - y0:top - y0 + crop_size, left - x0:left - x0 + crop_size, :]


def decode_window(contents, crop_size, flip=False, source='', fast_jpeg=True):
  """Image file bytes -> the original image's pixels under the (mirrored if `flip`) center crop.

  Not mirrored itself: `decode_center_crop` is this, mirrored if `flip`.

  Args:
    contents: scalar string tensor, JPEG or PNG bytes.
    crop_size: side of the central square.
    flip: bool or scalar bool tensor; take the window of the mirrored image (see `crop_offsets`).
    source: file name for error messages.
    fast_jpeg: decode only the window of JPEG data (same result, less work on large images);
      False decodes every image whole.

  Returns:
    uint8 [crop_size, crop_size, 3].

  Raises:
    tf.errors.InvalidArgumentError: the image is smaller than crop_size (the message names
      `source`), or the bytes are not a decodable image.
  """
  flip = tf.convert_to_tensor(flip, tf.bool)
  if not fast_jpeg:
    return _crop_window(decode(contents), crop_size, flip, source)
  return tf.cond(is_jpeg(contents),
                 lambda: _decode_window_jpeg(contents, crop_size, flip, source),
                 lambda: _crop_window(decode(contents), crop_size, flip, source))


def decode_center_crop(contents, crop_size, flip=False, source='', fast_jpeg=True):
  """Image file bytes -> uint8 [crop_size, crop_size, 3]: mirrored if `flip`, then center-cropped.

  Equal to `center_crop(mirror_if(flip, decode(contents)), crop_size)`; see `decode_window` for
  the arguments.
  """
  flip = tf.convert_to_tensor(flip, tf.bool)
  return mirror_if(flip, decode_window(contents, crop_size, flip, source, fast_jpeg))


def resize(image, image_size):
  """Bilinear antialiased resize to [image_size, image_size, C]; float32, value range kept."""
  return tf.image.resize(image, [image_size, image_size], method='bilinear', antialias=True)


def normalize(image):
  """Maps values in [0, 255] (uint8 or float) to float32 in [-1, 1]: (x / 255 - 0.5) / 0.5."""
  return (tf.cast(image, tf.float32) / 255.0 - 0.5) / 0.5


def read_image(path, crop_size, image_size, flip=False, fast_jpeg=True):
  """Image file -> float32 [image_size, image_size, 3] in [0, 255]: flip, center crop, resize.

  `load_image` without the normalisation, which input pipelines apply to whole batches.
  """
  image = decode_center_crop(tf.io.read_file(path), crop_size, flip, source=path,
                             fast_jpeg=fast_jpeg)
  return resize(image, image_size)


def load_image(path, crop_size, image_size, flip_seed=None, fast_jpeg=True):
  """Reads one image file and preprocesses it for the networks.

  Args:
    path: scalar string tensor (or str), a JPEG or PNG file.
    crop_size: side of the central square kept before resizing (178 for CelebA, 256 for RaFD).
    image_size: output side.
    flip_seed: None for no flip (evaluation); otherwise a shape [2] integer seed: the image is
      mirrored exactly when `tf.image.stateless_random_flip_left_right` with that seed would
      (probability 0.5, deterministic in the seed). The flip comes first, as in the reference
      transform chain.
    fast_jpeg: see `decode_window`.

  Returns:
    float32 [image_size, image_size, 3] in [-1, 1].
  """
  flip = False if flip_seed is None else flip_decision(flip_seed)
  return normalize(read_image(path, crop_size, image_size, flip, fast_jpeg))


def preprocess_own_image(contents, image_size):
  """A user's JPEG/PNG bytes -> float32 [image_size, image_size, 3] in [-1, 1].

  Photos of any size: the central square of the shorter side, resized, normalised. Used by
  `translate --input_dir` and by the exported `translate_bytes` signature alike.
  """
  image = decode(contents)
  side = tf.minimum(tf.shape(image)[0], tf.shape(image)[1])
  return normalize(resize(center_crop(image, side), image_size))


def list_images(folder, flag):
  """Sorted JPEG/PNG paths in `folder`; errors name the flag that gave the folder."""
  if not os.path.isdir(folder):
    raise FileNotFoundError(f'{flag}={folder} is not a folder.')
  names = sorted(n for n in os.listdir(folder) if n.lower().endswith(integrity.IMAGE_EXTENSIONS))
  if not names:
    raise ValueError(f'{flag}={folder} holds no {"/".join(integrity.IMAGE_EXTENSIONS)} images.')
  return [os.path.join(folder, n) for n in names]
