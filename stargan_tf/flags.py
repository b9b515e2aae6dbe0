"""The only module that defines or reads absl flags; names follow the official implementation."""

import os

from absl import flags
from absl import logging

from stargan_tf import config as config_lib
from stargan_tf import contract
from stargan_tf import labels as labels_lib
from stargan_tf.data import rafd

FLAGS = flags.FLAGS
_D = config_lib.DataConfig()
_M = config_lib.ModelConfig()
_L = config_lib.LossConfig()
_T = config_lib.TrainConfig()


def define_train_flags():
  """Defines every flag of `python -m stargan_tf.train` (idempotent)."""
  if 'c_dim' in FLAGS:
    return
  # Model.
  flags.DEFINE_integer('c_dim', len(labels_lib.DEFAULT_ATTRS), 'Number of domain labels: the '
                       'CelebA attributes of --selected_attrs, or the RaFD classes (class '
                       'folders); checked against them.')
  flags.DEFINE_integer('c2_dim', len(labels_lib.RAFD_CLASSES), 'Number of RaFD classes with '
                       '--dataset=Both; checked against the class folders.')
  flags.DEFINE_integer('image_size', _M.image_size, 'Image resolution (square).')
  flags.DEFINE_integer('g_conv_dim', _M.g_conv_dim, 'Channels of G\'s first layer.')
  flags.DEFINE_integer('d_conv_dim', _M.d_conv_dim, 'Channels of D\'s first layer.')
  flags.DEFINE_integer('g_repeat_num', _M.g_repeat_num, 'Residual blocks in G.')
  flags.DEFINE_integer('d_repeat_num', _M.d_repeat_num, 'Strided conv layers in D.')
  # Losses.
  flags.DEFINE_float('lambda_cls', _L.lambda_cls, 'Weight of the domain classification loss.')
  flags.DEFINE_float('lambda_rec', _L.lambda_rec, 'Weight of the reconstruction loss.')
  flags.DEFINE_float('lambda_gp', _L.lambda_gp, 'Weight of the gradient penalty.')
  # Data.
  flags.DEFINE_enum('dataset', _D.dataset, list(config_lib.DATASETS), 'Dataset to train on; '
                    'Both: CelebA and RaFD jointly, with the mask vector.')
  flags.DEFINE_string('celeba_image_dir', _D.celeba_image_dir, 'Folder of CelebA aligned JPEGs.')
  flags.DEFINE_string('attr_path', _D.attr_path, 'CelebA list_attr_celeba.txt.')
  flags.DEFINE_string('partition_path', _D.partition_path, 'Optional list_eval_partition.txt: '
                      'use the standard split instead of the reference one (seed 1234).')
  flags.DEFINE_string('rafd_image_dir', _D.rafd_image_dir, 'RaFD training images, one folder per '
                      'expression.')
  flags.DEFINE_string('rafd_test_dir', _D.rafd_test_dir, 'RaFD test images, same layout.')
  flags.DEFINE_spaceseplist('selected_attrs', list(_D.selected_attrs), 'CelebA attributes to '
                            'learn (space or comma separated).', comma_compat=True)
  flags.DEFINE_integer('celeba_crop_size', _D.celeba_crop_size, 'Center crop of CelebA images.')
  flags.DEFINE_integer('rafd_crop_size', _D.rafd_crop_size, 'Center crop of RaFD images.')
  flags.DEFINE_integer('batch_size', _D.batch_size, 'Mini-batch size.')
  flags.DEFINE_integer('test_size', _D.test_size, 'Reference split: record i is a test image iff '
                       'i + 1 < test_size (1,999 test images by default).')
  flags.DEFINE_integer('synthetic_images', _D.synthetic_images, 'If > 0, write the built-in '
                       'synthetic dataset with this many images to --attr_path\'s folder when it '
                       'is absent.')
  flags.DEFINE_integer('synthetic_seed', _D.synthetic_seed, 'Seed of the synthetic dataset.')
  flags.DEFINE_string('cache_dir', _D.cache_dir, 'Folder of preprocessed images written by '
                      '`python -m stargan_tf.data.cache` with the same data flags; empty: decode '
                      'the source images every epoch.')
  flags.DEFINE_boolean('deterministic_input', _D.deterministic_input, 'Keep the input order a '
                       'pure function of (seed, step), so resumed runs see the same batches; '
                       'false lets parallel reads finish out of order (faster on slow disks).')
  # Training.
  flags.DEFINE_string('work_dir', _T.work_dir, 'Run folder: checkpoints/, samples/, logs/, '
                      'config.json.')
  flags.DEFINE_integer('num_iters', _T.num_iters, 'Total training iterations.')
  flags.DEFINE_integer('num_iters_decay', _T.num_iters_decay, 'Iterations (at the end) over '
                       'which the learning rates decay linearly to 0.')
  flags.DEFINE_float('g_lr', _T.g_lr, 'Learning rate of G.')
  flags.DEFINE_float('d_lr', _T.d_lr, 'Learning rate of D.')
  flags.DEFINE_integer('n_critic', _T.n_critic, 'D updates per G update.')
  flags.DEFINE_float('beta1', _T.beta1, 'Adam beta1.')
  flags.DEFINE_float('beta2', _T.beta2, 'Adam beta2.')
  flags.DEFINE_integer('resume_iters', _T.resume_iters, 'Resume from the checkpoint of this step '
                       '(0: the latest one, if any).')
  flags.DEFINE_integer('seed', _T.seed, 'Seed of data order, flips, targets and the GP.')
  flags.DEFINE_integer('log_step', _T.log_step, 'Log losses every this many iterations.')
  flags.DEFINE_integer('sample_step', _T.sample_step, 'Write a sample grid every this many '
                       'iterations.')
  flags.DEFINE_integer('model_save_step', _T.model_save_step, 'Checkpoint every this many '
                       'iterations.')
  flags.DEFINE_integer('max_to_keep', _T.max_to_keep, 'Checkpoints to keep.')
  flags.DEFINE_enum('strategy', _T.strategy, list(config_lib.STRATEGIES), 'tf.distribute '
                    'strategy: default (one device), mirrored (all local GPUs, else all logical '
                    'CPUs), multi_worker (several hosts; reads TF_CONFIG). --batch_size is the '
                    'global batch, split over the replicas.')
  flags.DEFINE_integer('cpu_devices', _T.cpu_devices, 'Split the CPU into this many logical '
                       'devices (0: one), e.g. to train --strategy=mirrored without GPUs.',
                       lower_bound=0)
  flags.DEFINE_enum('precision', _T.precision, list(config_lib.PRECISIONS), 'Keras dtype policy: '
                    'float32, mixed_bfloat16 (fast on TPUs, recent GPUs and CPUs with AMX/AVX512 '
                    'bf16 when oneDNN is on; other CPUs emulate it, many times slower than '
                    'float32, and training warns at start-up), mixed_float16 (GPUs; with loss '
                    'scaling).')
  flags.DEFINE_boolean('jit_compile', _T.jit_compile, 'Compile each replica\'s forward and '
                       'backward pass with XLA.')


def config_from_flags():
  """Builds and validates the Config from the parsed flags.

  The label space is resolved here, once: the CelebA attributes are --selected_attrs and the RaFD
  classes are the sorted class folders of --rafd_image_dir (the 8 RaFD expressions while that
  folder does not exist yet); --c_dim and --c2_dim, the reference's names for their widths, must
  agree with them. A --num_iters_decay longer than --num_iters (a shortened run) decays over the
  whole run, with a warning.
  """
  f = FLAGS
  data = config_lib.DataConfig(
      dataset=f.dataset, celeba_image_dir=f.celeba_image_dir, attr_path=f.attr_path,
      partition_path=f.partition_path, rafd_image_dir=f.rafd_image_dir,
      rafd_test_dir=f.rafd_test_dir, rafd_classes=_rafd_classes(f),
      selected_attrs=tuple(f.selected_attrs), celeba_crop_size=f.celeba_crop_size,
      rafd_crop_size=f.rafd_crop_size, batch_size=f.batch_size, test_size=f.test_size,
      synthetic_images=f.synthetic_images, synthetic_seed=f.synthetic_seed,
      cache_dir=f.cache_dir, deterministic_input=f.deterministic_input)
  model = config_lib.ModelConfig(
      image_size=f.image_size, g_conv_dim=f.g_conv_dim, d_conv_dim=f.d_conv_dim,
      g_repeat_num=f.g_repeat_num, d_repeat_num=f.d_repeat_num)
  loss = config_lib.LossConfig(lambda_cls=f.lambda_cls, lambda_rec=f.lambda_rec,
                               lambda_gp=f.lambda_gp)
  num_iters_decay = f.num_iters_decay
  if num_iters_decay > f.num_iters > 0:
    logging.warning('--num_iters_decay=%d is longer than --num_iters=%d: the learning rates decay '
                    'linearly to 0 over all %d iterations.', num_iters_decay, f.num_iters,
                    f.num_iters)
    num_iters_decay = f.num_iters
  train = config_lib.TrainConfig(
      work_dir=f.work_dir, num_iters=f.num_iters, num_iters_decay=num_iters_decay,
      g_lr=f.g_lr, d_lr=f.d_lr, n_critic=f.n_critic, beta1=f.beta1, beta2=f.beta2,
      resume_iters=f.resume_iters, seed=f.seed, log_step=f.log_step, sample_step=f.sample_step,
      model_save_step=f.model_save_step, max_to_keep=f.max_to_keep, strategy=f.strategy,
      cpu_devices=f.cpu_devices, precision=f.precision, jit_compile=f.jit_compile)
  config = config_lib.Config(data=data, model=model, loss=loss, train=train).validate()
  _check_label_widths(f, config.data)
  return config


def _rafd_classes(f):
  """The RaFD class names: the class folders of --rafd_image_dir, if it exists."""
  if f.dataset == 'CelebA' or not os.path.isdir(f.rafd_image_dir):
    return labels_lib.RAFD_CLASSES
  return tuple(rafd.class_names(f.rafd_image_dir))


def _check_label_widths(f, data):
  """--c_dim and --c2_dim against the label space's parts (ValueError naming the flag)."""
  flags_of = {'CelebA': 'c_dim', 'RaFD': 'c2_dim' if f.dataset == 'Both' else 'c_dim'}
  for part in data.label_space.parts:
    flag = flags_of[part.dataset]
    if getattr(f, flag) == part.width:
      continue
    if part.dataset == 'CelebA':
      raise ValueError(f'--{flag}={getattr(f, flag)} but --selected_attrs names {part.width} '
                       f'attributes ({" ".join(part.names)}); they must agree.')
    if os.path.isdir(f.rafd_image_dir):  # else reading the data explains what is missing
      raise ValueError(f'--{flag}={getattr(f, flag)} but --rafd_image_dir={f.rafd_image_dir} '
                       f'holds {part.width} class folders ({", ".join(part.names)}); set '
                       f'--{flag}={part.width}.')


def define_translate_flags():
  if 'input_dir' in FLAGS:
    return
  flags.DEFINE_string('work_dir', None, 'Run folder written by training (config.json, '
                      'checkpoints/).')
  flags.DEFINE_integer('test_iters', 0, 'Checkpoint step to use (0: the latest).')
  flags.DEFINE_string('input_dir', '', 'Translate your own images from this folder instead of '
                      'the test split.')
  flags.DEFINE_string('output_dir', '', 'Where grids go (default: <work_dir>/results, or '
                      '<work_dir>/results/<input folder name> with --input_dir).')
  flags.DEFINE_string('target', '', 'One explicit target, e.g. "Blond_Hair=1,Male=0" (a '
                      'two-dataset model also takes e.g. "happy=1"); values from 0 to 1, e.g. '
                      '"Blond_Hair=0.5" for half the change; default: one column per domain.')
  flags.DEFINE_integer('interpolate', 0, 'With --target: N columns from the source label (t=0) '
                       'to the target (t=1) in equal steps, e.g. 5; 0: the target only.',
                       lower_bound=0)
  flags.DEFINE_boolean('no_align', False, 'With --input_dir: translate the central square of '
                       'each image, as is, instead of finding the faces, aligning them to '
                       'CelebA\'s framing and pasting them back into the photo.')
  flags.DEFINE_integer('batch_size', 16, 'Images (rows) per grid file.', lower_bound=1)
  flags.DEFINE_integer('max_images', 0, 'Translate at most this many images (0: all).',
                       lower_bound=0)
  flags.mark_flag_as_required('work_dir')


def define_export_flags():
  """Flags of `python -m stargan_tf.export` (idempotent)."""
  if 'export_dir' in FLAGS:
    return
  flags.DEFINE_string('work_dir', None, 'Run folder written by training (config.json, '
                      'checkpoints/).')
  flags.DEFINE_string('export_dir', None, 'Model base folder (TF Serving\'s base_path); the '
                      'export goes to <export_dir>/<version>/.')
  flags.DEFINE_integer('version', None, 'Version to write (default: the next free one); an '
                       'existing version is never overwritten.', lower_bound=1)
  flags.DEFINE_string('model_name', 'stargan', 'Name TF Serving serves the model under.')
  flags.DEFINE_integer('checkpoint', 0, 'Checkpoint step to export (0: the latest).',
                       lower_bound=0)
  flags.DEFINE_integer('max_image_pixels', contract.DEFAULT_MAX_IMAGE_PIXELS, 'translate_bytes '
                       'refuses images with more pixels (width x height) than this, before '
                       'decoding them.', lower_bound=1, upper_bound=2**31 - 1)
  flags.DEFINE_boolean('classify', True, 'Also export the discriminator\'s domain classifier as '
                       'the classify signature, which reads a photo\'s own attributes so that a '
                       'target changes only the domains it names (D\'s size: 44.8M parameters at '
                       '128 px); --noclassify leaves it out.')
  flags.mark_flags_as_required(['work_dir', 'export_dir'])


def define_evaluate_flags():
  """Flags of `python -m stargan_tf.evaluate` (idempotent)."""
  if 'inception_weights' in FLAGS:
    return
  flags.DEFINE_string('work_dir', None, 'Run folder written by training or by import_torch.')
  flags.DEFINE_integer('test_iters', 0, 'Checkpoint step (0: the latest).', lower_bound=0)
  flags.DEFINE_integer('max_images', 512, 'Test images to translate per dataset (a random '
                       'subset drawn with --seed when the split is larger); also the real '
                       'images per domain FID compares with.', lower_bound=2)
  flags.DEFINE_list('metrics', [], 'Any of synthetic (the ground-truth measure of the built-in '
                    'synthetic dataset), accuracy (the domain classifier\'s accuracy on '
                    'translated images), fid, reconstruction (PSNR/SSIM of G(G(x, c), c_org) '
                    'against x). Default: accuracy,fid,reconstruction, and synthetic for runs on '
                    'the synthetic dataset (--synthetic_images > 0), where accuracy and fid are '
                    'left out while the run has no classifier.')
  flags.DEFINE_string('inception_weights', '', 'ImageNet InceptionV3 weights (.weights.h5 of '
                      'keras.applications.InceptionV3(include_top=False, pooling="avg")) for '
                      'FID on its 2048-d features; default: FID on the domain classifier\'s '
                      'features, which is not comparable with published FIDs. Nothing is '
                      'downloaded.')
  flags.DEFINE_integer('seed', 0, 'Seed of the image subsets.')
  flags.DEFINE_integer('batch_size', 32, 'Images per batch.', lower_bound=1)
  flags.mark_flag_as_required('work_dir')


def define_train_classifier_flags():
  """Flags of `python -m stargan_tf.train_classifier` (idempotent)."""
  if 'width' in FLAGS:
    return
  flags.DEFINE_string('work_dir', None, 'Run folder written by training or by import_torch; the '
                      'classifier goes to <work_dir>/classifier/.')
  flags.DEFINE_integer('num_iters', 3000, 'Training iterations (with --dataset=Both, one batch '
                       'of each dataset per iteration).', lower_bound=1)
  flags.DEFINE_integer('batch_size', 32, 'Mini-batch size.', lower_bound=1)
  flags.DEFINE_float('lr', 1e-3, 'Adam learning rate.', lower_bound=0)
  flags.DEFINE_integer('seed', 0, 'Seed of the weights, data order and flips.')
  flags.DEFINE_integer('width', 32, 'Channels of the first stage (ResNet-18: 64); the stages '
                       'have width, 2x, 4x and 8x.', lower_bound=1)
  flags.mark_flag_as_required('work_dir')


def define_tflite_flags():
  """Flags of `python -m stargan_tf.tflite` (idempotent)."""
  if 'quantize' in FLAGS:
    return
  flags.DEFINE_string('saved_model_dir', '', 'Version folder of a generator export '
                      '(python -m stargan_tf.export), e.g. exports/stargan/1.')
  flags.DEFINE_string('output', '', 'The .tflite to write (its metadata goes to <output>.json).')
  flags.DEFINE_enum('quantize', 'none', list(config_lib.QUANTIZATIONS), 'none: float32; '
                    'float16: float16 weights; dynamic: int8 weights, dynamic-range '
                    'activations; int8: int8 weights and activations (calibrated), float '
                    'input/output.')
  flags.DEFINE_string('representative_dir', '', 'JPEG/PNG images for int8 calibration and the '
                      'parity check (default: the built-in synthetic dataset).')
  flags.DEFINE_integer('image_size', 0, 'Fixed input side of the .tflite (0: the export\'s).')
  flags.DEFINE_integer('num_calibration', 100, 'Calibration images for --quantize=int8.')
  flags.DEFINE_integer('num_threads', 2, 'LiteRT interpreter threads.')
  flags.DEFINE_string('run', '', 'Translate --image with this .tflite instead of converting.')
  flags.DEFINE_string('image', '', 'With --run: the image to translate (JPEG/PNG, any size).')
  flags.DEFINE_string('set', '', 'With --run: target domains of one dataset, e.g. '
                      '"Blond_Hair=1,Male=0" or "Blond_Hair=0.5", or "happy=1" for a RaFD or '
                      'two-dataset model; the domains not named keep the photo\'s own values.')
  flags.DEFINE_string('base', '', 'With --run: the photo\'s own domains, e.g. "Black_Hair=1" '
                      '(default: read off each face by the model\'s classify signature; none '
                      'set for a model without it).')
  flags.DEFINE_string('out', '', 'With --run: the image to write: the photo with its faces '
                      'translated (with --no_align: [input | translated] of its central square).')
  flags.DEFINE_boolean('no_align', False, 'With --run: translate the central square of --image '
                       'instead of finding, aligning and pasting back its faces.')
  flags.DEFINE_boolean('classify', True, 'Keep the export\'s classify signature (the '
                       'discriminator\'s reading of a photo\'s own attributes, as large as D) in '
                       'the .tflite; --noclassify leaves it out.')


def define_demo_flags():
  """Flags of `python -m stargan_tf.demo` (idempotent)."""
  if 'port' in FLAGS:
    return
  flags.DEFINE_string('work_dir', '', 'Run folder written by training (or imported): its G and '
                      'D.')
  flags.DEFINE_string('export_dir', '', 'Or an export: a version folder, or the base folder (its '
                      'highest version).')
  flags.DEFINE_integer('test_iters', 0, 'With --work_dir: checkpoint step (0: the latest).',
                       lower_bound=0)
  flags.DEFINE_integer('port', 7860, 'Port of the page on 127.0.0.1.', lower_bound=1,
                       upper_bound=65535)


def define_import_flags():
  """Flags of `python -m stargan_tf.import_torch` (idempotent): the training flags, which describe
  the model and the run the import writes (a flag file of training works as it is), and the
  PyTorch files."""
  if 'generator' in FLAGS:
    return
  define_train_flags()
  flags.DEFINE_string('generator', None, 'The reference implementation\'s generator checkpoint, '
                      'e.g. 200000-G.ckpt (a state dict saved by torch.save, either format).')
  flags.DEFINE_string('discriminator', '', 'Its discriminator checkpoint, e.g. 200000-D.ckpt. '
                      'Without it the run holds G alone: it translates, exports and converts to '
                      'TFLite, but cannot read your images\' attributes (translate --input_dir) '
                      'or continue training.')
  flags.DEFINE_integer('step', None, 'Step of the checkpoint to write (default: the number the '
                       'file names start with, 200000 for 200000-G.ckpt; 0 without one).',
                       lower_bound=0)
  flags.mark_flag_as_required('generator')
