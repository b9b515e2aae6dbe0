"""The PyTorch importer: reading torch.save files without PyTorch, the mapping, parity, refusals.

The committed fixtures (tests/fixtures/torch/, written by tests/make_torch_fixtures.py with real
torch.save) are imported without PyTorch, and the imported networks must compute what PyTorch
computed on them (expected.npz) to 1e-5. The tests marked `slow` that need PyTorch build the
full-size networks and are skipped, with the reason shown, where it is not installed.
"""

import collections
import dataclasses
import io
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile

import helpers
import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from stargan_tf import config as config_lib
from stargan_tf import contract
from stargan_tf import export_lib
from stargan_tf import import_torch_lib
from stargan_tf import labels
from stargan_tf import models
from stargan_tf import runs
from stargan_tf import tflite_lib
from stargan_tf import torch_checkpoint
from stargan_tf import trainer
from stargan_tf import translate_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'torch')
EXPECTED = dict(np.load(os.path.join(FIXTURES, 'expected.npz')))
# The fixtures' model flags (make_torch_fixtures.py): 32 px, conv_dims 4, D with 3 strided convs.
FIXTURE_MODEL = dict(image_size=32, g_conv_dim=4, d_conv_dim=4, d_repeat_num=3)
G_REPEAT = {'celeba': 2, 'joint': 1}
STEP = {'celeba': 1000, 'joint': 500}
FIXTURE_TOLERANCE = 1e-5
FULL_SIZE_TOLERANCE = 1e-4
NO_TORCH = ('PyTorch is not installed (pip install torch): the full-size parity tests build the '
            'reference networks with it')


def _pixels(values):
  """make_torch_fixtures.pixels, without importing PyTorch."""
  return values.astype(np.float32) / np.float32(127.5) - np.float32(1)


def _files(layout, fmt, step=None):
  folder = os.path.join(FIXTURES, layout, fmt)
  step = STEP[layout] if step is None else step
  return os.path.join(folder, f'{step}-G.ckpt'), os.path.join(folder, f'{step}-D.ckpt')


def _config(base, work_dir, layout='celeba', **model):
  """`base` (a tiny config on a synthetic dataset) with the fixtures' model and `work_dir`."""
  values = {**FIXTURE_MODEL, 'g_repeat_num': G_REPEAT[layout], **model}
  return dataclasses.replace(
      helpers.with_train(base, work_dir=str(work_dir)),
      model=dataclasses.replace(base.model, **values)).validate()


@pytest.fixture(scope='module')
def celeba_config(make_tiny_config, tmp_path_factory):
  """make(work_dir, **model): the celeba fixtures' flags on the tiny synthetic CelebA dataset."""
  base = make_tiny_config(tmp_path_factory.mktemp('unused'))
  return lambda work_dir, **model: _config(base, work_dir, **model)


@pytest.fixture(scope='module')
def joint_config(make_tiny_both_config, tmp_path_factory):
  base = make_tiny_both_config(tmp_path_factory.mktemp('unused'))
  return lambda work_dir, **model: _config(base, work_dir, 'joint', **model)


@pytest.fixture(scope='module')
def imported(celeba_config, tmp_path_factory):
  """The celeba fixture pair (legacy format, as released) imported once; tests only read it."""
  config = celeba_config(tmp_path_factory.mktemp('imported') / 'run')
  return import_torch_lib.import_run(config, *_files('celeba', 'legacy'))


@pytest.fixture(scope='module')
def imported_g(celeba_config, tmp_path_factory):
  """The celeba fixture G alone (zip format) imported once; tests only read it."""
  config = celeba_config(tmp_path_factory.mktemp('imported_g') / 'run')
  return import_torch_lib.import_run(config, _files('celeba', 'zip')[0])


def _max_diffs(restored, outputs, inputs=None):
  """Max |Keras - PyTorch| of G's image and D's two outputs of the fixture set `outputs` (those it
  has), on the input of the set `inputs` (default: the same)."""
  inputs = inputs or outputs
  x, c = _pixels(EXPECTED[f'{inputs}_pixels']), EXPECTED[f'{inputs}_c']
  diffs = {}
  if f'{outputs}_g' in EXPECTED:
    diffs['G'] = float(np.abs(restored.G(x, c).numpy() - EXPECTED[f'{outputs}_g']).max())
  if restored.D is not None:
    src, cls = restored.D(x)
    diffs['D_src'] = float(np.abs(src.numpy() - EXPECTED[f'{outputs}_d_src']).max())
    diffs['D_cls'] = float(np.abs(cls.numpy() - EXPECTED[f'{outputs}_d_cls']).max())
  return diffs


# Reading torch.save files.


def test_both_formats_read_the_same_state_dict():
  legacy = torch_checkpoint.load_state_dict(_files('celeba', 'legacy')[0])
  zipped = torch_checkpoint.load_state_dict(_files('celeba', 'zip')[0])
  assert list(legacy) == list(zipped)
  assert list(legacy)[:6] == ['main.0.weight', 'main.1.weight', 'main.1.bias',
                              'main.1.running_mean', 'main.1.running_var',
                              'main.1.num_batches_tracked']
  for key, value in legacy.items():
    assert value.dtype == zipped[key].dtype and value.shape == zipped[key].shape, key
    np.testing.assert_array_equal(value, zipped[key], err_msg=key)
  assert legacy['main.0.weight'].dtype == np.float32 and legacy['main.0.weight'].shape == (
      4, 8, 7, 7)
  assert legacy['main.1.num_batches_tracked'].dtype == np.int64
  assert legacy['main.1.num_batches_tracked'].shape == ()
  assert legacy['main.11.weight'].shape == (16, 8, 4, 4)  # ConvTranspose2d: [in, out, kh, kw]


@pytest.mark.parametrize('fmt', ['legacy', 'zip'])
def test_float16_storages(fmt):
  half = torch_checkpoint.load_state_dict(os.path.join(FIXTURES, 'half', fmt, '1000-D.ckpt'))
  full = torch_checkpoint.load_state_dict(_files('celeba', fmt)[1])
  assert list(half) == list(full)
  for key, value in half.items():
    assert value.dtype == np.float16, key
    np.testing.assert_array_equal(value, full[key].astype(np.float16), err_msg=key)


class _Global:
  """A global reference in a hand-written pickle (module, name)."""

  def __init__(self, module, name):
    self.module, self.name = module, name


class _Call:
  """`func(*args)` in a hand-written pickle (REDUCE)."""

  def __init__(self, func, args):
    self.func, self.args = func, args


class _Persistent:
  """A persistent id in a hand-written pickle (BINPERSID)."""

  def __init__(self, pid):
    self.pid = pid


class _Build:
  """`obj` given the state `state` in a hand-written pickle (BUILD)."""

  def __init__(self, obj, state):
    self.obj, self.state = obj, state


def _dumps(value, py2_strings=False):
  """Protocol-2 pickle bytes of `value`, written opcode by opcode so that they can name torch's
  globals without torch (and Python 2's byte strings, as PyTorch 0.3 under Python 2 wrote)."""
  out = bytearray(b'\x80\x02')

  def emit(v):
    if v is None:
      out.extend(b'N')
    elif isinstance(v, bool):
      out.extend(b'\x88' if v else b'\x89')
    elif isinstance(v, int) and -2**31 <= v < 2**31:
      out.extend(b'J' + struct.pack('<i', v))
    elif isinstance(v, int):
      data = v.to_bytes((v.bit_length() + 8) // 8, 'little', signed=True)
      out.extend(b'\x8a' + bytes([len(data)]) + data)
    elif isinstance(v, float):
      out.extend(b'G' + struct.pack('>d', v))
    elif isinstance(v, str):
      data = v.encode()
      out.extend((b'U' + bytes([len(data)]) if py2_strings else
                  b'X' + struct.pack('<I', len(data))) + data)
    elif isinstance(v, tuple):
      out.extend(b'(')
      for item in v:
        emit(item)
      out.extend(b't')
    elif isinstance(v, list):
      out.extend(b'](')
      for item in v:
        emit(item)
      out.extend(b'e')
    elif isinstance(v, dict):
      if isinstance(v, collections.OrderedDict):
        emit(_Call(_Global('collections', 'OrderedDict'), ()))
        out.extend(b'(')
      else:
        out.extend(b'}(')
      for key, item in v.items():
        emit(key)
        emit(item)
      out.extend(b'u')
    elif isinstance(v, _Global):
      out.extend(f'c{v.module}\n{v.name}\n'.encode())
    elif isinstance(v, _Call):
      emit(v.func)
      emit(v.args)
      out.extend(b'R')
    elif isinstance(v, _Persistent):
      emit(v.pid)
      out.extend(b'Q')
    elif isinstance(v, _Build):
      emit(v.obj)
      emit(v.state)
      out.extend(b'b')
    else:
      raise TypeError(type(v))

  emit(value)
  return bytes(out + b'.')


def _tensor_v1(key, numel, offset, size, stride, storage='FloatStorage', module='torch.cuda',
               view=None):
  """A tensor as PyTorch < 0.4 pickled it: _rebuild_tensor(storage, offset, size, stride), the
  storage a GPU one."""
  pid = ('storage', _Global(module, storage), key, 'cuda:0', numel, view)
  return _Call(_Global('torch._utils', '_rebuild_tensor'), (_Persistent(pid), offset, size, stride))


def _legacy_file(path, obj, storages, py2_strings=True):
  """Writes a legacy-format file: the header pickles, `obj`, the storage keys, then each storage
  of `storages` ({key: 1-D array}) as an int64 count and its little-endian elements."""
  sys_info = {'protocol_version': 1001, 'little_endian': True,
              'type_sizes': {'short': 2, 'int': 4, 'long': 8}}
  parts = [_dumps(torch_checkpoint.MAGIC_NUMBER), _dumps(1001), _dumps(sys_info, py2_strings),
           _dumps(obj, py2_strings), _dumps(list(storages), py2_strings)]
  for data in storages.values():
    data = np.asarray(data)
    parts.append(struct.pack('<q', data.size) + data.astype(data.dtype.newbyteorder('<'))
                 .tobytes())
  with open(path, 'wb') as f:
    f.write(b''.join(parts))
  return str(path)


def _as_torch_0_3_wrote(state, path):
  """`state` ({name: float32 array}) written as the released files were: PyTorch 0.3's legacy
  format, _rebuild_tensor, GPU storages, no batch counters."""
  obj, storages = collections.OrderedDict(), {}
  for i, (key, value) in enumerate(state.items()):
    if key.endswith('num_batches_tracked'):
      continue
    storages[str(i)] = value.ravel()
    stride = tuple(int(np.prod(value.shape[k + 1:])) for k in range(value.ndim))
    obj[key] = _tensor_v1(str(i), value.size, 0, tuple(value.shape), stride)
  return _legacy_file(path, obj, storages)


def test_storage_views_strides_and_offsets(tmp_path):
  """Old PyTorch could save tensors sharing one storage through views; offsets and strides."""
  root = np.arange(10, dtype=np.float32)
  obj = collections.OrderedDict([
      ('a', _tensor_v1('r', 10, 0, (2, 3), (3, 1), view=('v1', 0, 6))),
      ('b', _tensor_v1('r', 10, 0, (2, 2), (1, 2), view=('v2', 6, 4))),  # transposed
      ('c', _tensor_v1('r', 10, 1, (3,), (3,))),
      ('d', _tensor_v1('r', 10, 0, (0, 5), (5, 1))),
  ])
  state = torch_checkpoint.load_state_dict(_legacy_file(tmp_path / 'views.ckpt', obj,
                                                        {'r': root}))
  np.testing.assert_array_equal(state['a'], [[0, 1, 2], [3, 4, 5]])
  np.testing.assert_array_equal(state['b'], [[6, 8], [7, 9]])
  np.testing.assert_array_equal(state['c'], [1, 4, 7])
  assert state['d'].shape == (0, 5)


@pytest.mark.parametrize('fmt', ['legacy', 'zip', 'torch 0.3'])
def test_imported_networks_match_pytorch(celeba_config, tmp_path, fmt):
  generator, discriminator = _files('celeba', 'zip' if fmt == 'zip' else 'legacy')
  if fmt == 'torch 0.3':
    generator = _as_torch_0_3_wrote(torch_checkpoint.load_state_dict(generator),
                                    tmp_path / '1000-G.ckpt')
    discriminator = _as_torch_0_3_wrote(torch_checkpoint.load_state_dict(discriminator),
                                        tmp_path / '1000-D.ckpt')
  result = import_torch_lib.import_run(celeba_config(tmp_path / 'run'), generator, discriminator)
  assert result.step == 1000 and result.with_discriminator
  assert result.checkpoint == str(tmp_path / 'run' / 'checkpoints' / 'ckpt-1000')
  diffs = _max_diffs(runs.Run(result.work_dir).restore(), 'celeba')
  print(f'fixture celeba {fmt}: {diffs}')
  assert max(diffs.values()) <= FIXTURE_TOLERANCE, diffs


def test_joint_layout_matches_pytorch(joint_config, tmp_path):
  config = joint_config(tmp_path / 'run')
  assert config.label_space.label_dim == 15 and config.label_space.num_domains == 13
  result = import_torch_lib.import_run(config, *_files('joint', 'zip'))
  assert result.step == 500
  diffs = _max_diffs(runs.Run(result.work_dir).restore(), 'joint')
  print(f'fixture joint zip: {diffs}')
  assert max(diffs.values()) <= FIXTURE_TOLERANCE, diffs


@pytest.mark.parametrize('fmt', ['legacy', 'zip'])
def test_float16_discriminator_matches_pytorch(celeba_config, tmp_path, fmt):
  result = import_torch_lib.import_run(celeba_config(tmp_path / 'run'), _files('celeba', fmt)[0],
                                       os.path.join(FIXTURES, 'half', fmt, '1000-D.ckpt'))
  restored = runs.Run(result.work_dir).restore()
  assert restored.D.conv1.kernel.dtype == 'float32'
  diffs = _max_diffs(restored, 'half', 'celeba')
  print(f'fixture float16 D {fmt}: {diffs}')
  assert max(diffs.values()) <= FIXTURE_TOLERANCE, diffs


@pytest.mark.parametrize('space, g_repeat_num', [(('CelebA',), 6), (('CelebA',), 1),
                                                 (('Both',), 2)])
def test_the_mapping_covers_every_weight_once(space, g_repeat_num):
  model = config_lib.ModelConfig(image_size=64, g_conv_dim=4, d_conv_dim=4,
                                 g_repeat_num=g_repeat_num, d_repeat_num=3)
  G, D = models.build(model, labels.label_space(*space))
  for network, layers in ((G, import_torch_lib.generator_layers(G)),
                          (D, import_torch_lib.discriminator_layers(D))):
    weights = import_torch_lib.weight_map(layers)
    assert sorted(id(v) for v in weights.values()) == sorted(id(v) for v in network.weights)
    assert not any(import_torch_lib.is_ignored(k) for k in weights)
  weights = import_torch_lib.weight_map(import_torch_lib.generator_layers(G))
  assert weights[f'main.{9 + g_repeat_num}.weight'] is G.up1_conv.kernel
  assert weights[f'main.{15 + g_repeat_num}.weight'] is G.conv_out.kernel


@pytest.mark.parametrize('generator, discriminator, step, expected', [
    ('200000-G.ckpt', '200000-D.ckpt', None, 200000),
    ('runs/x/2000-G.ckpt', '', None, 2000),
    ('G.ckpt', 'D.ckpt', None, 0),
    ('G.ckpt', '300-D.ckpt', None, 300),
    ('100-G.ckpt', '200-D.ckpt', 7, 7),
])
def test_the_step_comes_from_the_file_names(generator, discriminator, step, expected):
  assert import_torch_lib.checkpoint_step(generator, discriminator, step) == expected


def test_files_of_two_steps_are_refused():
  with pytest.raises(ValueError, match=r'--generator=100-G.ckpt and --discriminator=200-D.ckpt are '
                     r'of different steps \(100 and 200\)'):
    import_torch_lib.checkpoint_step('100-G.ckpt', '200-D.ckpt')


# The imported run, used by the tools.


def test_the_run_folder_is_a_training_run_s(imported):
  run = runs.Run(imported.work_dir)
  assert sorted(os.listdir(run.work_dir)) == ['checkpoints', 'config.json']
  assert run.checkpoint_steps() == [1000]
  assert runs.checkpoint_objects(run.checkpoint_path()) >= set(runs.TRAINING_OBJECTS)
  reader = tf.train.load_checkpoint(run.checkpoint_path())
  values = {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(
      run.checkpoint_path()) if name != '_CHECKPOINTABLE_OBJECT_GRAPH'}
  assert values['step/.ATTRIBUTES/VARIABLE_VALUE'] == 1000
  # Fresh Adam: every moment and the iteration count are zero, the learning rate the flags'.
  for name in ('g_optimizer', 'd_optimizer'):
    moments = [v for k, v in values.items() if k.startswith(f'{name}/_variables/')]
    assert moments and not any(np.any(v) for v in moments), name
    assert values[f'{name}/_iterations/.ATTRIBUTES/VARIABLE_VALUE'] == 0
    assert values[f'{name}/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE'] == np.float32(1e-4)


def test_export_of_an_imported_run_matches_pytorch(imported, imported_g, tmp_path):
  for result in (imported, imported_g):
    path = export_lib.export_from_work_dir(result.work_dir, str(tmp_path / 'exports'))
    serve = tf.saved_model.load(path).signatures[contract.SERVING_DEFAULT]
    out = serve(image=tf.constant(_pixels(EXPECTED['celeba_pixels'])),
                target=tf.constant(EXPECTED['celeba_c']))['image'].numpy()
    diff = float(np.abs(out - EXPECTED['celeba_g']).max())
    print(f'fixture SavedModel serving_default ({os.path.basename(path)}): {diff:.3g}')
    assert diff <= FIXTURE_TOLERANCE


def test_translate_an_imported_run(imported, tmp_path):
  photos = tmp_path / 'photos'
  photos.mkdir()
  for i in range(3):
    Image.fromarray(EXPECTED['celeba_pixels'][i % 2]).save(photos / f'{i}.png')
  # The fixture's images are random pixels, not faces: their central squares are translated.
  written = translate_lib.translate(imported.work_dir, str(tmp_path / 'own'), str(photos),
                                    align=False)
  assert [os.path.basename(p) for p in written] == ['000001-images.png']
  written = translate_lib.translate(imported.work_dir, str(tmp_path / 'split'), max_images=2)
  assert len(written) == 1


def test_a_generator_alone_translates_and_exports_but_does_not_train(imported_g, celeba_config,
                                                                      tmp_path):
  run = runs.Run(imported_g.work_dir)
  path = run.checkpoint_path()
  assert not imported_g.with_discriminator
  assert runs.checkpoint_objects(path) == {'G', 'save_counter', '_CHECKPOINTABLE_OBJECT_GRAPH'}
  restored = run.restore()
  assert restored.D is None and restored.step == 1000
  assert _max_diffs(restored, 'celeba')['G'] <= FIXTURE_TOLERANCE
  assert len(translate_lib.translate(run.work_dir, str(tmp_path / 'split'), max_images=2)) == 1
  photos = tmp_path / 'photos'
  photos.mkdir()
  Image.fromarray(EXPECTED['celeba_pixels'][0]).save(photos / 'a.png')
  with pytest.raises(ValueError, match='holds only a generator .*--input_dir reads the attributes '
                     'of your images off the discriminator'):
    translate_lib.translate(run.work_dir, str(tmp_path / 'own'), str(photos), align=False)
  # The browser demo works without a classifier too: the domains not named start from 0.
  from stargan_tf import demo_lib  # pylint: disable=g-import-not-at-top
  model = demo_lib.from_work_dir(run.work_dir)
  assert model.classify is None
  x = _pixels(EXPECTED['celeba_pixels'])
  assert np.abs(model.generate(x, EXPECTED['celeba_c']) - EXPECTED['celeba_g']).max() <= (
      FIXTURE_TOLERANCE)
  # Training refuses it before it trains or saves anything.
  config = celeba_config(run.work_dir)
  with pytest.raises(ValueError, match='holds no D, g_optimizer, d_optimizer, step, rng, which '
                     'training resumes from. A generator imported from PyTorch without '
                     '--discriminator holds G alone'):
    trainer.train(helpers.with_train(config, num_iters=1001))
  assert run.checkpoint_steps() == [1000]


@pytest.mark.slow
def test_training_resumes_from_an_imported_pair(celeba_config, tmp_path):
  config = helpers.with_train(celeba_config(tmp_path / 'run'), num_iters=1001, num_iters_decay=0,
                              n_critic=1, log_step=1, sample_step=1001, model_save_step=1001)
  import_torch_lib.import_run(config, *_files('celeba', 'legacy'))
  before = runs.Run(config.train.work_dir).restore()
  metrics = helpers.train_as_in_a_new_process(config)  # restores with assert_consumed()
  assert metrics and all(np.isfinite(v) for v in metrics.values())
  run = runs.Run(config.train.work_dir)
  assert run.checkpoint_steps() == [1000, 1001]
  after = run.restore()
  assert not np.array_equal(before.G.conv_in.kernel.numpy(), after.G.conv_in.kernel.numpy())


@pytest.mark.slow
def test_tflite_of_an_imported_run_matches_pytorch(imported, tmp_path):
  saved_model = export_lib.export_from_work_dir(imported.work_dir, str(tmp_path / 'exports'))
  output = str(tmp_path / 'stargan.tflite')
  tflite_lib.convert(saved_model, output)
  model = tflite_lib.load_interpreter(output)
  x, c = _pixels(EXPECTED['celeba_pixels']), EXPECTED['celeba_c']
  out = np.concatenate([tflite_lib.run_tflite(model, x[i:i + 1], c[i:i + 1])
                        for i in range(len(x))])
  diff = float(np.abs(out - EXPECTED['celeba_g']).max())
  print(f'fixture TFLite (none): {diff:.3g}')
  assert diff <= FIXTURE_TOLERANCE


# Refusals.


def _assert_nothing_written(work_dir):
  parent = os.path.dirname(work_dir)
  assert not os.path.exists(work_dir)
  assert not [n for n in os.listdir(parent) if '.partial-' in n] if os.path.isdir(parent) else True


def test_wrong_label_count_lists_the_differences_and_the_flag(celeba_config, tmp_path):
  config = celeba_config(tmp_path / 'run')
  rafd = dataclasses.replace(config, data=dataclasses.replace(config.data, dataset='RaFD'))
  assert rafd.label_space.label_dim == 8
  with pytest.raises(ValueError) as e:
    import_torch_lib.import_run(rafd, *_files('celeba', 'legacy'))
  message = str(e.value)
  assert '\n' not in message
  assert ('1000-G.ckpt does not fit the generator the flags describe (g_conv_dim 4, '
          'g_repeat_num 2, 8 label columns): mis-shaped main.0.weight (4, 8, 7, 7) (expected '
          '(4, 11, 7, 7)).') in message
  assert ('1000-D.ckpt does not fit the discriminator the flags describe (image_size 32, '
          'd_conv_dim 4, d_repeat_num 3, 8 domains): mis-shaped conv2.weight (5, 16, 4, 4) '
          '(expected (8, 16, 4, 4)).') in message
  assert message.endswith('Flags that fit the files: --c_dim=5 with 5 class folders in '
                          '--rafd_image_dir (--flagfile=configs/rafd.flags: 8), or '
                          '--dataset=CelebA with 5 --selected_attrs '
                          '(--flagfile=configs/celeba.flags names 5).')
  _assert_nothing_written(config.train.work_dir)


def test_a_joint_model_under_single_dataset_flags_suggests_both(celeba_config, tmp_path):
  config = celeba_config(tmp_path / 'run', g_repeat_num=1)
  with pytest.raises(ValueError, match=r'Flags that fit the files: --dataset=Both with --c_dim '
                     r'plus --c2_dim = 13 \(the files are a joint model'):
    import_torch_lib.import_run(config, *_files('joint', 'zip'))
  _assert_nothing_written(config.train.work_dir)


def test_wrong_image_size_for_d(celeba_config, tmp_path):
  config = celeba_config(tmp_path / 'run', image_size=64)
  with pytest.raises(ValueError) as e:
    import_torch_lib.import_run(config, *_files('celeba', 'zip'))
  message = str(e.value)
  assert 'generator' not in message.split('Flags')[0]  # G has no image size: it fits
  assert ('mis-shaped conv2.weight (5, 16, 4, 4) (expected (5, 16, 8, 8)). Flags that fit the '
          'files: --image_size=32.') in message
  _assert_nothing_written(config.train.work_dir)


def test_wrong_architecture_lists_missing_and_unexpected_keys(celeba_config, tmp_path):
  config = celeba_config(tmp_path / 'run', g_repeat_num=3, d_conv_dim=8)
  with pytest.raises(ValueError) as e:
    import_torch_lib.import_run(config, *_files('celeba', 'legacy'))
  message = str(e.value)
  # With 3 blocks the up-sampling layers move up by one index: main.11 is a block, not a convT.
  assert ('missing main.11.main.0.weight, main.11.main.1.bias, main.11.main.1.weight, '
          'main.11.main.3.weight, main.11.main.4.bias, main.11.main.4.weight, ... (5 more); '
          'unexpected main.11.weight, main.12.bias, main.14.weight, main.15.bias, main.17.weight; '
          'mis-shaped main.12.weight (8,) (expected (16, 8, 4, 4)), main.15.weight (4,) (expected '
          '(8, 4, 4, 4)).') in message
  assert 'mis-shaped conv1.weight (1, 16, 3, 3) (expected (1, 32, 3, 3)), ' in message
  assert message.endswith('Flags that fit the files: --g_repeat_num=2; --d_conv_dim=4.')


def test_swapped_files(celeba_config, tmp_path):
  generator, discriminator = _files('celeba', 'zip')
  with pytest.raises(ValueError, match='--generator names a discriminator file .* are --generator '
                     'and --discriminator swapped?'):
    import_torch_lib.import_run(celeba_config(tmp_path / 'run'), discriminator, generator)


@pytest.mark.parametrize('fmt', ['legacy', 'zip'])
def test_a_truncated_file(celeba_config, tmp_path, fmt):
  source = _files('celeba', fmt)[0]
  with open(source, 'rb') as f:
    data = f.read()
  path = tmp_path / '1000-G.ckpt'
  path.write_bytes(data[:len(data) * 2 // 3])
  expected = {'legacy': 'truncated: storage .* has .* of its .* bytes',
              'zip': r'truncated or corrupt zip archive \(File is not a zip file\)'}[fmt]
  with pytest.raises(torch_checkpoint.CheckpointError, match=f'^{path}: {expected}'):
    import_torch_lib.import_run(celeba_config(tmp_path / 'run'), str(path))
  _assert_nothing_written(str(tmp_path / 'run'))


def test_a_corrupt_zip_entry(tmp_path):
  with open(_files('celeba', 'zip')[0], 'rb') as f:
    data = bytearray(f.read())
  data[len(data) // 2] ^= 0xff  # inside a storage: its CRC no longer matches
  path = tmp_path / 'bad.ckpt'
  path.write_bytes(bytes(data))
  with pytest.raises(torch_checkpoint.CheckpointError,
                     match=f'^{path}: truncated or corrupt zip archive .*Bad CRC-32'):
    torch_checkpoint.load_state_dict(str(path))


def _evil_object(marker):
  """A pickled call of os.system that would create `marker`."""
  return collections.OrderedDict(
      w=_Call(_Global('os', 'system'), (f'touch {marker}',)))


@pytest.mark.parametrize('fmt', ['legacy', 'zip'])
def test_a_forbidden_global_is_refused_without_running_it(tmp_path, fmt):
  marker = tmp_path / 'ran'
  path = tmp_path / 'evil.ckpt'
  if fmt == 'legacy':
    _legacy_file(path, _evil_object(marker), {}, py2_strings=False)
  else:
    with zipfile.ZipFile(path, 'w') as z:
      z.writestr('evil/data.pkl', _dumps(_evil_object(marker)))
      z.writestr('evil/version', '3\n')
  with pytest.raises(torch_checkpoint.CheckpointError,
                     match=f'^{path}: its pickle names the global os.system, which a state dict '
                           'of tensors does not need; refused without running it'):
    torch_checkpoint.load_state_dict(str(path))
  assert not marker.exists()


def test_a_whole_model_pickle_is_refused(tmp_path):
  model = _Call(_Global('model', 'Generator'), ())
  path = _legacy_file(tmp_path / 'model.ckpt', model, {})
  with pytest.raises(torch_checkpoint.CheckpointError,
                     match='global model.Generator.* save model.state_dict'):
    torch_checkpoint.load_state_dict(path)


def _png_bytes():
  buffer = io.BytesIO()
  Image.fromarray(np.zeros([4, 4, 3], np.uint8)).save(buffer, format='PNG')
  return buffer.getvalue()


@pytest.mark.parametrize('name, content, message', [
    ('photo.png', _png_bytes(), 'not a PyTorch checkpoint'),
    ('notes.txt', b'hello\n' * 100, 'not a PyTorch checkpoint'),
    ('empty.ckpt', b'', 'empty file'),
    ('plain.pkl', _dumps({'a': 1}), 'not a PyTorch checkpoint'),
    ('arrays.npz', None, r'a zip archive, but not a checkpoint of torch.save'),
    ('old.tar', b'\0' * 257 + b'ustar' + b'\0' * 250, 'a tar archive'),
])
def test_files_that_are_not_checkpoints(tmp_path, name, content, message):
  path = tmp_path / name
  if content is None:
    np.savez(path, a=np.zeros(3))
  else:
    path.write_bytes(content)
  with pytest.raises(torch_checkpoint.CheckpointError, match=f'^{path}: {message}'):
    torch_checkpoint.load_state_dict(str(path))


@pytest.mark.parametrize('tensor, keys, message', [
    (_tensor_v1('0', 4, 0, ('a',), (1,)), ['0'], 'corrupt its object pickle .*malformed tensor '
     'record'),
    (_Build(_tensor_v1('0', 4, 0, (4,), (1,)), {'storage': 5}), ['0'], 'corrupt its object '
     'pickle .*sets the state of a _TensorRecord'),
    (_tensor_v1('0', 4, 2, (4,), (1,)), ['0'], r'corrupt: tensor w \(size \(4,\), stride \(1,\), '
     r'offset 2\) reaches beyond its storage of 4 elements'),
    (_tensor_v1('0', 4, 0, (4,), (1,)), [], 'corrupt: the storage list does not match'),
    (_tensor_v1('0', 5, 0, (4,), (1,)), ['0'], 'corrupt: storage 0 holds 4 elements, the object '
     'says 5'),
])
def test_corrupt_tensor_records(tmp_path, tensor, keys, message):
  path = tmp_path / 'corrupt.ckpt'
  _legacy_file(path, collections.OrderedDict(w=tensor), {'0': np.zeros(4, np.float32)})
  if not keys:  # the same file with an empty storage list, and no storage data after it
    with open(path, 'rb') as f:
      data = f.read()
    data = data[:data.rindex(_dumps(['0'], True))] + _dumps([], True)
    path.write_bytes(data)
  with pytest.raises(torch_checkpoint.CheckpointError, match=f'^{path}: {message}'):
    torch_checkpoint.load_state_dict(str(path))


def test_an_object_that_is_not_a_state_dict(tmp_path):
  obj = collections.OrderedDict(step=5, w=_tensor_v1('0', 1, 0, (1,), (1,)))
  path = _legacy_file(tmp_path / 'mixed.ckpt', obj, {'0': np.zeros(1, np.float32)})
  with pytest.raises(torch_checkpoint.CheckpointError,
                     match='not a state dict of tensors: entries step are not named tensors'):
    torch_checkpoint.load_state_dict(path)


def test_non_finite_weights_are_refused(celeba_config, tmp_path):
  state = torch_checkpoint.load_state_dict(_files('celeba', 'legacy')[0])
  state['main.4.weight'][1] = np.nan
  path = _as_torch_0_3_wrote(state, tmp_path / '1000-G.ckpt')
  with pytest.raises(ValueError, match=r'holds non-finite values \(NaN or infinity\) in '
                     'main.4.weight'):
    import_torch_lib.import_run(celeba_config(tmp_path / 'run'), path)
  _assert_nothing_written(str(tmp_path / 'run'))


def test_an_existing_run_is_never_overwritten(imported, celeba_config):
  run = runs.Run(imported.work_dir)
  with open(run.config_path) as f:
    before = f.read()
  with pytest.raises(FileExistsError, match=r'already holds checkpoints \(ckpt-1000\); an import '
                     'writes a new run folder and never overwrites one'):
    import_torch_lib.import_run(celeba_config(run.work_dir), *_files('celeba', 'zip'))
  with open(run.config_path) as f:
    assert f.read() == before
  assert run.checkpoint_steps() == [1000]


def test_an_empty_work_dir_is_used(celeba_config, tmp_path):
  (tmp_path / 'run').mkdir()
  result = import_torch_lib.import_run(celeba_config(tmp_path / 'run'),
                                       _files('celeba', 'zip')[0], step=3)
  assert runs.Run(result.work_dir).checkpoint_steps() == [3]


# The command.


def _command(*args):
  return subprocess.run([sys.executable, '-m', 'stargan_tf.import_torch', *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=300,
                        env=dict(os.environ, PYTHONPATH=ROOT))


def _fixture_flags(work_dir):
  return ['--flagfile=configs/celeba.flags', '--image_size=32', '--g_conv_dim=4',
          '--d_conv_dim=4', '--g_repeat_num=2', '--d_repeat_num=3', f'--work_dir={work_dir}']


def test_the_command_imports_the_committed_fixtures(tmp_path):
  generator, discriminator = _files('celeba', 'legacy')
  work_dir = tmp_path / 'celeba_official'
  result = _command(f'--generator={generator}', f'--discriminator={discriminator}',
                    *_fixture_flags(work_dir))
  assert result.returncode == 0, result.stderr
  assert result.stdout.startswith(f'Imported G and D as step 1000: {work_dir}/checkpoints/'
                                  'ckpt-1000\n')
  restored = runs.Run(str(work_dir)).restore()
  assert restored.config.model.image_size == 32
  assert restored.config.data.selected_attrs == ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male',
                                                 'Young')
  assert max(_max_diffs(restored, 'celeba').values()) <= FIXTURE_TOLERANCE
  # A refusal: one line naming the file and the problem, nothing written.
  truncated = tmp_path / '1000-G.ckpt'
  with open(generator, 'rb') as f:
    truncated.write_bytes(f.read()[:-1000])  # inside the last storage, conv_out's 2,352 bytes
  result = _command(f'--generator={truncated}', *_fixture_flags(tmp_path / 'other'))
  assert result.returncode == 1
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and re.fullmatch(
      rf'error: {re.escape(str(truncated))}: truncated: storage \d+ has \d+ of its \d+ bytes\.',
      lines[0]), lines
  assert not os.path.exists(tmp_path / 'other')


# Full size, against PyTorch itself.


def _full_size_config(work_dir, image_size, layout):
  c = config_lib.Config()
  data = dataclasses.replace(c.data, dataset='Both' if layout == 'joint' else 'CelebA')
  return config_lib.Config(
      data=data, model=dataclasses.replace(c.model, image_size=image_size), loss=c.loss,
      train=dataclasses.replace(c.train, work_dir=str(work_dir))).validate()


@pytest.mark.slow
@pytest.mark.parametrize('image_size, layout', [(128, 'celeba'), (256, 'celeba'), (128, 'joint')])
def test_full_size_networks_match_pytorch(tmp_path, image_size, layout):
  pytest.importorskip('torch', reason=NO_TORCH)
  import make_torch_fixtures as reference  # pylint: disable=g-import-not-at-top (needs torch)
  label_dim, num_domains = (15, 13) if layout == 'joint' else (5, 5)
  G, D = reference.make_networks(image_size, 64, 64, 6, 6, label_dim, num_domains, seed=image_size)
  _, x, c = reference.inputs(image_size, label_dim, seed=image_size)
  expected = reference.outputs(G, D, x, c)
  x, c = x.permute(0, 2, 3, 1).numpy(), c.numpy()
  for fmt in reference.FORMATS:
    folder = tmp_path / fmt
    reference.save(G.state_dict(), str(folder / '200000-G.ckpt'), fmt)
    reference.save(D.state_dict(), str(folder / '200000-D.ckpt'), fmt)
    config = _full_size_config(folder / 'run', image_size, layout)
    result = import_torch_lib.import_run(config, str(folder / '200000-G.ckpt'),
                                         str(folder / '200000-D.ckpt'))
    restored = runs.Run(result.work_dir).restore()
    src, cls = restored.D(x)
    diffs = {'G': np.abs(restored.G(x, c).numpy() - expected['g']).max(),
             'D_src': np.abs(src.numpy() - expected['d_src']).max(),
             'D_cls': np.abs(cls.numpy() - expected['d_cls']).max()}
    export = export_lib.export_from_work_dir(result.work_dir, str(folder / 'exports'))
    serve = tf.saved_model.load(export).signatures[contract.SERVING_DEFAULT]
    diffs['SavedModel'] = np.abs(serve(image=tf.constant(x), target=tf.constant(c))['image']
                                 .numpy() - expected['g']).max()
    if fmt == 'legacy':  # the format of the released files; TFLite converts what was exported
      tflite = str(folder / 'stargan.tflite')
      tflite_lib.convert(export, tflite)
      model = tflite_lib.load_interpreter(tflite)
      out = np.concatenate([tflite_lib.run_tflite(model, x[i:i + 1], c[i:i + 1])
                            for i in range(len(x))])
      diffs['TFLite'] = np.abs(out - expected['g']).max()
    diffs = {k: float(v) for k, v in diffs.items()}
    scale = {k: float(np.abs(v).max()) for k, v in expected.items()}
    print(f'full size {image_size} px {layout} {fmt}: max abs diffs {diffs}; max abs outputs '
          f'{scale}')
    assert max(diffs.values()) <= FULL_SIZE_TOLERANCE, (fmt, diffs)
    shutil.rmtree(folder)  # 256 px files are large: keep one format's at a time
