import io
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

import keras
import numpy as np
from PIL import Image
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from stargan_tf import contract
from stargan_tf import export_lib
from stargan_tf import images
from stargan_tf import labels as labels_lib
from stargan_tf import models
from stargan_tf import runs
from stargan_tf import translate_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_NAME = 'faces'


def _encode(array, fmt):
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format=fmt)
  return buffer.getvalue()


def _black(height, width, fmt):
  return _encode(np.zeros([height, width, 3], np.uint8), fmt)


SMALL_PNG = _black(8, 8, 'PNG')
_NOISE = np.random.RandomState(0).randint(0, 256, [16, 16, 3], np.uint8)
NOISE_PNG = _encode(_NOISE, 'PNG')
NOISE_JPEG = _encode(_NOISE, 'JPEG')


def _png_chunk(kind, data):
  return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def _streamed_black_png(height, width):
  """A black RGB PNG, compressed row by row.

  A 16000x16000 one is 0.75 MB, built in 1.5 s without holding its 768 MB of pixels (Pillow would).
  """
  compressor = zlib.compressobj(9)
  row = bytes(1 + 3 * width)  # filter type 0, then black pixels
  pixels = b''.join([compressor.compress(row) for _ in range(height)] + [compressor.flush()])
  header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
  return (b'\x89PNG\r\n\x1a\n' + _png_chunk(b'IHDR', header) + _png_chunk(b'IDAT', pixels) +
          _png_chunk(b'IEND', b''))


def _corrupt(data, start, length):
  """`data` with `length` bytes zeroed from `start` (its end intact)."""
  return data[:start] + bytes(length) + data[start + length:]


@pytest.fixture(scope='module')
def trained(tiny_run):
  """The session's tiny trained run; its checkpoint is what gets exported."""
  return tiny_run


@pytest.fixture(scope='module')
def G(trained):
  return runs.Run(trained.train.work_dir).restore().G


@pytest.fixture(scope='module')
def exported(trained, tmp_path_factory):
  """(version folder, loaded SavedModel) of one export of the tiny run."""
  path = export_lib.export_from_work_dir(trained.train.work_dir,
                                     str(tmp_path_factory.mktemp('exports') / 'stargan'),
                                     model_name=MODEL_NAME)
  return path, tf.saved_model.load(path)


def _targets(n, c_dim, seed=0):
  return tf.constant(np.random.RandomState(seed).randint(0, 2, [n, c_dim]), tf.float32)


def test_layout(exported):
  path, _ = exported
  assert os.path.basename(path) == '1'
  assert sorted(os.listdir(path)) == ['assets', 'assets.extra', 'fingerprint.pb', 'saved_model.pb',
                                      'variables']
  assert sorted(os.listdir(os.path.join(path, 'assets.extra'))) == [contract.METADATA_FILE,
                                                                     contract.WARMUP_FILE]
  assert sorted(os.listdir(os.path.dirname(path))) == ['1']


@pytest.mark.parametrize('n,height,width', [(1, 32, 32), (3, 32, 32), (1, 20, 44), (3, 20, 44)])
def test_serving_default_matches_keras_generator(exported, G, n, height, width):
  x = tf.random.stateless_uniform([n, height, width, 3], [n, height], minval=-1, maxval=1)
  c = _targets(n, G.c_dim, seed=n)
  out = exported[1].signatures[contract.SERVING_DEFAULT](image=x, target=c)
  assert list(out) == ['image']
  assert out['image'].dtype == tf.float32 and out['image'].shape == (n, height, width, 3)
  np.testing.assert_allclose(out['image'].numpy(), G(x, c).numpy(), rtol=0, atol=1e-5)


def test_translate_bytes_equals_float_path(exported, G, tmp_path):
  r = np.random.RandomState(1)
  inputs = [('square.png', r.randint(0, 256, [40, 40, 3], np.uint8), 'PNG'),
            ('wide.png', r.randint(0, 256, [36, 70, 3], np.uint8), 'PNG'),
            ('tall.jpg', r.randint(0, 256, [70, 50, 3], np.uint8), 'JPEG')]
  blobs = []
  for name, array, fmt in inputs:
    blobs.append(_encode(array, fmt))
    (tmp_path / name).write_bytes(blobs[-1])
  c = _targets(3, G.c_dim)
  out = exported[1].signatures[contract.TRANSLATE_BYTES](image_bytes=tf.constant(blobs), target=c)
  assert list(out) == ['image_png'] and out['image_png'].shape == (3,)
  # The reference: the preprocessing translate applies to a user's own image files.
  x = tf.stack([translate_lib.load_own_image(str(tmp_path / name), 32) for name, _, _ in inputs])
  expected = images.denorm(G(x, c).numpy()).astype(int)
  for i, png in enumerate(out['image_png'].numpy()):
    assert png.startswith(b'\x89PNG')
    got = np.asarray(Image.open(io.BytesIO(png)))
    assert got.shape == (32, 32, 3)
    assert np.abs(got.astype(int) - expected[i]).max() <= 1, inputs[i][0]


def test_metadata_signature_and_file_agree(exported, trained):
  path, loaded = exported
  names = trained.data.selected_attrs
  out = loaded.signatures[contract.METADATA](**{contract.METADATA_INPUT: tf.constant([0])})
  assert out['domain_names'].numpy().tolist() == [[n.encode() for n in names]]
  assert out['domain_datasets'].numpy().tolist() == [[b'CelebA'] * len(names)]
  assert out['image_size'].numpy().tolist() == [32]
  assert out['label_dim'].numpy().tolist() == [len(names)]
  assert out['model_name'].numpy().tolist() == [MODEL_NAME.encode()]
  assert out['max_image_pixels'].numpy().tolist() == [contract.DEFAULT_MAX_IMAGE_PIXELS]
  meta = contract.read_export_metadata(path)
  assert contract.ModelMetadata.from_json(out['label_space'].numpy()[0].decode()) == meta
  assert meta.label_space == labels_lib.label_space('CelebA', names) == trained.label_space
  assert (meta.image_size, meta.model_name, meta.extra['version']) == (32, MODEL_NAME, 1)
  assert meta.extra['source'] == os.path.join(os.path.abspath(trained.train.work_dir),
                                              'checkpoints', 'ckpt-2')
  record = meta.to_dict()
  assert record['domain_names'] == list(names) and record['label_dim'] == len(names)
  assert record['domain_datasets'] == ['CelebA'] * len(names)
  assert record['label_layout'] == f'one column per domain: {", ".join(names)}'
  # One row per input row, whatever the values: what TF Serving's batching needs to split it.
  two = loaded.signatures[contract.METADATA](**{contract.METADATA_INPUT: tf.constant([7, 8])})
  assert {k: v.shape[0] for k, v in two.items()} == dict.fromkeys(out, 2)
  assert two['domain_names'].numpy().tolist() == out['domain_names'].numpy().tolist() * 2


def test_read_metadata_names_a_folder_that_is_not_an_export(tmp_path):
  with pytest.raises(FileNotFoundError, match='stargan.json not found'):
    contract.read_export_metadata(str(tmp_path))


def test_metadata_of_an_earlier_version_asks_for_a_new_export(tmp_path):
  (tmp_path / 'assets.extra').mkdir()
  (tmp_path / 'assets.extra' / 'stargan.json').write_text(
      '{"domain_names": ["a"], "label_dim": 1, "image_size": 8}')
  with pytest.raises(ValueError, match='earlier version of stargan_tf; export .* again'):
    contract.read_export_metadata(str(tmp_path))


def _saved_model_cli():
  cli = shutil.which('saved_model_cli')
  return [cli] if cli else [sys.executable, '-m', 'tensorflow.python.tools.saved_model_cli']


def _signature_blocks(text):
  """{signature key: its block of `saved_model_cli show --all` output}."""
  parts = re.split(r"^signature_def\['([^']+)'\]:$", text, flags=re.M)
  return dict(zip(parts[1::2], parts[2::2]))


@pytest.mark.slow
def test_saved_model_cli_lists_the_documented_signatures(exported):
  result = subprocess.run(_saved_model_cli() + ['show', '--all', '--dir', exported[0]],
                          capture_output=True, text=True, check=True)
  blocks = _signature_blocks(result.stdout)
  expected = {
      contract.SERVING_DEFAULT: {
          # Declared of unknown rank, so that the graph checks the rank and channels itself.
          "inputs['image']": ('DT_FLOAT', 'unknown_rank'),
          "inputs['target']": ('DT_FLOAT', '(-1, -1)'),
          "outputs['image']": ('DT_FLOAT', '(-1, -1, -1, 3)')},
      contract.TRANSLATE_BYTES: {
          "inputs['image_bytes']": ('DT_STRING', '(-1)'),
          "inputs['target']": ('DT_FLOAT', '(-1, -1)'),
          "outputs['image_png']": ('DT_STRING', '(-1)')},
      contract.METADATA: {
          f"inputs['{contract.METADATA_INPUT}']": ('DT_INT32', '(-1)'),
          "outputs['domain_names']": ('DT_STRING', '(-1, 5)'),
          "outputs['domain_datasets']": ('DT_STRING', '(-1, 5)'),
          "outputs['image_size']": ('DT_INT32', '(-1)'),
          "outputs['label_space']": ('DT_STRING', '(-1)'),
          "outputs['label_dim']": ('DT_INT32', '(-1)'),
          "outputs['max_image_pixels']": ('DT_INT32', '(-1)'),
          "outputs['model_name']": ('DT_STRING', '(-1)')},
  }
  for key, tensors in expected.items():
    block = blocks[key]
    assert 'Method name is: tensorflow/serving/predict' in block, key
    listed = dict((name, (dtype, shape)) for name, dtype, shape in re.findall(
        r"^\s+((?:inputs|outputs)\['\w+'\]) tensor_info:\n\s+dtype: (\w+)\n\s+shape: (.+)$",
        block, flags=re.M))
    assert listed == tensors, key


@pytest.mark.parametrize('signature,inputs,message', [
    (contract.SERVING_DEFAULT, dict(image=np.zeros([2, 32, 32, 3]), target=np.zeros([2, 3])),
     r'target must be \[N, 5\] \(one column per domain: Black_Hair, Blond_Hair, Brown_Hair, '
     r'Male, Young\), got \[N, 3\]'),
    (contract.SERVING_DEFAULT, dict(image=np.zeros([2, 32, 32, 3]), target=np.zeros([3, 5])),
     'image and target must have the same batch size N, got 2 image rows and 3 target rows'),
    (contract.SERVING_DEFAULT, dict(image=np.zeros([1, 30, 32, 3]), target=np.zeros([1, 5])),
     'image height and width must be multiples of 4 .*, got 30x32'),
    (contract.TRANSLATE_BYTES, dict(image_bytes=[b'garbage'], target=np.zeros([1, 5])),
     r'image_bytes must hold JPEG or PNG images; not JPEG or PNG at indices \[0\]'),
    (contract.TRANSLATE_BYTES, dict(image_bytes=[SMALL_PNG], target=np.zeros([2, 5])),
     'image_bytes and target must have the same batch size N, got 1 image_bytes rows and 2'),
    (contract.TRANSLATE_BYTES, dict(image_bytes=[SMALL_PNG], target=np.zeros([1, 4])),
     r'target must be \[N, 5\] .*, got \[N, 4\]'),
    # The shape serving_default takes, [N, H, W, 3] with none of them 0, checked in the graph.
    (contract.SERVING_DEFAULT, dict(image=np.zeros([1, 1, 32, 32, 3]), target=np.zeros([1, 5])),
     re.escape('image must be [N, H, W, 3] with N, H and W at least 1 (RGB images, float32 in '
               '[-1, 1]), got [1, 1, 32, 32, 3]')),
    (contract.SERVING_DEFAULT, dict(image=np.zeros([32, 32, 3]), target=np.zeros([1, 5])),
     r'image must be \[N, H, W, 3\] .*, got \[32, 32, 3\]'),
    (contract.SERVING_DEFAULT, dict(image=np.zeros([1, 32, 32, 4]), target=np.zeros([1, 5])),
     r'image must be \[N, H, W, 3\] .*, got \[1, 32, 32, 4\]'),
    (contract.SERVING_DEFAULT, dict(image=np.zeros([1, 0, 0, 3]), target=np.zeros([1, 5])),
     r'image must be \[N, H, W, 3\] with N, H and W at least 1 .*, got \[1, 0, 0, 3\]'),
    (contract.SERVING_DEFAULT, dict(image=np.zeros([0, 32, 32, 3]), target=np.zeros([0, 5])),
     r'image must be \[N, H, W, 3\] .*, got \[0, 32, 32, 3\]'),
    (contract.TRANSLATE_BYTES, dict(image_bytes=[], target=np.zeros([0, 5])),
     'image_bytes must hold at least one image, got 0'),
    # Non-finite values: G would answer NaN (or black) images.
    (contract.SERVING_DEFAULT,
     dict(image=np.stack([np.zeros([32, 32, 3]), np.full([32, 32, 3], np.nan)]),
          target=np.zeros([2, 5])),
     r'image must be finite \(no NaN or infinity\), got NaN or infinity in rows \[1\]'),
    (contract.SERVING_DEFAULT, dict(image=np.zeros([3, 32, 32, 3]),
                                    target=[[0] * 5, [0, 1, np.inf, 0, 0], [-np.inf] * 5]),
     r'target must be finite \(no NaN or infinity\), got NaN or infinity in rows \[1 2\]'),
    (contract.TRANSLATE_BYTES, dict(image_bytes=[SMALL_PNG], target=[[np.nan, 0, 0, 0, 0]]),
     r'target must be finite \(no NaN or infinity\), got NaN or infinity in rows \[0\]'),
], ids=['target_width', 'batch_mismatch', 'size_not_multiple_of_4', 'garbage_bytes',
        'bytes_batch_mismatch', 'bytes_target_width', 'rank_5', 'rank_3', 'four_channels',
        'zero_by_zero', 'zero_images', 'zero_image_bytes', 'nan_image', 'inf_target',
        'bytes_nan_target'])
def test_bad_requests_fail_with_a_message_naming_the_problem(exported, signature, inputs,
                                                             message):
  dtypes = {'image_bytes': tf.string}
  inputs = {k: tf.constant(v, dtypes.get(k, tf.float32)) for k, v in inputs.items()}
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    exported[1].signatures[signature](**inputs)


def test_undecodable_images_are_named_by_index_and_reason(exported):
  blobs = [NOISE_PNG, NOISE_PNG[:-20], NOISE_JPEG[:len(NOISE_JPEG) // 2],
           _corrupt(NOISE_PNG, 60, 10), NOISE_JPEG, _corrupt(NOISE_JPEG, 400, 100)]
  message = ('image_bytes[1] cannot be decoded: truncated PNG (it does not end with an IEND '
             'chunk); image_bytes[2] cannot be decoded: truncated JPEG (it does not end with an '
             'end-of-image marker); image_bytes[3] cannot be decoded: corrupt PNG data; '
             'image_bytes[5] cannot be decoded: corrupt JPEG data')
  with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(message)):
    exported[1].signatures[contract.TRANSLATE_BYTES](image_bytes=tf.constant(blobs),
                                                     target=tf.zeros([len(blobs), 5]))
  # Every image failing leaves the decoded batch empty; still named one by one.
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=re.escape('image_bytes[0] cannot be decoded: truncated PNG')):
    exported[1].signatures[contract.TRANSLATE_BYTES](image_bytes=tf.constant([NOISE_PNG[:40]]),
                                                     target=tf.zeros([1, 5]))


@pytest.fixture(scope='module')
def huge_png():
  """A real 16000x16000 PNG of 0.75 MB: decoded, 768 MB of pixels."""
  data = _streamed_black_png(16000, 16000)
  assert len(data) < 1_000_000
  return data


def test_images_over_the_pixel_limit_are_refused_before_decoding(exported, huge_png):
  translate = exported[1].signatures[contract.TRANSLATE_BYTES]
  message = re.escape('image_bytes[1] is 16000x16000 (256000000 pixels), over the model limit '
                      f'of {contract.DEFAULT_MAX_IMAGE_PIXELS} pixels (max_image_pixels)')
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    translate(image_bytes=tf.constant([SMALL_PNG, huge_png]), target=tf.zeros([2, 5]))
  # Its header alone (the decoder would call it truncated): the size is read before decoding.
  header = huge_png[:33]
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    translate(image_bytes=tf.constant([SMALL_PNG, header]), target=tf.zeros([2, 5]))


def test_pixel_limit_is_the_exports(tmp_path):
  path = export_lib.export_generator(
      _tiny_generator(), str(tmp_path / 'stargan'),
      _metadata(labels_lib.label_space('RaFD', (), ('a', 'b')), 8, max_image_pixels=1000))
  assert contract.read_export_metadata(path).max_image_pixels == 1000
  loaded = tf.saved_model.load(path)
  assert loaded.signatures[contract.METADATA](
      **{contract.METADATA_INPUT: tf.constant([0])})['max_image_pixels'].numpy().tolist() == [1000]
  translate = loaded.signatures[contract.TRANSLATE_BYTES]
  fits = [_black(25, 40, 'JPEG'), _black(40, 25, 'PNG')]  # 1000 pixels each: the limit
  out = translate(image_bytes=tf.constant(fits), target=tf.zeros([2, 2]))
  assert out['image_png'].shape == (2,)
  over = [_black(30, 40, 'JPEG'), fits[0], _black(32, 32, 'PNG')]
  with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(
      'image_bytes[0] is 40x30 (1200 pixels), over the model limit of 1000 pixels '
      '(max_image_pixels); image_bytes[2] is 32x32 (1024 pixels), over the model limit')):
    translate(image_bytes=tf.constant(over), target=tf.zeros([3, 2]))


def test_warmup_requests_replay_through_the_signatures(exported):
  path, loaded = exported
  warmup = os.path.join(path, 'assets.extra', contract.WARMUP_FILE)
  logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
          for r in tf.data.TFRecordDataset(warmup)]
  assert [log.predict_log.request.model_spec.signature_name for log in logs] == list(
      contract.SIGNATURES) + [contract.CLASSIFY]
  outputs = {}
  for log in logs:
    request = log.predict_log.request
    assert request.model_spec.name == MODEL_NAME
    inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
    outputs[request.model_spec.signature_name] = loaded.signatures[
        request.model_spec.signature_name](**inputs)
  assert outputs[contract.SERVING_DEFAULT]['image'].shape == (1, 32, 32, 3)
  assert outputs[contract.TRANSLATE_BYTES]['image_png'].shape == (1,)
  assert outputs[contract.METADATA]['label_dim'].numpy().tolist() == [5]
  assert outputs[contract.CLASSIFY][contract.LOGITS].shape == (1, 5)
  # Batch 1 everywhere, so that TF Serving's batching (if enabled) accepts every record.
  for log in logs:
    assert all(tensor.tensor_shape.dim[0].size == 1
               for tensor in log.predict_log.request.inputs.values())


def _tiny_generator():
  G = models.Generator(conv_dim=4, c_dim=2, repeat_num=1)
  G(tf.zeros([1, 8, 8, 3]), tf.zeros([1, 2]))
  return G


def _metadata(space, image_size, **kwargs):
  return contract.ModelMetadata(label_space=space, image_size=image_size, **kwargs)


def _export_tiny(export_dir, **kwargs):
  return export_lib.export_generator(
      _tiny_generator(), str(export_dir), _metadata(labels_lib.label_space('RaFD', (), ('a', 'b')),
                                                    8), **kwargs)


def test_versions_are_next_free_and_never_overwritten(tmp_path):
  base = tmp_path / 'stargan'
  (base / 'notes').mkdir(parents=True)  # Not an integer: TF Serving and the export ignore it.
  assert _export_tiny(base) == str(base / '1')
  assert _export_tiny(base) == str(base / '2')
  before = (base / '1' / 'saved_model.pb').stat().st_mtime_ns
  with pytest.raises(FileExistsError, match=re.escape(str(base / '1')) + ' already exists'):
    _export_tiny(base, version=1)
  assert (base / '1' / 'saved_model.pb').stat().st_mtime_ns == before
  assert sorted(os.listdir(base)) == ['1', '2', 'notes']
  with pytest.raises(ValueError, match='expected a positive integer'):
    _export_tiny(base, version=0)


def test_failed_export_leaves_nothing_behind(tmp_path, monkeypatch):
  def fail(*_):
    raise OSError('disk full')

  monkeypatch.setattr(export_lib, 'write_warmup', fail)
  with pytest.raises(OSError, match='disk full'):
    _export_tiny(tmp_path / 'stargan', version=7)
  assert os.listdir(tmp_path / 'stargan') == []


def test_label_dim_must_match_generator(tmp_path):
  with pytest.raises(ValueError, match=r'label_dim=3 columns \(one column per domain: a, b, c\) '
                     'but G was built for c_dim=2'):
    export_lib.export_generator(_tiny_generator(), str(tmp_path), _metadata(
        labels_lib.label_space('RaFD', (), ('a', 'b', 'c')), 8))
  with pytest.raises(ValueError, match=r'label_dim=15 columns \(13 domains then the mask'):
    export_lib.export_generator(_tiny_generator(), str(tmp_path), _metadata(JOINT, 8))
  assert os.listdir(tmp_path) == []


# --- a generator trained on both datasets: the mask-vector layout ----------------------------

JOINT = labels_lib.label_space('Both')
JOINT_SIZE = 16


@pytest.fixture(scope='module')
def joint_G():
  """An untrained tiny joint generator: its target is 13 domains + a 2-column mask."""
  keras.utils.set_random_seed(0)
  G = models.Generator(conv_dim=8, c_dim=JOINT.label_dim, repeat_num=1)
  G(tf.zeros([1, JOINT_SIZE, JOINT_SIZE, 3]), tf.zeros([1, JOINT.label_dim]))
  return G


@pytest.fixture(scope='module')
def joint_exported(joint_G, tmp_path_factory):
  path = export_lib.export_generator(joint_G, str(tmp_path_factory.mktemp('joint') / 'stargan'),
                                     _metadata(JOINT, JOINT_SIZE, model_name=MODEL_NAME))
  return path, tf.saved_model.load(path)


def _joint_targets():
  """The 13 test-time targets [13, 15] of a CelebA image: 5 CelebA ones, then 8 RaFD ones."""
  c_org = np.array([[1, 0, 0, 1, 0]], np.float32)  # Black_Hair, Male
  return np.concatenate(JOINT.create_labels(c_org, 'CelebA'))


def test_joint_metadata_lists_domains_with_their_datasets(joint_exported):
  path, loaded = joint_exported
  names = labels_lib.DEFAULT_ATTRS + labels_lib.RAFD_CLASSES
  datasets = ('CelebA',) * 5 + ('RaFD',) * 8
  out = loaded.signatures[contract.METADATA](**{contract.METADATA_INPUT: tf.constant([0, 0])})
  assert out['domain_names'].numpy().tolist() == [[n.encode() for n in names]] * 2
  assert out['domain_datasets'].numpy().tolist() == [[d.encode() for d in datasets]] * 2
  assert out['label_dim'].numpy().tolist() == [15] * 2
  assert out['image_size'].numpy().tolist() == [JOINT_SIZE] * 2
  meta = contract.read_export_metadata(path)
  assert meta.label_space == JOINT and meta.image_size == JOINT_SIZE
  record = meta.to_dict()
  assert (record['domain_names'], record['domain_datasets']) == (list(names), list(datasets))
  assert record['label_dim'] == 15
  assert record['label_layout'].startswith(
      '13 domains then the mask: [CelebA: Black_Hair, Blond_Hair, Brown_Hair, Male, Young | '
      'RaFD: angry, contemptuous, disgusted, fearful, happy, neutral, sad, surprised | mask: '
      'CelebA, RaFD]')


def test_joint_serving_default_matches_keras_generator(joint_exported, joint_G):
  c = _joint_targets()
  assert c.shape == (13, 15)
  x = tf.random.stateless_uniform([13, JOINT_SIZE, JOINT_SIZE, 3], [0, 1], minval=-1, maxval=1)
  out = joint_exported[1].signatures[contract.SERVING_DEFAULT](image=x, target=tf.constant(c))
  np.testing.assert_allclose(out['image'].numpy(), joint_G(x, c).numpy(), rtol=0, atol=1e-5)


@pytest.mark.parametrize('width', [13, 5])
def test_joint_target_without_the_mask_is_rejected(joint_exported, width):
  message = (r'target must be \[N, 15\] \(13 domains then the mask: \[CelebA: Black_Hair, .* \| '
             rf'mask: CelebA, RaFD\]; .*\), got \[N, {width}\]')
  images_in = {contract.SERVING_DEFAULT: {'image': tf.zeros([1, JOINT_SIZE, JOINT_SIZE, 3])},
               contract.TRANSLATE_BYTES: {'image_bytes': tf.constant([SMALL_PNG])}}
  for signature, inputs in images_in.items():
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
      joint_exported[1].signatures[signature](target=tf.zeros([1, width]), **inputs)


def test_joint_warmup_targets_are_labels_with_their_mask(joint_exported):
  path, loaded = joint_exported
  warmup = os.path.join(path, 'assets.extra', contract.WARMUP_FILE)
  black_hair = JOINT.embed(np.array([[1, 0, 0, 0, 0]], np.float32), 'CelebA')
  for record in tf.data.TFRecordDataset(warmup):
    request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
    inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
    if 'target' in inputs:
      np.testing.assert_array_equal(inputs['target'], black_hair)
    loaded.signatures[request.model_spec.signature_name](**inputs)


@pytest.mark.slow
def test_cli_exports_version_1(trained, tmp_path):
  export_dir = tmp_path / 'exports'
  result = subprocess.run(
      [sys.executable, '-m', 'stargan_tf.export', f'--work_dir={trained.train.work_dir}',
       f'--export_dir={export_dir}', '--model_name=cli', '--checkpoint=2',
       '--max_image_pixels=4096'],
      capture_output=True, text=True, cwd=ROOT,
      env={**os.environ, 'PYTHONPATH': ROOT + os.pathsep + os.environ.get('PYTHONPATH', '')})
  assert result.returncode == 0, result.stderr
  path = str(export_dir / '1')
  assert result.stdout.strip().splitlines()[-1] == path
  assert 'Exported cli version 1' in result.stderr
  assert os.listdir(export_dir) == ['1']
  metadata = contract.read_export_metadata(path)
  assert (metadata.model_name, metadata.max_image_pixels) == ('cli', 4096)
