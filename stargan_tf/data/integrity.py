"""Image files: which ones the project reads, and finding the ones that cannot be used.

A training run must not die hours in on one bad file, and a silently shrinking dataset must not go
unnoticed. So every split is checked cheaply when it is built (`check_images`): the file exists, is
non-empty, starts with a JPEG (FF D8) or PNG signature, and a JPEG ends with the FF D9
end-of-image marker (a PNG with its IEND chunk) within its last bytes. Only the first and last few
bytes are read, on a thread pool, so 200k files take seconds. Bad files are skipped; their count and
the first few names are logged once with `absl.logging.warning`. A split whose images are all bad
is an error.

Needs no TensorFlow (the flags module reads RaFD class folders through `rafd`, which uses this).
"""

import concurrent.futures
import os

from absl import logging
import numpy as np

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')

_JPEG_START = b'\xff\xd8'
_JPEG_END = b'\xff\xd9'
_PNG_START = b'\x89PNG\r\n\x1a\n'
_PNG_END = b'IEND'
_TAIL_BYTES = 32  # encoders may pad a few bytes after the end marker
_REPORTED_BAD = 5



def _check_one(path):
  try:
    fd = os.open(path, os.O_RDONLY)
  except OSError:
    return False
  try:
    size = os.fstat(fd).st_size
    head = os.pread(fd, len(_PNG_START), 0)
    tail = os.pread(fd, _TAIL_BYTES, max(0, size - _TAIL_BYTES))
  except OSError:
    return False
  finally:
    os.close(fd)
  if head.startswith(_JPEG_START):
    return size > 4 and _JPEG_END in tail
  if head == _PNG_START:
    return _PNG_END in tail
  return False


def _check_chunk(paths):
  return [_check_one(p) for p in paths]


def check_images(paths, num_threads=16):
  """Cheap integrity check of image files (see the module docstring for what is checked).

  Args:
    paths: file paths.
    num_threads: I/O threads.

  Returns:
    (good_mask, bad_paths): bool np.ndarray [len(paths)], and the failing paths in input order.
  """
  paths = list(paths)
  chunk = 512
  chunks = [paths[i:i + chunk] for i in range(0, len(paths), chunk)]
  with concurrent.futures.ThreadPoolExecutor(max_workers=num_threads) as pool:
    results = [ok for part in pool.map(_check_chunk, chunks) for ok in part]
  good_mask = np.array(results, dtype=bool).reshape([len(paths)])
  bad_paths = [p for p, ok in zip(paths, results) if not ok]
  return good_mask, bad_paths


def drop_bad_images(paths, labels, what):
  """Removes files failing `check_images`, warning once; `what` names the split in messages.

  Returns:
    (paths, labels) restricted to the good files.

  Raises:
    ValueError: every file is bad.
  """
  good_mask, bad_paths = check_images(paths)
  if bad_paths:
    if len(bad_paths) == len(paths):
      raise ValueError(f'{what}: all {len(paths)} images are missing, empty or corrupt '
                       f'(e.g. {bad_paths[:_REPORTED_BAD]}).')
    logging.warning('%s: skipping %d of %d images that are missing, empty or corrupt: %s%s', what,
                    len(bad_paths), len(paths), ', '.join(bad_paths[:_REPORTED_BAD]),
                    ', ...' if len(bad_paths) > _REPORTED_BAD else '')
  return [p for p, ok in zip(paths, good_mask) if ok], labels[good_mask]
