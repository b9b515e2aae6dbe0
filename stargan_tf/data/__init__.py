"""Datasets: CelebA and RaFD readers, the built-in synthetic dataset, and tf.data pipelines."""
