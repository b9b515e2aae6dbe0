"""Tests for stargan_tf.losses against numpy and closed forms."""

import numpy as np
import pytest
import tensorflow as tf

from stargan_tf import labels as labels_lib
from stargan_tf import losses

MULTI, ONE_HOT = labels_lib.MULTI_LABEL, labels_lib.ONE_HOT
from stargan_tf import models

RNG = np.random.default_rng(0)


def const(x, dtype=tf.float32):
  return tf.constant(x, dtype)


def np_sigmoid_ce(logits, labels):
  p = 1 / (1 + np.exp(-logits))
  return -(labels * np.log(p) + (1 - labels) * np.log(1 - p))


def np_softmax_ce(logits, labels):
  log_p = logits - logits.max(axis=1, keepdims=True)
  log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
  return -(labels * log_p).sum(axis=1)


def linear_critic(w):
  """f(x) = sum(w * x) per sample: its input gradient is w for every x."""
  return lambda x: tf.reduce_sum(w * x, axis=[1, 2, 3])


def quadratic_critic(x):
  """f(x) = 0.5 * sum(x^2) per sample, as an [N, 1, 1, 1] map: its input gradient is x."""
  return 0.5 * tf.reduce_sum(tf.square(x), axis=[1, 2, 3], keepdims=True)


class TestAdversarial:

  def test_d_adversarial_loss(self):
    real, fake = RNG.normal(size=(4, 2, 2, 1)), RNG.normal(size=(4, 2, 2, 1))
    loss_real, loss_fake = losses.d_adversarial_loss(const(real), const(fake))
    np.testing.assert_allclose(loss_real, -real.mean(), rtol=1e-6)
    np.testing.assert_allclose(loss_fake, fake.mean(), rtol=1e-6)

  def test_g_adversarial_loss(self):
    fake = RNG.normal(size=(4, 2, 2, 1))
    np.testing.assert_allclose(losses.g_adversarial_loss(const(fake)), -fake.mean(), rtol=1e-6)

  def test_low_precision_inputs_give_float32(self):
    fake = const(RNG.normal(size=(4, 2, 2, 1)), tf.bfloat16)
    assert losses.g_adversarial_loss(fake).dtype == tf.float32


class TestClassification:

  def test_celeba_is_sigmoid_ce_summed_over_attributes_averaged_over_batch(self):
    logits = RNG.normal(scale=3, size=(6, 5))
    labels = RNG.integers(0, 2, size=(6, 5)).astype(np.float64)
    expected = np_sigmoid_ce(logits, labels).sum() / 6
    got = losses.classification_loss(const(logits), const(labels), MULTI)
    np.testing.assert_allclose(got, expected, rtol=1e-5)

  def test_rafd_is_softmax_ce_averaged_over_batch(self):
    logits = RNG.normal(scale=3, size=(6, 8))
    labels = np.eye(8)[RNG.integers(0, 8, size=6)]
    expected = np_softmax_ce(logits, labels).mean()
    got = losses.classification_loss(const(logits), const(labels), ONE_HOT)
    np.testing.assert_allclose(got, expected, rtol=1e-5)

  @pytest.mark.parametrize('kind', ['CelebA', 'softmax', ''])
  def test_unknown_kind_raises(self, kind):
    with pytest.raises(ValueError, match='kind must be one of'):
      losses.classification_loss(tf.zeros([2, 5]), tf.zeros([2, 5]), kind)


def test_reconstruction_loss_is_mean_l1():
  x_real, x_rec = RNG.uniform(-1, 1, (2, 4, 4, 3)), RNG.uniform(-1, 1, (2, 4, 4, 3))
  np.testing.assert_allclose(losses.reconstruction_loss(const(x_real), const(x_rec)),
                             np.abs(x_real - x_rec).mean(), rtol=1e-6)


class TestGradientPenalty:

  @pytest.mark.parametrize('alpha_value', [0.0, 0.3, 1.0])
  def test_linear_critic_gives_closed_form(self, alpha_value):
    w = RNG.normal(scale=0.1, size=(1, 4, 4, 3))
    x_real, x_fake = RNG.normal(size=(3, 4, 4, 3)), RNG.normal(size=(3, 4, 4, 3))
    alpha = np.full((3, 1, 1, 1), alpha_value)
    gp = losses.gradient_penalty(linear_critic(const(w)), const(x_real), const(x_fake),
                                 const(alpha))
    np.testing.assert_allclose(gp, (np.linalg.norm(w) - 1) ** 2, rtol=1e-5)

  def test_quadratic_critic_matches_numpy(self):
    x_real, x_fake = RNG.normal(size=(4, 3, 3, 3)), RNG.normal(size=(4, 3, 3, 3))
    alpha = RNG.uniform(size=(4, 1, 1, 1))
    x_hat = alpha * x_real + (1 - alpha) * x_fake
    norms = np.linalg.norm(x_hat.reshape(4, -1), axis=1)  # Per sample, not over the batch.
    expected = np.mean((norms - 1) ** 2)
    gp = losses.gradient_penalty(quadratic_critic, const(x_real), const(x_fake), const(alpha))
    np.testing.assert_allclose(gp, expected, rtol=1e-5)

  @pytest.mark.parametrize('use_tf_function', [False, True])
  def test_second_order_gradient_reaches_critic_weights(self, use_tf_function):
    w_value = RNG.normal(scale=0.2, size=(1, 4, 4, 3))
    w = tf.Variable(w_value, dtype=tf.float32)
    x_real, x_fake = const(RNG.normal(size=(2, 4, 4, 3))), const(RNG.normal(size=(2, 4, 4, 3)))
    alpha = const(RNG.uniform(size=(2, 1, 1, 1)))

    def grad_wrt_w():
      with tf.GradientTape() as tape:
        gp = losses.gradient_penalty(linear_critic(w), x_real, x_fake, alpha)
      return tape.gradient(gp, w)

    grad = (tf.function(grad_wrt_w) if use_tf_function else grad_wrt_w)()
    norm = np.linalg.norm(w_value)
    np.testing.assert_allclose(grad, 2 * (norm - 1) * w_value / norm, rtol=1e-4, atol=1e-7)

  def test_images_are_constants(self):
    x_real, x_fake = tf.Variable(tf.ones([2, 2, 2, 3])), tf.Variable(tf.zeros([2, 2, 2, 3]))
    with tf.GradientTape() as tape:
      gp = losses.gradient_penalty(quadratic_critic, x_real, x_fake, tf.fill([2, 1, 1, 1], 0.5))
    assert gp > 0
    assert tape.gradient(gp, [x_real, x_fake]) == [None, None]

  def test_with_discriminator_gradients_reach_its_convs(self):
    d = models.Discriminator(image_size=16, conv_dim=4, c_dim=2, repeat_num=2)
    x_real, x_fake = const(RNG.uniform(-1, 1, (2, 16, 16, 3))), tf.zeros([2, 16, 16, 3])
    alpha = const(RNG.uniform(size=(2, 1, 1, 1)))
    d(x_real)
    with tf.GradientTape() as tape:
      gp = losses.gradient_penalty(lambda x: d(x)[0], x_real, x_fake, alpha)
    grads = tape.gradient(gp, [d.conv1.kernel, d.conv2.kernel, d.conv_src.kernel])
    assert np.isfinite(gp.numpy()) and gp.dtype == tf.float32
    for grad in grads:
      assert grad is not None and np.all(np.isfinite(grad)) and np.any(grad.numpy() != 0)

  def test_low_precision_critic_gives_float32(self):
    critic = lambda x: tf.cast(quadratic_critic(x), tf.bfloat16)
    x = const(RNG.normal(size=(2, 2, 2, 3)))
    gp = losses.gradient_penalty(critic, x, x, tf.fill([2, 1, 1, 1], 0.5))
    assert gp.dtype == tf.float32


class TestComposite:

  def test_discriminator_loss(self):
    out_src_real, out_src_fake = RNG.normal(size=(4, 2, 2, 1)), RNG.normal(size=(4, 2, 2, 1))
    out_cls_real = RNG.normal(size=(4, 5))
    c_org = RNG.integers(0, 2, size=(4, 5)).astype(np.float64)
    total, parts = losses.discriminator_loss(
        const(out_src_real), const(out_cls_real), const(c_org), const(out_src_fake), const(0.7),
        lambda_cls=2.0, lambda_gp=10.0, kind=MULTI)
    assert set(parts) == {'D/loss_real', 'D/loss_fake', 'D/loss_cls', 'D/loss_gp'}
    expected = dict(real=-out_src_real.mean(), fake=out_src_fake.mean(),
                    cls=np_sigmoid_ce(out_cls_real, c_org).sum() / 4, gp=0.7)
    for key, value in expected.items():
      np.testing.assert_allclose(parts[f'D/loss_{key}'], value, rtol=1e-5)
    np.testing.assert_allclose(
        total, expected['real'] + expected['fake'] + 2.0 * expected['cls'] + 10.0 * 0.7, rtol=1e-5)

  def test_generator_loss(self):
    out_src_fake = RNG.normal(size=(4, 2, 2, 1))
    out_cls_fake = RNG.normal(size=(4, 8))
    c_trg = np.eye(8)[RNG.integers(0, 8, size=4)]
    x_real, x_rec = RNG.uniform(-1, 1, (4, 8, 8, 3)), RNG.uniform(-1, 1, (4, 8, 8, 3))
    total, parts = losses.generator_loss(
        const(out_src_fake), const(out_cls_fake), const(c_trg), const(x_real), const(x_rec),
        lambda_cls=3.0, lambda_rec=10.0, kind=ONE_HOT)
    assert set(parts) == {'G/loss_fake', 'G/loss_rec', 'G/loss_cls'}
    expected = dict(fake=-out_src_fake.mean(), rec=np.abs(x_real - x_rec).mean(),
                    cls=np_softmax_ce(out_cls_fake, c_trg).mean())
    for key, value in expected.items():
      np.testing.assert_allclose(parts[f'G/loss_{key}'], value, rtol=1e-5)
    np.testing.assert_allclose(
        total, expected['fake'] + 10.0 * expected['rec'] + 3.0 * expected['cls'], rtol=1e-5)

  def test_unknown_kind_raises(self):
    z = tf.zeros([2, 5])
    with pytest.raises(ValueError, match='kind'):
      losses.discriminator_loss(z, z, z, z, 0.0, 1.0, 10.0, 'Both')
    with pytest.raises(ValueError, match='kind'):
      losses.generator_loss(z, z, z, z, z, 1.0, 10.0, 'Both')


class TestJointClassification:
  """--dataset=Both: a batch's classification loss reads only its own dataset's D_cls columns."""

  @pytest.mark.parametrize('kind, columns, width', [(MULTI, slice(0, 5), 5),
                                                     (ONE_HOT, slice(5, 13), 8)])
  def test_reads_only_its_own_slice(self, kind, columns, width):
    logits = RNG.normal(size=(4, 13))
    if kind == MULTI:
      labels = RNG.integers(0, 2, size=(4, width)).astype(np.float64)
      expected = np_sigmoid_ce(logits[:, columns], labels).sum() / 4
    else:
      labels = np.eye(width)[RNG.integers(0, width, size=4)]
      expected = np_softmax_ce(logits[:, columns], labels).mean()
    other = np.ones(13, bool)
    other[columns] = False
    changed = logits.copy()
    changed[:, other] += RNG.normal(size=(4, other.sum())) * 10

    def loss_and_grad(values):
      v = tf.Variable(values, dtype=tf.float32)
      with tf.GradientTape() as tape:
        loss = losses.classification_loss(v, const(labels), kind, columns)
      return loss.numpy(), tape.gradient(loss, v).numpy()

    loss, grad = loss_and_grad(logits)
    loss2, grad2 = loss_and_grad(changed)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    assert loss2 == loss
    np.testing.assert_array_equal(grad[:, other], 0.0)
    np.testing.assert_array_equal(grad, grad2)
    assert np.abs(grad[:, columns]).min() > 0

  def test_composite_losses_pass_the_columns(self):
    src = const(RNG.normal(size=(4, 2, 2, 1)))
    logits = RNG.normal(size=(4, 13))
    c = np.eye(8)[RNG.integers(0, 8, size=4)]
    x = const(RNG.uniform(-1, 1, (4, 8, 8, 3)))
    _, d_parts = losses.discriminator_loss(src, const(logits), const(c), src, 0.0, 1.0, 10.0,
                                           ONE_HOT, slice(5, 13))
    _, g_parts = losses.generator_loss(src, const(logits), const(c), x, x, 1.0, 10.0, ONE_HOT,
                                       slice(5, 13))
    expected = np_softmax_ce(logits[:, 5:], c).mean()
    np.testing.assert_allclose(d_parts['D/loss_cls'], expected, rtol=1e-5)
    np.testing.assert_allclose(g_parts['G/loss_cls'], expected, rtol=1e-5)
