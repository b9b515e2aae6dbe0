"""Image-set and image-pair measures of the evaluation: Fréchet distance, PSNR and SSIM.

The Fréchet distance between two sets of feature vectors is that of the Gaussians with their
means and covariances:

  d^2 = |mu_1 - mu_2|^2 + tr(S_1) + tr(S_2) - 2 tr((S_1 S_2)^(1/2))

S_1 S_2 is not symmetric, but it is similar to the symmetric positive semi-definite matrix
A = S_1^(1/2) S_2 S_1^(1/2), whose eigenvalues it shares, so tr((S_1 S_2)^(1/2)) is the sum of the
square roots of A's eigenvalues. Both square roots come from `numpy.linalg.eigh` in float64, with
the tiny negative eigenvalues that rounding gives a singular covariance (fewer images than
feature dimensions) clipped to 0. Computed on InceptionV3's pool features this is the FID.

For sets smaller than the feature dimension (a few hundred images against InceptionV3's 2048
features) `frechet_distance_of` takes the same trace without any D x D decomposition: with the
centred feature matrices X_1 [N_1, D] and X_2 [N_2, D], S_i = X_i^T X_i / (N_i - 1), and the
non-zero eigenvalues of S_1 S_2 are those of C C^T with C = X_1 X_2^T / sqrt((N_1 - 1)(N_2 - 1)),
so tr((S_1 S_2)^(1/2)) is the sum of C's singular values.

PSNR and SSIM compare images in [0, 1] (max_val 1) with `tf.image.psnr` and `tf.image.ssim`
(Gaussian window 11, sigma 1.5); images of this project in [-1, 1] are mapped to [0, 1] first.
Identical images have PSNR inf and SSIM 1.
"""

import numpy as np


def feature_statistics(features):
  """Mean [D] and covariance [D, D] (unbiased, float64) of features [N, D], N >= 2."""
  features = np.asarray(features, np.float64)
  if features.ndim != 2 or len(features) < 2:
    raise ValueError('feature statistics need at least 2 feature vectors [N, D], got shape '
                     f'{list(features.shape)}.')
  return features.mean(axis=0), np.cov(features, rowvar=False, ddof=1).reshape(
      features.shape[1], features.shape[1])


def _psd_sqrt(sigma):
  """The symmetric square root of a symmetric positive semi-definite matrix."""
  w, v = np.linalg.eigh((sigma + sigma.T) / 2)
  return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2):
  """The Fréchet distance (squared, as FID reports it) of N(mu1, sigma1) and N(mu2, sigma2).

  Args:
    mu1, mu2: means [D].
    sigma1, sigma2: covariances [D, D], symmetric positive semi-definite.
  Returns:
    A float >= 0.
  """
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
  d = mu1.shape[0]
  if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
    raise ValueError(f'frechet_distance: means [D] and covariances [D, D] of one D, got '
                     f'{list(mu1.shape)}, {list(sigma1.shape)}, {list(mu2.shape)}, '
                     f'{list(sigma2.shape)}.')
  root1 = _psd_sqrt(sigma1)
  a = root1 @ sigma2 @ root1
  tr_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((a + a.T) / 2), 0.0, None)))
  value = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_sqrt
  return float(max(value, 0.0))


def frechet_distance_of(features1, features2):
  """The Fréchet distance of two feature sets [N1, D] and [N2, D]."""
  mu1, sigma1 = feature_statistics(features1)
  mu2, sigma2 = feature_statistics(features2)
  if max(len(features1), len(features2)) > len(mu1):
    return frechet_distance(mu1, sigma1, mu2, sigma2)
  x1 = np.asarray(features1, np.float64) - mu1
  x2 = np.asarray(features2, np.float64) - mu2
  c = x1 @ x2.T / np.sqrt((len(x1) - 1) * (len(x2) - 1))
  tr_sqrt = np.sum(np.linalg.svd(c, compute_uv=False))
  value = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_sqrt
  return float(max(value, 0.0))


def psnr_ssim(x, y):
  """Per-image PSNR and SSIM [N] (float64 numpy) of images x, y [N, H, W, 3] in [-1, 1]."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top (the distances need only numpy)
  to_unit = lambda images: (tf.cast(images, tf.float32) + 1.0) / 2.0
  x, y = to_unit(x), to_unit(y)
  return (tf.image.psnr(x, y, max_val=1.0).numpy().astype(np.float64),
          tf.image.ssim(x, y, max_val=1.0).numpy().astype(np.float64))
