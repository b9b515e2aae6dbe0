"""Atomic file and folder writes, and the removal of what a killed writer left behind.

Every output of the project (configs, pictures, models, exports, datasets, caches) appears only
complete: it is written under a temporary name beside its final path and renamed into place, so a
kill or an error never leaves a truncated file or half a folder under the final name, and never
replaces what was there before with something partial.

Temporary names record who wrote them: `.<name>.partial-<host>-<pid>-<random>`. A later run on
the same host can therefore prove a leftover is debris (its writer no longer runs) and remove it
(`remove_stale`), while the work of a writer still running is left alone. The leading dot keeps
leftovers out of listings that pick up model versions, images or classes. Needs only the standard
library (the serving client uses it too).
"""

import contextlib
import json
import os
import shutil
import socket
import tempfile

_PARTIAL = '.partial-'


def _owner_tag():
  return f'{socket.gethostname()}-{os.getpid()}-'


def _prefix(path):
  return f'.{os.path.basename(os.path.normpath(path))}{_PARTIAL}'


@contextlib.contextmanager
def atomic_path(path):
  """Yields a temporary path beside `path` to write a file to; renames it to `path` on success.

  On an exception the temporary file is removed and `path` is left as it was.
  """
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)
  _, ext = os.path.splitext(path)  # kept: some writers pick the format from the extension
  fd, tmp = tempfile.mkstemp(prefix=_prefix(path) + _owner_tag(), suffix=ext, dir=parent)
  os.close(fd)
  try:
    yield tmp
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.remove(tmp)
    raise


def write_bytes(path, data):
  """Writes `data` (bytes) to `path` atomically; returns `path`."""
  with atomic_path(path) as tmp, open(tmp, 'wb') as f:
    f.write(data)
  return path


def write_text(path, text):
  """Writes `text` (UTF-8) to `path` atomically; returns `path`."""
  return write_bytes(path, text.encode('utf-8'))


def write_json(path, obj):
  """Writes `obj` as indented JSON (with a final newline) atomically; returns `path`."""
  return write_text(path, json.dumps(obj, indent=2, sort_keys=True) + '\n')


@contextlib.contextmanager
def atomic_dir(path, replace_empty=False):
  """Yields a new temporary folder beside `path`; renames it to `path` when the block succeeds.

  Args:
    path: the folder to create; it must not exist (or be empty, with replace_empty).
    replace_empty: allow `path` to exist as an empty folder, which is replaced.

  Raises:
    FileExistsError: `path` exists (and is not an empty folder allowed by replace_empty), before
      or at the end of the block; the temporary folder is removed and `path` left as it was.
  """
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)
  _check_free(path, replace_empty)
  tmp = tempfile.mkdtemp(prefix=_prefix(path) + _owner_tag(), dir=parent)
  try:
    yield tmp
    # Checked again: another writer may have taken the name meanwhile, and renaming onto an
    # empty folder would silently replace it.
    _check_free(path, replace_empty)
    if replace_empty and os.path.isdir(path):
      os.rmdir(path)
    os.rename(tmp, path)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise


def _check_free(path, replace_empty):
  if not os.path.lexists(path):
    return
  if replace_empty and os.path.isdir(path) and not os.listdir(path):
    return
  raise FileExistsError(f'{path} already exists; it is never overwritten.')


def _pid_running(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # exists, owned by another user
    return True
  return True


def _stale(parent, prefix=''):
  """Leftovers of atomic writes in `parent` (names starting with `prefix`) whose writer, on this
  host, no longer runs."""
  if not os.path.isdir(parent):
    return []
  host = socket.gethostname()
  stale = []
  for name in os.listdir(parent):
    if not name.startswith('.') or _PARTIAL not in name or not name.startswith(prefix):
      continue
    owner = name.split(_PARTIAL, 1)[1]
    # <host>-<pid>-<random>: the host name may itself contain dashes, the other two do not.
    writer_host, _, pid = owner.rpartition('-')[0].rpartition('-')
    if writer_host == host and pid.isdigit() and not _pid_running(int(pid)):
      stale.append(os.path.join(parent, name))
  return sorted(stale)


def _remove(paths):
  for leftover in paths:
    if os.path.isdir(leftover) and not os.path.islink(leftover):
      shutil.rmtree(leftover, ignore_errors=True)
    else:
      with contextlib.suppress(FileNotFoundError):
        os.remove(leftover)
  return paths


def remove_stale(path):
  """Removes the leftovers of interrupted atomic writes of `path`; returns their paths."""
  return _remove(_stale(os.path.dirname(os.path.abspath(path)), _prefix(path)))


def remove_stale_in(folder):
  """Removes the leftovers of interrupted atomic writes of anything in `folder`; returns them."""
  return _remove(_stale(folder))
