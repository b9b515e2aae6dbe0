"""Resolves a DataConfig into a split's file list and labels (the one place that dispatches)."""

import os

from stargan_tf.data import celeba
from stargan_tf.data import rafd
from stargan_tf.data import synthetic


def _ensure_synthetic(d, dataset):
  """Writes the built-in synthetic data of `dataset` to the configured paths if absent.

  CelebA: the CelebA-format dataset beside --attr_path (with --dataset=Both its images also carry
  unlabelled expression marks, as real faces carry unlabelled expressions). RaFD (--dataset=Both
  only): the RaFD-layout dataset with labelled expression marks, in the parent folder of
  --rafd_image_dir, which must be <root>/train with --rafd_test_dir <root>/test.
  """
  if dataset == 'CelebA':
    root = os.path.dirname(os.path.abspath(d.attr_path))
    if os.path.join(root, synthetic.IMAGE_DIR) != os.path.abspath(d.celeba_image_dir):
      raise ValueError('--synthetic_images needs --celeba_image_dir to be the img_align_celeba '
                       f'folder beside --attr_path ({root}/img_align_celeba).')
    synthetic.ensure(root, d.synthetic_images, d.synthetic_seed,
                     expressions=d.dataset == 'Both')
    return
  root = os.path.dirname(os.path.abspath(d.rafd_image_dir))
  expected = (os.path.join(root, 'train'), os.path.join(root, 'test'))
  if (os.path.abspath(d.rafd_image_dir), os.path.abspath(d.rafd_test_dir)) != expected:
    raise ValueError('--synthetic_images with --dataset=Both writes the RaFD-layout dataset to '
                     '<root>/train and <root>/test: --rafd_image_dir and --rafd_test_dir must be '
                     f'those folders (got {d.rafd_image_dir!r} and {d.rafd_test_dir!r}).')
  synthetic.ensure_rafd(root, d.synthetic_images, d.synthetic_seed + 1)


def load_split(data_config, split, dataset=None):
  """Returns (paths, labels float32 [N, c]) of `split` ('train' or 'test') of `dataset`.

  Args:
    data_config: config.DataConfig.
    split: 'train' or 'test'.
    dataset: 'CelebA' or 'RaFD'; default data_config.dataset (required with --dataset=Both).

  With `synthetic_images > 0` the built-in synthetic dataset is first written to the configured
  paths if it is not there yet (the RaFD layout only with --dataset=Both). Images that are
  missing, corrupt or smaller than the dataset's crop size are left out with one warning
  (`integrity.drop_bad_images`); RaFD folders must have the class folders of
  data_config.rafd_classes.
  """
  d = data_config
  dataset = dataset or d.dataset
  if dataset not in d.datasets:
    raise ValueError(f'load_split: dataset {dataset!r} is not read by --dataset={d.dataset} '
                     f'(reads {", ".join(d.datasets)}).')
  if d.synthetic_images and (dataset == 'CelebA' or d.dataset == 'Both'):
    _ensure_synthetic(d, dataset)
  crop_size = d.crop_size_of(dataset)
  if dataset == 'CelebA':
    return celeba.celeba_split(d.attr_path, d.celeba_image_dir, d.selected_attrs, split, crop_size,
                               partition_path=d.partition_path or None, test_size=d.test_size)
  image_dir = d.rafd_image_dir if split == 'train' else d.rafd_test_dir
  return rafd.rafd_split(image_dir, d.rafd_classes, crop_size)
