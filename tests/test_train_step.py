import numpy as np
import pytest
import tensorflow as tf

from stargan_tf import config as config_lib
from stargan_tf import labels
from stargan_tf import losses
from stargan_tf import models
from stargan_tf import runs
from stargan_tf import train_step

MODEL = config_lib.ModelConfig(image_size=16, g_conv_dim=4, d_conv_dim=4, g_repeat_num=1,
                               d_repeat_num=2)
SPACE = labels.label_space('CelebA', ('Black_Hair', 'Male', 'Young'))
TRAIN = config_lib.TrainConfig()


@pytest.mark.parametrize('step, expected', [
    (0, 1e-4), (99_999, 1e-4), (100_000, 1e-4), (150_000, 5e-5), (199_999, 1e-9), (200_000, 0.0),
])
def test_linear_decay_lr(step, expected):
  assert train_step.linear_decay_lr(step, 1e-4, 200_000, 100_000) == pytest.approx(expected)


def test_no_decay():
  assert train_step.linear_decay_lr(10, 1e-4, 10, 0) == 1e-4


def test_permute_labels_keeps_the_multiset():
  rng = tf.random.Generator.from_seed(3)
  c = tf.constant(np.random.RandomState(0).randint(0, 2, [32, 5]).astype(np.float32))
  seen_changed = False
  for _ in range(5):
    p = train_step.permute_labels(c, rng).numpy()
    assert sorted(map(tuple, p)) == sorted(map(tuple, c.numpy()))
    seen_changed |= not np.array_equal(p, c.numpy())
  assert seen_changed


def _steps(seed=0):
  strategy = tf.distribute.get_strategy()
  G, D = models.build(MODEL, SPACE)
  g_opt = runs.build_optimizer(TRAIN.g_lr, TRAIN, G.trainable_variables)
  d_opt = runs.build_optimizer(TRAIN.d_lr, TRAIN, D.trainable_variables)
  rng = tf.random.Generator.from_seed(seed)
  return train_step.Steps(G, D, g_opt, d_opt, config_lib.LossConfig(), SPACE, strategy, rng)


def _batch():
  r = np.random.RandomState(1)
  x = tf.constant(r.uniform(-1, 1, [4, 16, 16, 3]).astype(np.float32))
  c_org = tf.constant(r.randint(0, 2, [4, 3]).astype(np.float32))
  c_trg = tf.constant(r.randint(0, 2, [4, 3]).astype(np.float32))
  return x, c_org, c_trg


def _values(variables):
  return [v.numpy().copy() for v in variables]


def test_d_step_matches_the_loss_formula_and_updates_only_d():
  steps = _steps()
  x, c_org, c_trg = _batch()
  g_before, d_before = _values(steps.G.weights), _values(steps.D.weights)
  alpha = tf.constant(np.random.RandomState(2).uniform(size=[4, 1, 1, 1]), tf.float32)
  x_fake = steps.G(x, c_trg)
  src_real, cls_real = steps.D(x)
  src_fake, _ = steps.D(x_fake)
  gp = losses.gradient_penalty(lambda t: steps.D(t)[0], x, x_fake, alpha)
  expected_cls = np.mean(np.sum(
      tf.nn.sigmoid_cross_entropy_with_logits(c_org, cls_real).numpy(), axis=1))

  metrics = steps.d_step(x, c_org, c_trg, alpha, 'CelebA')
  assert set(metrics) == {'D/loss_real', 'D/loss_fake', 'D/loss_cls', 'D/loss_gp', 'D/loss'}
  np.testing.assert_allclose(metrics['D/loss_real'], -np.mean(src_real), rtol=1e-5)
  np.testing.assert_allclose(metrics['D/loss_fake'], np.mean(src_fake), rtol=1e-5)
  np.testing.assert_allclose(metrics['D/loss_cls'], expected_cls, rtol=1e-5)
  np.testing.assert_allclose(metrics['D/loss_gp'], gp, rtol=1e-4)
  np.testing.assert_allclose(
      metrics['D/loss'], -np.mean(src_real) + np.mean(src_fake) + expected_cls + 10 * gp,
      rtol=1e-4)
  for before, after in zip(g_before, _values(steps.G.weights)):
    np.testing.assert_array_equal(before, after)
  assert any(not np.array_equal(b, a) for b, a in zip(d_before, _values(steps.D.weights)))


def test_draw_permutes_the_batch_labels_and_draws_uniform_alphas():
  steps = _steps(seed=5)
  c_org = tf.constant(np.random.RandomState(0).randint(0, 2, [64, 3]).astype(np.float32))
  c_trg, alpha = steps.draw(c_org)
  assert sorted(map(tuple, c_trg.numpy())) == sorted(map(tuple, c_org.numpy()))
  assert alpha.shape == (64, 1, 1, 1)
  assert 0 <= alpha.numpy().min() and alpha.numpy().max() < 1 and alpha.numpy().std() > 0.2
  # Seeded: the same seed gives the same draws, another seed others.
  twin, other = _steps(seed=5), _steps(seed=6)  # kept alive: tf.function holds them weakly
  np.testing.assert_array_equal(twin.draw(c_org)[1], alpha)
  assert not np.array_equal(other.draw(c_org)[1], alpha)


def test_g_step_uses_target_for_cls_and_source_for_reconstruction():
  steps = _steps()
  x, c_org, c_trg = _batch()
  d_before, g_before = _values(steps.D.weights), _values(steps.G.weights)
  x_fake = steps.G(x, c_trg)
  src_fake, cls_fake = steps.D(x_fake)
  x_rec = steps.G(x_fake, c_org)
  expected_cls = np.mean(np.sum(
      tf.nn.sigmoid_cross_entropy_with_logits(c_trg, cls_fake).numpy(), axis=1))

  metrics = steps.g_step(x, c_org, c_trg, 'CelebA')
  assert set(metrics) == {'G/loss_fake', 'G/loss_rec', 'G/loss_cls', 'G/loss'}
  np.testing.assert_allclose(metrics['G/loss_fake'], -np.mean(src_fake), rtol=1e-5)
  np.testing.assert_allclose(metrics['G/loss_rec'], np.mean(np.abs(x - x_rec)), rtol=1e-5)
  np.testing.assert_allclose(metrics['G/loss_cls'], expected_cls, rtol=1e-5)
  for before, after in zip(d_before, _values(steps.D.weights)):
    np.testing.assert_array_equal(before, after)
  assert any(not np.array_equal(b, a) for b, a in zip(g_before, _values(steps.G.weights)))


def test_adam_settings_and_lr_assignment():
  steps = _steps()
  opt = steps.d_optimizer
  assert (float(opt.beta_1), float(opt.beta_2)) == (0.5, 0.999)
  opt.learning_rate.assign(train_step.linear_decay_lr(150, 1e-4, 200, 100))
  assert float(opt.learning_rate) == pytest.approx(5e-5)


# G label 3 + 2 + mask 2 = 7, D classifies 5.
JOINT = labels.label_space('Both', ('Black_Hair', 'Male', 'Young'), ('a', 'b'))


def _joint_steps():
  G, D = models.build(MODEL, JOINT)
  g_opt = runs.build_optimizer(TRAIN.g_lr, TRAIN, G.trainable_variables)
  d_opt = runs.build_optimizer(TRAIN.d_lr, TRAIN, D.trainable_variables)
  return train_step.Steps(G, D, g_opt, d_opt, config_lib.LossConfig(), JOINT,
                          tf.distribute.get_strategy(), tf.random.Generator.from_seed(0))


def test_joint_steps_embed_the_labels_and_read_their_dataset_columns():
  """A RaFD batch: G gets [0 0 0 | c | 0 1]; D's and G's class losses read D_cls[:, 3:5]."""
  steps = _joint_steps()
  assert (steps.G.c_dim, steps.D.c_dim) == (7, 5)
  r = np.random.RandomState(3)
  x = tf.constant(r.uniform(-1, 1, [4, 16, 16, 3]).astype(np.float32))
  c_org = tf.constant(np.eye(2, dtype=np.float32)[[0, 1, 1, 0]])
  c_trg = tf.constant(np.eye(2, dtype=np.float32)[[1, 0, 0, 1]])
  alpha = tf.constant(r.uniform(size=[4, 1, 1, 1]), tf.float32)
  embed = lambda c: np.concatenate([np.zeros([4, 3]), c, [[0, 1]] * 4], 1).astype(np.float32)
  x_fake = steps.G(x, embed(c_trg))
  _, cls_real = steps.D(x)
  d_cls = np.mean(tf.nn.softmax_cross_entropy_with_logits(c_org, cls_real[:, 3:]))
  d_metrics = steps.d_step(x, c_org, c_trg, alpha, 'RaFD')
  np.testing.assert_allclose(d_metrics['D/loss_cls'], d_cls, rtol=1e-5)
  src_fake, cls_fake = steps.D(x_fake)
  x_rec = steps.G(x_fake, embed(c_org))
  g_metrics = steps.g_step(x, c_org, c_trg, 'RaFD')
  np.testing.assert_allclose(g_metrics['G/loss_fake'], -np.mean(src_fake), rtol=1e-5)
  np.testing.assert_allclose(g_metrics['G/loss_rec'], np.mean(np.abs(x - x_rec)), rtol=1e-5)
  np.testing.assert_allclose(
      g_metrics['G/loss_cls'],
      np.mean(tf.nn.softmax_cross_entropy_with_logits(c_trg, cls_fake[:, 3:])), rtol=1e-5)
  # A CelebA batch of the same model: 3 attribute columns, sigmoid loss on D_cls[:, :3].
  c_celeba = tf.constant(r.randint(0, 2, [4, 3]).astype(np.float32))
  _, cls_real = steps.D(x)
  expected = np.mean(np.sum(tf.nn.sigmoid_cross_entropy_with_logits(c_celeba, cls_real[:, :3]),
                            axis=1))
  metrics = steps.d_step(x, c_celeba, c_celeba, alpha, 'CelebA')
  np.testing.assert_allclose(metrics['D/loss_cls'], expected, rtol=1e-5)
