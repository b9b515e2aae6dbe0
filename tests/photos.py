"""Small photo-like test images: smooth random colours plus noise.

Neighbouring pixels differ in colour, so JPEG chroma subsampling, crop windows that are one pixel
off and resizing all show in the pixel values.
"""

import numpy as np
from PIL import Image


def photo(height, width, seed=0):
  """uint8 [height, width, 3]."""
  rng = np.random.default_rng(seed)
  coarse = Image.fromarray(rng.integers(0, 256, [4, 5, 3], dtype=np.uint8))
  smooth = np.asarray(coarse.resize((width, height), Image.BICUBIC), np.float32)
  return np.clip(smooth + rng.normal(0, 20, smooth.shape), 0, 255).astype(np.uint8)


def write(path, array, **save_args):
  """Saves `array` (format from the file name, PIL save arguments); returns the path as str."""
  Image.fromarray(array).save(path, **save_args)
  return str(path)
