"""Frozen, validated configuration sections.

`flags.py` turns absl flags into a `Config` once; each component then receives only its own
section. The resolved `Config` is written to `<work_dir>/config.json`, from which a run (or a
later `translate`/`export`) can be reproduced.
"""

import dataclasses
import json
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
  # RaFD's class names in label order: the sorted class folders of rafd_image_dir, recorded by
  # training (the 8 RaFD expressions unless a user's folders differ).
  rafd_classes: tuple = labels_lib.RAFD_CLASSES
  selected_attrs: tuple = labels_lib.DEFAULT_ATTRS
  celeba_crop_size: int = 178
  rafd_crop_size: int = 256
  image_size: int = 128
  batch_size: int = 16
  # The reference split puts record i in the test set iff i + 1 < test_size (1,999 images).
  test_size: int = 2000
  # > 0: write the built-in synthetic dataset with this many images to the CelebA paths if absent.
  synthetic_images: int = 0
  synthetic_seed: int = 0
  # Folder written by `python -m stargan_tf.data.cache` (preprocessed uint8 images); '' decodes
  # the source images.
  cache_dir: str = ''
  # False lets parallel reads finish out of order; resumed runs then no longer see exactly the
  # batches of an uninterrupted run.
  deterministic_input: bool = True

  @property
  def datasets(self):
    """The datasets read: ('CelebA', 'RaFD') for Both, else (dataset,)."""
    return labels_lib.JOINT_DATASETS if self.dataset == 'Both' else (self.dataset,)

  @property
  def sample_dataset(self):
    """The dataset whose test split gives sample and result grids (CelebA for Both)."""
    return self.datasets[0]

  def crop_size_of(self, dataset):
    return self.celeba_crop_size if dataset == 'CelebA' else self.rafd_crop_size

  @property
  def crop_size(self):
    """The crop of a single-dataset run (see crop_size_of for Both)."""
    if self.dataset == 'Both':
      raise ValueError('--dataset=Both has a crop size per dataset: use crop_size_of(dataset).')
    return self.crop_size_of(self.dataset)

  def cache_dir_of(self, dataset):
    """The image cache of `dataset` ('' for none): <cache_dir>/<dataset> with --dataset=Both."""
    if not self.cache_dir:
      return ''
    return os.path.join(self.cache_dir, dataset) if self.dataset == 'Both' else self.cache_dir

  @property
  def label_space(self):
    """The labels.LabelSpace of this data (domain names in column order, mask vector)."""
    return labels_lib.label_space(self.dataset, self.selected_attrs, self.rafd_classes)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Generator and discriminator shapes (official flag names).

  Single-dataset runs condition G on c_dim domains and D classifies c_dim. Joint runs
  (mask_vector, --dataset=Both) condition G on c_dim CelebA + c2_dim RaFD domains + a 2-column
  mask, and D classifies c_dim + c2_dim domains.
  """
  c_dim: int = 5
  c2_dim: int = 8
  mask_vector: bool = False
  image_size: int = 128
  g_conv_dim: int = 64
  d_conv_dim: int = 64
  g_repeat_num: int = 6
  d_repeat_num: int = 6

  @property
  def num_domains(self):
    """D_cls outputs."""
    return self.c_dim + self.c2_dim if self.mask_vector else self.c_dim

  @property
  def label_dim(self):
    """Columns of G's label input."""
    return self.num_domains + 2 if self.mask_vector else self.c_dim


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

  def validate(self):
    """Raises ValueError naming the first inconsistent setting; returns self."""
    d, m, t = self.data, self.model, self.train
    if d.dataset not in DATASETS:
      raise ValueError(f'--dataset={d.dataset!r}: expected one of {", ".join(DATASETS)}.')
    if m.mask_vector != (d.dataset == 'Both'):
      raise ValueError(f'--dataset={d.dataset} but the model config has mask_vector='
                       f'{m.mask_vector}; the mask vector is used exactly with --dataset=Both.')
    if d.dataset in ('CelebA', 'Both'):
      unknown = [a for a in d.selected_attrs if a not in labels_lib.CELEBA_ATTRS]
      if unknown:
        raise ValueError(f'--selected_attrs: unknown CelebA attribute(s) {unknown}; valid names: '
                         f'{", ".join(labels_lib.CELEBA_ATTRS)}.')
      if len(set(d.selected_attrs)) != len(d.selected_attrs):
        raise ValueError(f'--selected_attrs lists an attribute twice: {list(d.selected_attrs)}.')
      if m.c_dim != len(d.selected_attrs):
        raise ValueError(f'--c_dim={m.c_dim} but --selected_attrs names {len(d.selected_attrs)} '
                         f'attributes ({" ".join(d.selected_attrs)}); they must agree.')
    if d.dataset == 'Both' and m.c2_dim < 1:
      raise ValueError(f'--c2_dim={m.c2_dim}: expected the number of RaFD classes (8).')
    if m.image_size != d.image_size:
      raise ValueError('model and data image_size differ.')
    if d.image_size % 4:
      raise ValueError(f'--image_size={d.image_size}: expected a multiple of 4 (G downsamples '
                       'twice).')
    if d.image_size % (2 ** m.d_repeat_num):
      raise ValueError(f'--image_size={d.image_size} must be divisible by 2**d_repeat_num='
                       f'{2 ** m.d_repeat_num} (D halves the image d_repeat_num times).')
    for name in ('batch_size', 'image_size', 'celeba_crop_size', 'rafd_crop_size'):
      if getattr(d, name) < 1:
        raise ValueError(f'--{name}={getattr(d, name)}: expected a positive integer.')
    for name in ('num_iters', 'n_critic', 'log_step', 'sample_step', 'model_save_step',
                 'max_to_keep'):
      if getattr(t, name) < 1:
        raise ValueError(f'--{name}={getattr(t, name)}: expected a positive integer.')
    if not 0 <= t.num_iters_decay <= t.num_iters:
      raise ValueError(f'--num_iters_decay={t.num_iters_decay}: expected 0..num_iters '
                       f'({t.num_iters}).')
    if not 0 <= t.resume_iters <= t.num_iters:
      raise ValueError(f'--resume_iters={t.resume_iters}: expected 0..num_iters.')
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
    data = dict(d['data'])
    data['selected_attrs'] = tuple(data['selected_attrs'])
    if 'rafd_classes' in data:
      data['rafd_classes'] = tuple(data['rafd_classes'])
    return cls(data=DataConfig(**data), model=ModelConfig(**d['model']),
               loss=LossConfig(**d['loss']), train=TrainConfig(**d['train']))


CONFIG_FILE = 'config.json'


def save(config, work_dir):
  """Writes config.json atomically (a kill never leaves a truncated file)."""
  os.makedirs(work_dir, exist_ok=True)
  path = os.path.join(work_dir, CONFIG_FILE)
  tmp = path + '.tmp'
  with open(tmp, 'w') as f:
    json.dump(config.to_dict(), f, indent=2, sort_keys=True)
    f.write('\n')
  os.replace(tmp, path)
  return path


def load(work_dir):
  path = os.path.join(work_dir, CONFIG_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path} not found: --work_dir must be the folder a training run '
                            'wrote (it holds config.json and checkpoints/).')
  with open(path) as f:
    return Config.from_dict(json.load(f))
