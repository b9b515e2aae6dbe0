"""Datasets: CelebA and RaFD readers, the built-in synthetic dataset, and tf.data pipelines."""

from stargan_tf.data.celeba import celeba_split, check_images, read_attr_file
from stargan_tf.data.pipeline import make_dataset
from stargan_tf.data.rafd import rafd_split
