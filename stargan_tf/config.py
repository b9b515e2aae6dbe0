"""Frozen, validated configuration sections.

`flags.py` turns absl flags into a `Config` once; each component then receives only its own
section. Training writes the resolved `Config` into the run folder (`runs.Run`), from which the
run (or a later `translate`/`export`) can be reproduced.
"""

import dataclasses
import math
import os

from stargan_tf import labels as labels_lib

DATASETS = ('CelebA', 'RaFD', 'Both')  # Both: CelebA and RaFD jointly, with a mask vector
STRATEGIES = ('default', 'mirrored', 'multi_worker')
PRECISIONS = ('float32', 'mixed_bfloat16', 'mixed_float16')
QUANTIZATIONS = ('none', 'float16', 'dynamic', 'int8')  # TFLite variants


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Where the images are and how they are turned into batches."""
  dataset: str = 'CelebA'
  celeba_image_dir: str = 'data/celeba/img_align_celeba'
  attr_path: str = 'data/celeba/list_attr_celeba.txt'
  # Optional `list_eval_partition.txt`; empty means the reference split (seed 1234, 1,999 test).
  partition_path: str = ''
  rafd_image_dir: str = 'data/RaFD/train'
  rafd_test_dir: str = 'data/RaFD/test'
  # RaFD's class names in label order: the sorted class folders of rafd_image_dir (flags.py reads
  # them; the 8 RaFD expressions unless a user's folders differ).
  rafd_classes: tuple = labels_lib.RAFD_CLASSES
  selected_attrs: tuple = labels_lib.DEFAULT_ATTRS
  celeba_crop_size: int = 178
  rafd_crop_size: int = 256
  batch_size: int = 16
  # The reference split puts record i in the test set iff i + 1 < test_size (1,999 images).
  test_size: int = 2000
  # > 0: write the built-in synthetic dataset with this many images to the CelebA paths if absent.
  synthetic_images: int = 0
  synthetic_seed: int = 0
  # Folder written by `python -m stargan_tf.cache` (preprocessed uint8 images); '' decodes
  # the source images.
  cache_dir: str = ''
  # False lets parallel reads finish out of order; resumed runs then no longer see exactly the
  # batches of an uninterrupted run.
  deterministic_input: bool = True

  @property
  def datasets(self):
    """The datasets read, in label order: ('CelebA', 'RaFD') for Both, else (dataset,)."""
    return self.label_space.datasets

  @property
  def sample_dataset(self):
    """The dataset whose test split gives sample and result grids (CelebA for Both)."""
    return self.datasets[0]

  def crop_size_of(self, dataset):
    return self.celeba_crop_size if dataset == 'CelebA' else self.rafd_crop_size

  def cache_dir_of(self, dataset):
    """The image cache of `dataset` ('' for none): <cache_dir>/<dataset> with --dataset=Both."""
    if not self.cache_dir:
      return ''
    return os.path.join(self.cache_dir, dataset) if len(self.datasets) > 1 else self.cache_dir

  @property
  def label_space(self):
    """The labels.LabelSpace of this data (domain names in column order, mask vector)."""
    return labels_lib.label_space(self.dataset, self.selected_attrs, self.rafd_classes)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Generator and discriminator shapes (official flag names).

  The label widths are not here: G's label input and D's classifier come from the run's label
  space (`DataConfig.label_space`), their one source.
  """
  image_size: int = 128
  g_conv_dim: int = 64
  d_conv_dim: int = 64
  g_repeat_num: int = 6
  d_repeat_num: int = 6


@dataclasses.dataclass(frozen=True)
class LossConfig:
  lambda_cls: float = 1.0
  lambda_rec: float = 10.0
  lambda_gp: float = 10.0


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """The optimisation schedule and where its outputs go."""
  work_dir: str = 'runs/celeba'
  num_iters: int = 200000
  num_iters_decay: int = 100000
  g_lr: float = 1e-4
  d_lr: float = 1e-4
  n_critic: int = 5
  beta1: float = 0.5
  beta2: float = 0.999
  resume_iters: int = 0
  seed: int = 0
  log_step: int = 10
  sample_step: int = 1000
  model_save_step: int = 10000
  max_to_keep: int = 5
  strategy: str = 'default'
  # > 1: split the CPU into this many logical devices (mirrored training without GPUs, tests).
  cpu_devices: int = 0
  precision: str = 'float32'
  jit_compile: bool = False


@dataclasses.dataclass(frozen=True)
class Config:
  data: DataConfig = DataConfig()
  model: ModelConfig = ModelConfig()
  loss: LossConfig = LossConfig()
  train: TrainConfig = TrainConfig()

  @property
  def label_space(self):
    """The run's labels.LabelSpace: the one source of label widths and domain names."""
    return self.data.label_space

  def validate(self):
    """Raises ValueError naming the first inconsistent setting; returns self."""
    d, m, l, t = self.data, self.model, self.loss, self.train
    if d.dataset not in DATASETS:
      raise ValueError(f'--dataset={d.dataset!r}: expected one of {", ".join(DATASETS)}.')
    if 'CelebA' in d.datasets:
      unknown = [a for a in d.selected_attrs if a not in labels_lib.CELEBA_ATTRS]
      if unknown:
        raise ValueError(f'--selected_attrs: unknown CelebA attribute(s) {unknown}; valid names: '
                         f'{", ".join(labels_lib.CELEBA_ATTRS)}.')
    d.label_space  # pylint: disable=pointless-statement (raises naming duplicate or empty names)
    for name in ('image_size', 'g_conv_dim', 'd_conv_dim', 'g_repeat_num', 'd_repeat_num'):
      _check_positive(name, getattr(m, name))
    if m.image_size % 4:
      raise ValueError(f'--image_size={m.image_size}: expected a multiple of 4 (G downsamples '
                       'twice).')
    if m.image_size % (2 ** m.d_repeat_num):
      raise ValueError(f'--image_size={m.image_size} must be divisible by 2**d_repeat_num='
                       f'{2 ** m.d_repeat_num} (D halves the image d_repeat_num times).')
    for name in ('batch_size', 'celeba_crop_size', 'rafd_crop_size'):
      _check_positive(name, getattr(d, name))
    for name in ('num_iters', 'n_critic', 'log_step', 'sample_step', 'model_save_step',
                 'max_to_keep'):
      _check_positive(name, getattr(t, name))
    for name, value in (('g_lr', t.g_lr), ('d_lr', t.d_lr), ('lambda_cls', l.lambda_cls),
                        ('lambda_rec', l.lambda_rec), ('lambda_gp', l.lambda_gp)):
      if not math.isfinite(value) or value < 0:
        raise ValueError(f'--{name}={value}: expected a finite number >= 0.')
    for name in ('beta1', 'beta2'):
      value = getattr(t, name)
      if not 0 <= value < 1:  # also refuses nan
        raise ValueError(f'--{name}={value}: expected a number in [0, 1) (Adam\'s decay rate).')
    if not 0 <= t.num_iters_decay <= t.num_iters:
      raise ValueError(f'--num_iters_decay={t.num_iters_decay}: expected 0..num_iters '
                       f'({t.num_iters}).')
    if not 0 <= t.resume_iters <= t.num_iters:
      raise ValueError(f'--resume_iters={t.resume_iters}: expected 0..num_iters '
                       f'({t.num_iters}).')
    if t.strategy not in STRATEGIES:
      raise ValueError(f'--strategy={t.strategy!r}: expected one of {", ".join(STRATEGIES)}.')
    if t.precision not in PRECISIONS:
      raise ValueError(f'--precision={t.precision!r}: expected one of {", ".join(PRECISIONS)}.')
    if t.strategy == 'multi_worker' and not d.deterministic_input:
      raise ValueError('--deterministic_input=false cannot be used with --strategy=multi_worker: '
                       'every worker must build the same input stream to take its share of it.')
    if t.cpu_devices < 0:
      raise ValueError(f'--cpu_devices={t.cpu_devices}: expected 0 (leave the CPU as one device) '
                       'or a positive number of logical devices.')
    return self

  def to_dict(self):
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, d):
    """The inverse of to_dict; also reads the config.json of runs written by earlier versions."""
    data, model = dict(d['data']), dict(d['model'])
    # Earlier versions kept the label widths in the model section and image_size in both.
    for key in _LEGACY_MODEL_KEYS:
      model.pop(key, None)
    data.pop('image_size', None)
    for key in ('selected_attrs', 'rafd_classes'):
      if key in data:
        data[key] = tuple(data[key])
    return cls(data=DataConfig(**data), model=ModelConfig(**model),
               loss=LossConfig(**d['loss']), train=TrainConfig(**d['train']))


_LEGACY_MODEL_KEYS = ('c_dim', 'c2_dim', 'mask_vector')


def _check_positive(name, value):
  if value < 1:
    raise ValueError(f'--{name}={value}: expected a positive integer.')
