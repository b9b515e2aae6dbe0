"""The deployment contract: what an export, a TFLite model and their clients agree on.

An export (`python -m stargan_tf.export`) writes a SavedModel with these signatures, all with
method name `tensorflow/serving/predict` (TF Serving's Predict API):

  serving_default   image float32 [N, H, W, 3] in [-1, 1] (H, W multiples of SIZE_MULTIPLE),
                    target float32 [N, label_dim] -> image float32 [N, H, W, 3] in [-1, 1].
  translate_bytes   image_bytes string [N] (JPEG or PNG, any size up to max_image_pixels),
                    target float32 [N, label_dim] -> image_png string [N] (image_size PNGs).
  metadata          unused int32 [N] (only its length counts; send [0]) -> one row per input
                    row of: label_space string [N] (the `ModelMetadata` record as JSON),
                    domain_names and domain_datasets string [N, num_domains], label_dim,
                    image_size and max_image_pixels int32 [N], model_name string [N].
  classify          (exports of a run, whose discriminator is at hand; the record's `classify`
                    says whether an export has it) image float32 [N, image_size, image_size, 3]
                    in [-1, 1] -> logits float32 [N, num_domains]: D's domain classifier, which
                    reads a photo's own labels (`labels.LabelSpace.target(..., logits=...)`) so
                    that a target changes only the domains it names. Its size is D's (44.8M
                    parameters at 128 px; `export --noclassify` leaves it out).

Photos enter as faces aligned to CelebA's framing (`faces.py`) by the client; translate_bytes
itself cuts the central square of what it is sent, so an aligned square passes through unchanged.

Malformed requests are refused (TF Serving answers INVALID_ARGUMENT, HTTP 400) with a message
naming the input and the rule: an image or target holding NaN or infinity, an empty batch, an
image that is not [N, H, W, 3] (serving_default declares `image` of unknown rank so that its graph
checks the rank and channels itself; `export_lib` says why), image_bytes that are not JPEG or PNG,
over max_image_pixels (read from the file's header, before decoding) or undecodable (named by
their index in the batch).

Beside them is `assets.extra/stargan.json`, the same `ModelMetadata` record as a file. A TFLite
conversion writes the record as a sidecar `<model>.tflite.json`. Clients (the serving client, the
TFLite runner, the browser demo) build targets from the record's label space
(`labels.LabelSpace.target`) and never guess a layout.

This module needs only the standard library and numpy (through `labels`), so a client of a model
server does not need TensorFlow.
"""

import dataclasses
import json
import os

from stargan_tf import fileio
from stargan_tf import labels as labels_lib

SERVING_DEFAULT = 'serving_default'
TRANSLATE_BYTES = 'translate_bytes'
METADATA = 'metadata'
CLASSIFY = 'classify'
SIGNATURES = (SERVING_DEFAULT, TRANSLATE_BYTES, METADATA)  # every export has these

# Input and output names of the signatures.
IMAGE = 'image'
TARGET = 'target'
IMAGE_BYTES = 'image_bytes'
IMAGE_PNG = 'image_png'
LOGITS = 'logits'
# TF Serving's REST API refuses a signature without inputs ("Failed to get input map for
# signature"), so `metadata` takes this one input; its values are ignored.
METADATA_INPUT = 'unused'
METADATA_RECORD = 'label_space'  # the metadata signature's output holding the JSON record

# G downsamples twice with stride 2; other sizes would be padded asymmetrically.
SIZE_MULTIPLE = 4
# translate_bytes refuses larger images before decoding them (a 16000x16000 PNG of under 1 MB
# would otherwise cost the server about 0.8 GB); `export --max_image_pixels` changes it.
DEFAULT_MAX_IMAGE_PIXELS = 25_000_000

# The side of the centre square of CelebA's 178x218 aligned frame that models are trained on
# (--celeba_crop_size), when a record does not say.
DEFAULT_CROP_SIZE = 178

ASSETS_EXTRA = 'assets.extra'
METADATA_FILE = 'stargan.json'
WARMUP_FILE = 'tf_serving_warmup_requests'
SIDECAR_SUFFIX = '.json'

# What clients say when they cannot keep a photo's own attributes.
NO_CLASSIFY_NOTE = (
    "note: the model has no classify signature (exported before it existed, or with "
    "--noclassify), so it cannot read the photo's own attributes: the domains --set does not "
    'name start from --base (every domain 0 by default). Export (and convert) the run again to '
    'keep them.')

FORMAT = 'stargan_tf/model-metadata-v2'
_REEXPORT = ('it was written by an earlier version of stargan_tf; export (or convert) it again '
             'with this one.')


@dataclasses.dataclass(frozen=True)
class ModelMetadata:
  """What a deployed generator says about itself.

  Attributes:
    label_space: the `labels.LabelSpace` of its `target` input.
    image_size: the training image side (translate_bytes resizes to it; a TFLite model's fixed
      input side).
    model_name: the name TF Serving serves it under.
    max_image_pixels: translate_bytes's limit on an image's width x height.
    classify: whether the model has the `classify` signature (records written before it existed
      say nothing, and read as False).
    crop_size: the centre square of the aligned CelebA frame the model was trained on; clients
      align faces to it (records that do not say read as DEFAULT_CROP_SIZE).
    extra: what else the writer records (version, source checkpoint, quantisation, ...).
  """
  label_space: labels_lib.LabelSpace
  image_size: int
  model_name: str = 'stargan'
  max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
  classify: bool = False
  crop_size: int = DEFAULT_CROP_SIZE
  extra: dict = dataclasses.field(default_factory=dict)

  def to_dict(self):
    space = self.label_space
    return {
        **self.extra,
        'format': FORMAT,
        'model_name': self.model_name,
        'image_size': self.image_size,
        'max_image_pixels': self.max_image_pixels,
        'classify': self.classify,
        'crop_size': self.crop_size,
        'label_space': space.to_dict(),
        # Derived, for people reading the file and for clients in other languages.
        'domain_names': list(space.domain_names),
        'domain_datasets': list(space.domain_datasets),
        'label_dim': space.label_dim,
        'label_layout': space.layout,
    }

  def to_json(self):
    return json.dumps(self.to_dict(), sort_keys=True)

  @classmethod
  def from_dict(cls, d, where='the model'):
    """Reads a record written by `to_dict`; ValueError naming `where` if it is not one."""
    if not isinstance(d, dict) or d.get('format') != FORMAT:
      raise ValueError(f'{where}: its metadata is not a {FORMAT} record; {_REEXPORT}')
    derived = {'format', 'model_name', 'image_size', 'max_image_pixels', 'classify', 'crop_size',
               'label_space', 'domain_names', 'domain_datasets', 'label_dim', 'label_layout'}
    try:
      return cls(label_space=labels_lib.LabelSpace.from_dict(d['label_space']),
                 image_size=int(d['image_size']), model_name=str(d['model_name']),
                 max_image_pixels=int(d['max_image_pixels']),
                 classify=d.get('classify', False) is True,
                 crop_size=int(d.get('crop_size', DEFAULT_CROP_SIZE)),
                 extra={k: v for k, v in d.items() if k not in derived})
    except (KeyError, TypeError, ValueError) as e:
      raise ValueError(f'{where}: malformed metadata ({type(e).__name__}: {e}).') from None

  @classmethod
  def from_json(cls, text, where='the model'):
    try:
      d = json.loads(text)
    except ValueError as e:
      raise ValueError(f'{where}: its metadata is not JSON ({e}).') from None
    return cls.from_dict(d, where)


def metadata_file(saved_model_dir):
  return os.path.join(saved_model_dir, ASSETS_EXTRA, METADATA_FILE)


def read_export_metadata(saved_model_dir):
  """The ModelMetadata of an export's version folder."""
  path = metadata_file(saved_model_dir)
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path} not found: {saved_model_dir} is not a version folder written '
                            'by `python -m stargan_tf.export` (e.g. exports/stargan/1).')
  return _read_record(path)


def write_export_metadata(saved_model_dir, metadata):
  os.makedirs(os.path.join(saved_model_dir, ASSETS_EXTRA), exist_ok=True)
  return fileio.write_json(metadata_file(saved_model_dir), metadata.to_dict())


def sidecar_path(model_path):
  """The metadata file of a .tflite: `<model_path>.json`."""
  return model_path + SIDECAR_SUFFIX


def read_sidecar(model_path):
  """The ModelMetadata of a converted .tflite, from its sidecar."""
  path = sidecar_path(model_path)
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path} not found: it is written next to {model_path} by '
                            '`python -m stargan_tf.tflite --saved_model_dir=... --output=...` and '
                            'holds the domain names; keep the two files together.')
  return _read_record(path)


def _read_record(path):
  """The ModelMetadata in the file `path`; ValueError naming the file if it is not one."""
  with open(path, 'rb') as f:
    data = f.read()
  try:
    text = data.decode('utf-8')
  except UnicodeDecodeError:
    raise ValueError(f'{path}: not a metadata file (not UTF-8 text).') from None
  return ModelMetadata.from_json(text, path)


def write_sidecar(model_path, metadata):
  return fileio.write_json(sidecar_path(model_path), metadata.to_dict())
