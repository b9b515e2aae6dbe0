"""Scores a generator trained on the built-in synthetic dataset with its ground-truth measure.

For every test image and every target of `create_labels` (one per attribute), the translated
image's attributes are read back from its pixels (`synthetic.measure_attributes`):
  target accuracy   the changed attribute shows its target value (chance: 1/3 hair, 1/2 others;
                    an identity mapping scores 0 on the flipped attributes),
  all-attributes    every attribute equals the target (the unchanged ones kept),
  identity error    mean |x - G(x, c)| over the identity region, next to the same measure between
                    two different test images (what losing the identity would cost).

A joint model (--dataset=Both, configs/synthetic_both.flags) is also given every RaFD class on
the CelebA-format test images, the cross-dataset translation, and scored by the expression mark
read back (`synthetic.measure_expression`):
  cross accuracy    the mark shows the requested class (chance: 1/8),
  attributes kept   the CelebA attributes are unchanged by an expression target.
The mouth box is left out of the identity error of a joint model (expressions repaint it).
"""

import numpy as np
import tensorflow as tf

from stargan_tf.data import pipeline
from stargan_tf.data import splits
from stargan_tf.data import synthetic


def evaluate_synthetic(G, config, max_images=512, batch_size=64):
  """Returns {'target_acc': {attr: float}, 'all_acc': {attr: float}, 'mean_target_acc',
  'mean_all_acc', 'identity_error', 'identity_error_between_images', 'num_images'}; for a joint
  model also {'cross_acc': {class: float}, 'cross_kept_acc': {class: float}, 'mean_cross_acc',
  'mean_cross_kept_acc'}."""
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
  hits = {k: np.zeros(len(attrs)) for k in ('target', 'all')}
  hits.update({k: np.zeros(len(classes)) for k in ('cross', 'kept')})
  id_err, id_base, n = 0.0, 0.0, 0
  for x, c in ds:
    x_np, c_np = x.numpy(), c.numpy()
    for i, c_trg in enumerate(space.create_labels(c_np, dataset)):
      x_fake = generate(x, tf.constant(c_trg)).numpy()
      measured = synthetic.measure_attributes(x_fake)
      id_err += synthetic.identity_error(x_np, x_fake, exclude_mouth=space.mask).sum()
      if i < len(attrs):
        hits['target'][i] += np.sum(measured[:, i] == c_trg[:, i])
        hits['all'][i] += np.sum(np.all(measured == c_trg[:, :len(attrs)], axis=1))
      else:
        k = i - len(attrs)
        hits['cross'][k] += np.sum(synthetic.measure_expression(x_fake) == k)
        hits['kept'][k] += np.sum(np.all(measured == c_np, axis=1))
    id_base += synthetic.identity_error(x_np, np.roll(x_np, 1, axis=0),
                                        exclude_mouth=space.mask).sum()
    n += len(x_np)
  result = {'num_images': n,
            'identity_error': id_err / (n * space.num_domains),
            'identity_error_between_images': id_base / n}
  for key, names, count in (('target', attrs, 'target'), ('all', attrs, 'all'),
                            ('cross', classes, 'cross'), ('cross_kept', classes, 'kept')):
    if names:
      result[f'{key}_acc'] = dict(zip(names, (hits[count] / n).tolist()))
      result[f'mean_{key}_acc'] = float(np.mean(hits[count] / n))
  return result


def format_report(result):
  lines = [f'{"target":<12} {"target acc":>10} {"all attrs":>10}']
  for name, acc in result['target_acc'].items():
    lines.append(f'{name:<12} {acc:>10.3f} {result["all_acc"][name]:>10.3f}')
  lines.append(f'{"mean":<12} {result["mean_target_acc"]:>10.3f} {result["mean_all_acc"]:>10.3f}')
  if 'cross_acc' in result:
    lines.append(f'{"RaFD target":<12} {"class acc":>10} {"attrs kept":>10}   (CelebA-format '
                 'images; chance 0.125)')
    for name, acc in result['cross_acc'].items():
      lines.append(f'{name:<12} {acc:>10.3f} {result["cross_kept_acc"][name]:>10.3f}')
    lines.append(f'{"mean":<12} {result["mean_cross_acc"]:>10.3f} '
                 f'{result["mean_cross_kept_acc"]:>10.3f}')
  lines.append(f'identity error {result["identity_error"]:.4f} (between different images: '
               f'{result["identity_error_between_images"]:.4f}); {result["num_images"]} test '
               'images')
  return '\n'.join(lines)
