"""Convert an exported generator to TFLite (optionally quantised), check it, and run it.

Conversion. The export's `serving_default` has dynamic shapes ([N, H, W, 3] images); mobile
runtimes want one fixed shape. So the export is loaded, its `serving_default` function is wrapped in
a module whose signature is fixed to `image` [1, S, S, 3] and `target` [1, label_dim] (output
`image` [1, S, S, 3]), that module is saved as a temporary SavedModel, and
`tf.lite.TFLiteConverter.from_saved_model` converts it (from_concrete_functions is avoided: it can
silently drop the weights). Quantisation modes:

  none      float32 weights and activations.
  float16   float16 weights, dequantised to float32 at load time (about half the size).
  dynamic   int8 weights; activations quantised on the fly per op ("dynamic range").
  int8      int8 weights and activations, scales calibrated on representative images; the model's
            input and output stay float32, so callers do not change.

The representative images are `--representative_dir`'s JPEG/PNG files, preprocessed like a user's
image (central square, resize, [-1, 1]; `translate_lib.load_own_image`; files that are not usable
images are skipped with a warning, as by `translate --input_dir`), or, without that flag, images
of the built-in synthetic dataset. Their targets are the test-time targets
(`LabelSpace.sample_targets`: `create_labels` targets of random valid source labels of the model's
first dataset), so
calibration sees the label combinations met in use; for a model trained on both datasets these
include the RaFD targets with their mask.

After converting, the .tflite is run with the LiteRT interpreter next to the SavedModel on the same
inputs, and its size and the max/mean absolute difference are printed. The model is written to a
temporary file and renamed, so an existing .tflite is never left half-written.

The label layout travels in a sidecar `<output>.json` written next to the model (the export's
`contract.ModelMetadata` record, with the fixed image size and the quantisation): a mobile app
ships both files, and reads the JSON to build the target vector. `--run` is that app in Python: it
preprocesses the image like `translate_lib.load_own_image`, builds the target with
`LabelSpace.target` (`LabelSpace.parse_target`/`apply_target`: the names of --set may come from
either dataset of a joint model, and the mask is set for it) from the `--base` source labels
(default: none set; there is no discriminator on the device to read them off the image) and writes
[input | translated] under a header naming the columns. The model's inputs must be finite:
`run_tflite` refuses NaN and infinities, which would come back as a NaN image.
"""

import contextlib
import dataclasses
import itertools
import os
import tempfile
import warnings

from absl import logging
from ai_edge_litert import interpreter as litert
import numpy as np
import tensorflow as tf

from stargan_tf import config as config_lib
from stargan_tf import contract
from stargan_tf import faces
from stargan_tf import fileio
from stargan_tf import images
from stargan_tf import translate_lib
from stargan_tf.data import ops
from stargan_tf.data import synthetic

QUANTIZATIONS = config_lib.QUANTIZATIONS
SIGNATURE = contract.SERVING_DEFAULT
CLASSIFY = contract.CLASSIFY
NUM_CHECK = 8  # inputs on which the converted model is compared with the SavedModel
_LOG_EVERY = 25


def _load_serving_fn(saved_model_dir):
  """(the loaded SavedModel, its serving_default function, the function's output key)."""
  if not tf.saved_model.contains_saved_model(saved_model_dir):
    raise FileNotFoundError(f'--saved_model_dir={saved_model_dir} holds no SavedModel; export one '
                            'with `python -m stargan_tf.export` (pass the version folder, e.g. '
                            'exports/stargan/1).')
  loaded = tf.saved_model.load(saved_model_dir)
  if SIGNATURE not in loaded.signatures:
    raise ValueError(f'{saved_model_dir} has no {SIGNATURE!r} signature (it has '
                     f'{", ".join(loaded.signatures) or "none"}).')
  fn = loaded.signatures[SIGNATURE]
  inputs = fn.structured_input_signature[1]
  if set(inputs) != {'image', 'target'}:
    raise ValueError(f'{saved_model_dir}: {SIGNATURE} takes {sorted(inputs)}; expected the '
                     "generator export's inputs ['image', 'target'].")
  outputs = list(fn.structured_outputs)
  output_key = 'image' if 'image' in outputs else outputs[0]
  return loaded, fn, output_key


def _write_fixed_saved_model(loaded, fn, output_key, image_size, label_dim, out_dir,
                             classify=False):
  """Saves `fn` with the fixed signature image [1,S,S,3], target [1,label_dim] -> image, and with
  `classify` the export's classify signature fixed to image [1,S,S,3] -> logits."""
  module = tf.Module()
  module.loaded = loaded  # tracks the export's variables, so they are saved with the wrapper
  image_spec = tf.TensorSpec([1, image_size, image_size, 3], tf.float32, 'image')

  @tf.function(input_signature=[image_spec, tf.TensorSpec([1, label_dim], tf.float32, 'target')])
  def serve(image, target):
    return {'image': fn(image=image, target=target)[output_key]}

  signatures = {SIGNATURE: serve}
  if classify:
    classify_fn = loaded.signatures[CLASSIFY]

    @tf.function(input_signature=[image_spec])
    def read_labels(image):
      return {contract.LOGITS: classify_fn(image=image)[contract.LOGITS]}

    signatures[CLASSIFY] = read_labels
  tf.saved_model.save(module, out_dir, signatures=signatures)


def sample_inputs(image_size, space, num, representative_dir='', seed=0):
  """Preprocessed images and targets for calibration and checks.

  Args:
    image_size: side of the images.
    space: the model's `labels.LabelSpace`.
    num: how many (fewer if representative_dir holds fewer usable images).
    representative_dir: JPEG/PNG images preprocessed like a user's image (files that are not usable
      images are skipped with a warning); empty for images of the built-in synthetic dataset.
    seed: seeds the synthetic images and the targets.

  Returns:
    (float32 [n, S, S, 3] in [-1, 1], float32 [n, label_dim]).

  Raises:
    ValueError: representative_dir holds no usable image.
  """
  with contextlib.ExitStack() as stack:
    if representative_dir:
      paths = ops.list_images(representative_dir, '--representative_dir')
    else:
      root = os.path.join(stack.enter_context(tempfile.TemporaryDirectory()), 'synthetic')
      synthetic.generate(root, num_images=num, seed=seed)
      paths = sorted(tf.io.gfile.glob(os.path.join(root, synthetic.IMAGE_DIR, '*.jpg')))
    skipped = []
    x = [image for _, image in itertools.islice(
        translate_lib.read_own_images(paths, image_size, skipped), num)]
  if representative_dir:
    translate_lib.report_skipped('--representative_dir', representative_dir, skipped, len(x))
  return np.stack(x), space.sample_targets(len(x), seed)


_CONVERT = '`python -m stargan_tf.tflite --saved_model_dir=... --output=...`'


def load_interpreter(model_path, num_threads=None):
  """A LiteRT interpreter of a .tflite file.

  Raises:
    FileNotFoundError: there is no such file.
    ValueError: the file is not a TFLite model (e.g. truncated); the message names it.
  """
  if not os.path.exists(model_path):
    raise FileNotFoundError(f'{model_path} not found: convert a model first with {_CONVERT}.')
  try:
    return litert.Interpreter(model_path=model_path, num_threads=num_threads)
  except ValueError as e:  # LiteRT's messages do not name the file
    raise ValueError(f'{model_path} is not a TFLite model ({e}); convert one with '
                     f'{_CONVERT}.') from None


def _shape(shape):
  return '[' + ','.join(str(int(s)) for s in shape) + ']'


def run_tflite(model, image, target, num_threads=None):
  """Runs a converted generator once.

  Args:
    model: a .tflite path or an interpreter from `load_interpreter`.
    image: float [1, S, S, 3] in [-1, 1], S the converted size.
    target: float [1, label_dim].
    num_threads: interpreter threads, when `model` is a path.
  Returns:
    float32 [1, S, S, 3] in [-1, 1].
  Raises:
    ValueError: an input's shape differs from the model's, e.g. "model expects image
      [1,128,128,3], got [2,64,64,3]", or it holds NaN or infinite values (the model would
      return a NaN image).
  """
  interpreter = load_interpreter(model, num_threads) if isinstance(model, str) else model
  runner = interpreter.get_signature_runner(SIGNATURE)
  inputs = {'image': np.asarray(image, np.float32), 'target': np.asarray(target, np.float32)}
  for name, detail in runner.get_input_details().items():
    if tuple(inputs[name].shape) != tuple(detail['shape']):
      raise ValueError(f'model expects {name} {_shape(detail["shape"])}, got '
                       f'{_shape(inputs[name].shape)}.')
    if not np.isfinite(inputs[name]).all():
      raise ValueError(f'{name} holds NaN or infinite values; the model expects finite floats.')
  return runner(**inputs)['image']


def run_classify(interpreter, image):
  """The classify signature of a converted model: float [1, S, S, 3] -> logits [1, num_domains];
  ValueError as `run_tflite` for a wrong shape or values that are not finite."""
  runner = interpreter.get_signature_runner(CLASSIFY)
  image = np.asarray(image, np.float32)
  expected = runner.get_input_details()['image']['shape']
  if tuple(image.shape) != tuple(expected):
    raise ValueError(f'model expects image {_shape(expected)}, got {_shape(image.shape)}.')
  if not np.isfinite(image).all():
    raise ValueError('image holds NaN or infinite values; the model expects finite floats.')
  return runner(image=image)[contract.LOGITS]


def has_classify(interpreter):
  return CLASSIFY in interpreter.get_signature_list()


def _converter(fixed_dir, quantize, representative, signatures):
  converter = tf.lite.TFLiteConverter.from_saved_model(fixed_dir, signature_keys=list(signatures))
  if quantize != 'none':
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  if quantize == 'float16':
    converter.target_spec.supported_types = [tf.float16]
  elif quantize == 'int8':
    x, c = representative

    def dataset():
      for i in range(len(x)):
        if (i + 1) % _LOG_EVERY == 0 or i + 1 == len(x):
          logging.info('Calibrating: %d / %d images', i + 1, len(x))
        # With several signatures, each sample names the one it is for.
        yield (SIGNATURE, {'image': x[i:i + 1], 'target': c[i:i + 1]})
        if CLASSIFY in signatures:
          yield (CLASSIFY, {'image': x[i:i + 1]})

    converter.representative_dataset = dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # Float input and output: callers feed [-1, 1] images as for the other variants.
    converter.inference_input_type = tf.float32
    converter.inference_output_type = tf.float32
  return converter


def compare(model, fn, output_key, x, c):
  """Max and mean |TFLite - SavedModel| over the inputs (one invoke each)."""
  diffs = []
  for i in range(len(x)):
    expected = fn(image=tf.constant(x[i:i + 1]), target=tf.constant(c[i:i + 1]))[output_key]
    diffs.append(np.abs(run_tflite(model, x[i:i + 1], c[i:i + 1]) - expected.numpy()))
  diffs = np.stack(diffs)
  return float(diffs.max()), float(diffs.mean())


def convert(saved_model_dir, output, quantize='none', representative_dir='', image_size=0,
            num_calibration=100, num_threads=None, classify=True):
  """Converts an exported generator to `output` (+ `output`.json) and checks it.

  The .tflite has the signature serving_default and, if the export has it and `classify` is True,
  classify: the discriminator's reading of a photo's own labels (as large as D: 44.8M parameters
  at 128 px, before quantisation). It is left out when image_size differs from the export's,
  since D only takes its training size.

  Args:
    saved_model_dir: a version folder written by `stargan_tf.export`.
    output: the .tflite path; replaced atomically.
    quantize: one of QUANTIZATIONS.
    representative_dir: calibration/check images (see `sample_inputs`).
    image_size: the fixed input side (0: the export's training size); a multiple of 4.
    num_calibration: images for int8 calibration.
    num_threads: interpreter threads for the check.
    classify: keep the export's classify signature.
  Returns:
    dict: path, metadata_path, size_mb, max_abs_diff, mean_abs_diff (vs the SavedModel on
    NUM_CHECK inputs), quantize, image_size, classify (whether the model has the signature) and,
    with it, classify_max_abs_diff (of the logits).
  """
  if quantize not in QUANTIZATIONS:
    raise ValueError(f'--quantize={quantize!r}: expected one of {", ".join(QUANTIZATIONS)}.')
  loaded, fn, output_key = _load_serving_fn(saved_model_dir)
  metadata = contract.read_export_metadata(saved_model_dir)
  space = metadata.label_space
  image_size = image_size or metadata.image_size
  if image_size < 4 or image_size % 4:
    raise ValueError(f'--image_size={image_size}: expected a positive multiple of 4 (G '
                     'downsamples twice).')
  num = max(num_calibration, NUM_CHECK) if quantize == 'int8' else NUM_CHECK
  logging.info('Preparing %d %s images of %d px.', num,
               'representative' if representative_dir else 'synthetic', image_size)
  x, c = sample_inputs(image_size, space, num, representative_dir)
  classify = classify and metadata.classify
  if classify and image_size != metadata.image_size:
    logging.warning('Leaving out the classify signature: the discriminator only takes its '
                    'training size %d, not --image_size=%d.', metadata.image_size, image_size)
    classify = False
  signatures = (SIGNATURE, CLASSIFY) if classify else (SIGNATURE,)

  with tempfile.TemporaryDirectory() as tmp:
    fixed_dir = os.path.join(tmp, 'fixed')
    logging.info('Writing a fixed-shape SavedModel (image [1,%d,%d,3], target [1,%d]%s).',
                 image_size, image_size, space.label_dim, ', and classify' if classify else '')
    _write_fixed_saved_model(loaded, fn, output_key, image_size, space.label_dim, fixed_dir,
                             classify)
    logging.info('Converting %s to TFLite (quantize=%s).', saved_model_dir, quantize)
    with warnings.catch_warnings():
      # int8 calibration runs the converter's own (deprecated) tf.lite.Interpreter internally.
      warnings.filterwarnings('ignore', message='.*tf.lite.Interpreter is deprecated')
      content = _converter(fixed_dir, quantize, (x, c), signatures).convert()

  with fileio.atomic_path(output) as tmp_model:
    with open(tmp_model, 'wb') as f:
      f.write(content)
    logging.info('Checking the converted model against the SavedModel on %d inputs.', NUM_CHECK)
    interpreter = load_interpreter(tmp_model, num_threads)
    max_diff, mean_diff = compare(interpreter, fn, output_key, x[:NUM_CHECK], c[:NUM_CHECK])
    result = {'path': output, 'metadata_path': contract.sidecar_path(output),
              'size_mb': len(content) / 2**20, 'max_abs_diff': max_diff,
              'mean_abs_diff': mean_diff, 'quantize': quantize, 'image_size': image_size,
              'classify': classify}
    if classify:
      expected = loaded.signatures[CLASSIFY](image=tf.constant(x[:NUM_CHECK]))[contract.LOGITS]
      got = np.concatenate([run_classify(interpreter, x[i:i + 1]) for i in range(NUM_CHECK)])
      result['classify_max_abs_diff'] = float(np.abs(got - expected.numpy()).max())
    sidecar = dataclasses.replace(metadata, image_size=image_size, classify=classify, extra={
        'quantize': quantize, 'saved_model_dir': os.path.abspath(saved_model_dir),
        'source': metadata.extra.get('source', '')})
    contract.write_sidecar(output, sidecar)
  logging.info('Wrote %s and %s.', output, contract.sidecar_path(output))
  return result


def translate_image(model_path, image_path, target, output, base='', num_threads=None,
                    align=True):
  """Translates one photo with a converted model, as a mobile app would; returns output.

  Args:
    model_path: a .tflite written by `convert` (its sidecar JSON next to it).
    image_path: a JPEG or PNG of any size.
    target: e.g. "Blond_Hair=1", "Blond_Hair=0.5" or, for a joint model, "happy=1": the domains
      to change, of one dataset (`LabelSpace.target`).
    output: the image to write: with align, the photo with each face found translated and pasted
      back; without, [input | translated] of its central square, under a header naming the
      columns ('input' and `target`).
    base: the photo's own domains, e.g. "Black_Hair=1,Young=1", of the dataset of `target`
      (default: read off each face by the model's classify signature; none set, with
      `contract.NO_CLASSIFY_NOTE` logged, for a model without it).
    num_threads: interpreter threads.
    align: find, align and paste back the faces (`faces.py`); else the central square.

  Raises:
    FileNotFoundError: the model or its sidecar is missing.
    ValueError: the model, its sidecar or the image cannot be used (the message names the file),
      a bad `target` or `base`, or no face found.
    ImportError: align needs OpenCV, and it is missing.
  """
  interpreter = load_interpreter(model_path, num_threads)
  record = contract.read_sidecar(model_path)
  space = record.label_space
  space.target(target, base)  # a bad target fails before any work
  size = int(interpreter.get_signature_runner(SIGNATURE).get_input_details()['image']['shape'][1])
  if align:
    photo = translate_lib.load_photo(image_path)
    aligned = faces.align_photo(photo, size, record.crop_size, name=image_path)
    x = np.stack([face.image for face in aligned])
  else:
    x = translate_lib.load_own_image(image_path, size).numpy()[None]
  logits = None
  if not base and space.depends_on_source(target):
    if has_classify(interpreter):
      logits = np.concatenate([run_classify(interpreter, x[i:i + 1]) for i in range(len(x))])
    else:
      logging.warning('%s', contract.NO_CLASSIFY_NOTE)
  # One row per face: the label read off each face, or the one --base label for all.
  c_trg = np.broadcast_to(space.target(target, base, logits), [len(x), space.label_dim])
  y = np.concatenate([run_tflite(interpreter, x[i:i + 1], c_trg[i:i + 1]) for i in range(len(x))])
  logging.info('Translated %s with target %s (labels %s).', image_path, target, c_trg.tolist())
  if align:
    return images.save_image(output, faces.paste_faces(photo, aligned, y))
  return images.save_image(output, images.make_grid([x, y], column_names=('input', target)))
