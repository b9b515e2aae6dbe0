"""A PredictionService test server: TF Serving's contract over real gRPC (and REST) on loopback.

The real `tensorflow_model_server` is distributed only as a Docker image and a vendor apt
repository, which the test machines cannot reach; serving/ ships the configuration and the
docker-compose file that run it. This server loads SavedModels from TF Serving-style base paths
(integer version folders) and answers Predict and GetModelMetadata as TF Serving's source does,
so that the tests drive the real gRPC (and REST) client and the export over a real connection:

- model / version lookup: NOT_FOUND "Servable not found for request: Latest(name)" or
  "Specific(name, v)"; no version asks for the highest one (version policy latest).
- Predict (servables/tensorflow/predict_util.cc): an empty signature name means serving_default;
  an unknown one is FAILED_PRECONDITION 'Serving signature key "x" not found.'; missing or extra
  inputs and a wrong dtype are INVALID_ARGUMENT; any shape is fed, whatever the signature
  declares, and errors raised in the graph keep their TensorFlow status
  (tf.errors.InvalidArgumentError -> INVALID_ARGUMENT); the response's model_spec names the version
  that answered; outputs are TensorProtos with typed value fields (Tensor::AsProtoField).
- GetModelMetadata (get_model_metadata_impl.cc): only metadata_field "signature_def"; the answer
  packs every SignatureDef of the meta graph (`__saved_model_init_op` included) into a
  SignatureDefMap inside an Any.
- with `batching=Batching(...)`, the checks of `--enable_batching` (batching/batching_session.cc,
  batching_util.h): every input has a 0th dimension, all the same and at most max_batch_size, and
  every output's 0th dimension equals it (FAILED_PRECONDITION otherwise).
- warmup (`--enable_model_warmup`, on by default): at load, the PredictionLog records of
  `assets.extra/tf_serving_warmup_requests` are replayed through the same checks; a failure fails
  the load, as it fails the model's load in TF Serving.
- REST twin (http_rest_api_handler.cc, json_tensor.cc): POST
  /v1/models/<name>[/versions/<v>]:predict with the columnar `inputs` format ({"b64": ...} for
  bytes) and GET .../metadata. Answers are {"outputs": ...} (the bare value when the signature has
  one output; string outputs base64-encoded only when their name ends in `_bytes`, otherwise
  written byte for byte into the JSON text), errors {"error": message} with TF Serving's HTTP
  status for the code.

Differences that remain: requests are not merged into shared batches, the row (`instances`) REST
format, Classify/Regress and ModelService are not implemented, and the message wording is only
close to TF Serving's.
"""

import base64
from concurrent import futures
import dataclasses
import http.server
import json
import math
import os
import re
import threading

from google.protobuf import json_format
import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

SERVING_DEFAULT = 'serving_default'
PREDICT_METHODS = ('tensorflow/serving/predict', 'tensorflow/serving/classify',
                   'tensorflow/serving/regress')
WARMUP_PATH = os.path.join('assets.extra', 'tf_serving_warmup_requests')
MAX_WARMUP_RECORDS = 1000

_CODES = {code.value[0]: code for code in grpc.StatusCode}
_HTTP_STATUS = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.FAILED_PRECONDITION: 400,
                grpc.StatusCode.OUT_OF_RANGE: 400, grpc.StatusCode.NOT_FOUND: 404,
                grpc.StatusCode.UNAVAILABLE: 503, grpc.StatusCode.DEADLINE_EXCEEDED: 504,
                grpc.StatusCode.UNIMPLEMENTED: 501, grpc.StatusCode.RESOURCE_EXHAUSTED: 429}
# Tensor::AsProtoField writes numbers into these repeated fields, not tensor_content.
_VALUE_FIELDS = {tf.float32: 'float_val', tf.float64: 'double_val', tf.int32: 'int_val',
                 tf.int16: 'int_val', tf.int8: 'int_val', tf.uint8: 'int_val',
                 tf.int64: 'int64_val', tf.bool: 'bool_val'}


class ServingStatus(Exception):
  """A non-OK answer: a grpc.StatusCode and TF Serving's message for it."""

  def __init__(self, code, message):
    super().__init__(f'{code.name}: {message}')
    self.code = code
    self.message = message


@dataclasses.dataclass(frozen=True)
class Batching:
  """The request constraints of `--enable_batching` (BatchingParameters.max_batch_size)."""
  max_batch_size: int = 16


def as_proto_field(array):
  """An output array as TF Serving's Predict returns it (values in the typed repeated field)."""
  array = np.asarray(array)
  proto = tf.make_tensor_proto(array)
  dtype = tf.dtypes.as_dtype(proto.dtype)
  if proto.tensor_content and dtype in _VALUE_FIELDS:
    proto.ClearField('tensor_content')
    getattr(proto, _VALUE_FIELDS[dtype]).extend(array.ravel().tolist())
  return proto


def _read_signature_defs(path):
  """The SignatureDefs of the `serve` meta graph of the SavedModel at path."""
  saved_model = saved_model_pb2.SavedModel()
  with open(os.path.join(path, 'saved_model.pb'), 'rb') as f:
    saved_model.ParseFromString(f.read())
  for meta_graph in saved_model.meta_graphs:
    if 'serve' in meta_graph.meta_info_def.tags:
      return dict(meta_graph.signature_def)
  raise ValueError(f'{path} has no meta graph tagged "serve".')


class Servable:
  """One loaded version of a model."""

  def __init__(self, name, version, path):
    self.name = name
    self.version = version
    self.path = path
    self.signature_defs = _read_signature_defs(path)
    self._functions = tf.saved_model.load(path).signatures

  def function(self, signature_name):
    return self._functions[signature_name]


def _dtype_name(enum):
  return tf.dtypes.as_dtype(enum).name if enum else 'invalid'


class ModelRepository:
  """The models of a server: {name: base path}, every integer version folder of each loaded."""

  def __init__(self, models, batching=None, warmup=True):
    self.batching = batching
    self._servables = {}
    for name, base_path in models.items():
      versions = sorted(int(n) for n in os.listdir(base_path)
                        if n.isdigit() and os.path.exists(os.path.join(base_path, n,
                                                                       'saved_model.pb')))
      if not versions:
        raise FileNotFoundError(f'no version folder with a saved_model.pb in {base_path}')
      for version in versions:
        servable = Servable(name, version, os.path.join(base_path, str(version)))
        if warmup:
          self._warm_up(servable)
        self._servables[name, version] = servable

  def servable(self, name, version=None):
    """The servable for a model spec; NOT_FOUND as TF Serving's manager words it."""
    if version is None:
      versions = [v for n, v in self._servables if n == name]
      if versions:
        return self._servables[name, max(versions)]
      request = f'Latest({name})'
    else:
      if (name, version) in self._servables:
        return self._servables[name, version]
      request = f'Specific({name}, {version})'
    raise ServingStatus(grpc.StatusCode.NOT_FOUND, f'Servable not found for request: {request}')

  def signature_def(self, servable, signature_name):
    name = signature_name or SERVING_DEFAULT
    if name not in servable.signature_defs:
      raise ServingStatus(grpc.StatusCode.FAILED_PRECONDITION,
                          f'Serving signature key "{name}" not found.')
    return name, servable.signature_defs[name]

  def predict(self, servable, signature_name, inputs, output_filter=()):
    """Runs a signature on {input name: array}; returns (signature name, {output name: array})."""
    name, signature = self.signature_def(servable, signature_name)
    if signature.method_name not in PREDICT_METHODS:
      raise ServingStatus(grpc.StatusCode.INTERNAL,
                          'Expected prediction signature method_name to be one of '
                          f'{{{", ".join(PREDICT_METHODS)}}}. Was: {signature.method_name}')
    sent, expected = set(inputs), set(signature.inputs)
    if sent != expected:
      raise ServingStatus(
          grpc.StatusCode.INVALID_ARGUMENT,
          f'input size does not match signature: {len(sent)}!={len(expected)} '
          f'len({{{",".join(sorted(sent))}}}) != len({{{",".join(sorted(expected))}}}). '
          f'Sent extra: {{{",".join(sorted(sent - expected))}}}. '
          f'Missing but required: {{{",".join(sorted(expected - sent))}}}.')
    tensors = {}
    for i, key in enumerate(sorted(signature.inputs)):
      want = tf.dtypes.as_dtype(signature.inputs[key].dtype)
      array = np.asarray(inputs[key])
      got = tf.dtypes.as_dtype(tf.string if array.dtype.kind in 'OSU' else array.dtype)
      if got != want:
        raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                            f'Expects arg[{i}] ({key}) to be {want.name} but {got.name} is '
                            'provided')
      tensors[key] = tf.constant(array, dtype=want)
    for alias in output_filter:
      if alias not in signature.outputs:
        raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                            f'output tensor alias not found in signature: {alias} Outputs '
                            f'expected to be in the set {{{",".join(sorted(signature.outputs))}}}.')
    batch_size = self._check_batch_inputs(tensors) if self.batching else None
    try:
      outputs = servable.function(name)(**tensors)
    except tf.errors.OpError as e:
      raise ServingStatus(_CODES[e.error_code], e.message) from None
    outputs = {k: np.asarray(v.numpy()) for k, v in outputs.items()
               if not output_filter or k in output_filter}
    if self.batching:
      self._check_batch_outputs(outputs, batch_size)
    return name, outputs

  def _check_batch_inputs(self, tensors):
    sizes = set()
    for tensor in tensors.values():
      if tensor.shape.rank == 0:
        raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                            'Batching Run() input tensors must have at least one dimension')
      sizes.add(tensor.shape[0])
    if len(sizes) > 1:
      raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                          'Batching Run() input tensors must have equal 0th-dimension size')
    (size,) = sizes
    if size > self.batching.max_batch_size:
      raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                          f'Task size {size} is larger than maximum input batch size '
                          f'{self.batching.max_batch_size}')
    return size

  def _check_batch_outputs(self, outputs, batch_size):
    for array in outputs.values():
      if array.ndim == 0:
        raise ServingStatus(grpc.StatusCode.FAILED_PRECONDITION,
                            'Batched output tensor has 0 dimensions')
      if array.shape[0] != batch_size:
        raise ServingStatus(grpc.StatusCode.FAILED_PRECONDITION,
                            "Batched output tensor's 0th dimension does not equal the sum of the "
                            '0th dimension sizes of the input tensors')

  def _warm_up(self, servable):
    """Replays the warmup records as TF Serving does at load; raises if one fails."""
    path = os.path.join(servable.path, WARMUP_PATH)
    if not os.path.exists(path):
      return
    for i, record in enumerate(tf.data.TFRecordDataset(path).as_numpy_iterator()):
      if i >= MAX_WARMUP_RECORDS:
        raise ValueError(f'Number of warmup records exceeds the maximum '
                         f'({MAX_WARMUP_RECORDS}) at {path}')
      log = prediction_log_pb2.PredictionLog.FromString(record)
      if log.WhichOneof('log_type') != 'predict_log':
        raise ValueError(f'warmup record {i} of {path} is a {log.WhichOneof("log_type")}; this '
                         'test server replays predict_log records only')
      request = log.predict_log.request
      inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
      try:
        self.predict(servable, request.model_spec.signature_name, inputs,
                     request.output_filter)
      except ServingStatus as e:
        raise ValueError(f'warmup record {i} of {path} failed, so TF Serving would not load '
                         f'{servable.name} version {servable.version}: {e}') from None


class _Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
  """Predict and GetModelMetadata; the other methods answer UNIMPLEMENTED (the base class)."""

  def __init__(self, repository, log, log_inputs):
    self._repository = repository
    self._log = log
    self._log_inputs = log_inputs

  def Predict(self, request, context):
    spec = request.model_spec
    self._log('Predict', spec.name, spec.signature_name or SERVING_DEFAULT)
    try:
      servable = self._repository.servable(spec.name,
                                           spec.version.value if spec.HasField('version') else None)
      inputs = {}
      for key, proto in request.inputs.items():
        try:
          inputs[key] = tf.make_ndarray(proto)
        except (TypeError, ValueError) as e:
          raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                              f'tensor parsing error: {key} ({e})') from None
      self._log_inputs(inputs)
      name, outputs = self._repository.predict(servable, spec.signature_name, inputs,
                                               request.output_filter)
    except ServingStatus as e:
      context.abort(e.code, e.message)
    response = predict_pb2.PredictResponse()
    response.model_spec.name = servable.name
    response.model_spec.version.value = servable.version
    response.model_spec.signature_name = name
    for key, array in outputs.items():
      response.outputs[key].CopyFrom(as_proto_field(array))
    return response

  def GetModelMetadata(self, request, context):
    self._log('GetModelMetadata', request.model_spec.name, '')
    try:
      response = get_model_metadata(self._repository, request)
    except ServingStatus as e:
      context.abort(e.code, e.message)
    return response


def get_model_metadata(repository, request):
  """A GetModelMetadataResponse as TF Serving builds it."""
  if not request.HasField('model_spec'):
    raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, 'Missing ModelSpec')
  if not request.metadata_field:
    raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                        'GetModelMetadataRequest must specify at least one metadata_field')
  for field in request.metadata_field:
    if field != 'signature_def':
      raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                          f'Metadata field {field} is not supported')
  spec = request.model_spec
  servable = repository.servable(spec.name, spec.version.value if spec.HasField('version')
                                 else None)
  signature_map = get_model_metadata_pb2.SignatureDefMap()
  for key, signature in servable.signature_defs.items():
    signature_map.signature_def[key].CopyFrom(signature)
  response = get_model_metadata_pb2.GetModelMetadataResponse()
  response.model_spec.name = servable.name
  response.model_spec.version.value = servable.version
  response.metadata['signature_def'].Pack(signature_map)
  return response


def _json_bytes(data):
  """A JSON string literal holding `data` byte for byte, escaped as TF Serving's rapidjson does."""
  out = bytearray(b'"')
  for byte in data:
    if byte in (0x22, 0x5c):
      out += b'\\' + bytes([byte])
    elif byte < 0x20:
      out += b'\\u%04X' % byte
    else:
      out.append(byte)
  return bytes(out + b'"')


def _json_value(value, as_b64):
  """One nested-list value of an output tensor as JSON text (bytes)."""
  if isinstance(value, list):
    return b'[' + b','.join(_json_value(v, as_b64) for v in value) + b']'
  if isinstance(value, bytes):
    if as_b64:
      return json.dumps({'b64': base64.b64encode(value).decode()}).encode()
    return _json_bytes(value)
  if isinstance(value, float):
    if math.isnan(value):
      return b'NaN'
    if math.isinf(value):
      return b'Infinity' if value > 0 else b'-Infinity'
  return json.dumps(value).encode()


def rest_outputs_json(outputs):
  """The columnar {"outputs": ...} answer of TF Serving's REST predict (json_tensor.cc)."""
  parts = [(k, _json_value(np.asarray(v).tolist(), k.endswith('_bytes') and
                           np.asarray(v).dtype.kind in 'OS'))
           for k, v in sorted(outputs.items())]
  if len(parts) == 1:
    body = parts[0][1]
  else:
    body = b'{' + b','.join(json.dumps(k).encode() + b':' + v for k, v in parts) + b'}'
  return b'{"outputs":' + body + b'}'


def _from_rest_value(value, dtype):
  """A columnar REST input value -> array of the signature's dtype."""
  if dtype == tf.string:
    def leaf(v):
      if isinstance(v, list):
        return [leaf(x) for x in v]
      if isinstance(v, dict):
        if set(v) != {'b64'} or not isinstance(v['b64'], str):
          raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                              f'JSON Value: {json.dumps(v)} not formatted correctly for base64 '
                              'data')
        try:
          return base64.b64decode(v['b64'], validate=True)
        except ValueError:
          raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                              'Unable to base64 decode') from None
      if isinstance(v, str):
        return v.encode('utf-8')
      raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                          f'JSON Value: {json.dumps(v)} is not of expected type: string')
    return np.array(leaf(value), dtype=object)
  try:
    return np.asarray(value, dtype=dtype.as_numpy_dtype)
  except (TypeError, ValueError) as e:
    raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                        f'JSON Value: {json.dumps(value)[:80]} is not of expected type: '
                        f'{dtype.name} ({e})') from None


class _RestHandler(http.server.BaseHTTPRequestHandler):
  """TF Serving's /v1/models REST endpoints for Predict and model metadata."""
  protocol_version = 'HTTP/1.1'
  _PREDICT = re.compile(r'/v1/models/([^/:]+)(?:/versions/(\d+))?:(classify|regress|predict)',
                        re.IGNORECASE)
  _METADATA = re.compile(r'/v1/models/([^/:]+)(?:/versions/(\d+))?/metadata', re.IGNORECASE)

  def log_message(self, *args):
    pass

  def _reply(self, status, body):
    self.send_response(status)
    self.send_header('Content-Type', 'application/json')
    self.send_header('Content-Length', str(len(body)))
    self.end_headers()
    self.wfile.write(body)

  def _handle(self, answer):
    try:
      self._reply(200, answer())
    except ServingStatus as e:
      self._reply(_HTTP_STATUS.get(e.code, 500), json.dumps({'error': e.message}).encode())

  def do_GET(self):
    match = self._METADATA.fullmatch(self.path)
    if not match:
      return self._reply(404, b'')
    self.server.log('GetModelMetadata', match.group(1), '')

    def answer():
      request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=['signature_def'])
      request.model_spec.name = match.group(1)
      if match.group(2):
        request.model_spec.version.value = int(match.group(2))
      response = get_model_metadata(self.server.repository, request)
      signature_map = get_model_metadata_pb2.SignatureDefMap()
      response.metadata['signature_def'].Unpack(signature_map)
      return json.dumps({'model_spec': _message_dict(response.model_spec),
                         'metadata': {'signature_def': _message_dict(signature_map)}}).encode()
    self._handle(answer)

  def do_POST(self):
    body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
    match = self._PREDICT.fullmatch(self.path)
    if not match:
      return self._reply(404, b'')
    name, version, method = match.group(1), match.group(2), match.group(3).lower()

    def answer():
      if method != 'predict':
        raise ServingStatus(grpc.StatusCode.UNIMPLEMENTED,
                            f'this test server implements :predict only, not :{method}')
      try:
        request = json.loads(body)
      except ValueError as e:
        raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT, f'JSON Parse error: {e}') from None
      signature_name = request.get('signature_name', '') if isinstance(request, dict) else ''
      self.server.log('Predict', name, signature_name or SERVING_DEFAULT)
      repository = self.server.repository
      servable = repository.servable(name, int(version) if version else None)
      signature_key = signature_name or SERVING_DEFAULT
      if signature_key not in servable.signature_defs:
        # The REST handler looks the signature up itself, and says so with INVALID_ARGUMENT.
        raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                            f'Serving signature name: "{signature_key}" not found in signature '
                            'def')
      if not isinstance(request, dict) or 'inputs' not in request or 'instances' in request:
        raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                            "Missing 'inputs' key (this test server implements the columnar "
                            "'inputs' format only)")
      signature_inputs = servable.signature_defs[signature_key].inputs
      values = request['inputs']
      if not isinstance(values, dict) or len(signature_inputs) == 1 and set(values) != set(
          signature_inputs):
        values = {next(iter(signature_inputs)): values}
      inputs = {}
      for key, value in values.items():
        if key not in signature_inputs:
          raise ServingStatus(grpc.StatusCode.INVALID_ARGUMENT,
                              f'JSON object: does not have named input: {key}')
        inputs[key] = _from_rest_value(value, tf.dtypes.as_dtype(signature_inputs[key].dtype))
      self.server.log_inputs(inputs)
      _, outputs = repository.predict(servable, signature_key, inputs)
      return rest_outputs_json(outputs)
    self._handle(answer)


def _message_dict(message):
  # The JSON print options of TF Serving's http_rest_api_util.cc.
  return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                   always_print_fields_with_no_presence=True)


class PredictionServer:
  """The test server: gRPC on 127.0.0.1:<ephemeral>, optionally the REST twin too.

    with PredictionServer({'stargan': export_dir}) as server:
      channel = grpc.insecure_channel(server.address)
      ...

  Args:
    models: {model name: base path holding integer version folders}.
    batching: a Batching to apply `--enable_batching`'s checks, or None.
    warmup: replay each version's warmup records at load (TF Serving's default).
    rest: also serve the REST API (at `rest_url`).
    max_workers: threads answering gRPC calls; more concurrent calls wait in gRPC's queue.

  Attributes:
    requests: (api, model name, signature) of each call received, in order.
    predict_inputs: {input name: array} of each Predict (gRPC or REST) whose inputs were read, in
      order: what a client sent.
  """

  def __init__(self, models, *, batching=None, warmup=True, rest=False, max_workers=4):
    self.repository = ModelRepository(models, batching=batching, warmup=warmup)
    self.requests = []
    self.predict_inputs = []
    self._lock = threading.Lock()
    self._max_workers = max_workers
    self._rest = rest
    self._grpc = None
    self._http = None
    self._http_thread = None
    self.address = None
    self.rest_url = None

  def _record(self, api, model, signature):
    with self._lock:
      self.requests.append((api, model, signature))

  def _record_inputs(self, inputs):
    with self._lock:
      self.predict_inputs.append(inputs)

  def start(self):
    self._grpc = grpc.server(
        futures.ThreadPoolExecutor(max_workers=self._max_workers),
        maximum_concurrent_rpcs=4 * self._max_workers,
        options=[('grpc.max_receive_message_length', -1),
                 ('grpc.max_send_message_length', -1)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        _Servicer(self.repository, self._record, self._record_inputs), self._grpc)
    port = self._grpc.add_insecure_port('127.0.0.1:0')
    self._grpc.start()
    self.address = f'127.0.0.1:{port}'
    if self._rest:
      self._http = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _RestHandler)
      self._http.daemon_threads = True
      self._http.repository = self.repository
      self._http.log = self._record
      self._http.log_inputs = self._record_inputs
      self._http_thread = threading.Thread(target=self._http.serve_forever, daemon=True)
      self._http_thread.start()
      self.rest_url = f'http://127.0.0.1:{self._http.server_address[1]}'
    return self

  def stop(self):
    if self._http:
      self._http.shutdown()
      self._http.server_close()
      self._http_thread.join()
      self._http = None
    if self._grpc:
      self._grpc.stop(grace=None).wait()
      self._grpc = None

  def __enter__(self):
    return self.start()

  def __exit__(self, *exc):
    self.stop()
