"""serving/: the client against exports served by the PredictionService test server.

The real tensorflow_model_server is distributed only as a Docker image and a vendor apt
repository, neither of which the test machines reach; serving/ ships the configuration and the
docker-compose file that run it. These tests drive the real gRPC (and REST) client against
tests/prediction_server.py, which answers Predict and GetModelMetadata over real gRPC and HTTP on
loopback the way TF Serving's source does; what it checks and what it does not is listed in its
docstring.
"""

import base64
import io
import json
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request

from google.protobuf import text_format
import grpc
import keras
import numpy as np
from PIL import Image
import pytest
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.config import model_server_config_pb2

from prediction_server import Batching
from prediction_server import PredictionServer
from serving import client
from stargan_tf import contract
from stargan_tf import export_lib
from stargan_tf import images
from stargan_tf import labels as labels_lib
from stargan_tf import models
from stargan_tf import translate_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVING = os.path.join(ROOT, 'serving')
NAMES = labels_lib.DEFAULT_ATTRS
CELEBA = labels_lib.label_space('CelebA', NAMES)
JOINT = labels_lib.label_space('Both', NAMES)
MAX_IMAGE_PIXELS = 50_000  # of the export the server serves: more than the photos have


def _read(path):
  with open(path, 'rb') as f:
    return f.read()


def _write_photo(path, height, width, seed):
  rng = np.random.RandomState(seed)
  Image.fromarray(rng.randint(0, 256, [height, width, 3], np.uint8)).save(path)
  return str(path)


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
  """A JPEG and a PNG of other shapes than the model's (the server crops and resizes them)."""
  folder = tmp_path_factory.mktemp('photos')
  return [_write_photo(folder / 'face.jpg', 218, 178, 0),
          _write_photo(folder / 'wide.png', 40, 60, 1)]


@pytest.fixture(scope='module')
def export_dir(tmp_path_factory, make_tiny_config):
  """Version 1 of an untrained tiny generator, exported by stargan_tf.export (seconds)."""
  config = make_tiny_config(tmp_path_factory.mktemp('run'))
  keras.utils.set_random_seed(0)
  G, _ = models.build(config.model, config.label_space)
  base = str(tmp_path_factory.mktemp('exports') / 'stargan')
  export_lib.export_generator(G, base, contract.ModelMetadata(
      CELEBA, config.model.image_size, max_image_pixels=MAX_IMAGE_PIXELS))
  return base


@pytest.fixture(scope='module')
def saved_model(export_dir):
  return tf.saved_model.load(os.path.join(export_dir, '1'))


@pytest.fixture(scope='module')
def server(export_dir):
  with PredictionServer({'stargan': export_dir}, rest=True) as s:
    yield s


@pytest.fixture
def stub(server):
  with grpc.insecure_channel(server.address) as channel:
    yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def _expected_pngs(saved_model, photos, c_trg):
  data = [_read(p) for p in photos]
  out = saved_model.signatures[contract.TRANSLATE_BYTES](
      image_bytes=tf.constant(data), target=tf.constant(c_trg, tf.float32))
  return [bytes(b) for b in out['image_png'].numpy()]


def _run_main(argv, capsys):
  code = client.main(argv)
  captured = capsys.readouterr()
  return code, captured.out, captured.err


def _predict_request(signature, model='stargan', version=None, **inputs):
  request = predict_pb2.PredictRequest()
  request.model_spec.name = model
  request.model_spec.signature_name = signature
  if version is not None:
    request.model_spec.version.value = version
  for key, value in inputs.items():
    request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
  return request


def _good_request():
  x = np.zeros([1, 32, 32, 3], np.float32)
  return _predict_request(contract.SERVING_DEFAULT, image=x, target=np.zeros([1, 5], np.float32))


# --- metadata and labels ---------------------------------------------------------------------


def test_get_model_metadata_lists_the_signatures(stub):
  request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=['signature_def'])
  request.model_spec.name = 'stargan'
  response = stub.GetModelMetadata(request, timeout=10)
  assert response.model_spec.name == 'stargan' and response.model_spec.version.value == 1
  signature_map = get_model_metadata_pb2.SignatureDefMap()
  assert response.metadata['signature_def'].Unpack(signature_map)
  signatures = signature_map.signature_def
  assert set(contract.SIGNATURES) <= set(signatures)
  for name in contract.SIGNATURES:
    assert signatures[name].method_name == 'tensorflow/serving/predict'
  assert set(signatures[contract.SERVING_DEFAULT].inputs) == {'image', 'target'}
  assert set(signatures[contract.TRANSLATE_BYTES].inputs) == {'image_bytes', 'target'}
  assert signatures[contract.TRANSLATE_BYTES].inputs['image_bytes'].dtype == tf.string
  assert set(signatures[contract.TRANSLATE_BYTES].outputs) == {'image_png'}


def test_model_info_over_grpc_and_rest(server):
  for transport in (client.GrpcTransport(server.address, 'stargan'),
                    client.RestTransport(server.rest_url, 'stargan')):
    with transport:
      info = client.read_model_info(transport)
    assert info == client.ModelInfo(version=1, label_space=CELEBA, image_size=32)


def test_targets_are_built_by_name():
  info = client.ModelInfo(version=1, label_space=CELEBA, image_size=32)
  np.testing.assert_array_equal(client.make_targets(info, 2, 'Blond_Hair=1'),
                                [[0, 1, 0, 0, 0]] * 2)
  # A hair colour set to 1 clears the hair colour of --base; other --base domains stay.
  np.testing.assert_array_equal(
      client.make_targets(info, 1, 'Blond_Hair=1,Male=1', 'Black_Hair=1,Young=1'),
      [[0, 1, 0, 1, 1]])
  rafd = client.ModelInfo(version=1, label_space=labels_lib.label_space('RaFD'), image_size=32)
  np.testing.assert_array_equal(client.make_targets(rafd, 1, 'happy=1'),
                                np.eye(8, dtype=np.float32)[[4]])
  with pytest.raises(client.ServingError, match=r'--set names unknown domain .Blonde_Hair.; '
                     r'valid names: Black_Hair, Blond_Hair, Brown_Hair, Male, Young'):
    client.make_targets(info, 1, 'Blonde_Hair=1')
  with pytest.raises(client.ServingError, match='--base entry'):
    client.make_targets(info, 1, 'Male=1', 'Young=yes')


def test_joint_targets_are_built_by_name_with_the_mask():
  info = client.ModelInfo(version=1, label_space=JOINT, image_size=32)
  np.testing.assert_array_equal(
      client.make_targets(info, 2, 'Blond_Hair=1,Male=1', 'Black_Hair=1,Young=1'),
      [[0, 1, 0, 1, 1] + [0] * 8 + [1, 0]] * 2)
  np.testing.assert_array_equal(client.make_targets(info, 1, 'happy=1'),
                                [[0] * 5 + [0, 0, 0, 0, 1, 0, 0, 0] + [0, 1]])
  with pytest.raises(client.ServingError, match="--base 'Male=1' names CelebA domains but --set "
                     "'happy=1' names RaFD domains"):
    client.make_targets(info, 1, 'happy=1', 'Male=1')


def test_output_paths(tmp_path):
  assert client.output_paths('out.png', ['a.jpg']) == ['out.png']
  assert client.output_paths('res/out.png', ['a.jpg', 'b.png']) == ['res/out_0.png',
                                                                    'res/out_1.png']
  assert client.output_paths(str(tmp_path), ['x/a.jpg', 'y/b.png']) == [
      str(tmp_path / 'a.png'), str(tmp_path / 'b.png')]
  with pytest.raises(client.ServingError, match='share a name'):
    client.output_paths('new_folder/', ['x/a.jpg', 'y/a.png'])


# --- round trips -----------------------------------------------------------------------------


def test_translate_bytes_batch_equals_saved_model(server, saved_model, photos, tmp_path, capsys):
  code, out, err = _run_main(['--server', server.address, '--no_align', '--image', photos[0],
                              '--image', photos[1], '--base', 'Black_Hair=1',
                              '--set', 'Blond_Hair=1',
                              '--out', str(tmp_path / 'out.png')], capsys)
  assert (code, err) == (0, '')
  paths = [str(tmp_path / 'out_0.png'), str(tmp_path / 'out_1.png')]
  assert out.split() == paths
  expected = _expected_pngs(saved_model, photos, [[0, 1, 0, 0, 0]] * 2)
  assert [_read(p) for p in paths] == expected
  assert [Image.open(p).size for p in paths] == [(32, 32), (32, 32)]


def test_serving_default_equals_saved_model(server, saved_model, photos, tmp_path, capsys):
  c_trg = np.array([[0, 0, 1, 1, 0]] * 2, np.float32)
  x = np.stack([client.to_model_input(_read(p), 32) for p in photos])
  assert x.shape == (2, 32, 32, 3) and x.min() >= -1 and x.max() <= 1
  expected = saved_model.signatures[contract.SERVING_DEFAULT](
      image=tf.constant(x), target=tf.constant(c_trg))['image'].numpy()
  with client.GrpcTransport(server.address, 'stargan') as transport:
    got = transport.predict(contract.SERVING_DEFAULT, {'image': x, 'target': c_trg})
  np.testing.assert_allclose(got['image'], expected, rtol=0, atol=1e-5)

  code, _, err = _run_main(['--server', server.address, '--no_align', '--image', photos[0],
                            '--image', photos[1], '--set', 'Brown_Hair=1,Male=1', '--signature',
                            'serving_default', '--out', str(tmp_path) + '/'], capsys)
  # The export has no classify signature: the domains not named start from 0, with a note.
  assert (code, err) == (0, client.NO_CLASSIFY_NOTE + '\n')
  for name, y in zip(('face.png', 'wide.png'), expected):
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / name)), images.denorm(y))


def test_rest_answers_equal_grpc(server, saved_model, photos, tmp_path, capsys):
  """PNGs come back raw (output name not ending in _bytes) and floats exactly."""
  code, _, err = _run_main(['--rest', server.rest_url, '--no_align', '--image', photos[0],
                            '--image', photos[1], '--set', 'Male=1', '--out',
                            str(tmp_path / 'rest.png')], capsys)
  assert (code, err) == (0, client.NO_CLASSIFY_NOTE + '\n')
  expected = _expected_pngs(saved_model, photos, [[0, 0, 0, 1, 0]] * 2)
  assert [_read(tmp_path / f'rest_{i}.png') for i in (0, 1)] == expected
  x = np.random.RandomState(0).uniform(-1, 1, [1, 32, 32, 3]).astype(np.float32)
  inputs = {'image': x, 'target': np.array([[1, 0, 0, 0, 1]], np.float32)}
  with client.RestTransport(server.rest_url, 'stargan') as rest, \
       client.GrpcTransport(server.address, 'stargan') as rpc:
    np.testing.assert_array_equal(rest.predict(contract.SERVING_DEFAULT, inputs)['image'],
                                  rpc.predict(contract.SERVING_DEFAULT, inputs)['image'])


def test_version_is_sent(server, photos, tmp_path, capsys):
  code, _, err = _run_main(['--server', server.address, '--version', '1', '--no_align',
                            '--image', photos[0], '--set', 'Young=1', '--out',
                            str(tmp_path / 'v1.png')], capsys)
  assert (code, err) == (0, client.NO_CLASSIFY_NOTE + '\n')
  assert os.path.exists(tmp_path / 'v1.png')


# --- malformed requests ----------------------------------------------------------------------

_TARGET = np.zeros([1, 5], np.float32)


def _png(height, width):
  buffer = io.BytesIO()
  Image.new('RGB', (width, height)).save(buffer, format='PNG')
  return buffer.getvalue()


# Over the export's MAX_IMAGE_PIXELS (50000): 250x250 = 62500 pixels.
_LARGE_PNG = _png(250, 250)


@pytest.mark.parametrize('request_, code, message', [
    (_predict_request(contract.TRANSLATE_BYTES, image_bytes=np.array([b'not an image'], object),
                      target=_TARGET),
     grpc.StatusCode.INVALID_ARGUMENT, 'JPEG or PNG'),
    (_predict_request(contract.SERVING_DEFAULT, image=np.zeros([1, 32, 32, 3], np.float32),
                      target=np.zeros([1, 6], np.float32)),
     grpc.StatusCode.INVALID_ARGUMENT, r'target must be \[N, 5\]'),
    (_predict_request(contract.SERVING_DEFAULT, image=np.zeros([1, 32, 32, 3], np.float32)),
     grpc.StatusCode.INVALID_ARGUMENT, r'Missing but required: \{target\}'),
    (_predict_request(contract.SERVING_DEFAULT, image=np.zeros([1, 32, 32, 3], np.float32),
                      target=_TARGET, extra=_TARGET),
     grpc.StatusCode.INVALID_ARGUMENT, r'Sent extra: \{extra\}'),
    (_predict_request(contract.SERVING_DEFAULT, image=np.zeros([1, 32, 32, 3], np.float64),
                      target=_TARGET),
     grpc.StatusCode.INVALID_ARGUMENT, 'to be float32 but float64 is provided'),
    (_predict_request(contract.SERVING_DEFAULT, model='nope', image=np.zeros([1, 32, 32, 3],
                                                                           np.float32),
                      target=_TARGET),
     grpc.StatusCode.NOT_FOUND, re.escape('Servable not found for request: Latest(nope)')),
    (_predict_request(contract.SERVING_DEFAULT, version=7, image=np.zeros([1, 32, 32, 3],
                                                                        np.float32),
                      target=_TARGET),
     grpc.StatusCode.NOT_FOUND, re.escape('Specific(stargan, 7)')),
    # TF Serving's predict_util.cc answers FAILED_PRECONDITION here, not NOT_FOUND.
    (_predict_request('translate', image=np.zeros([1, 32, 32, 3], np.float32), target=_TARGET),
     grpc.StatusCode.FAILED_PRECONDITION, 'Serving signature key "translate" not found'),
    # Refused by the export's own checks, in the graph.
    (_predict_request(contract.SERVING_DEFAULT, image=np.full([1, 32, 32, 3], np.nan, np.float32),
                      target=_TARGET),
     grpc.StatusCode.INVALID_ARGUMENT, r'image must be finite \(no NaN or infinity\)'),
    (_predict_request(contract.SERVING_DEFAULT, image=np.zeros([1, 1, 32, 32, 3], np.float32),
                      target=_TARGET),
     grpc.StatusCode.INVALID_ARGUMENT,
     r'image must be \[N, H, W, 3\] .*, got \[1, 1, 32, 32, 3\]'),
    (_predict_request(contract.TRANSLATE_BYTES, image_bytes=np.array([_png(8, 8)[:-20]], object),
                      target=_TARGET),
     grpc.StatusCode.INVALID_ARGUMENT,
     re.escape('image_bytes[0] cannot be decoded: truncated PNG')),
    (_predict_request(contract.TRANSLATE_BYTES, image_bytes=np.array([_LARGE_PNG], object),
                      target=_TARGET),
     grpc.StatusCode.INVALID_ARGUMENT, re.escape('image_bytes[0] is 250x250 (62500 pixels)')),
], ids=['garbage_bytes', 'label_width', 'missing_input', 'extra_input', 'dtype',
        'unknown_model', 'unknown_version', 'unknown_signature', 'nan_image', 'rank_5_image',
        'truncated_png', 'too_many_pixels'])
def test_malformed_request_fails_and_server_keeps_serving(stub, request_, code, message):
  with pytest.raises(grpc.RpcError) as e:
    stub.Predict(request_, timeout=10)
  assert e.value.code() == code
  assert re.search(message, e.value.details()), e.value.details()
  response = stub.Predict(_good_request(), timeout=10)
  assert response.model_spec.version.value == 1
  assert tf.make_ndarray(response.outputs['image']).shape == (1, 32, 32, 3)


def _rest_predict(server, body):
  """(HTTP status, answer) of a REST predict of model stargan."""
  request = urllib.request.Request(f'{server.rest_url}/v1/models/stargan:predict',
                                   data=json.dumps(body).encode(),
                                   headers={'Content-Type': 'application/json'})
  try:
    with urllib.request.urlopen(request, timeout=30) as response:
      return response.status, json.loads(response.read().decode('utf-8', 'surrogateescape'))
  except urllib.error.HTTPError as e:
    return e.code, json.loads(e.read())


@pytest.mark.parametrize('body, message', [
    ({'signature_name': contract.SERVING_DEFAULT,
      'inputs': {'image': np.zeros([1, 32, 32, 3]).tolist(),
                 'target': [[0, float('inf'), 0, 0, 0]]}},
     'target must be finite (no NaN or infinity), got NaN or infinity in rows [0]'),
    ({'signature_name': contract.TRANSLATE_BYTES,
      'inputs': {'image_bytes': [{'b64': base64.b64encode(_LARGE_PNG).decode()}],
                 'target': [[0] * 5]}},
     'image_bytes[0] is 250x250 (62500 pixels), over the model limit of 50000 pixels '
     '(max_image_pixels)'),
], ids=['inf_target', 'too_many_pixels'])
def test_refused_inputs_are_http_400_over_rest_and_the_server_keeps_serving(server, body,
                                                                             message):
  status, answer = _rest_predict(server, body)
  assert status == 400  # TF Serving's HTTP status for INVALID_ARGUMENT
  assert message in answer['error'], answer
  status, answer = _rest_predict(server, {'inputs': {'image': np.zeros([1, 32, 32, 3]).tolist(),
                                                     'target': [[0] * 5]}})
  assert status == 200 and np.asarray(answer['outputs']).shape == (1, 32, 32, 3)


def test_unknown_domain_name_lists_valid_names_and_sends_no_image(server, photos, tmp_path,
                                                                  capsys):
  before = len(server.requests)
  code, _, err = _run_main(['--server', server.address, '--image', photos[0], '--set',
                            'Blonde_Hair=1', '--out', str(tmp_path / 'o.png')], capsys)
  assert code == 1
  assert err == ("error: --set names unknown domain 'Blonde_Hair'; valid names: Black_Hair, "
                 'Blond_Hair, Brown_Hair, Male, Young.\n')
  sent = server.requests[before:]
  assert sent == [('GetModelMetadata', 'stargan', ''), ('Predict', 'stargan', contract.METADATA)]
  assert not os.path.exists(tmp_path / 'o.png')


@pytest.mark.parametrize('rest', [False, True], ids=['grpc', 'rest'])
@pytest.mark.parametrize('argv, message', [
    (['--model', 'faces'], "does not serve model 'faces'"),
    (['--version', '7'], "does not serve model 'stargan' version 7"),
])
def test_unknown_model_or_version_is_named(server, photos, tmp_path, capsys, rest, argv,
                                           message):
  where = ['--rest', server.rest_url] if rest else ['--server', server.address]
  code, _, err = _run_main(where + argv + ['--image', photos[0], '--set', 'Male=1', '--out',
                                           str(tmp_path / 'o.png')], capsys)
  assert code == 1
  assert err.startswith('error: ') and message in err and '\n' == err[-1] and err.count('\n') == 1


def test_unreadable_images_fail_before_any_request(server, tmp_path, capsys):
  text = tmp_path / 'notes.jpg'
  text.write_text('not an image')
  gif = tmp_path / 'anim.gif'
  Image.new('RGB', (8, 8)).save(gif)
  before = len(server.requests)
  cases = [(tmp_path / 'missing.jpg', 'cannot read --image=.*missing.jpg: No such file'),
           (text, 'notes.jpg is not a readable JPEG or PNG image'),
           (gif, 'anim.gif is a GIF image; expected JPEG or PNG')]
  for path, message in cases:
    code, _, err = _run_main(['--server', server.address, '--image', str(path), '--set',
                              'Male=1'], capsys)
    assert code == 1 and re.search(message, err), err
  assert len(server.requests) == before


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def test_unreachable_server_is_a_clean_error(photos, tmp_path, capsys):
  port = _free_port()
  for where, shown in ((['--server', f'127.0.0.1:{port}'], f'127.0.0.1:{port}'),
                       (['--rest', f'http://127.0.0.1:{port}'], f'http://127.0.0.1:{port}')):
    code, _, err = _run_main(where + ['--timeout', '5', '--image', photos[0], '--set', 'Male=1',
                                      '--out', str(tmp_path / 'o.png')], capsys)
    assert code == 1
    assert err.startswith(f'error: cannot reach TF Serving at {shown} (') and err.count('\n') == 1


# --- the client on a machine without TensorFlow ----------------------------------------------

# Runs `python -m serving.client` with TensorFlow, gRPC, protobuf and the TF Serving APIs
# unimportable, as on a machine where only numpy and Pillow are installed.
_WITHOUT_TENSORFLOW = """
import runpy
import sys

BLOCKED = ('tensorflow', 'grpc', 'google.protobuf', 'tensorflow_serving')


class Block:
  def find_spec(self, name, path=None, target=None):
    if any(name == b or name.startswith(b + '.') for b in BLOCKED):
      raise ImportError(f'No module named {name!r} (blocked by the test)')
    return None


sys.meta_path.insert(0, Block())
runpy.run_module('serving.client', run_name='__main__', alter_sys=True)
"""


def _client_without_tensorflow(argv):
  return subprocess.run([sys.executable, '-c', _WITHOUT_TENSORFLOW] + argv, cwd=ROOT,
                        env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                        timeout=120)


@pytest.mark.parametrize('signature', [contract.TRANSLATE_BYTES, contract.SERVING_DEFAULT])
def test_rest_client_needs_no_tensorflow(server, photos, tmp_path, capsys, signature):
  args = ['--no_align', '--image', photos[0], '--image', photos[1], '--base', 'Black_Hair=1',
          '--set', 'Blond_Hair=1,Male=1', '--signature', signature]
  result = _client_without_tensorflow(['--rest', server.rest_url] + args +
                                      ['--out', str(tmp_path / 'rest') + '/'])
  assert result.returncode == 0, result.stderr
  assert result.stdout.split() == [str(tmp_path / 'rest' / n) for n in ('face.png', 'wide.png')]
  code, _, err = _run_main(['--server', server.address] + args +
                           ['--out', str(tmp_path / 'grpc') + '/'], capsys)
  assert (code, err) == (0, '')
  for name in ('face.png', 'wide.png'):
    assert _read(tmp_path / 'rest' / name) == _read(tmp_path / 'grpc' / name), name
  assert sorted(os.listdir(tmp_path / 'rest')) == ['face.png', 'wide.png']  # no leftovers


def test_grpc_without_tensorflow_serving_api_says_what_to_install(server, photos, tmp_path):
  result = _client_without_tensorflow(['--server', server.address, '--image', photos[0],
                                       '--set', 'Male=1', '--out', str(tmp_path / 'o.png')])
  assert result.returncode == 1
  assert result.stderr.startswith('error: --server (gRPC) needs grpcio, tensorflow and '
                                  'tensorflow-serving-api')
  assert result.stderr.endswith('pip install tensorflow-serving-api, or use --rest.\n')
  assert result.stderr.count('\n') == 1 and not os.path.exists(tmp_path / 'o.png')


@pytest.mark.slow
def test_cli_failure_over_grpc_is_one_line(photos, tmp_path):
  """Run as `python -m serving.client` (its module is __main__), a gRPC failure is still caught."""
  port = _free_port()
  result = subprocess.run(
      [sys.executable, '-m', 'serving.client', '--server', f'127.0.0.1:{port}', '--timeout', '5',
       '--image', photos[0], '--set', 'Male=1', '--out', str(tmp_path / 'o.png')],
      cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=300)
  assert result.returncode == 1
  # stderr also holds TensorFlow's and gRPC's start-up logs.
  assert f'\nerror: cannot reach TF Serving at 127.0.0.1:{port} (' in '\n' + result.stderr
  assert 'Traceback' not in result.stderr, result.stderr


# --- a model trained on both datasets (mask vector) ------------------------------------------


@pytest.fixture(scope='module')
def joint_G():
  """An untrained tiny generator trained on both datasets: target 13 domains + the mask."""
  keras.utils.set_random_seed(1)
  G = models.Generator(conv_dim=8, c_dim=JOINT.label_dim, repeat_num=1)
  G(tf.zeros([1, 32, 32, 3]), tf.zeros([1, JOINT.label_dim]))
  return G


@pytest.fixture(scope='module')
def joint_server(joint_G, tmp_path_factory):
  base = str(tmp_path_factory.mktemp('joint_exports') / 'stargan')
  export_lib.export_generator(joint_G, base, contract.ModelMetadata(JOINT, 32))
  with PredictionServer({'stargan': base}, rest=True) as s:
    yield s


def test_joint_model_info_over_grpc_and_rest(joint_server):
  for transport in (client.GrpcTransport(joint_server.address, 'stargan'),
                    client.RestTransport(joint_server.rest_url, 'stargan')):
    with transport:
      assert client.read_model_info(transport) == client.ModelInfo(version=1, label_space=JOINT,
                                                                   image_size=32)


@pytest.mark.parametrize('rest, signature', [(False, contract.TRANSLATE_BYTES),
                                             (True, contract.SERVING_DEFAULT)],
                         ids=['grpc_translate_bytes', 'rest_serving_default'])
def test_joint_set_of_a_rafd_expression_sends_the_label_with_its_mask(
    joint_server, joint_G, photos, tmp_path, capsys, rest, signature):
  where = ['--rest', joint_server.rest_url] if rest else ['--server', joint_server.address]
  code, _, err = _run_main(where + ['--no_align', '--image', photos[0], '--image', photos[1],
                                    '--set', 'happy=1', '--signature', signature, '--out',
                                    str(tmp_path) + '/'], capsys)
  assert (code, err) == (0, '')
  label = JOINT.embed(np.eye(8, dtype=np.float32)[[4, 4]], 'RaFD')
  sent = joint_server.predict_inputs[-1]
  np.testing.assert_array_equal(sent['target'], label)
  if signature == contract.TRANSLATE_BYTES:
    x = tf.stack([translate_lib.load_own_image(p, 32) for p in photos])
  else:
    x = np.stack([client.to_model_input(_read(p), 32) for p in photos])
  expected = images.denorm(joint_G(x, label).numpy()).astype(int)
  for name, want in zip(('face.png', 'wide.png'), expected):
    got = np.asarray(Image.open(tmp_path / name)).astype(int)
    assert np.abs(got - want).max() <= 1, name


@pytest.mark.parametrize('argv, message', [
    (['--set', 'Blond_Hair=1,happy=1'],
     "--set 'Blond_Hair=1,happy=1' names domains of CelebA and RaFD; one target sets the domains "
     'of one dataset (the mask vector selects it).'),
    (['--base', 'Male=1', '--set', 'happy=1'],
     "--base 'Male=1' names CelebA domains but --set 'happy=1' names RaFD domains; both describe "
     'one image, of one dataset.'),
], ids=['set_of_two_datasets', 'base_of_another_dataset'])
def test_joint_domains_of_two_datasets_fail_before_any_image_is_sent(joint_server, photos, tmp_path,
                                                                     capsys, argv, message):
  before = len(joint_server.requests)
  code, _, err = _run_main(['--server', joint_server.address, '--image', photos[0], '--out',
                            str(tmp_path / 'o.png')] + argv, capsys)
  assert (code, err) == (1, f'error: {message}\n')
  assert joint_server.requests[before:] == [('GetModelMetadata', 'stargan', ''),
                                            ('Predict', 'stargan', contract.METADATA)]
  assert not os.path.exists(tmp_path / 'o.png')


# --- warmup and batching ---------------------------------------------------------------------


def _warmup_logs(export_dir):
  path = os.path.join(export_dir, '1', 'assets.extra', contract.WARMUP_FILE)
  return [prediction_log_pb2.PredictionLog.FromString(r)
          for r in tf.data.TFRecordDataset(path).as_numpy_iterator()]


def test_warmup_records_are_answered(export_dir, stub):
  logs = _warmup_logs(export_dir)
  assert [log.WhichOneof('log_type') for log in logs] == ['predict_log'] * len(logs)
  requests = [log.predict_log.request for log in logs]
  signatures = {r.model_spec.signature_name for r in requests}
  assert ({contract.SERVING_DEFAULT, contract.TRANSLATE_BYTES} <= signatures <=
          set(contract.SIGNATURES))
  for request in requests:
    response = stub.Predict(request, timeout=30)
    assert response.model_spec.version.value == 1
    assert set(response.outputs) == set(
        _signature_outputs(stub, request.model_spec.signature_name))


def _signature_outputs(stub, signature):
  request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=['signature_def'])
  request.model_spec.name = 'stargan'
  signature_map = get_model_metadata_pb2.SignatureDefMap()
  stub.GetModelMetadata(request, timeout=10).metadata['signature_def'].Unpack(signature_map)
  return signature_map.signature_def[signature].outputs


def _max_batch_size():
  with open(os.path.join(SERVING, 'batching_parameters.txt')) as f:
    return int(re.search(r'max_batch_size\s*{\s*value:\s*(\d+)\s*}', f.read()).group(1))


def test_loads_and_batches_images_under_enable_batching(export_dir, photos):
  """With --enable_batching's checks, warmup replays and the image signatures batch."""
  max_batch = _max_batch_size()
  with PredictionServer({'stargan': export_dir}, batching=Batching(max_batch)) as server, \
       client.GrpcTransport(server.address, 'stargan') as transport:
    data = [_read(p) for p in photos]
    out = transport.predict(contract.TRANSLATE_BYTES, {
        'image_bytes': np.array(data, object), 'target': np.zeros([2, 5], np.float32)})
    assert out['image_png'].shape == (2,)
    with pytest.raises(client.ServingError, match=f'Task size {max_batch + 1} is larger than '
                       f'maximum input batch size {max_batch}'):
      transport.predict(contract.SERVING_DEFAULT, {
          'image': np.zeros([max_batch + 1, 32, 32, 3], np.float32),
          'target': np.zeros([max_batch + 1, 5], np.float32)})


def test_client_reads_domain_names_under_enable_batching(export_dir, photos):
  """The metadata signature answers one row per request row, as TF Serving's batching needs."""
  with PredictionServer({'stargan': export_dir}, batching=Batching(_max_batch_size())) as server:
    with client.GrpcTransport(server.address, 'stargan') as transport:
      assert client.read_domain_names(transport) == NAMES
      pngs = client.translate(transport, [_read(photos[0])], 'Male=1', align=False)
  assert [Image.open(io.BytesIO(png)).size for png in pngs] == [(32, 32)]


# --- configuration files and documents -------------------------------------------------------


def test_serving_documents_cite_only_files_of_the_repository():
  """Every .md file named in serving/ and in the serving tests is in the repository."""
  documents = [os.path.join(SERVING, n) for n in sorted(os.listdir(SERVING))
               if n.endswith(('.md', '.py', '.yml', '.config', '.txt'))]
  documents += [os.path.join(ROOT, 'tests', n) for n in ('prediction_server.py',
                                                          'test_serving.py')]
  for document in documents:
    with open(document, encoding='utf-8') as f:
      cited = set(re.findall(r'[\w./-]+\.md\b', f.read()))
    for name in cited:
      assert (os.path.exists(os.path.join(ROOT, name)) or
              os.path.exists(os.path.join(os.path.dirname(document), name))), (document, name)


def test_models_config_parses_as_model_server_config():
  with open(os.path.join(SERVING, 'models.config')) as f:
    config = text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())
  (model,) = config.model_config_list.config
  assert (model.name, model.base_path, model.model_platform) == ('stargan', '/models/stargan',
                                                                 'tensorflow')
  assert model.model_version_policy.WhichOneof('policy_choice') == 'latest'
  assert model.model_version_policy.latest.num_versions == 1


# BatchingParameters (servables/tensorflow/session_bundle_config.proto) is not in the pip package.
_BATCHING_FIELDS = {'max_batch_size', 'batch_timeout_micros', 'max_enqueued_batches',
                    'num_batch_threads', 'thread_pool_name', 'allowed_batch_sizes',
                    'pad_variable_length_inputs', 'enable_large_batch_splitting'}


def test_batching_parameters_use_real_field_names():
  with open(os.path.join(SERVING, 'batching_parameters.txt')) as f:
    lines = [line.split('#')[0].strip() for line in f]
  entries = [re.fullmatch(r'(\w+) { value: (\d+) }', line) for line in lines if line]
  assert all(entries), lines
  values = {m.group(1): int(m.group(2)) for m in entries}
  assert set(values) <= _BATCHING_FIELDS
  assert values['max_batch_size'] == 16
  assert {'batch_timeout_micros', 'num_batch_threads', 'max_enqueued_batches'} <= set(values)


# Flags of tensorflow_model_server (model_servers/main.cc) that the compose file may use.
_SERVER_FLAGS = {'port', 'rest_api_port', 'model_config_file',
                 'model_config_file_poll_wait_seconds', 'enable_batching',
                 'batching_parameters_file', 'enable_model_warmup', 'rest_api_timeout_in_ms',
                 'tensorflow_intra_op_parallelism', 'tensorflow_inter_op_parallelism'}


def test_docker_compose_runs_tf_serving_on_the_config():
  # PyYAML is not a dependency of the package (nor of its test extra).
  yaml = pytest.importorskip('yaml')
  with open(os.path.join(SERVING, 'docker-compose.yml')) as f:
    (service,) = yaml.safe_load(f)['services'].values()
  assert service['image'].startswith('tensorflow/serving:')
  assert set(service['ports']) == {'8500:8500', '8501:8501'}
  mounts = dict(reversed(v.rsplit(':', 2)[:2]) for v in service['volumes'])
  assert mounts['/models/stargan'].endswith('exports/stargan}')
  assert mounts['/config/models.config'] == './models.config'
  assert mounts['/config/batching_parameters.txt'] == './batching_parameters.txt'
  flags = dict(arg[2:].split('=', 1) for arg in service['command'])
  assert set(flags) <= _SERVER_FLAGS
  assert flags['model_config_file'] == '/config/models.config'
  assert flags['enable_batching'] == 'true'
  assert flags['batching_parameters_file'] == '/config/batching_parameters.txt'


# --- a trained model, end to end -------------------------------------------------------------


@pytest.fixture(scope='module')
def trained_export(tmp_path_factory, tiny_run):
  """An export (by export_from_work_dir) of the session's tiny trained run."""
  base = str(tmp_path_factory.mktemp('trained_exports') / 'stargan')
  export_lib.export_from_work_dir(tiny_run.train.work_dir, base)
  return base


@pytest.mark.slow
def test_trained_model_round_trip_through_the_cli(trained_export, photos, tmp_path):
  saved_model = tf.saved_model.load(os.path.join(trained_export, '1'))
  with PredictionServer({'stargan': trained_export}) as server:
    result = subprocess.run(
        [sys.executable, '-m', 'serving.client', '--server', server.address, '--no_align',
         '--image', photos[0], '--image', photos[1], '--base', 'Black_Hair=1,Young=1', '--set',
         'Blond_Hair=1', '--out', str(tmp_path / 'out.png')],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stderr
    # TensorFlow (for gRPC) is loaded without its start-up notices.
    assert 'absl::InitializeLog' not in result.stderr and 'cuInit' not in result.stderr
    expected = _expected_pngs(saved_model, photos, [[0, 1, 0, 0, 1]] * 2)
    assert [_read(tmp_path / f'out_{i}.png') for i in (0, 1)] == expected

    x = np.stack([client.to_model_input(_read(p), 32) for p in photos])
    c_trg = np.array([[1, 0, 0, 1, 0], [0, 0, 1, 0, 1]], np.float32)
    with client.GrpcTransport(server.address, 'stargan') as transport:
      got = transport.predict(contract.SERVING_DEFAULT, {'image': x, 'target': c_trg})['image']
    want = saved_model.signatures[contract.SERVING_DEFAULT](image=tf.constant(x),
                                                          target=tf.constant(c_trg))['image']
    np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=1e-5)
    assert [request[2] for request in server.requests] == [
        '', contract.METADATA, contract.TRANSLATE_BYTES, '', contract.SERVING_DEFAULT]


# --- faces aligned on the client, the photo's own labels from classify -----------------------


def test_client_aligns_faces_keeps_their_labels_and_pastes_them_back(trained_export, tmp_path,
                                                                     capsys):
  """A photo with a face, no --base: the client aligns the face, asks `classify` for its labels,
  changes only Blond_Hair, and writes the photo with the face pasted back; the REST client does
  the same without TensorFlow."""
  import face_photos  # pylint: disable=g-import-not-at-top
  from stargan_tf import faces  # pylint: disable=g-import-not-at-top
  pytest.importorskip('cv2', reason='face alignment needs opencv-python-headless 4.x')
  photo, _ = face_photos.astronaut()
  path = str(tmp_path / 'astronaut.png')
  Image.fromarray(photo).save(path)
  saved_model = tf.saved_model.load(os.path.join(trained_export, '1'))
  aligned = faces.align_photo(photo, 32)
  x = np.stack([face.image for face in aligned])
  logits = saved_model.signatures[contract.CLASSIFY](image=tf.constant(x))[contract.LOGITS]
  c_trg = CELEBA.target('Blond_Hair=0.5', logits=logits.numpy())
  y = saved_model.signatures[contract.SERVING_DEFAULT](image=tf.constant(x),
                                                      target=tf.constant(c_trg))['image']
  expected = faces.paste_faces(photo, aligned, y.numpy())
  with PredictionServer({'stargan': trained_export}, rest=True) as server:
    code, _, err = _run_main(['--server', server.address, '--image', path, '--set',
                              'Blond_Hair=0.5', '--signature', 'serving_default', '--out',
                              str(tmp_path / 'grpc.png')], capsys)
    assert (code, err) == (0, '')
    assert contract.CLASSIFY in [request[2] for request in server.requests]
    np.testing.assert_array_equal(server.predict_inputs[-1]['target'], c_trg)
    got = np.asarray(Image.open(tmp_path / 'grpc.png'))
    assert got.shape == photo.shape and np.abs(got.astype(int) - expected).max() <= 1
    result = _client_without_tensorflow(['--rest', server.rest_url, '--image', path, '--set',
                                         'Blond_Hair=0.5', '--signature', 'serving_default',
                                         '--out', str(tmp_path / 'rest.png')])
    assert result.returncode == 0, result.stderr
    assert _read(tmp_path / 'rest.png') == _read(tmp_path / 'grpc.png')
    # No face: one line naming the image.
    Image.fromarray(np.full([64, 64, 3], 90, np.uint8)).save(tmp_path / 'wall.png')
    code, _, err = _run_main(['--server', server.address, '--image', str(tmp_path / 'wall.png'),
                              '--set', 'Male=1'], capsys)
    assert code == 1 and err.startswith(f'error: --image={tmp_path / "wall.png"}: no face found')
    assert err.count('\n') == 1
