"""StarGAN losses (WGAN-GP form, paper §4 "Implementation"; reference `solver.py`).

Pure tensor functions: no models are captured and no optimizers are touched. Every input is cast
to float32 first, so model outputs computed under a mixed-precision policy can be passed as they
are. Composite losses return `(total, {tag: value})` with the TensorBoard tag names.
"""

import tensorflow as tf

from stargan_tf import labels as labels_lib


def _f32(x):
  return tf.cast(x, tf.float32)


def d_adversarial_loss(out_src_real, out_src_fake):
  """Critic terms of the Wasserstein loss.

  Args:
    out_src_real: D_src on real images, any shape (e.g. the [N, h, w, 1] patch map).
    out_src_fake: D_src on generated images, any shape.
  Returns:
    (loss_real, loss_fake): scalars -mean(out_src_real) and mean(out_src_fake).
  """
  return -tf.reduce_mean(_f32(out_src_real)), tf.reduce_mean(_f32(out_src_fake))


def g_adversarial_loss(out_src_fake):
  """Generator term of the Wasserstein loss: scalar -mean(out_src_fake)."""
  return -tf.reduce_mean(_f32(out_src_fake))


def gradient_penalty(critic, x_real, x_fake, alpha):
  """WGAN-GP penalty mean((||grad_x_hat sum(critic(x_hat))||_2 - 1)^2), without an epsilon.

  The inner tape records the critic, so the result stays differentiable with respect to the
  critic's weights when called under an outer tape (a second-order gradient).

  Args:
    critic: callable mapping images [N, H, W, C] to scores of any shape with leading dim N
      (e.g. `lambda x: D(x)[0]`).
    x_real: real images [N, H, W, C]; treated as a constant.
    x_fake: generated images [N, H, W, C]; treated as a constant.
    alpha: interpolation weights [N, 1, 1, 1], U(0, 1) per sample, drawn by the caller.
  Returns:
    Scalar float32 penalty.
  """
  alpha = _f32(alpha)
  x_hat = alpha * tf.stop_gradient(_f32(x_real)) + (1.0 - alpha) * tf.stop_gradient(_f32(x_fake))
  with tf.GradientTape() as tape:
    tape.watch(x_hat)
    out = tf.reduce_sum(_f32(critic(x_hat)))
  grad = tape.gradient(out, x_hat)
  grad_norm = tf.norm(tf.reshape(grad, [tf.shape(grad)[0], -1]), axis=1)
  return tf.reduce_mean(tf.square(grad_norm - 1.0))


def classification_loss(logits, labels, kind, columns=None):
  """Domain classification loss of D_cls.

  Args:
    logits: [N, c] D_cls outputs (or [N, num_domains] with `columns`).
    labels: [N, c] float targets: attributes in {0, 1}, or one-hot classes.
    kind: the label part's kind (`labels.MULTI_LABEL`: sigmoid cross-entropy summed over the
      attributes, as for CelebA; `labels.ONE_HOT`: softmax cross-entropy, as for RaFD); both
      averaged over the batch.
    columns: joint training: the python slice of the batch's dataset's columns in the logits
      (`labels.LabelSpace.domain_slice`); the other datasets' logits are not read (paper eq. 7).
  Returns:
    Scalar float32 loss.
  """
  if columns is not None:
    logits = logits[:, columns]
  logits, labels = _f32(logits), _f32(labels)
  if kind == labels_lib.MULTI_LABEL:
    per_attr = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    return tf.reduce_mean(tf.reduce_sum(per_attr, axis=1))
  if kind == labels_lib.ONE_HOT:
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))
  raise ValueError(f'classification_loss: kind must be one of {labels_lib.KINDS}, got {kind!r}.')


def reconstruction_loss(x_real, x_rec):
  """Cycle reconstruction L1: scalar mean(|x_real - x_rec|) over all elements of [N, H, W, C]."""
  return tf.reduce_mean(tf.abs(_f32(x_real) - _f32(x_rec)))


def discriminator_loss(out_src_real, out_cls_real, c_org, out_src_fake, gp, lambda_cls, lambda_gp,
                       kind, columns=None):
  """D objective: loss_real + loss_fake + lambda_cls * loss_cls + lambda_gp * gp.

  The classification term uses real images only (no classification loss on fakes in D).

  Args:
    out_src_real: D_src(x_real), e.g. [N, h, w, 1].
    out_cls_real: D_cls(x_real) logits [N, c_dim].
    c_org: the real images' labels [N, c_dim].
    out_src_fake: D_src(G(x_real, c_trg)), e.g. [N, h, w, 1].
    gp: scalar from `gradient_penalty`.
    lambda_cls, lambda_gp: loss weights.
    kind, columns: see `classification_loss`.
  Returns:
    (total, {'D/loss_real', 'D/loss_fake', 'D/loss_cls', 'D/loss_gp'}): float32 scalars.
  """
  loss_real, loss_fake = d_adversarial_loss(out_src_real, out_src_fake)
  loss_cls = classification_loss(out_cls_real, c_org, kind, columns)
  loss_gp = _f32(gp)
  total = loss_real + loss_fake + lambda_cls * loss_cls + lambda_gp * loss_gp
  return total, {'D/loss_real': loss_real, 'D/loss_fake': loss_fake, 'D/loss_cls': loss_cls,
                 'D/loss_gp': loss_gp}


def generator_loss(out_src_fake, out_cls_fake, c_trg, x_real, x_rec, lambda_cls, lambda_rec,
                   kind, columns=None):
  """G objective: loss_fake + lambda_rec * loss_rec + lambda_cls * loss_cls.

  Args:
    out_src_fake: D_src(x_fake), e.g. [N, h, w, 1], where x_fake = G(x_real, c_trg).
    out_cls_fake: D_cls(x_fake) logits [N, c_dim].
    c_trg: target labels [N, c_dim].
    x_real: input images [N, H, W, 3].
    x_rec: G(x_fake, c_org) [N, H, W, 3].
    lambda_cls, lambda_rec: loss weights.
    kind, columns: see `classification_loss`.
  Returns:
    (total, {'G/loss_fake', 'G/loss_rec', 'G/loss_cls'}): float32 scalars.
  """
  loss_fake = g_adversarial_loss(out_src_fake)
  loss_rec = reconstruction_loss(x_real, x_rec)
  loss_cls = classification_loss(out_cls_fake, c_trg, kind, columns)
  total = loss_fake + lambda_rec * loss_rec + lambda_cls * loss_cls
  return total, {'G/loss_fake': loss_fake, 'G/loss_rec': loss_rec, 'G/loss_cls': loss_cls}
