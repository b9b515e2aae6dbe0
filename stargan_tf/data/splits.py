"""Resolves a DataConfig into a split's file list and labels (the one place that dispatches)."""

import os

from stargan_tf.data import celeba
from stargan_tf.data import rafd
from stargan_tf.data import synthetic


def load_split(data_config, split):
  """Returns (paths, labels float32 [N, c_dim]) of `split` ('train' or 'test').

  With `synthetic_images > 0` the built-in synthetic dataset is first written to the CelebA
  paths if it is not there yet.
  """
  d = data_config
  if d.dataset == 'CelebA':
    if d.synthetic_images:
      root = os.path.dirname(os.path.abspath(d.attr_path))
      if os.path.join(root, 'img_align_celeba') != os.path.abspath(d.celeba_image_dir):
        raise ValueError('--synthetic_images needs --celeba_image_dir to be the img_align_celeba '
                         f'folder beside --attr_path ({root}/img_align_celeba).')
      synthetic.ensure(root, d.synthetic_images, d.synthetic_seed)
    return celeba.celeba_split(d.attr_path, d.celeba_image_dir, d.selected_attrs, split,
                               partition_path=d.partition_path or None, test_size=d.test_size)
  image_dir = d.rafd_image_dir if split == 'train' else d.rafd_test_dir
  paths, labels, _ = rafd.rafd_split(image_dir)
  return paths, labels
