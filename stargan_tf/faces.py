"""Faces in photos: find them, frame each like CelebA's aligned images, paste translations back.

StarGAN's CelebA models were trained on `img_align_celeba`: 178x218 images rotated and scaled so
that the eyes lie level at fixed positions, then cut to their central `crop_size` square
(178 by default) and resized to the model's size. A face in an ordinary photo (any size, tilted,
one of several) is brought into that same frame here, translated, and put back:

  1. `decode_photo`: JPEG/PNG bytes -> RGB pixels, turned upright by the EXIF orientation tag
     (phones store portraits sideways with a tag saying so).
  2. `detect_faces`: OpenCV's Haar cascades (their files ship inside opencv-python-headless 4.x,
     nothing is downloaded) find frontal faces, also tilted up to about 40 degrees (the photo is
     searched upright and turned by +-TILT degrees), and the eyes inside each face. A face whose
     eyes are not both found gets the missing eye mirrored across the face box, or both placed
     where the cascade's boxes put them on average (`Face.eyes` says which).
  3. `alignment_matrix` / `align`: the similarity transform (rotation, uniform scale, shift) that
     puts the eyes where CelebA's aligned images have them, `CELEBA_LEFT_EYE` and
     `CELEBA_RIGHT_EYE`, composed with the dataset's centre crop and the resize: one affine map
     from the photo to the model's image_size square, sampled once (antialiased when it shrinks).
     Parts of the square beyond the photo repeat its edge pixels.
  4. `paste`: the translated square is mapped back with the inverse transform and blended into
     the photo under `face_mask`, a mask that is 1 in the middle of the square and falls smoothly
     to 0 over its outer `FEATHER` part, so no seam shows; pixels outside the square are the
     photo's own, unchanged.

`align_photo` and `paste_faces` do steps 2-4 for every face of a photo; `translate --input_dir`,
the serving client, `tflite --run` and the browser demo all use them. Coordinates are continuous
pixel coordinates (x right, y down; the centre of pixel (row i, column j) is (j + 0.5, i + 0.5)).

This module needs numpy and Pillow; only detection needs OpenCV (`pip install
opencv-python-headless`, or this package's `faces` extra), so alignment with known eye positions,
paste-back and the serving client's --no_align path work without it.
"""

import dataclasses
import io
import math

import numpy as np
from PIL import Image
from PIL import ImageOps

# CelebA's aligned frame, and where its eyes are: the typical landmarks of
# list_landmarks_align_celeba.txt (the eye on the picture's left at column 69, row 111, the one on
# its right at column 108, row 111), as continuous coordinates of those pixels' centres.
CELEBA_WIDTH, CELEBA_HEIGHT = 178, 218
CELEBA_LEFT_EYE = (69.5, 111.5)
CELEBA_RIGHT_EYE = (108.5, 111.5)
DEFAULT_CROP_SIZE = 178  # --celeba_crop_size's default: the reference's CenterCrop(178)

# The share of the aligned square, on each side, over which the paste-back mask falls to 0.
FEATHER = 0.125

# Detection. The cascades: OpenCV's frontal-face and eye detectors (cv2.data.haarcascades).
FACE_CASCADE = 'haarcascade_frontalface_default.xml'
EYE_CASCADE = 'haarcascade_eye.xml'
# Photos are searched at most this large (longer side): faces stay well above the cascade's
# 24-pixel window, and a 12-megapixel photo costs what a 1-megapixel one does.
DETECT_MAX_SIDE = 1024
# The smallest face searched for, in pixels of that search image.
MIN_FACE = 32
# The frontal cascade finds faces tilted up to about 15-20 degrees; the photo is also searched
# turned by these angles (degrees) for faces tilted further.
TILT = 25.0
# Where the eye centres lie in the frontal cascade's face box, as fractions of its side (x of the
# picture's left and right eye, and y), measured on the faces of docs/photos.md.
BOX_EYES_X = (0.29, 0.71)
BOX_EYES_Y = 0.375

# How the eyes of a Face were found.
EYES_DETECTED = 'detected'
EYES_MIRRORED = 'one mirrored'
EYES_ESTIMATED = 'estimated from the face box'

_EYE_RANK = {EYES_DETECTED: 0, EYES_MIRRORED: 1, EYES_ESTIMATED: 2}

OPENCV_MISSING = ('face detection needs OpenCV 4 (pip install "opencv-python-headless>=4.8,<5", '
                  'or pip install "stargan-tf[faces]")')


class NoFaceError(ValueError):
  """No face was found in a photo. A ValueError: the commands show it as a one-line error."""


@dataclasses.dataclass(frozen=True)
class Face:
  """A face found in a photo.

  Attributes:
    left_eye: (x, y) of the eye on the picture's left (the person's right eye).
    right_eye: (x, y) of the eye on the picture's right.
    box: the four corners ((x, y), ...) of the face box, clockwise from the top left of the face
      (a rotated rectangle for a face found tilted).
    eyes: EYES_DETECTED, EYES_MIRRORED or EYES_ESTIMATED.
  """
  left_eye: tuple
  right_eye: tuple
  box: tuple = ()
  eyes: str = EYES_DETECTED


@dataclasses.dataclass(frozen=True)
class AlignedFace:
  """A face brought into the model's frame.

  Attributes:
    face: the Face.
    matrix: float64 [2, 3], the affine map from photo coordinates to the aligned square's.
    image: float32 [S, S, 3] in [-1, 1], the aligned square.
  """
  face: Face
  matrix: np.ndarray
  image: np.ndarray


def decode_photo(data):
  """JPEG/PNG bytes -> uint8 [H, W, 3] RGB, upright by its EXIF orientation tag.

  Raises:
    OSError, ValueError (Pillow's): the bytes are not a decodable image.
  """
  with Image.open(io.BytesIO(data)) as image:
    image = ImageOps.exif_transpose(image)
    return np.asarray(image.convert('RGB'))


def alignment_matrix(left_eye, right_eye, image_size, crop_size=DEFAULT_CROP_SIZE):
  """The affine map [2, 3] from photo coordinates to the aligned image_size square.

  The similarity transform that puts `left_eye` and `right_eye` (the eyes on the picture's left
  and right) at CELEBA_LEFT_EYE and CELEBA_RIGHT_EYE of the 178x218 aligned frame, followed by the
  dataset's centre crop of crop_size (offsets floor((178 - crop_size) / 2) and
  floor((218 - crop_size) / 2), as `data.ops.center_crop`) and the resize to image_size.

  Raises:
    ValueError: the eyes coincide, or crop_size does not fit the aligned frame.
  """
  if not 0 < crop_size <= CELEBA_WIDTH:
    raise ValueError(f'crop_size={crop_size}: expected 1 to {CELEBA_WIDTH} (the aligned CelebA '
                     f'frame is {CELEBA_WIDTH}x{CELEBA_HEIGHT}).')
  src = np.asarray([left_eye, right_eye], np.float64)
  top, left = (CELEBA_HEIGHT - crop_size) // 2, (CELEBA_WIDTH - crop_size) // 2
  dst = (np.asarray([CELEBA_LEFT_EYE, CELEBA_RIGHT_EYE], np.float64) - [left, top]) * (
      image_size / crop_size)
  src_vec, dst_vec = src[1] - src[0], dst[1] - dst[0]
  length = np.hypot(*src_vec)
  if length == 0:
    raise ValueError(f'the two eyes are at the same point {tuple(src[0])}.')
  scale = np.hypot(*dst_vec) / length
  angle = math.atan2(dst_vec[1], dst_vec[0]) - math.atan2(src_vec[1], src_vec[0])
  linear = scale * np.array([[math.cos(angle), -math.sin(angle)],
                             [math.sin(angle), math.cos(angle)]])
  shift = dst.mean(axis=0) - linear @ src.mean(axis=0)
  return np.concatenate([linear, shift[:, None]], axis=1)


def invert(matrix):
  """The inverse [2, 3] of an affine map [2, 3]."""
  full = np.vstack([matrix, [0.0, 0.0, 1.0]])
  return np.linalg.inv(full)[:2]


def apply(matrix, points):
  """Maps points [..., 2] by an affine map [2, 3]."""
  points = np.asarray(points, np.float64)
  return points @ matrix[:, :2].T + matrix[:, 2]


def _warp(image, inverse, width, height):
  """Samples float32 image [h, w, c] at inverse([x, y]) for every pixel of a width x height output.

  Bilinear. When the map shrinks (an output pixel covers more than one input pixel), the output
  is rendered that many times larger and box-averaged down, so fine detail does not alias. Points
  outside the image read 0.
  """
  step = math.sqrt(abs(np.linalg.det(inverse[:, :2])))
  factor = max(1, math.ceil(step - 1e-9))
  data = (inverse[:, :2] / factor).ravel().tolist()
  data = [data[0], data[1], inverse[0, 2], data[2], data[3], inverse[1, 2]]
  channels = []
  for k in range(image.shape[2]):
    channel = Image.fromarray(np.ascontiguousarray(image[..., k], np.float32), 'F').transform(
        (width * factor, height * factor), Image.Transform.AFFINE, data,
        resample=Image.Resampling.BILINEAR)
    channels.append(np.asarray(channel))
  out = np.stack(channels, axis=-1)
  if factor > 1:
    out = out.reshape(height, factor, width, factor, -1).mean(axis=(1, 3))
  return out


def _square_corners(inverse, size):
  """The photo coordinates [4, 2] of the corners of the aligned size x size square."""
  return apply(inverse, [[0, 0], [size, 0], [0, size], [size, size]])


def _bounds(points, pad=2):
  """The integer box (x0, y0, x1, y1) around points [n, 2], `pad` pixels wider (the reach of
  bilinear sampling)."""
  x0, y0 = np.floor(points.min(axis=0)).astype(int) - pad
  x1, y1 = np.ceil(points.max(axis=0)).astype(int) + pad
  return x0, y0, x1, y1


def align(photo, matrix, image_size):
  """The aligned square float32 [S, S, 3] in [-1, 1] of uint8 photo [H, W, 3] under `matrix`.

  Only the part of the photo under the square is read. Where the square reaches beyond the photo,
  the photo's edge pixels are repeated (as a face at the border is best continued by its
  surroundings, not by black).
  """
  height, width = photo.shape[:2]
  inverse = invert(matrix)
  x0, y0, x1, y1 = _bounds(_square_corners(inverse, image_size))
  # The region under the square, the photo's edge repeated where the region leaves it.
  rows = np.clip(np.arange(y0, y1), 0, height - 1)
  cols = np.clip(np.arange(x0, x1), 0, width - 1)
  region = photo[rows[:, None], cols[None, :]].astype(np.float32)
  inverse[:, 2] -= [x0, y0]
  out = _warp(region, inverse, image_size, image_size)
  return out / 127.5 - 1.0


def face_mask(image_size, feather=FEATHER):
  """float32 [S, S]: 1 in the middle of the aligned square, falling smoothly (smoothstep) to 0 at
  its border over the outer `feather` share of each side."""
  centres = (np.arange(image_size) + 0.5) / image_size
  edge = np.minimum(centres, 1.0 - centres) / feather
  ramp = np.clip(edge, 0.0, 1.0)
  ramp = ramp * ramp * (3.0 - 2.0 * ramp)
  return np.outer(ramp, ramp).astype(np.float32)


def paste(photo, translated, matrix, feather=FEATHER):
  """The photo with the translated square blended back where `matrix` took it from.

  Args:
    photo: uint8 [H, W, 3].
    translated: float [S, S, 3] in [-1, 1]: the model's output for `align(photo, matrix, S)`.
    matrix: the alignment matrix.
    feather: see `face_mask`.

  Returns:
    uint8 [H, W, 3]: the photo outside the square, the translation inside it, mixed by the mask
    mapped back onto the photo.
  """
  height, width = photo.shape[:2]
  size = translated.shape[0]
  x0, y0, x1, y1 = _bounds(_square_corners(invert(matrix), size))
  x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
  out = photo.copy()
  if x1 <= x0 or y1 <= y0:
    return out
  layers = np.concatenate([(np.asarray(translated, np.float32) + 1.0) * 127.5,
                           face_mask(size, feather)[..., None]], axis=-1)
  shifted = matrix.copy()
  shifted[:, 2] += matrix[:, :2] @ [x0, y0]  # output pixel (x, y) of the box is (x0 + x, y0 + y)
  warped = _warp(layers, shifted, x1 - x0, y1 - y0)
  face, mask = warped[..., :3], warped[..., 3:]
  region = photo[y0:y1, x0:x1].astype(np.float32)
  blended = region + mask * (face - region)
  out[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
  return out


# Detection (OpenCV).


def _cv2():
  try:
    import cv2  # pylint: disable=g-import-not-at-top (optional: only detection needs it)
  except ImportError:
    raise ImportError(f'{OPENCV_MISSING}; --no_align translates the central square without '
                      'it.') from None
  if not hasattr(cv2, 'CascadeClassifier'):  # OpenCV 5 dropped the cascades
    raise ImportError(f'{OPENCV_MISSING}; OpenCV {cv2.__version__} has no Haar cascades.')
  return cv2


class Detector:
  """Finds faces and their eyes with OpenCV's Haar cascades (see the module docstring)."""

  def __init__(self, min_face=MIN_FACE, max_side=DETECT_MAX_SIDE, tilts=(-TILT, TILT)):
    cv2 = self._cv2 = _cv2()
    self.min_face = min_face
    self.max_side = max_side
    self.tilts = tuple(tilts)
    self._faces = cv2.CascadeClassifier(cv2.data.haarcascades + FACE_CASCADE)
    self._eyes = cv2.CascadeClassifier(cv2.data.haarcascades + EYE_CASCADE)

  def __call__(self, photo):
    """The faces of uint8 photo [H, W, 3], ordered left to right (by the eyes' midpoint)."""
    cv2 = self._cv2
    grey = cv2.cvtColor(np.ascontiguousarray(photo), cv2.COLOR_RGB2GRAY)
    shrink = min(1.0, self.max_side / max(grey.shape))
    small = grey if shrink == 1.0 else cv2.resize(
        grey, (round(grey.shape[1] * shrink), round(grey.shape[0] * shrink)),
        interpolation=cv2.INTER_AREA)
    found = []  # (centre in `small`, side in `small`, Face)
    for angle in (0.0,) + self.tilts:
      for face in self._detect_turned(small, angle):
        # The turned searches are for tilted faces, whose eyes they see level: a face found only
        # there must show both eyes, which keeps their false detections out.
        if angle and face.eyes != EYES_DETECTED:
          continue
        centre = np.mean(face.box, axis=0)
        side = math.dist(face.box[0], face.box[1])
        same = [k for k, (c, s, _) in enumerate(found) if math.dist(centre, c) < 0.5 * max(side, s)]
        if not same:
          found.append((centre, side, face))
        elif _EYE_RANK[face.eyes] < _EYE_RANK[found[same[0]][2].eyes]:
          # A face found again: the search that found its eyes wins (the upright one on a tie).
          found[same[0]] = (centre, side, face)
    faces = [_scaled(face, 1.0 / shrink) for _, _, face in found]
    return sorted(faces, key=lambda f: f.left_eye[0] + f.right_eye[0])

  def _detect_turned(self, grey, angle):
    """Faces of `grey` found with the picture turned by `angle` degrees, in `grey`'s coordinates."""
    cv2 = self._cv2
    height, width = grey.shape
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    if angle:
      # The turned picture on a canvas holding all of it.
      cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
      size = (int(math.ceil(width * cos + height * sin)),
              int(math.ceil(width * sin + height * cos)))
      turn[:, 2] += np.array(size) / 2 - np.array([width, height]) / 2
      turned = cv2.warpAffine(grey, turn, size, flags=cv2.INTER_LINEAR)
    else:
      turned = grey
    back = invert(turn)
    equalized = cv2.equalizeHist(turned)
    boxes = self._faces.detectMultiScale(equalized, scaleFactor=1.1, minNeighbors=5,
                                         minSize=(self.min_face, self.min_face))
    faces = []
    for x, y, w, h in (boxes if len(boxes) else []):
      left_eye, right_eye, how = self._eyes_in(equalized, x, y, w, h)
      corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
      faces.append(Face(tuple(apply(back, left_eye)), tuple(apply(back, right_eye)),
                        tuple(map(tuple, apply(back, corners))), how))
    return faces

  def _eyes_in(self, grey, x, y, w, h):
    """(left eye, right eye, how found) of the face box (x, y, w, h) of `grey`."""
    roi = grey[y:y + int(0.6 * h), x:x + w]
    size = max(w // 10, 8)
    candidates = self._eyes.detectMultiScale(roi, scaleFactor=1.1, minNeighbors=3,
                                             minSize=(size, size), maxSize=(w // 2, w // 2))
    centres = [(ex + ew / 2, ey + eh / 2) for ex, ey, ew, eh in
               (candidates if len(candidates) else [])]
    centres = [(cx, cy) for cx, cy in centres if 0.15 * h <= cy <= 0.55 * h]
    lefts = [c for c in centres if 0.1 * w <= c[0] < 0.5 * w]
    rights = [c for c in centres if 0.5 * w <= c[0] <= 0.9 * w]
    expected = (BOX_EYES_X[1] - BOX_EYES_X[0]) * w

    def cost(pair):
      (lx, ly), (rx, ry) = pair
      return abs(ly - ry) + abs((rx - lx) - expected)

    if lefts and rights:
      left, right = min(((l, r) for l in lefts for r in rights), key=cost)
      how = EYES_DETECTED
    elif lefts or rights:
      # The other eye mirrored across the box's vertical centre line (the box is about symmetric
      # around a frontal face).
      found = min(lefts or rights, key=lambda c: abs(c[1] - BOX_EYES_Y * h))
      mirrored = (w - found[0], found[1])
      left, right = (found, mirrored) if lefts else (mirrored, found)
      how = EYES_MIRRORED
    else:
      left = (BOX_EYES_X[0] * w, BOX_EYES_Y * h)
      right = (BOX_EYES_X[1] * w, BOX_EYES_Y * h)
      how = EYES_ESTIMATED
    return (x + left[0], y + left[1]), (x + right[0], y + right[1]), how


def _scaled(face, factor):
  """`face` with its coordinates multiplied by `factor`."""
  scale = lambda p: (p[0] * factor, p[1] * factor)
  return dataclasses.replace(face, left_eye=scale(face.left_eye), right_eye=scale(face.right_eye),
                             box=tuple(scale(p) for p in face.box))


_DETECTOR = None


def detect_faces(photo):
  """The faces of uint8 photo [H, W, 3] (a shared `Detector`); ImportError without OpenCV."""
  global _DETECTOR
  if _DETECTOR is None:
    _DETECTOR = Detector()
  return _DETECTOR(photo)


def align_photo(photo, image_size, crop_size=DEFAULT_CROP_SIZE, name='the photo', detect=None):
  """Every face of a photo, aligned: a list of AlignedFace, left to right.

  Args:
    photo: uint8 [H, W, 3].
    image_size: the model's image side S.
    crop_size: the centre crop of the aligned frame the model was trained with.
    name: the photo's name for the error message.
    detect: photo -> list of Face (default `detect_faces`).

  Raises:
    NoFaceError: no face was found.
    ImportError: OpenCV is missing (detection needs it).
  """
  faces = (detect or detect_faces)(photo)
  if not faces:
    raise NoFaceError(f'{name}: no face found (looked for frontal faces at least '
                      f'{MIN_FACE} pixels wide in the photo shrunk to {DETECT_MAX_SIDE} pixels); '
                      '--no_align translates the central square instead.')
  aligned = []
  for face in faces:
    matrix = alignment_matrix(face.left_eye, face.right_eye, image_size, crop_size)
    aligned.append(AlignedFace(face, matrix, align(photo, matrix, image_size)))
  return aligned


def paste_faces(photo, aligned, translated, feather=FEATHER):
  """The photo with each face of `aligned` replaced by its translation (float [S, S, 3] in
  [-1, 1], one per face, in the same order)."""
  if len(aligned) != len(translated):
    raise ValueError(f'paste_faces: {len(translated)} translations for {len(aligned)} faces.')
  out = photo
  for face, y in zip(aligned, translated):
    out = paste(out, np.asarray(y), face.matrix, feather)
  return out
