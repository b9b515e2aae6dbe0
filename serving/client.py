"""Translate photos with the StarGAN generator served by TF Serving, over gRPC or REST.

  python -m serving.client --server=localhost:8500 --image=face.jpg --set="Blond_Hair=1" \
      --out=out.png
  python -m serving.client --rest=http://localhost:8501 --image=a.jpg --image=b.jpg \
      --base="Black_Hair=1,Young=1" --set="Blond_Hair=1,Male=1" --out=results/

  python -m serving.client --image=face.jpg --set="happy=1" --out=happy.png   # RaFD or Both

Faces: each photo's faces are found, aligned to CelebA's framing and cut out here
(`stargan_tf.faces`, OpenCV's face detector; any size, EXIF orientation honoured, several faces),
sent as one batch, and pasted back into the photo, which is what --out receives. A photo without
a face found is an error. `--no_align` sends the central square of each photo instead (the
server's own preprocessing) and writes the model's square output, as before; it needs no OpenCV.

Target labels: `--set` names the domains to change, with values from 0 to 1 ("Blond_Hair=0.5"
asks for half the change); every domain not named keeps the photo's own value, which the model's
`classify` signature (the discriminator's classifier) reads off each face. `--base` gives the
photo's own label by hand instead ("Black_Hair=1,Young=1"). A model exported without `classify`
(before it existed, or with `export --noclassify`) cannot read them: domains not named then start
from `--base`, every domain 0 by default, and the client says so in a note on stderr. `--set`
changes domains by the rules of `stargan_tf.labels` (setting a hair colour to 1 clears the other
hair colours; for RaFD, `--set` names the one target expression). The names and
the label layout come from the served model (its `metadata` signature), so a misspelt name fails,
listing the valid ones, before any image is sent. A model trained on both datasets (CelebA and
RaFD) takes the names of either; the client builds the label with the mask vector itself
(`stargan_tf.labels.LabelSpace.target`). One label describes an image of one dataset, so `--set`
and `--base` name domains of the same dataset ("Blond_Hair=1,happy=1" is refused).

Signatures: `--signature=translate_bytes` (default) sends PNG bytes of the aligned faces (with
--no_align, the files' own bytes: the server crops and resizes) and receives PNGs.
`--signature=serving_default` exchanges float tensors (with --no_align, cropped and resized here
with Pillow).

Outputs: one --image is written to --out. Several go in one batched request and are written to
`<out stem>_<i><out extension>` (i: the position of the --image, from 0), or to
`<folder>/<image stem>.png` when --out is a folder (an existing one, or a path ending in '/').
TF Serving refuses a request larger than its max_batch_size (16 in serving/batching_parameters.txt).

Failures (server unreachable, unknown model, version or domain name, domains of two datasets,
unreadable image, no face found, an image the server refuses) end the program with a one-line
message on stderr and exit status 1.

Dependencies: the REST transport (--rest) needs only the standard library, numpy and Pillow (and
the TensorFlow-free `stargan_tf.labels`, `contract`, `faces`, `images` and `fileio`), plus OpenCV
(opencv-python-headless 4.x) for face detection unless --no_align is given, so it runs on a
machine without TensorFlow (serving/README.md says how to install it there). The gRPC transport
needs grpcio, tensorflow and tensorflow-serving-api, imported (`serving/grpc_transport.py`) only
when it is used.
"""

import argparse
import base64
import dataclasses
import io
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
from PIL import Image

from stargan_tf import contract
from stargan_tf import faces
from stargan_tf import fileio
from stargan_tf import images

DEFAULT_SERVER = 'localhost:8500'
DEFAULT_TIMEOUT = 30.0
# What the export's translate_bytes decodes.
IMAGE_FORMATS = ('JPEG', 'PNG')
# How TF Serving's REST server maps status codes to HTTP (model_servers/http_server.cc).
_HTTP_STATUS = {404: 'NOT_FOUND', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED'}
# numpy dtypes of the TensorFlow DataType names a SignatureDef uses (types.proto), so that no
# transport needs tf.dtypes to read one.
_NUMPY_DTYPES = {
    'DT_FLOAT': np.float32, 'DT_DOUBLE': np.float64, 'DT_HALF': np.float16,
    'DT_INT8': np.int8, 'DT_INT16': np.int16, 'DT_INT32': np.int32, 'DT_INT64': np.int64,
    'DT_UINT8': np.uint8, 'DT_UINT16': np.uint16, 'DT_BOOL': np.bool_, 'DT_STRING': object,
}


class ServingError(Exception):
  """A failure explained for the user; the command line prints it without a traceback."""


@dataclasses.dataclass(frozen=True)
class Signature:
  """What the client reads of a SignatureDef: the dtype of each input and output.

  Attributes:
    inputs: {input name: TensorFlow DataType name, e.g. 'DT_FLOAT'}.
    outputs: {output name: DataType name}.
  """
  inputs: dict
  outputs: dict


def _numpy_dtype(dtype_name):
  """The numpy dtype of a DataType name ('DT_FLOAT' -> float32; 'DT_STRING' -> object)."""
  if dtype_name not in _NUMPY_DTYPES:
    raise ServingError(f'the served signature has a {dtype_name} tensor; this client reads '
                       f'{", ".join(_NUMPY_DTYPES)}.')
  return _NUMPY_DTYPES[dtype_name]


@dataclasses.dataclass(frozen=True)
class ModelInfo:
  """What the served model says about itself.

  Attributes:
    version: the served version.
    label_space: the `labels.LabelSpace` of its `target` input (domain names, datasets, mask).
    image_size: the training image side.
    classify: whether it has the `classify` signature.
    crop_size: the centre crop of CelebA's aligned frame it was trained on.
  """
  version: int
  label_space: object  # labels.LabelSpace
  image_size: int
  classify: bool = False
  crop_size: int = contract.DEFAULT_CROP_SIZE


def _spec_text(model, version):
  return f'model {model!r}' + (f' version {version}' if version is not None else '')


def _explain(code, details, where, model, version, timeout):
  """A one-line message for a failed call with status `code` (a grpc.StatusCode name)."""
  if code == 'UNAVAILABLE':
    return (f'cannot reach TF Serving at {where} ({details}); is the server running? '
            '(see serving/README.md)')
  if code == 'DEADLINE_EXCEEDED':
    return f'cannot reach TF Serving at {where}: no answer within --timeout={timeout:g} s.'
  if code == 'NOT_FOUND':
    return f'TF Serving at {where} does not serve {_spec_text(model, version)}: {details}'
  return f'TF Serving at {where} refused the request ({code}): {details}'


class Transport:
  """Predict and GetModelMetadata for one model.

  Subclasses speak gRPC (`GrpcTransport`) or REST (`RestTransport`): they define
  `_get_signatures()` -> (served version, {name: Signature}) and `_predict(signature, inputs)` ->
  {output name: array}.
  """

  def __init__(self, where, model, version, timeout):
    self.where = where
    self.model = model
    self.version = version
    self.timeout = timeout
    self._signatures = None

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()

  def close(self):
    pass

  def _error(self, code, details):
    return ServingError(_explain(code, details, self.where, self.model, self.version,
                                 self.timeout))

  def signatures(self):
    """(served version, {signature name: Signature}), asked once (GetModelMetadata)."""
    if self._signatures is None:
      self._signatures = self._get_signatures()
    return self._signatures

  def signature(self, name):
    """The Signature `name`, or a ServingError listing the model's signatures."""
    _, signatures = self.signatures()
    if name not in signatures:
      # TF2 SavedModels carry an internal `__saved_model_init_op` entry; it is not for clients.
      names = ', '.join(sorted(n for n in signatures if not n.startswith('__')))
      raise ServingError(f'{_spec_text(self.model, self.version)} at {self.where} has no '
                         f'signature {name!r}; it has: {names}. Was it exported by '
                         'stargan_tf.export?')
    return signatures[name]

  def predict(self, signature, inputs):
    """Runs `signature` on {input name: array}; returns {output name: array}."""
    self.signature(signature)
    return self._predict(signature, inputs)


class GrpcTransport(Transport):
  """TF Serving's PredictionService over gRPC (its --port, 8500 by default).

  The calls are in `grpc_transport`, imported here: the REST transport needs none of grpcio,
  tensorflow and tensorflow-serving-api.
  """

  def __init__(self, server, model, version=None, timeout=DEFAULT_TIMEOUT):
    super().__init__(server, model, version, timeout)
    try:
      # pylint: disable=g-import-not-at-top (REST needs no TF)
      from stargan_tf import cli
      cli.import_tensorflow()  # without TensorFlow's start-up notices
      from serving import grpc_transport
    except ImportError as e:
      raise ServingError('--server (gRPC) needs grpcio, tensorflow and tensorflow-serving-api, '
                         f'which cannot be imported here ({e}); pip install '
                         'tensorflow-serving-api, or use --rest.') from None
    self._rpc_error = grpc_transport.RpcError
    self._stub = grpc_transport.PredictionStub(server, model, version)

  def close(self):
    self._stub.close()

  def _call(self, method, *args):
    try:
      return method(*args, timeout=self.timeout)
    except self._rpc_error as e:
      raise self._error(e.code().name, e.details()) from None

  def _get_signatures(self):
    version, dtypes = self._call(self._stub.get_signatures)
    return version, {name: Signature(inputs, outputs) for name, (inputs, outputs) in dtypes.items()}

  def _predict(self, signature, inputs):
    return self._call(self._stub.predict, signature, inputs)


def _to_json(array):
  """An input array as TF Serving's REST API reads it: nested lists, bytes as {"b64": ...}."""
  array = np.asarray(array)
  if array.dtype.kind in 'OSU':
    return np.vectorize(lambda b: {'b64': base64.b64encode(b).decode('ascii')},
                        otypes=[object])(array).tolist()
  return array.tolist()


def _bytes_leaf(value):
  """One string of a REST answer as bytes.

  TF Serving base64-encodes only string outputs whose name ends in `_bytes`; others are written
  byte for byte into the JSON text (control characters escaped), which the surrogateescape
  decoding of the whole answer (see `RestTransport._call`) turns back into the same bytes.
  """
  if isinstance(value, dict):
    return base64.b64decode(value['b64'])
  return value.encode('utf-8', 'surrogateescape')


def _from_json(value, dtype_name):
  """A REST answer's value -> array of the signature's dtype (a DataType name)."""
  dtype = _numpy_dtype(dtype_name)
  if dtype is object:
    leaves = np.vectorize(_bytes_leaf, otypes=[object])
    return leaves(np.array(value, dtype=object)) if isinstance(value, list) else _bytes_leaf(value)
  return np.asarray(value, dtype=dtype)


def _signature_from_json(signature_def):
  """A Signature from a SignatureDef in the protobuf JSON of TF Serving's REST metadata."""
  def dtypes(tensors):
    return {name: info.get('dtype', 'DT_INVALID') for name, info in tensors.items()}
  return Signature(inputs=dtypes(signature_def.get('inputs', {})),
                   outputs=dtypes(signature_def.get('outputs', {})))


class RestTransport(Transport):
  """TF Serving's REST API (its --rest_api_port, 8501 by default), with the standard library."""

  def __init__(self, url, model, version=None, timeout=DEFAULT_TIMEOUT):
    super().__init__(url.rstrip('/'), model, version, timeout)

  def _model_url(self):
    url = f'{self.where}/v1/models/{urllib.parse.quote(self.model, safe="")}'
    return url + (f'/versions/{self.version}' if self.version is not None else '')

  def _call(self, url, body=None):
    data = None if body is None else json.dumps(body).encode('utf-8')
    request = urllib.request.Request(url, data=data, headers={'Content-Type': 'application/json'})
    try:
      with urllib.request.urlopen(request, timeout=self.timeout) as response:
        payload = response.read()
    except urllib.error.HTTPError as e:
      text = e.read().decode('utf-8', 'replace')
      try:
        details = json.loads(text)['error']
      except (ValueError, KeyError, TypeError):
        # TF Serving C-escapes its message, which is not always valid JSON (\').
        details = text.strip()
      raise self._error(_HTTP_STATUS.get(e.code, f'HTTP {e.code}'), details) from None
    except TimeoutError:
      raise self._error('DEADLINE_EXCEEDED', '') from None
    except urllib.error.URLError as e:
      code = 'DEADLINE_EXCEEDED' if isinstance(e.reason, TimeoutError) else 'UNAVAILABLE'
      raise self._error(code, str(e.reason)) from None
    except ConnectionError as e:
      raise self._error('UNAVAILABLE', str(e)) from None
    # Not strict UTF-8: raw (non-`_bytes`) string outputs may hold any bytes; see _bytes_leaf.
    return json.loads(payload.decode('utf-8', 'surrogateescape'))

  def _get_signatures(self):
    reply = self._call(self._model_url() + '/metadata')
    # {"model_spec": {..., "version": "1"}, "metadata": {"signature_def": <SignatureDefMap>}}: the
    # messages in protobuf's JSON form (an int64 as a string, an enum by its name).
    signature_defs = reply['metadata']['signature_def']['signature_def']
    return int(reply['model_spec']['version']), {
        name: _signature_from_json(signature_def)
        for name, signature_def in signature_defs.items()}

  def _predict(self, signature, inputs):
    body = {'signature_name': signature,
            'inputs': {key: _to_json(value) for key, value in inputs.items()}}
    outputs = self._call(self._model_url() + ':predict', body)['outputs']
    signature_outputs = self.signature(signature).outputs
    if len(signature_outputs) == 1:  # TF Serving then leaves out the output's name.
      outputs = {next(iter(signature_outputs)): outputs}
    return {key: _from_json(value, signature_outputs[key]) for key, value in outputs.items()}


def connect(server=DEFAULT_SERVER, rest='', model='stargan', version=None,
            timeout=DEFAULT_TIMEOUT):
  """A transport to TF Serving: REST to `rest` (http://host:port) if given, else gRPC."""
  if rest:
    return RestTransport(rest, model, version, timeout)
  return GrpcTransport(server, model, version, timeout)


def read_model_info(transport):
  """The served version, label space and image size (the `metadata` signature)."""
  version, _ = transport.signatures()
  signature = transport.signature(contract.METADATA)
  # A batch of one zero: TF Serving's batching refuses scalars, and the answer has one row per
  # request row.
  inputs = {key: np.zeros([1], _numpy_dtype(dtype)) for key, dtype in signature.inputs.items()}
  try:
    out = transport.predict(contract.METADATA, inputs)
  except ServingError as e:
    raise ServingError(
        f'cannot read the domain names (signature {contract.METADATA!r}): {e}') from None
  where = f'{_spec_text(transport.model, transport.version)} at {transport.where}'
  if contract.METADATA_RECORD not in out:
    raise ServingError(f'{where}: its metadata has no {contract.METADATA_RECORD!r} record; it was '
                       'exported by an earlier version of stargan_tf: export it again.')
  try:
    record = contract.ModelMetadata.from_json(bytes(out[contract.METADATA_RECORD][0]).decode(
        'utf-8'), where)
  except ValueError as e:
    raise ServingError(str(e)) from None
  return ModelInfo(version=version, label_space=record.label_space, image_size=record.image_size,
                   classify=record.classify, crop_size=record.crop_size)


def read_domain_names(transport):
  """The names of the served model's domains, in label order."""
  return read_model_info(transport).label_space.domain_names


NO_CLASSIFY_NOTE = contract.NO_CLASSIFY_NOTE


def make_targets(info, n, set_spec, base_spec='', logits=None):
  """Target labels [n, label_dim]: --set applied on the photos' own labels.

  The own labels are --base if given, else the classifier's reading `logits` [n, num_domains] if
  given, else every domain 0 (`labels.LabelSpace.target`).
  """
  try:
    c_trg = info.label_space.target(set_spec, base_spec, logits)
  except ValueError as e:
    raise ServingError(str(e)) from None
  return np.array(np.broadcast_to(c_trg, [n, c_trg.shape[1]]))


def classify(transport, x):
  """D's domain logits [N, num_domains] of float images x [N, S, S, 3] (`classify`)."""
  return np.asarray(transport.predict(contract.CLASSIFY, {'image': x})[contract.LOGITS])


def own_targets(transport, info, x, set_spec, base_spec=''):
  """Targets [N, label_dim] of float images x [N, S, S, 3]: the domains not named in --set keep
  what the model's classifier reads off each image (--base instead, if given); a model without
  `classify` starts them from --base, with NO_CLASSIFY_NOTE on stderr."""
  if base_spec or not info.label_space.depends_on_source(set_spec):
    return make_targets(info, len(x), set_spec, base_spec)
  if not info.classify:
    print(NO_CLASSIFY_NOTE, file=sys.stderr)
    return make_targets(info, len(x), set_spec)
  return make_targets(info, len(x), set_spec, logits=classify(transport, x))


def read_image_bytes(path):
  """The bytes of a JPEG or PNG file, checked to decode; ServingError otherwise."""
  try:
    with open(path, 'rb') as f:
      data = f.read()
  except OSError as e:
    raise ServingError(f'cannot read --image={path}: {e.strerror}.') from None
  try:
    with Image.open(io.BytesIO(data)) as image:
      image_format = image.format
      image.load()
  except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
    raise ServingError(f'--image={path} is not a readable JPEG or PNG image ({e}).') from None
  if image_format not in IMAGE_FORMATS:
    raise ServingError(f'--image={path} is a {image_format} image; expected JPEG or PNG.')
  return data


def to_model_input(data, image_size):
  """JPEG/PNG bytes -> float32 [image_size, image_size, 3] in [-1, 1].

  The preprocessing translate_bytes does in the graph (the central square of the shorter side,
  bilinear antialiased resize), done with Pillow: close to it, not bit for bit.
  """
  with Image.open(io.BytesIO(data)) as image:
    image = image.convert('RGB')
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize(
        (image_size, image_size), Image.Resampling.BILINEAR)
  return np.asarray(image, np.float32) / 127.5 - 1.0


def encode_png(array):
  """uint8 [H, W, 3] -> PNG bytes."""
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format='PNG')
  return buffer.getvalue()


def decode_png(data):
  """PNG bytes -> float32 [H, W, 3] in [-1, 1]."""
  with Image.open(io.BytesIO(data)) as image:
    return np.asarray(image.convert('RGB'), np.float32) / 127.5 - 1.0


def align_faces(image_data, info, names):
  """(the photos, their faces as lists of `faces.AlignedFace`): each photo's faces aligned to the
  model's framing; ServingError for a photo without a face, or without OpenCV."""
  photos, aligned = [], []
  for data, name in zip(image_data, names):
    photos.append(faces.decode_photo(data))
    try:
      aligned.append(faces.align_photo(photos[-1], info.image_size, info.crop_size, name=name))
    except (faces.NoFaceError, ImportError) as e:
      raise ServingError(str(e)) from None
  return photos, aligned


def translate(transport, image_data, set_spec, base_spec='', signature=contract.TRANSLATE_BYTES,
              align=True, names=None):
  """Translates JPEG/PNG bytes in one request; returns one PNG (bytes) per image.

  With align, every face of every image is aligned, the faces go in one request and each image
  comes back whole with its faces pasted in; else each image's central square is translated.
  `names` name the images in errors (default: image 0, 1, ...).
  """
  if signature not in (contract.TRANSLATE_BYTES, contract.SERVING_DEFAULT):
    raise ServingError(f'--signature={signature}: expected {contract.TRANSLATE_BYTES} or '
                       f'{contract.SERVING_DEFAULT}.')
  info = read_model_info(transport)
  transport.signature(signature)
  make_targets(info, 1, set_spec, base_spec)  # a misspelt name fails before any image is sent
  names = names or [f'image {i}' for i in range(len(image_data))]
  if align:
    photos, aligned = align_faces(image_data, info, names)
    x = np.stack([face.image for photo_faces in aligned for face in photo_faces])
    sent = [encode_png(images.denorm(face)) for face in x]
  else:
    x = np.stack([to_model_input(data, info.image_size) for data in image_data])
    sent = image_data
  c_trg = own_targets(transport, info, x, set_spec, base_spec)
  if signature == contract.TRANSLATE_BYTES:
    out = transport.predict(signature, {'image_bytes': np.array(sent, dtype=object),
                                        'target': c_trg})
    pngs = [bytes(png) for png in out['image_png']]
    y = [decode_png(png) for png in pngs] if align else None
  else:
    y = transport.predict(signature, {'image': x, 'target': c_trg})['image']
    pngs = [encode_png(images.denorm(face)) for face in y]
  if not align:
    return pngs
  results, start = [], 0
  for photo, photo_faces in zip(photos, aligned):
    translated = y[start:start + len(photo_faces)]
    start += len(photo_faces)
    results.append(encode_png(faces.paste_faces(photo, photo_faces, translated)))
  return results


def output_paths(out, image_paths):
  """Where the results of `image_paths` go (see the module docstring)."""
  if out.endswith(('/', os.sep)) or os.path.isdir(out):
    stems = [os.path.splitext(os.path.basename(p))[0] for p in image_paths]
    if len(set(stems)) < len(stems):
      raise ServingError(f'--out={out} is a folder but several --image files share a name; '
                         'give --out=<name>.png to number the results instead.')
    return [os.path.join(out, stem + '.png') for stem in stems]
  if len(image_paths) == 1:
    return [out]
  root, ext = os.path.splitext(out)
  return [f'{root}_{i}{ext or ".png"}' for i in range(len(image_paths))]


def _positive_int(text):
  value = int(text)
  if value < 1:
    raise argparse.ArgumentTypeError(f'{text}: expected a positive integer')
  return value


def parse_args(argv):
  # argparse rather than absl flags: absl's FLAGS are process-wide, and this client is a separate
  # program whose main(argv) the tests call repeatedly.
  parser = argparse.ArgumentParser(
      prog='python -m serving.client',
      description='Translate photos with the StarGAN generator served by TF Serving.')
  where = parser.add_mutually_exclusive_group()
  where.add_argument('--server', default=DEFAULT_SERVER,
                     help='TF Serving gRPC address, host:port (default %(default)s).')
  where.add_argument('--rest', default='',
                     help='TF Serving REST base URL, e.g. http://localhost:8501; used instead of '
                          'gRPC.')
  parser.add_argument('--model', default='stargan', help='Served model name.')
  parser.add_argument('--version', type=_positive_int, default=None,
                      help='Model version (default: the one the server serves, its latest).')
  parser.add_argument('--signature', default=contract.TRANSLATE_BYTES,
                      choices=(contract.TRANSLATE_BYTES, contract.SERVING_DEFAULT),
                      help='translate_bytes: send file bytes, get PNGs; serving_default: send '
                           'preprocessed float images.')
  parser.add_argument('--image', action='append', required=True,
                      help='JPEG or PNG file; repeat for a batch.')
  parser.add_argument('--set', dest='set_spec', action='append', required=True,
                      help='Target domains, NAME=VALUE[,...] with values from 0 to 1 (e.g. '
                           'Blond_Hair=1 or Blond_Hair=0.5); repeatable. Domains not named keep '
                           'the photo\'s own values. The names are of one dataset (a joint '
                           'model takes either dataset\'s; the client sets the mask).')
  parser.add_argument('--base', default='',
                      help='The photo\'s own label, NAME=VALUE[,...], of the dataset of --set '
                           '(default: read off each face by the model\'s classify signature; '
                           'every domain 0 for a model without it).')
  parser.add_argument('--no_align', action='store_true',
                      help='Translate the central square of each photo, as the server '
                           'preprocesses it, instead of finding, aligning and pasting back its '
                           'faces (needs no OpenCV).')
  parser.add_argument('--out', default='out.png',
                      help='Output PNG (the photo with its faces translated; with --no_align the '
                           'model\'s square output); with several images <stem>_<i>.png, or a '
                           'folder.')
  parser.add_argument('--timeout', type=float, default=DEFAULT_TIMEOUT,
                      help='Deadline of each call, in seconds (default %(default)s).')
  return parser.parse_args(argv)


def run(args):
  """Does what the command line asks; returns the paths written."""
  image_data = [read_image_bytes(path) for path in args.image]
  paths = output_paths(args.out, args.image)
  with connect(args.server, args.rest, args.model, args.version, args.timeout) as transport:
    pngs = translate(transport, image_data, ','.join(args.set_spec), args.base, args.signature,
                     align=not args.no_align, names=[f'--image={p}' for p in args.image])
  for path, png in zip(paths, pngs):
    fileio.write_bytes(path, png)  # atomic: an interrupted run leaves no truncated picture
  return paths


def main(argv=None):
  """The command line; returns the exit status."""
  args = parse_args(argv)
  try:
    paths = run(args)
  except ServingError as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  for path in paths:
    print(path)
  return 0


if __name__ == '__main__':
  sys.exit(main())
