"""One discriminator update and one generator update, run under a tf.distribute strategy.

Each per-replica loss is a mean over the replica's batch divided by the number of replicas, so
the summed gradients equal those of the mean over the global batch whatever the replica count.
Returned metrics are flat dicts of scalars named like the TensorBoard tags.

The random draws of an iteration (target labels and the gradient-penalty interpolation weights)
are made by `draw`, separately from the updates, from a tf.random.Generator created in the
strategy's scope, which gives each replica its own stream; passing the draws in makes an update a
pure function of its inputs (tests compare strategies that way).

Precision: under a mixed policy G and D compute in bfloat16/float16 with float32 variables; the
losses cast model outputs to float32 and the gradient penalty interpolates in float32. With
float16 the optimizers are `keras.optimizers.LossScaleOptimizer`s: the loss is scaled inside the
tape and the gradients are unscaled (and non-finite steps skipped) by the optimizer.

Joint training on several datasets (mask vector): the steps take a `dataset` name; labels passed
in are that dataset's own columns, G receives them embedded in the joint layout
(`labels.LabelSpace.embed`), and the classification losses read that dataset's columns of D_cls
only. Each dataset gets its own traced graph.

`jit_compile=True` compiles each replica's forward and backward pass (not the optimizer update
and its cross-replica reduction, which XLA cannot wrap) with XLA.
"""

import keras
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
    g_optimizer, d_optimizer: Keras optimizers built on the models' variables in scope
      (LossScaleOptimizers for float16).
    loss_config: config.LossConfig.
    label_space: labels.LabelSpace of the run.
    strategy: the tf.distribute strategy the models live in.
    rng: tf.random.Generator created in strategy.scope() (checkpointed with the models).
    jit_compile: compile each replica's forward and backward pass with XLA.
  """

  def __init__(self, generator, discriminator, g_optimizer, d_optimizer, loss_config,
               label_space, strategy, rng, jit_compile=False):
    self.G, self.D = generator, discriminator
    self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
    self.loss_config = loss_config
    self.label_space = label_space
    self.strategy = strategy
    self.rng = rng
    compile_fn = tf.function(jit_compile=True) if jit_compile else (lambda fn: fn)
    self._d_grads_fn = compile_fn(self._d_grads)
    self._g_grads_fn = compile_fn(self._g_grads)

  def _reduce(self, per_replica):
    return {k: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
            for k, v in per_replica.items()}

  @staticmethod
  def _scale(optimizer, loss):
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
      return optimizer.scale_loss(loss)
    return loss

  def _draw(self, c_org):
    c_trg = permute_labels(c_org, self.rng)
    alpha = self.rng.uniform([tf.shape(c_org)[0], 1, 1, 1])
    return c_trg, alpha

  def _d_grads(self, x_real, c_org, c_trg, alpha, dataset):
    cfg, space = self.loss_config, self.label_space
    x_fake = tf.cast(self.G(x_real, space.embed(c_trg, dataset), training=True), tf.float32)
    n = tf.shape(x_real)[0]
    with tf.GradientTape() as tape:
      # D has no batch-dependent layers, so one call on real and fake images together gives
      # each image the score of its own call, with fewer, larger kernels.
      out_src, out_cls = self.D(tf.concat([x_real, tf.stop_gradient(x_fake)], 0), training=True)
      out_src_real, out_src_fake, out_cls_real = out_src[:n], out_src[n:], out_cls[:n]
      gp = losses.gradient_penalty(lambda x: self.D(x, training=True)[0], x_real, x_fake, alpha)
      total, parts = losses.discriminator_loss(
          out_src_real, out_cls_real, c_org, out_src_fake, gp, cfg.lambda_cls, cfg.lambda_gp,
          space.part(dataset).kind, space.domain_slice(dataset))
      scaled = self._scale(self.d_optimizer, total / self.strategy.num_replicas_in_sync)
    parts['D/loss'] = total
    return tape.gradient(scaled, self.D.trainable_variables), parts

  def _g_grads(self, x_real, c_org, c_trg, dataset):
    cfg, space = self.loss_config, self.label_space
    with tf.GradientTape() as tape:
      x_fake = self.G(x_real, space.embed(c_trg, dataset), training=True)
      out_src_fake, out_cls_fake = self.D(x_fake, training=True)
      x_rec = self.G(x_fake, space.embed(c_org, dataset), training=True)
      total, parts = losses.generator_loss(
          out_src_fake, out_cls_fake, c_trg, x_real, x_rec, cfg.lambda_cls, cfg.lambda_rec,
          space.part(dataset).kind, space.domain_slice(dataset))
      scaled = self._scale(self.g_optimizer, total / self.strategy.num_replicas_in_sync)
    parts['G/loss'] = total
    return tape.gradient(scaled, self.G.trainable_variables), parts

  def _d_step(self, x_real, c_org, c_trg, alpha, dataset):
    grads, parts = self._d_grads_fn(x_real, c_org, c_trg, alpha, dataset)
    self.d_optimizer.apply_gradients(zip(grads, self.D.trainable_variables))
    return parts

  def _g_step(self, x_real, c_org, c_trg, dataset):
    grads, parts = self._g_grads_fn(x_real, c_org, c_trg, dataset)
    self.g_optimizer.apply_gradients(zip(grads, self.G.trainable_variables))
    return parts

  @tf.function
  def draw(self, c_org):
    """Per-replica (target labels, GP weights [n, 1, 1, 1]) for a (distributed) label batch."""
    return self.strategy.run(self._draw, args=(c_org,))

  @tf.function
  def d_step(self, x_real, c_org, c_trg, alpha, dataset):
    """One discriminator update on a batch of `dataset` (a name of the label space's parts);
    returns {'D/loss_real', 'D/loss_fake', 'D/loss_cls', ...}."""
    return self._reduce(self.strategy.run(
        self._d_step, args=(x_real, c_org, c_trg, alpha, dataset)))

  @tf.function
  def g_step(self, x_real, c_org, c_trg, dataset):
    """One generator update on a freshly generated fake of a `dataset` batch; returns
    {'G/loss_fake', ...}."""
    return self._reduce(self.strategy.run(self._g_step, args=(x_real, c_org, c_trg, dataset)))
