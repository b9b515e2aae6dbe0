"""Export the generator (and the discriminator's classifier) as a SavedModel for TF Serving.

The signatures and the metadata record are the deployment contract (`contract.py`). Layout (TF
Serving's): `<export_dir>/<version>/saved_model.pb`, `variables/` and `assets.extra/` holding
`stargan.json` (the `contract.ModelMetadata` record) and `tf_serving_warmup_requests` (replayed by
the server at load, so the first real request does not pay for graph set-up).

`target` is G's label (`labels.LabelSpace`). A single-dataset model takes one column per domain
(label_dim = num_domains). A model trained on both datasets takes the CelebA attributes, then the
RaFD expressions, then the mask vector (label_dim = num_domains + 2): a target describes an image
of one dataset, so it sets that dataset's domains, leaves the other dataset's columns 0 and has 1
in that dataset's mask column ([1, 0] CelebA, [0, 1] RaFD).

Every input and output has the batch dimension N first, because TF Serving started with
--enable_batching batches every signature of the model: it refuses scalar inputs and outputs
whose first dimension is not the request's N.

Malformed requests fail inside the graph, before G runs, with a message naming the input and the
rule, which TF Serving returns as INVALID_ARGUMENT: a `target` that is not [N, label_dim] or holds
NaN or infinity; an `image` that is not [N, H, W, 3] with N, H and W at least 1, whose H and W are
not multiples of 4, or that holds NaN or infinity; `image_bytes` that are not JPEG or PNG, larger
than the export's max_image_pixels (width x height, read from the JPEG header or the PNG IHDR
chunk, before decoding) or that fail to decode (named by their index in the batch, with the
likely reason: truncated or corrupt).

serving_default declares its `image` input with unknown rank (`saved_model_cli` shows
`unknown_rank`) although it takes [N, H, W, 3]. TF Serving feeds whatever a request holds without
comparing it with the declared shape, while the graph is built for the declared one: declared
[-1, -1, -1, 3], the graph takes the rank and the channel count as known (a rank check is a
constant true at trace time), and a rank-5 or 4-channel image fails deep inside G ("filter depth:
9 vs 8"). Declared of unknown rank, the graph checks both and refuses such an image naming
[N, H, W, 3] and the shape it got. The output is declared [-1, -1, -1, 3]; the contract
(`contract.py`) documents the shapes of every signature.

An export of a run also has the `classify` signature: D's domain classifier on [N, S, S, 3]
images (S the training size; D only takes that size), so that clients read a photo's own labels
and a target changes only the domains it names. `export_generator` without D leaves it out, as
exports written before it existed do; the record's `classify` says which.

A version folder appears only complete: the export is written to a hidden sibling folder (whose
name is not an integer, so TF Serving ignores it) and renamed into place at the end.
"""

import dataclasses
import os

from absl import logging
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2

from stargan_tf import contract
from stargan_tf import fileio
from stargan_tf import runs
from stargan_tf.data import integrity
from stargan_tf.data import ops

SERVING_DEFAULT = contract.SERVING_DEFAULT
TRANSLATE_BYTES = contract.TRANSLATE_BYTES
METADATA = contract.METADATA
SIGNATURES = contract.SIGNATURES
SIZE_MULTIPLE = contract.SIZE_MULTIPLE

# A PNG's first chunk is IHDR: its type at bytes 12-15, then width and height (big-endian uint32).
_PNG_HEADER_SIZE = 24
# What a complete file ends with: PNG's IEND chunk (length 0, type, CRC); JPEG's EOI marker.
_PNG_END = b'\x00\x00\x00\x00IEND\xaeB`\x82'
_JPEG_END = b'\xff\xd9'


def _assert(condition, message):
  """An in-graph check whose InvalidArgumentError carries `message` (a string tensor)."""
  return tf.debugging.Assert(condition, [message])


def _starts_with(strings, prefix):
  return tf.equal(tf.strings.substr(strings, 0, len(prefix)), prefix)


def _ends_with(strings, suffix):
  start = tf.maximum(tf.strings.length(strings) - len(suffix), 0)
  # substr takes a vector `pos` only with a `len` of the same shape.
  return tf.equal(tf.strings.substr(strings, start, tf.fill(tf.shape(start), len(suffix))), suffix)


def _join(strings):
  return tf.strings.reduce_join(strings, separator='; ')


def _shape_text(tensor):
  """"[1, 32, 32, 3]": the shape of `tensor` as a string tensor, for messages."""
  return tf.strings.join(['[', tf.strings.reduce_join(tf.strings.as_string(tf.shape(tensor)),
                                                      separator=', '), ']'])


def _check_finite(name, values):
  """The assert that `values` [N, ...] holds no NaN or infinity; the message names the rows."""
  finite = tf.reduce_all(tf.math.is_finite(values), axis=list(range(1, values.shape.rank)))
  return _assert(tf.reduce_all(finite), tf.strings.format(
      f'{name} must be finite (no NaN or infinity), got NaN or infinity in rows {{}}',
      tf.where(tf.logical_not(finite))[:, 0]))


def _png_size(contents):
  """int64 [width, height] from a PNG's IHDR chunk; [0, 0] without one (the decoder refuses it)."""
  head = tf.strings.substr(contents, 0, _PNG_HEADER_SIZE)
  # Padded with zeros to its full length: a header cut short reads as zeros, not as an error.
  head = tf.strings.substr(tf.strings.join([head, b'\0' * _PNG_HEADER_SIZE]), 0, _PNG_HEADER_SIZE)
  digits = tf.cast(tf.io.decode_raw(tf.strings.substr(head, 16, 8), tf.uint8), tf.int64)
  size = tf.reduce_sum(tf.reshape(digits, [2, 4]) * [1 << 24, 1 << 16, 1 << 8, 1], axis=1)
  return tf.where(tf.equal(tf.strings.substr(head, 12, 4), b'IHDR'), size, 0)


def _image_size(contents):
  """int64 [width, height] of JPEG or PNG bytes, read from the header without decoding."""
  return tf.cond(ops.is_jpeg(contents),
                 lambda: tf.cast(tf.io.extract_jpeg_shape(contents)[1::-1], tf.int64),
                 lambda: _png_size(contents))


def _decode_failures(image_bytes):
  """Why the decoder refused each of image_bytes [N] (JPEG or PNG), as far as its end tells."""
  png = _starts_with(image_bytes, integrity.PNG_SIGNATURE)
  complete = tf.where(png, _ends_with(image_bytes, _PNG_END),
                      _ends_with(image_bytes, _JPEG_END))
  return tf.where(
      png,
      tf.where(complete, 'corrupt PNG data', 'truncated PNG (it does not end with an IEND chunk)'),
      tf.where(complete, 'corrupt JPEG data',
               'truncated JPEG (it does not end with an end-of-image marker)'))


def denorm(y):
  """[-1, 1] float images -> uint8, rounded as `images.denorm` rounds (half to even)."""
  return tf.cast(tf.clip_by_value(tf.round((y + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


class GeneratorModule(tf.Module):
  """G (and D's classifier, if given) plus the serving functions: what `tf.saved_model.save`
  writes."""

  def __init__(self, G, metadata, D=None):
    super().__init__(name='stargan')
    self.G = G
    self.D = D
    self.record = metadata
    self.label_space = label_space = metadata.label_space
    self.image_size = int(metadata.image_size)
    if label_space.label_dim != G.c_dim:
      raise ValueError(f'the labels have label_dim={label_space.label_dim} columns '
                       f'({label_space.layout}) but G was built for c_dim={G.c_dim}.')
    if self.image_size % SIZE_MULTIPLE:
      raise ValueError(f'image_size={self.image_size}: expected a multiple of {SIZE_MULTIPLE}.')
    if metadata.classify != (D is not None):
      raise ValueError(f'the metadata says classify={metadata.classify} but D was '
                       f'{"not " if D is None else ""}given.')
    if D is not None:
      # Not a decorated method: tf.saved_model.save would trace it even without a D.
      self.classify = tf.function(self._classify, input_signature=[
          tf.TensorSpec(None, tf.float32)])  # of unknown rank, see serving_default

  def _check_target(self, target, batch_size, batch_name):
    """The asserts that target is [batch_size, label_dim] and finite."""
    label_dim = self.label_space.label_dim
    width_ok = _assert(
        tf.equal(tf.shape(target)[1], label_dim),
        tf.strings.format(f'target must be [N, {label_dim}] ({self.label_space.layout}), '
                          'got [N, {}]', tf.shape(target)[1]))
    batch_ok = _assert(
        tf.equal(tf.shape(target)[0], batch_size),
        tf.strings.format(f'{batch_name} and target must have the same batch size N, got {{}} '
                          f'{batch_name} rows and {{}} target rows',
                          (batch_size, tf.shape(target)[0])))
    return [width_ok, batch_ok, _check_finite('target', target)]

  def _generate(self, x, target):
    return tf.cast(self.G(x, target, training=False), tf.float32)

  @tf.function(input_signature=[tf.TensorSpec(None, tf.float32),  # see the module docstring
                                tf.TensorSpec([None, None], tf.float32)])
  def serving_default(self, image, target):
    shape = tf.shape(image)
    well_formed = tf.logical_and(tf.equal(tf.size(shape), 4),
                                 tf.reduce_all(tf.equal(shape[3:], 3)))  # [] below rank 4
    shape_ok = _assert(
        tf.logical_and(well_formed, tf.size(image) > 0),
        tf.strings.join(['image must be [N, H, W, 3] with N, H and W at least 1 (RGB images, '
                         'float32 in [-1, 1]), got ', _shape_text(image)]))
    # The other checks index the shape, which is only safe once it is known to be [N, H, W, 3].
    with tf.control_dependencies([shape_ok]):
      image = tf.ensure_shape(image, [None, None, None, 3])
    shape = tf.shape(image)
    checks = self._check_target(target, shape[0], 'image')
    checks.append(_assert(
        tf.logical_and(shape[1] % SIZE_MULTIPLE == 0, shape[2] % SIZE_MULTIPLE == 0),
        tf.strings.format(f'image height and width must be multiples of {SIZE_MULTIPLE} (G '
                          f'downsamples twice), got {{}}x{{}}', (shape[1], shape[2]))))
    checks.append(_check_finite('image', image))
    # The checks run before G, whose own errors on such inputs would not say what is wrong.
    with tf.control_dependencies(checks):
      return {'image': self._generate(tf.identity(image), target)}

  def _read_images(self, image_bytes):
    """JPEG/PNG bytes [N] -> float32 [N, image_size, image_size, 3] (`ops.preprocess_own_image`).

    Refuses images over max_image_pixels before decoding them, and names the index and the likely
    reason of each image that fails to decode.
    """
    n = tf.size(image_bytes, out_type=tf.int64)
    size, limit = self.image_size, self.record.max_image_pixels

    def read(index, contents):
      width_height = _image_size(contents)
      too_large = width_height[0] * width_height[1] > limit
      return index, width_height, tf.cond(
          too_large, lambda: tf.zeros([size, size, 3]),
          lambda: ops.preprocess_own_image(contents, size))

    # A decoder's error cannot be caught in a graph, and does not say which image it was. In a
    # dataset, ignore_errors drops the rows that fail (a JPEG header extract_jpeg_shape cannot
    # read, or a failed decode): the missing indices are the images to name.
    rows = tf.data.Dataset.from_tensor_slices((tf.range(n), image_bytes)).map(read)
    # The batch of the rows left, or this empty one when every image failed.
    none_left = tf.data.Dataset.from_tensors((tf.zeros([0], tf.int64), tf.zeros([0, 2], tf.int64),
                                              tf.zeros([0, size, size, 3])))
    index, width_height, x = rows.ignore_errors().batch(n).concatenate(none_left).take(
        1).get_single_element()
    pixels = width_height[:, 0] * width_height[:, 1]
    too_large = pixels > limit
    sizes = tf.strings.join([
        'image_bytes[', tf.strings.as_string(index), '] is ',
        tf.strings.as_string(width_height[:, 0]), 'x', tf.strings.as_string(width_height[:, 1]),
        ' (', tf.strings.as_string(pixels), f' pixels), over the model limit of {limit} '
        'pixels (max_image_pixels)'])
    size_ok = _assert(tf.logical_not(tf.reduce_any(too_large)),
                      _join(tf.boolean_mask(sizes, too_large)))
    failed = tf.logical_not(tf.reduce_any(tf.equal(tf.range(n)[:, None], index[None, :]), axis=1))
    failures = tf.strings.join(['image_bytes[', tf.strings.as_string(tf.range(n)),
                                '] cannot be decoded: ', _decode_failures(image_bytes)])
    with tf.control_dependencies([size_ok]):
      decoded_ok = _assert(tf.logical_not(tf.reduce_any(failed)),
                           _join(tf.boolean_mask(failures, failed)))
    with tf.control_dependencies([decoded_ok]):
      return tf.identity(x)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string),
                                tf.TensorSpec([None, None], tf.float32)])
  def translate_bytes(self, image_bytes, target):
    n = tf.shape(image_bytes)[0]
    checks = self._check_target(target, n, 'image_bytes')
    checks.append(_assert(n > 0, tf.strings.format(
        'image_bytes must hold at least one image, got {}', n)))
    # decode_image's own error does not say which image of the batch is bad.
    known = tf.logical_or(_starts_with(image_bytes, integrity.PNG_SIGNATURE),
                          _starts_with(image_bytes, integrity.JPEG_SIGNATURE))
    checks.append(_assert(
        tf.reduce_all(known),
        tf.strings.format('image_bytes must hold JPEG or PNG images; not JPEG or PNG at indices '
                          '{}', tf.where(tf.logical_not(known))[:, 0])))
    with tf.control_dependencies(checks):
      x = self._read_images(tf.identity(image_bytes))
    y = denorm(self._generate(x, target))
    return {'image_png': tf.map_fn(tf.io.encode_png, y,
                                   fn_output_signature=tf.TensorSpec([], tf.string))}

  def _classify(self, image):
    """The classify signature (made a tf.function in __init__ when there is a D)."""
    size = self.image_size
    shape = tf.shape(image)
    well_formed = tf.logical_and(tf.equal(tf.size(shape), 4), tf.reduce_all(
        tf.equal(tf.concat([shape[1:], [0, 0, 0]], 0)[:3], [size, size, 3])))
    shape_ok = _assert(
        tf.logical_and(well_formed, tf.size(image) > 0),
        tf.strings.join([f'image must be [N, {size}, {size}, 3] with N at least 1 (the '
                         "discriminator's fixed size; float32 in [-1, 1]), got ",
                         _shape_text(image)]))
    with tf.control_dependencies([shape_ok]):
      image = tf.ensure_shape(image, [None, size, size, 3])
    with tf.control_dependencies([_check_finite('image', image)]):
      logits = self.D(tf.identity(image), training=False)[1]
    return {contract.LOGITS: tf.cast(logits, tf.float32)}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
  def metadata(self, unused):
    n = tf.shape(unused)[0]
    space, record = self.label_space, self.record
    return {
        contract.METADATA_RECORD: tf.fill([n], tf.constant(record.to_json(), tf.string)),
        'domain_names': tf.tile(tf.constant([space.domain_names], tf.string), [n, 1]),
        'domain_datasets': tf.tile(tf.constant([space.domain_datasets], tf.string), [n, 1]),
        'label_dim': tf.fill([n], tf.constant(space.label_dim, tf.int32)),
        'image_size': tf.fill([n], tf.constant(self.image_size, tf.int32)),
        'max_image_pixels': tf.fill([n], tf.constant(record.max_image_pixels, tf.int32)),
        'model_name': tf.fill([n], tf.constant(record.model_name, tf.string)),
    }

  def serving_signatures(self):
    # Not named `signatures`: tf.saved_model.save treats an attribute of that name specially.
    names = SIGNATURES + ((contract.CLASSIFY,) if self.D is not None else ())
    return {name: getattr(self, name) for name in names}


def _versions(export_dir):
  """The integer version folders in export_dir (the ones TF Serving considers)."""
  if not os.path.isdir(export_dir):
    return []
  return sorted(int(n) for n in os.listdir(export_dir)
                if n.isdigit() and os.path.isdir(os.path.join(export_dir, n)))


def _resolve_version(export_dir, version):
  if version is None:
    existing = _versions(export_dir)
    return existing[-1] + 1 if existing else 1
  if isinstance(version, bool) or not isinstance(version, int) or version < 1:
    raise ValueError(f'version={version!r}: expected a positive integer (TF Serving serves the '
                     'highest one).')
  return version


def warmup_requests(model_name, image_size, label_space, classify=False):
  """PredictionLog records for TF Serving to replay at load: one batch-1 request per signature
  (`classify` too if the export has it).

  A warmup request that fails makes the whole model fail to load, so each one is a request the
  signature must answer, with or without --enable_batching. The target [1, label_dim] is a real
  label: the first domain's test-time target for an image of the first dataset with none set.
  """
  dataset = label_space.datasets[0]
  target = label_space.create_labels(np.zeros([1, len(label_space.names_of(dataset))]),
                                     dataset)[0]
  ramp = np.linspace(0, 255, image_size).astype(np.uint8)
  rgb = np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :], np.uint8(128)), axis=-1)
  png = tf.io.encode_png(rgb).numpy()
  inputs = {
      SERVING_DEFAULT: {'image': np.zeros([1, image_size, image_size, 3], np.float32),
                        'target': target},
      TRANSLATE_BYTES: {'image_bytes': np.array([png], object), 'target': target},
      METADATA: {contract.METADATA_INPUT: np.zeros([1], np.int32)},
  }
  if classify:
    inputs[contract.CLASSIFY] = {'image': np.zeros([1, image_size, image_size, 3], np.float32)}
  logs = []
  for signature, tensors in inputs.items():
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature))
    for key, value in tensors.items():
      request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    logs.append(prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)))
  return logs


def write_warmup(path, logs):
  with tf.io.TFRecordWriter(path) as writer:
    for log in logs:
      writer.write(log.SerializeToString())


def export_generator(G, export_dir, metadata, version=None, D=None):
  """Writes G (and D's classifier) as SavedModel version `version` under `export_dir`.

  Args:
    G: a built `models.Generator` with c_dim = metadata.label_space.label_dim.
    export_dir: the model's base folder (TF Serving's `base_path`); created if needed.
    metadata: the `contract.ModelMetadata` to record (label space, image size, model name, pixel
      limit, where the weights came from); the version is added to it.
    version: a positive integer; None: one more than the highest existing version (or 1).
    D: a built `models.Discriminator` of the same run, exported as the `classify` signature; None
      leaves it out.

  Returns:
    The path of the version folder.

  Raises:
    FileExistsError: the version already exists (nothing is written).
  """
  version = _resolve_version(export_dir, version)
  final = os.path.join(export_dir, str(version))
  module_signatures = SIGNATURES + ((contract.CLASSIFY,) if D is not None else ())
  metadata = dataclasses.replace(metadata, classify=D is not None, extra={
      **metadata.extra, 'version': version, 'signatures': list(module_signatures)})
  module = GeneratorModule(G, metadata, D)
  fileio.remove_stale(final)
  try:
    with fileio.atomic_dir(final) as tmp:
      logging.info('Writing SavedModel version %d to %s (renamed into place when complete).',
                   version, tmp)
      tf.saved_model.save(module, tmp, signatures=module.serving_signatures())
      contract.write_export_metadata(tmp, metadata)
      logging.info('Writing warmup requests.')
      write_warmup(os.path.join(tmp, contract.ASSETS_EXTRA, contract.WARMUP_FILE),
                   warmup_requests(metadata.model_name, module.image_size, metadata.label_space,
                                   metadata.classify))
  except FileExistsError:
    raise FileExistsError(f'{final} already exists; exports are never overwritten: pick another '
                          '--version or leave it out to use the next free one.') from None
  logging.info('Exported %s version %d to %s.', metadata.model_name, version, final)
  return final


def export_from_work_dir(work_dir, export_dir, *, version=None, model_name='stargan',
                         checkpoint=0, max_image_pixels=contract.DEFAULT_MAX_IMAGE_PIXELS,
                         classify=True):
  """Restores G and D from a run's checkpoint `checkpoint` (0: the latest) and exports G, with
  D's classifier as the `classify` signature unless `classify` is False."""
  restored = runs.Run(work_dir).restore(checkpoint)
  config = restored.config
  metadata = contract.ModelMetadata(
      label_space=config.label_space, image_size=config.model.image_size, model_name=model_name,
      max_image_pixels=max_image_pixels, crop_size=config.data.celeba_crop_size,
      extra={'source': os.path.abspath(restored.path)})
  return export_generator(restored.G, export_dir, metadata, version=version,
                          D=restored.D if classify else None)
