"""Scores a generator: on real data by the paper's protocol, on the synthetic dataset by its truth.

Real data (any run: CelebA-format, RaFD-layout, both, imported generators), `evaluate_real`.
Every test image (a random subset of --max_images per dataset, drawn with --seed) is translated
into every target of `LabelSpace.create_labels`, and for each target domain:
  accuracy         the domain classifier (`classifier_lib`) reads the target: attribute i equal
                   to the target's, or the target class (StarGAN's Table 3); `real` is the
                   classifier's accuracy on the real test images of that domain, the ceiling,
  FID              the Fréchet distance (`metrics`) between the translations and real training
                   images of the target domain (StarGAN v2's protocol): up to --max_images of
                   the class; for an attribute, the translations that set it against images
                   that have it and those that unset it against images without it (a flip has
                   both), averaged weighted by the translations; on InceptionV3's pool
                   features with --inception_weights, else on the classifier's features, which is labelled
                   so everywhere and is not comparable with published FIDs,
  PSNR, SSIM       of the reconstruction G(G(x, c_trg), c_org) against x, in [0, 1].
A two-dataset run translates the test images of each dataset into the domains of both.

Synthetic data, `evaluate_synthetic`: for every test image and every target of `create_labels`
(one per attribute), the translated image's attributes are read back from its pixels
(`synthetic.measure_attributes`):
  target accuracy   the changed attribute shows its target value (chance: 1/3 hair, 1/2 others;
                    an identity mapping scores 0 on the flipped attributes),
  all-attributes    every attribute equals the target (the unchanged ones kept),
  identity error    mean |x - G(x, c)| over the identity region, next to the same measure between
                    two different test images (what losing the identity would cost),
  shape overlap     intersection over union of the input's and the translation's shape pixels
                    (`synthetic.shape_overlap`; 1 = the same outline).

A joint model (--dataset=Both, configs/synthetic_both.flags) is also given every RaFD class on
the CelebA-format test images, the cross-dataset translation, and scored by the expression mark
read back (`synthetic.measure_expression`):
  cross accuracy    the mark shows the requested class (chance: 1/8),
  attributes kept   the CelebA attributes are unchanged by an expression target,
  expression kept   the mark (unlabelled on these images) is unchanged by a CelebA target.
The mouth box is left out of the identity error of a joint model (expressions repaint it).

`evaluate_run` is the command: it picks the measures, prints the report and writes it as JSON to
<work_dir>/evaluation/<step>.json.
"""

import json
import os

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from stargan_tf import classifier_lib
from stargan_tf import fileio
from stargan_tf import labels as labels_lib
from stargan_tf import metrics as metrics_lib
from stargan_tf import progress
from stargan_tf import runs
from stargan_tf.data import pipeline
from stargan_tf.data import splits
from stargan_tf.data import synthetic


def evaluate_synthetic(G, config, max_images=512, batch_size=64):
  """Returns {'target_acc': {attr: float}, 'all_acc': {attr: float}, 'mean_target_acc',
  'mean_all_acc', 'identity_error', 'identity_error_between_images', 'shape_overlap' (mean
  `synthetic.shape_overlap` of input and translation), 'num_images'}; for a joint
  model also {'cross_acc': {class: float}, 'cross_kept_acc': {class: float}, 'mean_cross_acc',
  'mean_cross_kept_acc'} (RaFD-class targets) and {'expression_kept_acc': {attr: float},
  'mean_expression_kept_acc'} (the fraction of images whose unlabelled expression mark a CelebA
  target leaves as it was)."""
  d = config.data
  if tuple(d.selected_attrs) != synthetic.SYNTHETIC_ATTRS:
    raise ValueError(f'the synthetic measure reads {" ".join(synthetic.SYNTHETIC_ATTRS)} in this '
                     f'order; the run was trained on {" ".join(d.selected_attrs)}.')
  space, dataset = config.label_space, d.sample_dataset
  if dataset != 'CelebA':
    raise ValueError(f'the synthetic measure scores CelebA-format test images; the run was '
                     f'trained on --dataset={d.dataset}.')
  paths, c_org = splits.load_split(d, 'test', dataset)
  paths, c_org = paths[:max_images], c_org[:max_images]
  ds = pipeline.make_dataset(paths, c_org, d.crop_size_of(dataset), config.model.image_size,
                             batch_size, training=False)
  generate = tf.function(lambda x, c: G(x, c, training=False))
  attrs = space.names_of('CelebA')
  classes = space.names_of('RaFD') if space.mask else ()
  hits = {k: np.zeros(len(attrs)) for k in ('target', 'all', 'expression')}
  hits.update({k: np.zeros(len(classes)) for k in ('cross', 'kept')})
  id_err, id_base, overlap, n = 0.0, 0.0, 0.0, 0
  for x, c in ds:
    x_np, c_np = x.numpy(), c.numpy()
    expression = synthetic.measure_expression(x_np) if classes else None
    for i, c_trg in enumerate(space.create_labels(c_np, dataset)):
      x_fake = generate(x, tf.constant(c_trg)).numpy()
      measured = synthetic.measure_attributes(x_fake)
      id_err += synthetic.identity_error(x_np, x_fake, exclude_mouth=space.mask).sum()
      overlap += synthetic.shape_overlap(x_np, x_fake, exclude_mouth=space.mask).sum()
      if i < len(attrs):
        hits['target'][i] += np.sum(measured[:, i] == c_trg[:, i])
        hits['all'][i] += np.sum(np.all(measured == c_trg[:, :len(attrs)], axis=1))
        if classes:
          hits['expression'][i] += np.sum(synthetic.measure_expression(x_fake) == expression)
      else:
        k = i - len(attrs)
        hits['cross'][k] += np.sum(synthetic.measure_expression(x_fake) == k)
        hits['kept'][k] += np.sum(np.all(measured == c_np, axis=1))
    id_base += synthetic.identity_error(x_np, np.roll(x_np, 1, axis=0),
                                        exclude_mouth=space.mask).sum()
    n += len(x_np)
  result = {'num_images': n,
            'identity_error': id_err / (n * space.num_domains),
            'identity_error_between_images': id_base / n,
            'shape_overlap': overlap / (n * space.num_domains)}
  for key, names, count in (('target', attrs, 'target'), ('all', attrs, 'all'),
                            ('cross', classes, 'cross'), ('cross_kept', classes, 'kept'),
                            ('expression_kept', attrs if classes else (), 'expression')):
    if names:
      result[f'{key}_acc'] = dict(zip(names, (hits[count] / n).tolist()))
      result[f'mean_{key}_acc'] = float(np.mean(hits[count] / n))
  return result


def format_report(result):
  kept = result.get('expression_kept_acc')  # joint models only
  kept_cell = lambda value: f' {value:>10.3f}' if kept else ''
  lines = [f'{"target":<12} {"target acc":>10} {"all attrs":>10}' + (
      f' {"expr kept":>10}   (the unlabelled expression mark unchanged)' if kept else '')]
  for name, acc in result['target_acc'].items():
    lines.append(f'{name:<12} {acc:>10.3f} {result["all_acc"][name]:>10.3f}' +
                 kept_cell((kept or {}).get(name)))
  lines.append(f'{"mean":<12} {result["mean_target_acc"]:>10.3f} {result["mean_all_acc"]:>10.3f}'
               + kept_cell(result.get('mean_expression_kept_acc')))
  if 'cross_acc' in result:
    lines.append(f'{"RaFD target":<12} {"class acc":>10} {"attrs kept":>10}   (CelebA-format '
                 'images; chance 0.125)')
    for name, acc in result['cross_acc'].items():
      lines.append(f'{name:<12} {acc:>10.3f} {result["cross_kept_acc"][name]:>10.3f}')
    lines.append(f'{"mean":<12} {result["mean_cross_acc"]:>10.3f} '
                 f'{result["mean_cross_kept_acc"]:>10.3f}')
  ratio = result['identity_error'] / result['identity_error_between_images']
  lines.append(f'identity error {result["identity_error"]:.4f} (between different images: '
               f'{result["identity_error_between_images"]:.4f}, ratio {ratio:.3f}); shape '
               f'overlap {result["shape_overlap"]:.3f}; {result["num_images"]} test images')
  return '\n'.join(lines)


# The real-data protocol.

METRICS = ('synthetic', 'accuracy', 'fid', 'reconstruction')
CLASSIFIER_FID = 'FID (classifier features)'
INCEPTION_FID = 'FID (InceptionV3)'
INCEPTION_SIZE = 299


def is_synthetic_run(config):
  """Whether the run trains on the built-in synthetic dataset (written from its config)."""
  return config.data.synthetic_images > 0


def resolve_metrics(requested, config, has_classifier, has_inception=False):
  """The measures to take: `requested` (names of METRICS) or the run's default (see --metrics)."""
  unknown = [m for m in requested if m not in METRICS]
  if unknown:
    raise ValueError(f'--metrics: unknown {", ".join(unknown)}; choose from '
                     f'{", ".join(METRICS)}.')
  if requested:
    return tuple(m for m in METRICS if m in requested)
  if not is_synthetic_run(config):
    return METRICS[1:]
  return ('synthetic',) + tuple(m for m in METRICS[1:] if m == 'reconstruction' or
                                has_classifier or (m == 'fid' and has_inception))


def inception_features(weights_path):
  """features(images [N, S, S, 3] in [-1, 1]) -> [N, 2048]: the pool features of InceptionV3
  with the ImageNet weights in `weights_path` (never downloaded), on images resized to 299."""
  if not os.path.isfile(weights_path):
    raise FileNotFoundError(f'--inception_weights={weights_path}: no such file; give the '
                            '.weights.h5 of keras.applications.InceptionV3(include_top=False, '
                            'pooling="avg") with ImageNet weights.')
  model = keras.applications.InceptionV3(
      include_top=False, weights=None, pooling='avg',
      input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))
  try:
    model.load_weights(weights_path)
  except (ValueError, OSError, KeyError) as e:
    raise ValueError(f'--inception_weights={weights_path} does not hold the weights of '
                     'InceptionV3(include_top=False, pooling="avg") '
                     f'({type(e).__name__}: {str(e)[:200]}).') from None

  @tf.function
  def features(x):
    pixels = tf.image.resize((x + 1.0) * 127.5, [INCEPTION_SIZE, INCEPTION_SIZE])
    return model(keras.applications.inception_v3.preprocess_input(pixels), training=False)
  return features


def _subset(n, limit, rng):
  """Sorted indices of a random subset of min(n, limit) of range(n)."""
  return np.arange(n) if n <= limit else np.sort(rng.choice(n, limit, replace=False))


def _batches(config, dataset, paths, labels, batch_size):
  d = config.data
  return pipeline.make_dataset(paths, labels, d.crop_size_of(dataset), config.model.image_size,
                               batch_size, training=False,
                               cache_dir=d.cache_dir_of(dataset) or None)


def _reference(part, column, c_train, target_values, limit, rng):
  """{target value: indices of training images with that value of the target domain's column}
  for each value the targets take (a class: 1 only), up to `limit` each; None when a needed
  value has fewer than 2 training images."""
  has = c_train[:, column] > 0.5
  values = [True] if part.kind == labels_lib.ONE_HOT else sorted(
      {bool(v > 0.5) for v in np.asarray(target_values)})
  chosen = {}
  for value in values:
    pool = np.flatnonzero(has == value)
    if len(pool) < 2:
      return None
    chosen[value] = np.sort(pool[_subset(len(pool), limit, rng)])
  return chosen


class _Row:
  """Sums of one (source dataset, target domain) pair."""

  def __init__(self):
    self.correct = self.counted = self.psnr = self.ssim = 0.0
    self.features, self.targets = [], []


def evaluate_real(G, config, metrics, classifier=None, classifier_record=None, max_images=512,
                  seed=0, batch_size=32, inception=None):
  """The real-data measures (module docstring) of generator G on the run of `config`.

  Args:
    G: G(x, c, training=False) -> images, as a restored generator.
    config: the run's Config.
    metrics: names among 'accuracy', 'fid', 'reconstruction'.
    classifier, classifier_record: `classifier_lib.load`'s result (accuracy; FID without
      `inception`).
    max_images: test images per dataset, and real images per domain for FID.
    seed: the seed of those subsets.
    batch_size: images per batch.
    inception: `inception_features`' function, for FID on InceptionV3 features.

  Returns:
    {'fid_features': CLASSIFIER_FID or INCEPTION_FID or None, 'num_images': {dataset: n},
     'rows': [{'source', 'target', 'target_dataset', 'accuracy', 'real_accuracy', 'fid', 'psnr',
     'ssim'}] (None for a measure not taken), 'mean': {source: {measure: mean over its rows}}}.
  """
  if ('accuracy' in metrics or ('fid' in metrics and inception is None)) and classifier is None:
    raise ValueError('evaluate_real: classification accuracy and FID on classifier features '
                     'need the domain classifier.')
  space, d = config.label_space, config.data
  rng = np.random.default_rng(seed)
  generate = tf.function(lambda x, c: G(x, c, training=False))
  features = inception
  if classifier is not None:
    classify = tf.function(lambda x: classifier(x, training=False))
    features = features or tf.function(lambda x: classifier.embed(x, training=False))
  domains = [(part, k) for part in space.parts for k in range(part.width)]
  rows, num_images = {}, {}
  for source in d.datasets:
    paths, c_org = splits.load_split(d, 'test', source)
    chosen = _subset(len(paths), max_images, rng)
    paths, c_org = [paths[i] for i in chosen], c_org[chosen]
    num_images[source] = len(paths)
    source_rows = [_Row() for _ in domains]
    meter = progress.Progress(f'evaluate {source} images', len(paths), unit='images',
                              every=4 * batch_size)
    done = 0
    for x, c in _batches(config, source, paths, c_org, batch_size):
      c_np = c.numpy()
      c_src = tf.constant(space.embed(c_np, source))
      for (part, k), row, c_trg in zip(domains, source_rows, space.create_labels(c_np, source)):
        x_fake = generate(x, tf.constant(c_trg))
        columns = space.domain_slice(part.dataset)
        row.targets.append(c_trg[:, columns.start + k])
        if 'accuracy' in metrics:
          hit, n = classifier_lib.domain_hits(part, classify(x_fake).numpy()[:, columns],
                                              c_trg[:, columns])
          row.correct += hit[k]
          row.counted += n[k]
        if 'fid' in metrics:
          row.features.append(features(x_fake).numpy())
        if 'reconstruction' in metrics:
          psnr, ssim = metrics_lib.psnr_ssim(x, generate(x_fake, c_src))
          row.psnr += psnr.sum()
          row.ssim += ssim.sum()
      done += len(c_np)
      meter.update(done)
    for (part, k), row in zip(domains, source_rows):
      rows[source, part.names[k]] = (part, k, row)
  fid = _fids(config, rows, features, max_images, rng, batch_size) if 'fid' in metrics else {}
  result_rows = []
  for (source, name), (part, k, row) in rows.items():
    n = num_images[source]
    real = (classifier_record or {}).get('accuracy', {}).get(part.dataset, {}).get(name)
    result_rows.append({
        'source': source, 'target': name, 'target_dataset': part.dataset,
        'accuracy': float(row.correct / row.counted) if 'accuracy' in metrics else None,
        'real_accuracy': real if 'accuracy' in metrics else None,
        'fid': fid.get((source, name)),
        'psnr': float(row.psnr / n) if 'reconstruction' in metrics else None,
        'ssim': float(row.ssim / n) if 'reconstruction' in metrics else None})
  return {'fid_features': (INCEPTION_FID if inception else CLASSIFIER_FID) if fid else None,
          'num_images': num_images, 'rows': result_rows, 'mean': _means(result_rows)}


def _fids(config, rows, features, limit, rng, batch_size):
  """{(source, target): Fréchet distance} of each row's translations to its reference images."""
  d, space = config.data, config.label_space
  train = {ds: splits.load_split(d, 'train', ds) for ds in d.datasets}
  references = {}
  for key, (part, k, row) in rows.items():
    references[key] = _reference(part, k, train[part.dataset][1],
                                 np.concatenate(row.targets), limit, rng)
  real = {}
  for ds, (paths, c) in train.items():
    needed = sorted({int(i) for key, groups in references.items() if groups is not None and
                     rows[key][0].dataset == ds for idx in groups.values() for i in idx})
    if not needed:
      continue
    logging.info('FID: features of %d real %s training images.', len(needed), ds)
    f = np.concatenate([features(x).numpy() for x, _ in _batches(
        config, ds, [paths[i] for i in needed], c[needed], batch_size)])
    real[ds] = dict(zip(needed, f))
  fid = {}
  for key, groups in references.items():
    part, _, row = rows[key]
    if groups is None:
      logging.warning('FID of %s -> %s left out: fewer than 2 real training images of the '
                      'target domain.', *key)
      continue
    fakes, on = np.concatenate(row.features), np.concatenate(row.targets) > 0.5
    distances, counts = [], []
    for value, idx in groups.items():
      group = fakes if part.kind == labels_lib.ONE_HOT else fakes[on == value]
      if len(group) < 2:
        continue
      distances.append(metrics_lib.frechet_distance_of(
          group, np.stack([real[part.dataset][i] for i in idx])))
      counts.append(len(group))
    if distances:
      fid[key] = float(np.average(distances, weights=counts))
  return fid


_MEASURES = ('accuracy', 'real_accuracy', 'fid', 'psnr', 'ssim')


def _means(rows):
  means = {}
  for source in dict.fromkeys(r['source'] for r in rows):
    mine = [r for r in rows if r['source'] == source]
    means[source] = {}
    for m in _MEASURES:
      values = [r[m] for r in mine if r[m] is not None]
      means[source][m] = float(np.mean(values)) if values else None
  return means


def _cell(value, width, digits):
  return f'{"-" if value is None else f"{value:.{digits}f}":>{width}}'


def format_real_report(result):
  """The table of `evaluate_real`'s result: one block per source dataset."""
  fid_title = result['fid_features'] or 'FID'
  lines = []
  for source, n in result['num_images'].items():
    lines.append(f'{source + " test images -> target":<28} {"acc":>7} {"real acc":>8} '
                 f'{fid_title:>26} {"PSNR":>7} {"SSIM":>7}   ({n} images)')
    mine = [r for r in result['rows'] if r['source'] == source]
    for name, r in [(r['target'], r) for r in mine] + [('mean', result['mean'][source])]:
      lines.append(f'{name:<28} {_cell(r["accuracy"], 7, 4)} {_cell(r["real_accuracy"], 8, 4)} '
                   f'{_cell(r["fid"], 26, 3)} {_cell(r["psnr"], 7, 2)} {_cell(r["ssim"], 7, 4)}')
  return '\n'.join(lines)


def evaluate_run(work_dir, test_iters=0, metrics=(), max_images=512, seed=0, batch_size=32,
                 inception_weights=''):
  """Evaluates a run's checkpoint; returns (report, text, path of the JSON written).

  The report holds the step, seed, measures taken, FID's features and each measure's result
  ('synthetic': `evaluate_synthetic`'s, 'real': `evaluate_real`'s); `text` is what the command
  prints; the JSON goes to <work_dir>/evaluation/<step>.json (atomically).

  Raises:
    FileNotFoundError: no run, checkpoint or classifier (naming the command that trains it), or
      no --inception_weights file; checked before any image is translated.
  """
  run = runs.Run(work_dir)
  config = run.load_config()
  has_classifier = os.path.exists(run.classifier_dir)
  chosen = resolve_metrics(metrics, config, has_classifier, bool(inception_weights))
  real = [m for m in chosen if m != 'synthetic']
  classifier = record = inception = None
  if 'accuracy' in real or ('fid' in real and not inception_weights):
    classifier, record = classifier_lib.load(work_dir, config)
  if 'fid' in real and inception_weights:
    inception = inception_features(inception_weights)
  restored = run.restore(test_iters)
  report = {'work_dir': work_dir, 'step': restored.step, 'seed': seed, 'max_images': max_images,
            'metrics': list(chosen)}
  texts = [f'{work_dir}, checkpoint step {restored.step} (evaluation seed {seed})']
  if 'synthetic' in chosen:
    report['synthetic'] = evaluate_synthetic(restored.G, config, max_images)
    texts.append(format_report(report['synthetic']))
  if real:
    report['real'] = evaluate_real(restored.G, config, real, classifier, record, max_images, seed,
                                   batch_size, inception)
    texts.append(format_real_report(report['real']))
    if 'accuracy' not in real and is_synthetic_run(config) and not has_classifier:
      texts.append(f'(classification accuracy and FID: run `python -m '
                   f'stargan_tf.train_classifier --work_dir={work_dir}` first)')
  report = json.loads(json.dumps(report, default=float))  # numpy scalars -> floats
  path = run.evaluation_path(restored.step)
  fileio.remove_stale(path)
  fileio.write_json(path, report)
  texts.append(f'Wrote {path}.')
  return report, '\n'.join(texts), path
