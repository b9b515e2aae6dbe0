"""One discriminator update and one generator update, run under a tf.distribute strategy.

Each per-replica loss is a mean over the replica's batch divided by the number of replicas, so
the summed gradients equal those of the mean over the global batch whatever the replica count.
Returned metrics are flat dicts of scalars named like the TensorBoard tags.
"""

import tensorflow as tf

from stargan_tf import losses


def linear_decay_lr(step, base_lr, num_iters, num_iters_decay):
  """Learning rate at a 0-based iteration: constant, then linear to 0 at num_iters (paper §4)."""
  decay_start = num_iters - num_iters_decay
  if num_iters_decay == 0 or step < decay_start:
    return base_lr
  return base_lr * max(num_iters - step, 0) / num_iters_decay


def permute_labels(c_org, rng):
  """Target labels: a random permutation of the batch's own labels (reference training)."""
  idx = tf.argsort(rng.uniform([tf.shape(c_org)[0]]))
  return tf.gather(c_org, idx)


class Steps:
  """Holds the models, optimizers and random generator; exposes the compiled steps.

  Args:
    generator, discriminator: the models (built inside strategy.scope()).
    g_optimizer, d_optimizer: Keras optimizers built on the models' variables in scope.
    loss_config: config.LossConfig.
    dataset: 'CelebA' or 'RaFD' (selects the classification loss).
    strategy: the tf.distribute strategy the models live in.
    rng: tf.random.Generator created in strategy.scope() (checkpointed with the models).
  """

  def __init__(self, generator, discriminator, g_optimizer, d_optimizer, loss_config, dataset,
               strategy, rng):
    self.G, self.D = generator, discriminator
    self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
    self.loss_config = loss_config
    self.dataset = dataset
    self.strategy = strategy
    self.rng = rng

  def _reduce(self, per_replica):
    return {k: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
            for k, v in per_replica.items()}

  def _targets(self, c_org):
    return permute_labels(c_org, self.rng)

  def _d_step(self, x_real, c_org, c_trg):
    cfg = self.loss_config
    x_fake = self.G(x_real, c_trg, training=True)
    alpha = self.rng.uniform([tf.shape(x_real)[0], 1, 1, 1])
    with tf.GradientTape() as tape:
      out_src_real, out_cls_real = self.D(x_real, training=True)
      out_src_fake, _ = self.D(tf.stop_gradient(x_fake), training=True)
      gp = losses.gradient_penalty(lambda x: self.D(x, training=True)[0], x_real, x_fake, alpha)
      total, parts = losses.discriminator_loss(
          out_src_real, out_cls_real, c_org, out_src_fake, gp, cfg.lambda_cls, cfg.lambda_gp,
          self.dataset)
      scaled = total / self.strategy.num_replicas_in_sync
    variables = self.D.trainable_variables
    self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
    parts['D/loss'] = total
    return parts

  def _g_step(self, x_real, c_org, c_trg):
    cfg = self.loss_config
    with tf.GradientTape() as tape:
      x_fake = self.G(x_real, c_trg, training=True)
      out_src_fake, out_cls_fake = self.D(x_fake, training=True)
      x_rec = self.G(x_fake, c_org, training=True)
      total, parts = losses.generator_loss(
          out_src_fake, out_cls_fake, c_trg, x_real, x_rec, cfg.lambda_cls, cfg.lambda_rec,
          self.dataset)
      scaled = total / self.strategy.num_replicas_in_sync
    variables = self.G.trainable_variables
    self.g_optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
    parts['G/loss'] = total
    return parts

  @tf.function
  def targets(self, c_org):
    """Per-replica target labels for a (distributed) batch of source labels."""
    return self.strategy.run(self._targets, args=(c_org,))

  @tf.function
  def d_step(self, x_real, c_org, c_trg):
    """One discriminator update; returns {'D/loss_real', 'D/loss_fake', 'D/loss_cls', ...}."""
    return self._reduce(self.strategy.run(self._d_step, args=(x_real, c_org, c_trg)))

  @tf.function
  def g_step(self, x_real, c_org, c_trg):
    """One generator update on a freshly generated fake; returns {'G/loss_fake', ...}."""
    return self._reduce(self.strategy.run(self._g_step, args=(x_real, c_org, c_trg)))
