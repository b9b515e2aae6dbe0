"""Photos with faces for the tests: real ones that ship inside dependencies, and synthetic ones.

Real faces, with their eye centres marked by hand (continuous pixel coordinates, +-1.5 px):
  * scikit-image's `data.astronaut()` (Eileen Collins, a NASA portrait in the public domain),
  * matplotlib's sample `grace_hopper.jpg` (a US Navy portrait in the public domain),
  * scikit-image's `data.lfw_subset()`: 100 face crops and 100 non-face crops of Labeled Faces in
    the Wild, 25x25 grey.
The tests that need them skip, naming the missing package, where it is not installed.
"""

import math

import numpy as np
from PIL import Image
import pytest

from stargan_tf import faces

# (eye on the picture's left, eye on its right).
ASTRONAUT_EYES = ((203.5, 101.5), (246.5, 103.5))
GRACE_HOPPER_EYES = ((220.5, 188.5), (305.5, 184.5))


def astronaut():
  """(uint8 [512, 512, 3], its eyes)."""
  data = pytest.importorskip('skimage.data', reason='the real-face tests need scikit-image')
  return data.astronaut(), ASTRONAUT_EYES


def grace_hopper():
  """(uint8 [600, 512, 3], its eyes)."""
  cbook = pytest.importorskip('matplotlib.cbook', reason='the real-face tests need matplotlib')
  path = cbook.get_sample_data('grace_hopper.jpg', asfileobj=False)
  return np.asarray(Image.open(path).convert('RGB')), GRACE_HOPPER_EYES


def lfw_crops():
  """(100 faces, 100 non-faces): uint8 [100, 25, 25] each."""
  data = pytest.importorskip('skimage.data', reason='the real-face tests need scikit-image')
  crops = (data.lfw_subset() * 255).round().astype(np.uint8)
  return crops[:100], crops[100:]


def transformed(photo, eyes, angle=0.0, scale=1.0, mirror=False, margin=1.3):
  """The photo turned by `angle` degrees and scaled by `scale` on a canvas `margin` times larger
  (the photo's edges repeated around it), mirrored first if asked: (photo, its eyes)."""
  height, width = photo.shape[:2]
  eyes = np.asarray(eyes, np.float64)
  if mirror:
    photo = photo[:, ::-1]
    eyes = np.array([[width - eyes[1, 0], eyes[1, 1]], [width - eyes[0, 0], eyes[0, 1]]])
  out_w, out_h = int(width * scale * margin), int(height * scale * margin)
  a = math.radians(angle)
  linear = scale * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
  shift = np.array([out_w, out_h]) / 2 - linear @ np.array([width, height]) / 2
  forward = np.concatenate([linear, shift[:, None]], axis=1)
  # `align` samples any affine map with the photo's edges repeated: a square of the output size
  # and then a crop gives the canvas.
  side = max(out_w, out_h)
  canvas = (faces.align(np.ascontiguousarray(photo), forward, side) + 1.0) * 127.5
  canvas = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)[:out_h, :out_w]
  return canvas, faces.apply(forward, eyes)


def eye_error(face, eyes):
  """The larger distance of a detected eye from the marked one, over the marked eye distance."""
  eyes = np.asarray(eyes)
  found = np.array([face.left_eye, face.right_eye])
  return float(np.hypot(*(found - eyes).T).max() / np.hypot(*(eyes[1] - eyes[0])))


def smooth_photo(height, width, seed=0):
  """uint8 [height, width, 3]: smooth random colours from 60 to 200 (no fine detail, so that
  resampling it twice changes little)."""
  rng = np.random.default_rng(seed)
  coarse = Image.fromarray(rng.integers(60, 200, [3, 4, 3], dtype=np.uint8))
  return np.asarray(coarse.resize((width, height), Image.BICUBIC))


def synthetic_face(height, width, left_eye, right_eye, seed=0):
  """A smooth photo-like image with two black eye dots (radius 2 px) at the given points."""
  image = smooth_photo(height, width, seed).astype(np.float32)
  ys, xs = np.mgrid[0:height, 0:width] + 0.5
  for x, y in (left_eye, right_eye):
    image[(xs - x) ** 2 + (ys - y) ** 2 <= 4.0] = 0.0
  return image.astype(np.uint8)
