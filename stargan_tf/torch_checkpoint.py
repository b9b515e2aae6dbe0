"""Reads the state dicts that PyTorch's `torch.save` writes, without PyTorch (numpy only).

torch.save has written two formats over the years, and both are read:

  legacy  (torch < 1.6, and later versions given _use_new_zipfile_serialization=False; the
          authors' released StarGAN models are in it) a stream of pickles: a magic number, the
          format's protocol version (1001), a record of the writing machine, the object itself,
          then the list of its storage keys; after them the raw contents of each storage in that
          order, each an int64 element count followed by the elements, both little-endian.
  zip     (torch >= 1.6) a zip archive of uncompressed entries under one folder: data.pkl (the
          object), data/<key> (each storage's raw elements) and, since torch 2.1, byteorder
          ('little' or 'big'; little-endian when absent).

In both, the object's pickle names each storage by a persistent id (('storage', storage type,
key, location, element count), plus a view record in the legacy format) and rebuilds each tensor
by calling torch._utils._rebuild_tensor (torch < 0.4) or _rebuild_tensor_v2 with (storage,
offset, size, stride, ...). Storages are float32 or float16 for weights (float64, int64 and int32
are read too: PyTorch keeps a batch counter as int64 next to normalisation weights); the
location (e.g. 'cuda:0' for a model saved on a GPU) is ignored, everything is read to the CPU.

Safety. Unpickling calls whatever the pickle names, so `torch.load` without weights_only=True runs
any code a file carries. This reader's unpickler admits only the globals a state dict needs:
collections.OrderedDict, the tensor-rebuild functions and the storage types, and it maps the last
two onto numpy code of its own, so no PyTorch function runs either. Any other global stops the
load with an error naming it, before it is called.

Errors name the file and the problem: not a PyTorch checkpoint, truncated, corrupt, a global
that is not admitted, or an object that is not a state dict of tensors (`CheckpointError`, a
ValueError, so the commands show it as a one-line error).
"""

import collections
import io
import pickle
import struct
import zipfile
import zlib

import numpy as np

# What the legacy format's first two pickles hold.
MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
PROTOCOL_VERSION = 1001
# The first bytes of a zip archive (a local file header), and of the tar format torch used before
# the legacy one (its 'ustar' mark sits at byte 257).
_ZIP_SIGNATURE = b'PK\x03\x04'
_TAR_MARK_OFFSET, _TAR_MARK = 257, b'ustar'
_STORAGE_DTYPES = {
    'FloatStorage': np.float32, 'HalfStorage': np.float16, 'DoubleStorage': np.float64,
    'LongStorage': np.int64, 'IntStorage': np.int32,
}
# Storage types live in torch and, in files written from a GPU by old versions, torch.cuda.
_STORAGE_MODULES = ('torch', 'torch.cuda')
_LIST_LIMIT = 6  # names listed in an error message before '...'


class CheckpointError(ValueError):
  """A file that cannot be read as a PyTorch state dict; the message names the file and why."""


def _listing(names):
  names = list(names)
  shown = ', '.join(map(str, names[:_LIST_LIMIT]))
  return shown + (f', ... ({len(names) - _LIST_LIMIT} more)' if len(names) > _LIST_LIMIT else '')


class _Sealed:
  """The objects this unpickler makes: a pickle cannot set their attributes (BUILD)."""
  __slots__ = ()

  def __setstate__(self, state):
    raise ValueError(f'the file sets the state of a {type(self).__name__}')


class _StorageType(_Sealed):
  """What the unpickler gives for a storage type global such as torch.FloatStorage."""
  __slots__ = ('name', 'dtype')

  def __init__(self, name, dtype):
    self.name = name
    self.dtype = np.dtype(dtype)


class _Storage(_Sealed):
  """One storage of the file: `numel` elements of `dtype`, read into `data` (1-D) once known.

  A legacy view is a slice [offset, offset + numel) of its root storage.
  """
  __slots__ = ('dtype', 'numel', 'root', 'offset', '_data')

  def __init__(self, dtype, numel, root=None, offset=0):
    self.dtype = dtype
    self.numel = numel
    self.root = root
    self.offset = offset
    self._data = None

  @property
  def data(self):
    if self.root is not None:
      return self.root.data[self.offset:self.offset + self.numel]
    return self._data

  @data.setter
  def data(self, values):
    self._data = values


class _TensorRecord(_Sealed):
  """A tensor as the pickle describes it; made an array once its storage's data is read."""
  __slots__ = ('storage', 'offset', 'size', 'stride')

  def __init__(self, storage, offset, size, stride):
    self.storage = storage
    self.offset = offset
    self.size = size
    self.stride = stride


def _is_int_tuple(value):
  return isinstance(value, tuple) and all(isinstance(v, int) and v >= 0 for v in value)


def _rebuild_tensor(storage, storage_offset, size, stride):
  """Stands in for torch._utils._rebuild_tensor (torch < 0.4)."""
  if not (isinstance(storage, _Storage) and isinstance(storage_offset, int) and
          _is_int_tuple(size) and _is_int_tuple(stride) and len(size) == len(stride)):
    # A ValueError: `_unpickle` reports it as corrupt data, naming the file.
    raise ValueError('malformed tensor record (expected a storage, an offset, a size and a '
                     f'stride; got {type(storage).__name__}, {storage_offset!r}, {size!r}, '
                     f'{stride!r})')
  return _TensorRecord(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       metadata=None):
  """Stands in for torch._utils._rebuild_tensor_v2 (torch >= 0.4); gradients and hooks do not
  matter for weights."""
  del requires_grad, backward_hooks, metadata
  return _rebuild_tensor(storage, storage_offset, size, stride)


_ADMITTED = {
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('torch._utils', '_rebuild_tensor'): _rebuild_tensor,
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor_v2,
}
_ADMITTED.update({(module, name): _StorageType(name, dtype) for module in _STORAGE_MODULES
                  for name, dtype in _STORAGE_DTYPES.items()})


class _Unpickler(pickle.Unpickler):
  """An unpickler that admits only the globals of `_ADMITTED` and hands storage ids to
  `load_storage` (none are expected without one)."""

  def __init__(self, file, path, load_storage=None):
    super().__init__(file, encoding='utf-8')
    self._path = path
    self._load_storage = load_storage

  def find_class(self, module, name):
    admitted = _ADMITTED.get((module, name))
    if admitted is not None:
      return admitted
    if module in _STORAGE_MODULES and name.endswith('Storage'):
      raise CheckpointError(f'{self._path}: holds a storage of type {module}.{name}, which is not '
                            'read; supported: ' + ', '.join(_STORAGE_DTYPES) + '.')
    raise CheckpointError(
        f'{self._path}: its pickle names the global {module}.{name}, which a state dict of tensors '
        'does not need; refused without running it (admitted: collections.OrderedDict, '
        "PyTorch's tensor-rebuild functions and storage types). A file of torch.save(model) "
        'holds the model\'s classes: save model.state_dict() instead.')

  def persistent_load(self, pid):
    if self._load_storage is None:
      raise CheckpointError(f'{self._path}: unexpected storage reference {pid!r} outside the '
                            'object pickle.')
    return self._load_storage(pid)


def _unpickle(file, path, what, load_storage=None):
  """Unpickles one object; errors other than CheckpointError become one naming the file."""
  try:
    return _Unpickler(file, path, load_storage).load()
  except CheckpointError:
    raise
  except EOFError:
    raise CheckpointError(f'{path}: truncated: the file ends inside {what}.') from None
  except Exception as e:  # pylint: disable=broad-except (any failure of untrusted pickle data)
    raise CheckpointError(f'{path}: corrupt {what} ({type(e).__name__}: {e}).') from None


def _storage_id(pid, path, fields):
  """(storage type, key, numel, rest) of a persistent id ('storage', type, key, location, numel,
  ...) with `fields` entries after 'storage'."""
  if not (isinstance(pid, tuple) and len(pid) == fields + 1 and pid[0] == 'storage' and
          isinstance(pid[1], _StorageType) and isinstance(pid[2], str) and
          isinstance(pid[4], int) and pid[4] >= 0):
    raise CheckpointError(f'{path}: malformed storage reference {pid!r}.')
  return pid[1], pid[2], pid[4], pid[5:]


def _load_legacy(f, path):
  """The object of a legacy-format file (open at its start), its tensors read."""
  try:
    magic = _Unpickler(f, path).load()
  except Exception:  # pylint: disable=broad-except (not a pickle at all: not a checkpoint)
    magic = None
  if magic != MAGIC_NUMBER:
    raise CheckpointError(f'{path}: not a PyTorch checkpoint (neither the zip format of '
                          'torch.save nor its legacy format: no magic number).')
  version = _unpickle(f, path, 'the protocol version')
  if version != PROTOCOL_VERSION:
    raise CheckpointError(f'{path}: legacy PyTorch format version {version!r}; only '
                          f'{PROTOCOL_VERSION} exists.')
  _unpickle(f, path, 'the writer\'s system record')  # as in PyTorch, not needed to read the data
  roots, views = {}, {}

  def load_storage(pid):
    storage_type, key, numel, (view,) = _storage_id(pid, path, 5)
    root = roots.setdefault(key, _Storage(storage_type.dtype, numel))
    if root.dtype != storage_type.dtype or root.numel != numel:
      raise CheckpointError(f'{path}: storage {key} is described twice, differently.')
    if view is None:
      return root
    if not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[0], str) and
            isinstance(view[1], int) and isinstance(view[2], int) and 0 <= view[1] and
            0 <= view[2] and view[1] + view[2] <= numel):
      raise CheckpointError(f'{path}: malformed view {view!r} of storage {key} ({numel} '
                            'elements).')
    return views.setdefault(view[0], _Storage(root.dtype, view[2], root, view[1]))

  obj = _unpickle(f, path, 'its object pickle', load_storage)
  keys = _unpickle(f, path, 'the list of storage keys')
  if (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or
      len(set(keys)) != len(keys) or set(keys) != set(roots)):
    raise CheckpointError(f'{path}: corrupt: the storage list does not match the storages the '
                          'object uses.')
  for key in keys:
    storage = roots[key]
    header = f.read(8)
    if len(header) < 8:
      raise CheckpointError(f'{path}: truncated: the file ends before storage {key}.')
    numel, = struct.unpack('<q', header)
    if numel != storage.numel:
      raise CheckpointError(f'{path}: corrupt: storage {key} holds {numel} elements, the object '
                            f'says {storage.numel}.')
    nbytes = numel * storage.dtype.itemsize
    raw = f.read(nbytes)
    if len(raw) < nbytes:
      raise CheckpointError(f'{path}: truncated: storage {key} has {len(raw)} of its {nbytes} '
                            'bytes.')
    storage.data = np.frombuffer(raw, storage.dtype.newbyteorder('<'))
  return obj


def _load_zip(path):
  """The object of a zip-format file, its tensors read."""
  try:
    archive = zipfile.ZipFile(path)
  except zipfile.BadZipFile as e:
    raise CheckpointError(f'{path}: truncated or corrupt zip archive ({e}).') from None

  def read(name):
    try:
      return archive.read(name)
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as e:
      # A damaged entry: its checksum or its local header does not match the directory.
      raise CheckpointError(f'{path}: truncated or corrupt zip archive ({name}: {e}).') from None

  with archive:
    names = set(archive.namelist())
    pickles = [n for n in names if n.endswith('/data.pkl') and n.count('/') == 1]
    if len(pickles) != 1:
      raise CheckpointError(f'{path}: a zip archive, but not a checkpoint of torch.save (it '
                            'holds no <name>/data.pkl).')
    folder = pickles[0][:-len('data.pkl')]
    order = '<'
    if folder + 'byteorder' in names:
      text = read(folder + 'byteorder').decode('ascii', 'replace')
      if text not in ('little', 'big'):
        raise CheckpointError(f'{path}: corrupt: unknown byte order {text!r}.')
      order = '<' if text == 'little' else '>'
    storages = {}

    def load_storage(pid):
      storage_type, key, numel, _ = _storage_id(pid, path, 4)
      if key not in storages:
        member = f'{folder}data/{key}'
        if member not in names:
          raise CheckpointError(f'{path}: corrupt: storage {key} ({member}) is missing.')
        raw = read(member)
        if len(raw) != numel * storage_type.dtype.itemsize:
          raise CheckpointError(f'{path}: corrupt: storage {key} has {len(raw)} bytes, the '
                                f'object says {numel} elements of {storage_type.dtype.name}.')
        storages[key] = _Storage(storage_type.dtype, numel)
        storages[key].data = np.frombuffer(raw, storage_type.dtype.newbyteorder(order))
      storage = storages[key]
      if storage.dtype != storage_type.dtype or storage.numel != numel:
        raise CheckpointError(f'{path}: storage {key} is described twice, differently.')
      return storage

    return _unpickle(io.BytesIO(read(pickles[0])), path, 'its object pickle', load_storage)


def _to_array(record, name, path):
  """The numpy array (a copy) of a tensor record."""
  data = record.storage.data
  size, stride, offset = record.size, record.stride, record.offset
  if any(s == 0 for s in size):
    return np.zeros(size, data.dtype)
  last = offset + sum((s - 1) * st for s, st in zip(size, stride))
  if offset < 0 or last >= len(data):
    raise CheckpointError(f'{path}: corrupt: tensor {name} (size {size}, stride {stride}, offset '
                          f'{offset}) reaches beyond its storage of {len(data)} elements.')
  view = np.lib.stride_tricks.as_strided(data[offset:], shape=size,
                                         strides=[st * data.itemsize for st in stride])
  return np.array(view, dtype=data.dtype.newbyteorder('='))


def load_state_dict(path):
  """The state dict `torch.save(module.state_dict(), path)` wrote, without PyTorch.

  Args:
    path: a file of torch.save, in its legacy or its zip format.

  Returns:
    {parameter or buffer name: numpy array}, in the file's order, in the stored dtype (float32 or
    float16 for weights).

  Raises:
    CheckpointError: naming the file: not a PyTorch checkpoint, truncated, corrupt, a global
      that is not admitted (never called), or not a state dict of tensors.
    OSError: the file cannot be opened or read.
  """
  with open(path, 'rb') as f:
    head = f.read(_TAR_MARK_OFFSET + len(_TAR_MARK))
    if not head:
      raise CheckpointError(f'{path}: empty file; expected a PyTorch checkpoint.')
    if head.startswith(_ZIP_SIGNATURE):
      obj = _load_zip(path)
    elif head[_TAR_MARK_OFFSET:] == _TAR_MARK:
      raise CheckpointError(f'{path}: a tar archive (the format of torch < 0.1.10, or not a '
                            'checkpoint); load and save it again with a newer PyTorch.')
    else:
      f.seek(0)
      obj = _load_legacy(f, path)
  if not isinstance(obj, dict):
    raise CheckpointError(f'{path}: holds a {type(obj).__name__}, not a state dict; save '
                          'model.state_dict().')
  others = [k for k, v in obj.items() if not (isinstance(k, str) and
                                              isinstance(v, _TensorRecord))]
  if others:
    raise CheckpointError(f'{path}: not a state dict of tensors: entries {_listing(others)} are '
                          'not named tensors; save model.state_dict().')
  return collections.OrderedDict((k, _to_array(v, k, path)) for k, v in obj.items())
