"""Image files: which ones the project reads, and finding the ones that cannot be used.

A training run must not train on a garbled image without a word, die hours in on one bad file (and
again at every resume, which replays the same batch), or shrink its dataset unnoticed. So every
split is checked when it is built (`drop_bad_images`, `verify_images`), in two stages:

1. Cheap, every time: the file exists, is non-empty, starts with a JPEG (FF D8) or PNG
   signature, and a JPEG ends with the FF D9 end-of-image marker (a PNG with its IEND chunk) within
   its last bytes. Only the first and last few bytes are read, on a thread pool: 200k files take
   seconds.
2. Once per file: the whole image is decoded by TensorFlow's decoder (the one training uses), on a
   thread pool. It must decode without an error and without a libjpeg warning about damaged data,
   and be at least crop_size pixels high and wide.

libjpeg reports damaged compressed data ("Corrupt JPEG data: bad Huffman code", "... premature end
of data segment", ...) as warnings, not errors: it fills in what it cannot decode and goes on.
TensorFlow's decoder then returns the garbled image, and libjpeg's message goes to the process's
standard error (file descriptor 2) without the file's name; Pillow's decoder discards it. So while
images are verified, file descriptor 2 is redirected to a pipe (`_StderrCapture`). Images are
decoded in rounds; a round during which anything was written there is decoded again one image at a
time, so that each message is attributed to its image, and output that is no image's problem is
passed on to the real standard error.

What this catches was measured on the synthetic 178x218 JPEGs (stargan_tf.data.synthetic): n
random bytes written at a random place of the compressed data of 30 files, for each n. Caught
(errors or damage warnings): n=1: 15 of 30, n=4: 21, n=16: 22, n=64: 23, n=256: 28 (decoding
with Pillow, which raises on errors only: 1, 4, 5, 11, 17). The others decode without any
complaint from libjpeg: the Huffman code resynchronises after the damaged bits and the data ends
where it should, so the decoder cannot tell them from an intact file (the image is wrong in a few
blocks, or shifted in colour from the damaged block on).

The verdicts are remembered, so a split pays for the decoding once: one record per image folder
(`record_path`, a JSON file under `cache_root()`, 10 MB for CelebA's folder), keyed by file name,
size and mtime_ns; a file that changed is verified again. Verification decoded ~7,000 synthetic
JPEGs/s (3.7 KB each) and ~3,700 photo-like 178x218 JPEGs/s (21 KB each, three times CelebA's
average) on the 2-core AMD EPYC VM (2026-12-01): CelebA's 202,599 JPEGs take about a minute. Long
passes log their progress.

Bad files are skipped; their count and the first few names, with the reason, are logged once with
`absl.logging.warning`. A split whose images are all bad is an error naming the split's folder.

Needs no TensorFlow at import (the flags module reads RaFD class folders through `rafd`, which uses
this); the verification imports it when it decodes.
"""

import collections
import concurrent.futures
import hashlib
import json
import os
import queue
import re
import sys
import threading
import time

from absl import logging
import numpy as np

from stargan_tf import fileio

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')
CACHE_ENV = 'STARGAN_TF_CACHE'  # overrides cache_root()
RECORD_FORMAT = 'stargan_tf.data.integrity/verified-v1'

# How the files start: the JPEG start-of-image marker and the next marker's FF (what
# tf.io.decode_image recognises as JPEG), and PNG's signature.
JPEG_SIGNATURE = b'\xff\xd8\xff'
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_JPEG_END = b'\xff\xd9'
_PNG_END = b'IEND'
_TAIL_BYTES = 32  # encoders may pad a few bytes after the end marker
_REPORTED_BAD = 5
_ROUND = 256  # images decoded in parallel between two looks at the captured standard error
_LOG_EVERY = 5000
_CAPTURE_LOCK = threading.Lock()  # one capture of file descriptor 2 at a time
# The starts of libjpeg's warnings about damaged image data (jerror.h: JWRN_HIT_MARKER,
# JWRN_EXTRANEOUS_DATA, JWRN_HUFF_BAD_CODE, JWRN_MUST_RESYNC, JWRN_ARITH_BAD_CODE, JWRN_JPEG_EOF,
# JWRN_BOGUS_PROGRESSION, JWRN_NOT_SEQUENTIAL). Its other warnings concern metadata (an unknown
# JFIF revision, a thumbnail's size) and leave the pixels intact.
_DAMAGE_WARNINGS = ('Corrupt JPEG data', 'Premature end of JPEG file',
                    'Inconsistent progression sequence', 'Invalid SOS parameters')


def _inspect(path):
  """The cheap check of one file: (problem, or '' if it passes; size; mtime_ns)."""
  try:
    fd = os.open(path, os.O_RDONLY)
  except OSError as e:
    return f'cannot be read ({e.strerror})', 0, 0
  try:
    stat = os.fstat(fd)
    head = os.pread(fd, len(PNG_SIGNATURE), 0)
    tail = os.pread(fd, _TAIL_BYTES, max(0, stat.st_size - _TAIL_BYTES))
  except OSError as e:
    return f'cannot be read ({e.strerror})', 0, 0
  finally:
    os.close(fd)
  if not stat.st_size:
    problem = 'empty file'
  elif head.startswith(JPEG_SIGNATURE):
    problem = '' if stat.st_size > 4 and _JPEG_END in tail else 'truncated JPEG (no end marker)'
  elif head == PNG_SIGNATURE:
    problem = '' if _PNG_END in tail else 'truncated PNG (no IEND chunk)'
  else:
    problem = 'not a JPEG or PNG file'
  return problem, stat.st_size, stat.st_mtime_ns


def _inspect_all(paths, num_threads):
  """[(problem, size, mtime_ns)] of `paths`, in order."""
  chunk = 512
  chunks = [paths[i:i + chunk] for i in range(0, len(paths), chunk)]
  with concurrent.futures.ThreadPoolExecutor(max_workers=num_threads) as pool:
    return [r for part in pool.map(lambda c: [_inspect(p) for p in c], chunks) for r in part]


def cache_root():
  """The folder of the project's caches: $STARGAN_TF_CACHE, else $XDG_CACHE_HOME/stargan_tf,
  else ~/.cache/stargan_tf."""
  if os.environ.get(CACHE_ENV):
    return os.environ[CACHE_ENV]
  base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
  return os.path.join(base, 'stargan_tf')


def record_path(folder):
  """The verification record of the images in `folder` (one JSON file per folder)."""
  folder = os.path.abspath(folder)
  digest = hashlib.sha256(folder.encode('utf-8', 'surrogateescape')).hexdigest()[:24]
  return os.path.join(cache_root(), 'verified', f'{digest}.json')


def _read_record(folder):
  """{file name: [size, mtime_ns, height, width, problem]} of `folder` ({} if none)."""
  try:
    with open(record_path(folder), 'rb') as f:
      record = json.loads(f.read())
  except (OSError, ValueError):  # none yet, or unreadable: everything is verified again
    return {}
  if record.get('format') != RECORD_FORMAT or record.get('folder') != os.path.abspath(folder):
    return {}
  return record['images']


def _write_record(folder, images):
  """Merges `images` into the record of `folder`, atomically; a failure is only a warning."""
  path = record_path(folder)
  try:
    fileio.remove_stale(path)
    # Read again: another process may have added to the record since it was read.
    merged = {**_read_record(folder), **images}
    record = dict(format=RECORD_FORMAT, folder=os.path.abspath(folder), images=merged)
    fileio.write_bytes(path, json.dumps(record, separators=(',', ':')).encode('utf-8'))
  except OSError as e:
    logging.warning('Cannot write the image verification record %s (%s): the images of %s will '
                    'be decoded again next time. Set %s to a writable folder.', path, e, folder,
                    CACHE_ENV)


class _StderrCapture:
  """Redirects file descriptor 2 to a pipe, to attribute libjpeg's messages to images.

  A reader thread drains the pipe, so writers never block on a full pipe. `take()` returns what
  was written since its previous call: it writes a mark into the pipe and waits for the reader to
  reach it (the pipe keeps the order of writes).
  """

  _MARK = b'\0stargan_tf.integrity mark\0'
  _STOP = b'\0stargan_tf.integrity stop\0'

  def __enter__(self):
    sys.stderr.flush()
    self._read_fd, self._write_fd = os.pipe()
    self._segments = queue.Queue()
    self._reader = threading.Thread(target=self._read, daemon=True)
    self._reader.start()
    self.saved_fd = os.dup(2)
    os.dup2(self._write_fd, 2)
    return self

  def _read(self):
    data = b''
    while True:
      data += os.read(self._read_fd, 65536)
      while self._MARK in data:
        segment, data = data.split(self._MARK, 1)
        self._segments.put(segment)
      if self._STOP in data:
        self._segments.put(data.split(self._STOP, 1)[0])
        return

  def take(self):
    """The text written to file descriptor 2 since the previous call."""
    os.write(self._write_fd, self._MARK)
    return self._segments.get().decode('utf-8', 'replace')

  def forward(self, text):
    """Writes `text` to the real standard error."""
    if text:
      os.write(self.saved_fd, text.encode('utf-8'))

  def __exit__(self, *exc_info):
    sys.stderr.flush()
    os.dup2(self.saved_fd, 2)
    os.write(self._write_fd, self._STOP)
    self._reader.join()
    self.forward(self._segments.get().decode('utf-8', 'replace'))
    for fd in (self.saved_fd, self._read_fd, self._write_fd):
      os.close(fd)


def _decode(path):
  """(height, width, error message or '') of decoding the whole image as training does."""
  from stargan_tf.data import ops  # pylint: disable=g-import-not-at-top (imports TensorFlow)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    with open(path, 'rb') as f:
      contents = f.read()
    height, width, _ = ops.decode(contents).shape
    return height, width, ''
  except OSError as e:
    return 0, 0, f'cannot be read ({e.strerror})'
  except tf.errors.OpError as e:
    # Without the op's prefix and suffix: '{{function_node ...}} <message> [Op:DecodeImage]'.
    return 0, 0, re.sub(r'^\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]$', '', e.message.strip())


def _verdict(decoded, output):
  """[height, width, problem] of an image from its decoding and what it wrote to stderr."""
  height, width, error = decoded
  lines = [line.strip() for line in output.splitlines() if line.strip()]
  if error:
    # libjpeg's own words (e.g. 'Bogus Huffman table definition') say more than TensorFlow's.
    return [0, 0, f'cannot be decoded: {"; ".join(lines) if lines else error}']
  return [height, width, next((line for line in lines if line.startswith(_DAMAGE_WARNINGS)), '')]


def _decode_all(paths, num_threads, log_every, what):
  """{path: [height, width, problem]} of decoding `paths` (see the module docstring)."""
  # Imported (with TensorFlow) before standard error is captured: its start-up messages are no
  # image's.
  from stargan_tf.data import ops  # pylint: disable=g-import-not-at-top,unused-import
  verdicts = {}
  start = time.perf_counter()
  logging.info('%s: verifying %d images not verified before (each is decoded once; the results '
               'are kept in %s).', what, len(paths), cache_root())
  with _CAPTURE_LOCK, _StderrCapture() as stderr, concurrent.futures.ThreadPoolExecutor(
      num_threads) as pool:
    for first in range(0, len(paths), _ROUND):
      batch = paths[first:first + _ROUND]
      decoded = list(pool.map(_decode, batch))
      output = stderr.take()
      if not output:
        verdicts.update((path, _verdict(d, '')) for path, d in zip(batch, decoded))
      else:
        # Something was written during the round: decode again one at a time to see whose it is.
        unexplained = collections.Counter(output.splitlines(keepends=True))
        for path in batch:
          decoded_again = _decode(path)
          own = stderr.take()
          verdict = verdicts[path] = _verdict(decoded_again, own)
          unexplained.subtract(own.splitlines(keepends=True))
          if not verdict[2]:
            stderr.forward(own)  # e.g. a warning about metadata: not a problem, not swallowed
        stderr.forward(''.join(unexplained.elements()))  # written by others meanwhile
      done = first + len(batch)
      if done // log_every > first // log_every or (done == len(paths) and done > log_every):
        logging.info('Verified %d / %d images (%.0f images/s).', done, len(paths),
                     done / (time.perf_counter() - start))
        stderr.forward(stderr.take())
  return verdicts


def verify_images(paths, crop_size, num_threads=None, log_every=_LOG_EVERY,
                  what='verify_images'):
  """Checks that every image is intact and large enough (see the module docstring).

  Images verified before and unchanged since (same size and mtime_ns) are not decoded again.

  Args:
    paths: image file paths.
    crop_size: the smallest height and width accepted (the center crop of preprocessing).
    num_threads: decoding threads (default: one per CPU core).
    log_every: log progress every this many decoded images.
    what: names the images in log messages.

  Returns:
    list of str, one per path: '' for a usable image, else what is wrong with it.
  """
  paths = list(paths)
  inspected = _inspect_all(paths, num_threads=16)
  records, entries, todo = {}, [None] * len(paths), []
  for i, (path, (problem, size, mtime_ns)) in enumerate(zip(paths, inspected)):
    if problem:
      entries[i] = [size, mtime_ns, 0, 0, problem]
      continue
    folder, name = os.path.split(os.path.abspath(path))
    if folder not in records:
      records[folder] = _read_record(folder)
    entry = records[folder].get(name)
    if entry and entry[:2] == [size, mtime_ns]:
      entries[i] = entry
    else:
      todo.append(i)
  if todo:
    decoded = _decode_all([paths[i] for i in todo], num_threads or os.cpu_count() or 1,
                          log_every, what)
    new = collections.defaultdict(dict)
    for i in todo:
      entries[i] = list(inspected[i][1:]) + decoded[paths[i]]
      folder, name = os.path.split(os.path.abspath(paths[i]))
      new[folder][name] = entries[i]
    for folder, images in new.items():
      _write_record(folder, images)
  problems = []
  for _, _, height, width, problem in entries:
    if not problem and min(height, width) < crop_size:
      problem = (f'{height}x{width} pixels (height x width), smaller than the {crop_size}x'
                 f'{crop_size} center crop')
    problems.append(problem)
  return problems


def drop_bad_images(paths, labels, what, crop_size):
  """Removes the images failing `verify_images`, warning once.

  Args:
    paths: image file paths.
    labels: np.ndarray with one row per path.
    what: names the split and its folder in messages.
    crop_size: the smallest height and width accepted.

  Returns:
    (paths, labels) restricted to the usable images.

  Raises:
    ValueError: no image is usable.
  """
  problems = verify_images(paths, crop_size, what=what)
  bad = [f'{path} ({problem})' for path, problem in zip(paths, problems) if problem]
  if bad:
    listed = ', '.join(bad[:_REPORTED_BAD]) + (', ...' if len(bad) > _REPORTED_BAD else '')
    if len(bad) == len(paths):
      raise ValueError(f'{what}: all {len(paths)} images are missing, corrupt or smaller than '
                       f'the {crop_size}x{crop_size} crop, e.g. {listed}. Check the folder and '
                       'the crop size flag.')
    logging.warning('%s: skipping %d of %d images that are missing, corrupt or smaller than the '
                    '%dx%d crop: %s', what, len(bad), len(paths), crop_size, crop_size, listed)
  good_mask = np.array([not p for p in problems], dtype=bool).reshape([len(paths)])
  return [p for p, ok in zip(paths, good_mask) if ok], labels[good_mask]
