import numpy as np
import pytest
import tensorflow as tf

from stargan_tf import evaluate_lib as evaluate
from stargan_tf import labels as labels_lib
from stargan_tf.data import synthetic


def _mask(region, size):
  m = np.zeros([size, size, 1], np.float32)
  for rows, cols in synthetic.region_slices(region, size, margin=0.0):
    m[rows, cols] = 1.0
  return tf.constant(m)


class OracleGenerator:
  """Paints the target's prototype colours into the attribute regions; keeps the rest."""

  def __call__(self, x, c, training=False):
    size = x.shape[1]
    to_unit = lambda rgb: tf.constant(rgb / 127.5 - 1.0)
    hair = tf.matmul(c[:, :3], to_unit(synthetic.HAIR_RGB))
    male = tf.matmul(tf.stack([1 - c[:, 3], c[:, 3]], 1), to_unit(synthetic.MALE_RGB))
    young = tf.matmul(tf.stack([1 - c[:, 4], c[:, 4]], 1), to_unit(synthetic.YOUNG_RGB))
    out = x
    for region, colour in (('hair', hair), ('male', male), ('young', young)):
      m = _mask(region, size)
      out = out * (1 - m) + colour[:, None, None, :] * m
    return out


def test_oracle_scores_perfectly(tiny_config):
  result = evaluate.evaluate_synthetic(OracleGenerator(), tiny_config, batch_size=8)
  assert result['num_images'] == 16
  assert result['mean_target_acc'] == 1.0 and result['mean_all_acc'] == 1.0
  assert result['identity_error'] < 1e-6
  assert result['identity_error_between_images'] > 0.2


def test_identity_mapping_fails_the_flipped_attributes(tiny_config):
  keep = lambda x, c, training=False: x
  result = evaluate.evaluate_synthetic(keep, tiny_config, batch_size=8)
  assert result['target_acc']['Male'] == 0.0 and result['target_acc']['Young'] == 0.0
  # A hair target is met only by images that already had that colour: 16 in all.
  assert sum(result['target_acc'][h] for h in synthetic.SYNTHETIC_ATTRS[:3]) * 16 == 16
  assert result['identity_error'] == 0.0
  assert 'Young' in evaluate.format_report(result)


class JointOracleGenerator(OracleGenerator):
  """For a RaFD target (mask [0, 1]) paints the class's mark into the mouth box; for a CelebA
  target (mask [1, 0]) the attributes, as OracleGenerator."""

  def __call__(self, x, c, training=False):
    size = x.shape[1]
    attrs = OracleGenerator.__call__(self, x, c[:, :5])
    mark = tf.matmul(c[:, 5:13], tf.constant(synthetic.EXPRESSION_RGB / 127.5 - 1.0))
    m = _mask('mouth', size)
    expression = x * (1 - m) + mark[:, None, None, :] * m
    is_rafd = c[:, 14][:, None, None, None]
    return attrs * (1 - is_rafd) + expression * is_rafd


def test_joint_oracle_scores_perfectly_on_both_datasets(make_tiny_both_config, tmp_path):
  config = make_tiny_both_config(tmp_path / 'run')
  result = evaluate.evaluate_synthetic(JointOracleGenerator(), config, batch_size=8)
  assert result['mean_target_acc'] == 1.0 and result['mean_all_acc'] == 1.0
  assert set(result['cross_acc']) == set(labels_lib.RAFD_CLASSES)
  assert result['mean_cross_acc'] == 1.0 and result['mean_cross_kept_acc'] == 1.0
  assert result['identity_error'] < 1e-6  # the mouth box is left out of a joint model's measure
  assert 'surprised' in evaluate.format_report(result)


def test_joint_identity_mapping_is_at_chance_on_expressions(make_tiny_both_config, tmp_path):
  """Each input already shows one of the 8 marks, so keeping it scores 1/8 on average."""
  config = make_tiny_both_config(tmp_path / 'run')
  keep = lambda x, c, training=False: x
  result = evaluate.evaluate_synthetic(keep, config, batch_size=8)
  assert result['mean_cross_acc'] == pytest.approx(1 / 8)
  assert result['mean_cross_kept_acc'] == 1.0
