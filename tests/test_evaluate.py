import dataclasses
import json
import os
import shutil
import subprocess
import sys

import helpers
import keras
import numpy as np
import pytest
import tensorflow as tf

from stargan_tf import classifier_lib
from stargan_tf import evaluate_lib as evaluate
from stargan_tf import import_torch_lib
from stargan_tf import labels as labels_lib
from stargan_tf.data import pipeline
from stargan_tf.data import splits
from stargan_tf.data import synthetic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
  assert result['shape_overlap'] == 1.0


def test_a_generator_that_loses_the_shape_scores_low_overlap(tiny_config):
  def erase_shape(x, c, training=False):  # the identity region painted in its corner's colour
    del c, training
    [(rows, cols)] = synthetic.region_slices('identity', x.shape[1], margin=0)
    region = np.zeros([1, x.shape[1], x.shape[2], 1], bool)
    region[:, rows, cols] = True
    return tf.where(region, x[:, rows.start:rows.start + 1, cols.start:cols.start + 1], x)
  result = evaluate.evaluate_synthetic(erase_shape, tiny_config, batch_size=8)
  assert result['shape_overlap'] == 0.0
  assert 'shape overlap 0.000' in evaluate.format_report(result)


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
  assert result['mean_expression_kept_acc'] == 1.0
  assert result['identity_error'] < 1e-6  # the mouth box is left out of a joint model's measure
  assert 'surprised' in evaluate.format_report(result)
  assert 'expr kept' in evaluate.format_report(result)


def test_a_celeba_target_that_repaints_the_expression_is_measured(make_tiny_both_config,
                                                                  tmp_path):
  """The CelebA-format images' expression mark is unlabelled: nothing in training scores it
  under a CelebA target, so a generator may repaint it there. 'expr kept' counts the images whose
  mark a CelebA target leaves as it was."""
  config = make_tiny_both_config(tmp_path / 'run')
  angry = tf.constant(synthetic.EXPRESSION_RGB[0] / 127.5 - 1.0, tf.float32)
  m = _mask('mouth', config.model.image_size)

  def always_angry(x, c, training=False):  # every CelebA target also paints the first class
    out = JointOracleGenerator()(x, c, training)
    return tf.where(c[:, 14][:, None, None, None] > 0, out, out * (1 - m) + angry * m)

  result = evaluate.evaluate_synthetic(always_angry, config, batch_size=8)
  paths, _ = splits.load_split(config.data, 'test', 'CelebA')
  x = np.concatenate([x.numpy() for x, _ in pipeline.make_dataset(
      paths, np.zeros([len(paths), 5], np.float32), config.data.crop_size_of('CelebA'),
      config.model.image_size, 8, training=False)])
  already_angry = np.mean(synthetic.measure_expression(x) == 0)
  assert 0 < already_angry < 1
  for name in synthetic.SYNTHETIC_ATTRS:
    assert result['expression_kept_acc'][name] == pytest.approx(already_angry)
  assert result['mean_target_acc'] == 1.0 and result['mean_cross_acc'] == 1.0


def test_joint_identity_mapping_is_at_chance_on_expressions(make_tiny_both_config, tmp_path):
  """Each input already shows one of the 8 marks, so keeping it scores 1/8 on average."""
  config = make_tiny_both_config(tmp_path / 'run')
  keep = lambda x, c, training=False: x
  result = evaluate.evaluate_synthetic(keep, config, batch_size=8)
  assert result['mean_cross_acc'] == pytest.approx(1 / 8)
  assert result['mean_cross_kept_acc'] == 1.0


# The real-data protocol.


def test_fid_reference_matches_the_targets():
  part = labels_lib.celeba_part()
  c_train = np.zeros([100, 5], np.float32)
  c_train[:30, 3] = 1  # 30 male, 70 female
  rng = np.random.default_rng(0)
  # Targets that set Male for some images and unset it for others (a flip): a reference of male
  # images for the first, of female images for the second, up to 40 each.
  groups = evaluate._reference(part, 3, c_train, np.array([1, 0, 0, 0]), 40, rng)
  assert set(groups) == {True, False}
  assert len(groups[True]) == 30 and c_train[groups[True], 3].all()
  assert len(groups[False]) == 40 and not c_train[groups[False], 3].any()
  for idx in groups.values():
    assert np.array_equal(idx, np.unique(idx))
  # A target every image gets (a hair colour): only images with it, as many as there are.
  groups = evaluate._reference(part, 3, c_train, np.ones(4), 40, rng)
  assert list(groups) == [True] and len(groups[True]) == 30
  # Fewer than 2 images of a needed value: no reference.
  c_train[1:30, 3] = 0
  assert evaluate._reference(part, 3, c_train, np.ones(4), 40, rng) is None
  assert evaluate._reference(part, 0, c_train, np.ones(4), 40, rng) is None  # no black hair
  rafd = labels_lib.rafd_part()
  c = np.eye(8, dtype=np.float32)[np.arange(40) % 8]
  assert list(evaluate._reference(rafd, 2, c, np.ones(3), 40, rng)[True]) == list(range(2, 40, 8))


def test_resolve_metrics(tiny_config):
  synthetic_run = dataclasses.replace(tiny_config, data=dataclasses.replace(
      tiny_config.data, synthetic_images=64))
  assert evaluate.resolve_metrics((), tiny_config, False) == ('accuracy', 'fid', 'reconstruction')
  assert evaluate.resolve_metrics((), synthetic_run, False) == ('synthetic', 'reconstruction')
  assert evaluate.resolve_metrics((), synthetic_run, True) == evaluate.METRICS
  assert evaluate.resolve_metrics(['fid', 'synthetic'], tiny_config, False) == ('synthetic', 'fid')
  with pytest.raises(ValueError, match='--metrics: unknown psnr; choose from synthetic, '):
    evaluate.resolve_metrics(['psnr'], tiny_config, True)


def test_the_protocol_tells_an_oracle_from_an_identity(classifier_data, synthetic_classifier):
  model, record = synthetic_classifier
  scores = {}
  for name, G in (('oracle', OracleGenerator()), ('identity', lambda x, c, training=False: x)):
    scores[name] = evaluate.evaluate_real(G, classifier_data, ('accuracy', 'fid', 'reconstruction'),
                                          model, record, max_images=64, batch_size=32)
    print(name, evaluate.format_real_report(scores[name]), sep='\n')
  oracle, identity = scores['oracle'], scores['identity']
  assert oracle['num_images'] == {'CelebA': 64}
  assert oracle['fid_features'] == evaluate.CLASSIFIER_FID
  by_target = lambda result: {r['target']: r for r in result['rows']}
  assert list(by_target(oracle)) == list(labels_lib.DEFAULT_ATTRS)
  for row in oracle['rows']:
    assert row['accuracy'] >= 0.95 and row['real_accuracy'] >= 0.95, row
  # Unchanged images show the source, the opposite of a flip target; a hair target only where
  # the image already had that colour (a third of them in all).
  identity_rows = by_target(identity)
  assert identity_rows['Male']['accuracy'] <= 0.05 and identity_rows['Young']['accuracy'] <= 0.05
  hair = sum(identity_rows[h]['accuracy'] for h in labels_lib.DEFAULT_ATTRS[:3])
  assert hair == pytest.approx(1.0, abs=0.1)
  # Translations that show the target lie closer to the real images of the target domain, on
  # every target: a flip's translations are compared per target value, so an unchanged image
  # (the source's value) is far from them too.
  for name in labels_lib.DEFAULT_ATTRS:
    assert by_target(oracle)[name]['fid'] < 0.5 * identity_rows[name]['fid'], name
  # An identity reconstructs exactly; the oracle paints back prototype colours, not the JPEG's.
  assert identity['mean']['CelebA']['psnr'] == float('inf')
  assert identity['mean']['CelebA']['ssim'] == pytest.approx(1.0)
  assert 20 < oracle['mean']['CelebA']['psnr'] < float('inf')


def _copy_run(config, tmp_path):
  work_dir = str(tmp_path / 'run')
  shutil.copytree(config.train.work_dir, work_dir)
  return work_dir


def _table_numbers(text, target):
  line = next(l for l in text.splitlines() if l.startswith(target + ' '))
  return [None if v == '-' else float(v) for v in line.split()[1:]]


@pytest.mark.slow
def test_a_run_end_to_end_with_json_and_determinism(tiny_run, tmp_path):
  work_dir = _copy_run(tiny_run, tmp_path)
  result = subprocess.run(
      [sys.executable, '-m', 'stargan_tf.evaluate', f'--work_dir={work_dir}'], cwd=ROOT,
      capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
  assert result.returncode == 1
  assert result.stderr.strip().splitlines() == [
      f'error: no domain classifier in {work_dir}/classifier: train one with `python -m '
      f'stargan_tf.train_classifier --work_dir={work_dir}` (classification accuracy and FID '
      'without --inception_weights need it).']
  assert not os.path.exists(os.path.join(work_dir, 'evaluation'))

  classifier_lib.train_classifier(tiny_run, work_dir, num_iters=2, width=4)
  report, text, path = evaluate.evaluate_run(work_dir, max_images=8, seed=3, batch_size=4)
  assert path == os.path.join(work_dir, 'evaluation', '000002.json')
  with open(path) as f:
    assert json.load(f) == report
  assert report['step'] == 2 and report['seed'] == 3 and report['max_images'] == 8
  assert report['real']['num_images'] == {'CelebA': 8}
  assert evaluate.CLASSIFIER_FID in text
  for row in report['real']['rows']:
    assert _table_numbers(text, row['target']) == pytest.approx(
        [row[m] for m in ('accuracy', 'real_accuracy', 'fid', 'psnr', 'ssim')], abs=6e-3)
  again, _, _ = evaluate.evaluate_run(work_dir, max_images=8, seed=3, batch_size=4)
  assert again == report
  other, _, _ = evaluate.evaluate_run(work_dir, max_images=8, seed=4, batch_size=4)
  assert other['real']['rows'] != report['real']['rows']  # another subset of the 16


@pytest.mark.slow
def test_a_joint_run_translates_both_test_sets_into_all_domains(trained_both, tmp_path):
  work_dir = _copy_run(trained_both, tmp_path)
  classifier_lib.train_classifier(trained_both, work_dir, num_iters=2, width=4)
  report, text, _ = evaluate.evaluate_run(work_dir, max_images=8, batch_size=8)
  real = report['real']
  domains = list(labels_lib.DEFAULT_ATTRS + labels_lib.RAFD_CLASSES)
  for source in ('CelebA', 'RaFD'):
    rows = [r for r in real['rows'] if r['source'] == source]
    assert [r['target'] for r in rows] == domains
    assert all(r['target_dataset'] == ('RaFD' if r['target'] in labels_lib.RAFD_CLASSES
                                       else 'CelebA') for r in rows)
    assert all(np.isfinite([r['accuracy'], r['real_accuracy'], r['psnr'], r['ssim']]).all()
               for r in rows)
    assert f'{source} test images -> target' in text
  assert 'synthetic' not in report


def test_a_generator_imported_alone(make_tiny_config, tmp_path):
  base = make_tiny_config(tmp_path / 'unused')
  config = dataclasses.replace(
      helpers.with_train(base, work_dir=str(tmp_path / 'run')),
      model=dataclasses.replace(base.model, image_size=32, g_conv_dim=4, d_conv_dim=4,
                                d_repeat_num=3, g_repeat_num=2)).validate()
  imported = import_torch_lib.import_run(
      config, os.path.join(ROOT, 'tests', 'fixtures', 'torch', 'celeba', 'zip', '1000-G.ckpt'))
  assert not imported.with_discriminator
  classifier_lib.train_classifier(config, imported.work_dir, num_iters=1, width=4)
  report, _, path = evaluate.evaluate_run(imported.work_dir, max_images=4, batch_size=4)
  assert report['step'] == 1000 and path.endswith('001000.json')
  assert len(report['real']['rows']) == 5
  # Synthetic measure and reconstruction only, as asked: no classifier read.
  report, text, _ = evaluate.evaluate_run(imported.work_dir, metrics=['synthetic',
                                                                   'reconstruction'],
                                          max_images=4, batch_size=4)
  assert 'synthetic' in report and 'identity error' in text
  assert all(r['accuracy'] is None and r['fid'] is None for r in report['real']['rows'])


@pytest.mark.slow
def test_fid_on_inception_features(classifier_data, tmp_path):
  """InceptionV3's 2048-d pool features from a weights file (random weights here: the plumbing,
  not ImageNet's numbers) replace the classifier's, and say so."""
  with pytest.raises(FileNotFoundError, match='--inception_weights=.*no such file'):
    evaluate.inception_features(str(tmp_path / 'missing.weights.h5'))
  weights = str(tmp_path / 'inception.weights.h5')
  keras.applications.InceptionV3(include_top=False, weights=None, pooling='avg').save_weights(
      weights)
  features = evaluate.inception_features(weights)
  assert features(tf.zeros([2, 32, 32, 3])).shape == (2, 2048)
  identity = lambda x, c, training=False: x
  result = evaluate.evaluate_real(identity, classifier_data, ('fid',), max_images=8,
                                  batch_size=8, inception=features)
  assert result['fid_features'] == evaluate.INCEPTION_FID
  assert all(r['fid'] >= 0 and r['accuracy'] is None for r in result['rows'])
  assert evaluate.INCEPTION_FID in evaluate.format_real_report(result)
  wrong = str(tmp_path / 'wrong.weights.h5')
  keras.Sequential([keras.Input([4]), keras.layers.Dense(2)]).save_weights(wrong)
  with pytest.raises(ValueError, match='does not hold the weights of InceptionV3'):
    evaluate.inception_features(wrong)
