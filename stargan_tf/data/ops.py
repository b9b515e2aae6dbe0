"""Image tensor ops: decode, flip, center crop, resize, normalise.

All ops are plain TensorFlow functions on one HWC image, so they behave the same eagerly and inside
`tf.data` map functions (both are tested). The training preprocessing mirrors the reference
`get_loader` transform chain: RandomHorizontalFlip -> CenterCrop(crop_size) -> Resize(image_size)
-> ToTensor + Normalize(0.5, 0.5).
"""

import os

import tensorflow as tf

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')


def decode(contents):
  """Decodes JPEG or PNG bytes into a uint8 [H, W, 3] image (grey and RGBA become RGB)."""
  image = tf.io.decode_image(contents, channels=3, expand_animations=False)
  image.set_shape([None, None, 3])
  return image


def center_crop(image, crop_size, source=''):
  """Crops the central crop_size x crop_size square of an [H, W, C] image.

  The offsets are floor((H - crop_size) / 2) and floor((W - crop_size) / 2), which is what the
  reference CenterCrop gives for CelebA (178x218 -> rows 20..197).

  Raises:
    tf.errors.InvalidArgumentError: the image is smaller than crop_size in height or width
      (`source`, e.g. the file path, is included in the message).
  """
  image = tf.convert_to_tensor(image)
  shape = tf.shape(image)
  height, width = shape[0], shape[1]
  check = tf.debugging.Assert(tf.logical_and(height >= crop_size, width >= crop_size), [
      'center_crop: image', source, 'of height x width', height, width, 'is smaller than crop_size',
      crop_size
  ])
  with tf.control_dependencies([check]):
    top = (height - crop_size) // 2
    left = (width - crop_size) // 2
    return image[top:top + crop_size, left:left + crop_size, :]


def resize(image, image_size):
  """Bilinear antialiased resize to [image_size, image_size, C]; float32, value range kept."""
  return tf.image.resize(image, [image_size, image_size], method='bilinear', antialias=True)


def normalize(image):
  """Maps values in [0, 255] (uint8 or float) to float32 in [-1, 1]: (x / 255 - 0.5) / 0.5."""
  return (tf.cast(image, tf.float32) / 255.0 - 0.5) / 0.5


def load_image(path, crop_size, image_size, flip_seed=None):
  """Reads one image file and preprocesses it for the networks.

  Args:
    path: scalar string tensor (or str), a JPEG or PNG file.
    crop_size: side of the central square kept before resizing (178 for CelebA, 256 for RaFD).
    image_size: output side.
    flip_seed: None for no flip (evaluation); otherwise a shape [2] integer seed for
      `tf.image.stateless_random_flip_left_right` (flip with probability 0.5, deterministic
      in the seed). The flip comes first, as in the reference transform chain.

  Returns:
    float32 [image_size, image_size, 3] in [-1, 1].
  """
  image = decode(tf.io.read_file(path))
  if flip_seed is not None:
    image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
  image = center_crop(image, crop_size, source=path)
  return normalize(resize(image, image_size))


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
  names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
  if not names:
    raise ValueError(f'{flag}={folder} holds no {"/".join(IMAGE_EXTENSIONS)} images.')
  return [os.path.join(folder, n) for n in names]
