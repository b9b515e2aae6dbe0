"""Datasets: CelebA and RaFD readers, synthetic data, tf.data pipelines, an image cache."""
