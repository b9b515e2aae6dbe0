"""The Fréchet distance against closed forms and an independent computation; PSNR and SSIM."""

import numpy as np
import pytest

from stargan_tf import metrics


def _rotation(d, seed):
  q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=[d, d]))
  return q


def test_a_set_is_at_distance_zero_from_itself():
  features = np.random.default_rng(0).normal(size=[300, 16])
  assert metrics.frechet_distance_of(features, features) == pytest.approx(0.0, abs=1e-8)
  # Fewer vectors than dimensions: a singular covariance, still 0 and never negative.
  few = features[:5]
  assert 0.0 <= metrics.frechet_distance_of(few, few) < 1e-8


def test_gaussians_with_diagonal_covariances_exactly():
  mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
  var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
  # |mu1 - mu2|^2 + sum (sqrt var1 - sqrt var2)^2 = 5 + (4 + 1 + 0).
  assert metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(10.0)
  # The same covariances in another basis (they commute): the same distance.
  r = _rotation(3, 1)
  assert metrics.frechet_distance(mu1 @ r.T, r @ np.diag(var1) @ r.T, mu2 @ r.T,
                                  r @ np.diag(var2) @ r.T) == pytest.approx(10.0)


def test_non_commuting_covariances_against_the_eigenvalues_of_the_product():
  rng = np.random.default_rng(2)
  a, b = rng.normal(size=[6, 6]), rng.normal(size=[6, 6])
  s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T
  mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
  # tr sqrt(S1 S2) from the (real, non-negative) eigenvalues of the non-symmetric product.
  tr_sqrt = np.sum(np.sqrt(np.abs(np.linalg.eigvals(s1 @ s2))))
  expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
  assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
  assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
      metrics.frechet_distance(mu2, s2, mu1, s1), rel=1e-9)


def test_samples_of_shifted_gaussians_approach_the_closed_form():
  rng = np.random.default_rng(3)
  mu1, mu2 = np.zeros(4), np.array([1.0, -1.0, 0.5, 0.0])
  sd1, sd2 = np.array([1.0, 2.0, 0.5, 1.0]), np.array([2.0, 1.0, 0.5, 3.0])
  exact = np.sum((mu1 - mu2) ** 2) + np.sum((sd1 - sd2) ** 2)  # 2.25 + 6
  f1 = mu1 + sd1 * rng.normal(size=[40000, 4])
  f2 = mu2 + sd2 * rng.normal(size=[40000, 4])
  assert metrics.frechet_distance_of(f1, f2) == pytest.approx(exact, rel=0.03)


def test_sets_smaller_than_the_dimension_take_the_same_trace():
  rng = np.random.default_rng(6)
  f1 = rng.normal(size=[20, 64])
  f2 = 0.5 + 2.0 * rng.normal(size=[30, 64]) @ rng.normal(size=[64, 64]) / 8
  by_samples = metrics.frechet_distance_of(f1, f2)
  by_covariances = metrics.frechet_distance(*metrics.feature_statistics(f1),
                                            *metrics.feature_statistics(f2))
  # (rounding: the singular covariances have eigenvalues of 1e-15 whose square roots count)
  assert by_samples == pytest.approx(by_covariances, rel=1e-7)
  assert metrics.frechet_distance_of(f1, f1) == pytest.approx(0.0, abs=1e-8)


def test_bad_shapes_are_named():
  with pytest.raises(ValueError, match='at least 2 feature vectors'):
    metrics.feature_statistics(np.zeros([1, 3]))
  with pytest.raises(ValueError, match='one D'):
    metrics.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_psnr_and_ssim_of_identical_and_offset_images():
  x = np.random.default_rng(4).uniform(-0.8, 0.6, size=[3, 32, 32, 3]).astype(np.float32)
  psnr, ssim = metrics.psnr_ssim(x, x)
  assert np.all(np.isinf(psnr)) and np.allclose(ssim, 1.0)
  # An offset of 0.2 in [-1, 1] is 0.1 in [0, 1]: MSE 0.01, PSNR 10 log10(1 / 0.01) = 20 dB.
  psnr, ssim = metrics.psnr_ssim(x, x + 0.2)
  assert np.allclose(psnr, 20.0, atol=1e-3)
  assert np.all(ssim < 1.0) and np.all(ssim > 0.5)
  noise = np.random.default_rng(5).uniform(-1, 1, size=x.shape).astype(np.float32)
  assert np.all(metrics.psnr_ssim(x, noise)[1] < 0.2)
