"""Scores a generator trained on the built-in synthetic dataset with its ground-truth measure.

  python -m stargan_tf.evaluate --work_dir=runs/synthetic [--max_images=512]

For every test image and every target of `create_labels` (one per attribute), the translated
image's attributes are read back from its pixels (`synthetic.measure_attributes`):
  target accuracy   the changed attribute shows its target value (chance: 1/3 hair, 1/2 others;
                    an identity mapping scores 0 on the flipped attributes),
  all-attributes    every attribute equals the target (the unchanged ones kept),
  identity error    mean |x - G(x, c)| over the identity region, next to the same measure between
                    two different test images (what losing the identity would cost).
"""

from absl import app
from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

from stargan_tf import flags as flags_lib
from stargan_tf import labels as labels_lib
from stargan_tf import trainer
from stargan_tf.data import pipeline
from stargan_tf.data import splits
from stargan_tf.data import synthetic


def evaluate_synthetic(G, data_config, max_images=512, batch_size=64):
  """Returns {'target_acc': {attr: float}, 'all_acc': {attr: float}, 'mean_target_acc',
  'mean_all_acc', 'identity_error', 'identity_error_between_images', 'num_images'}."""
  d = data_config
  if tuple(d.selected_attrs) != synthetic.SYNTHETIC_ATTRS:
    raise ValueError(f'the synthetic measure reads {" ".join(synthetic.SYNTHETIC_ATTRS)} in this '
                     f'order; the run was trained on {" ".join(d.selected_attrs)}.')
  paths, c_org = splits.load_split(d, 'test')
  paths, c_org = paths[:max_images], c_org[:max_images]
  ds = pipeline.make_dataset(paths, c_org, d.crop_size, d.image_size, batch_size, training=False)
  generate = tf.function(lambda x, c: G(x, c, training=False))
  n_attr = len(d.selected_attrs)
  hits_target, hits_all = np.zeros(n_attr), np.zeros(n_attr)
  id_err, id_base, n = 0.0, 0.0, 0
  for x, c in ds:
    x_np = x.numpy()
    for i, c_trg in enumerate(labels_lib.create_labels(c.numpy(), d.dataset, d.selected_attrs)):
      x_fake = generate(x, tf.constant(c_trg)).numpy()
      measured = synthetic.measure_attributes(x_fake)
      hits_target[i] += np.sum(measured[:, i] == c_trg[:, i])
      hits_all[i] += np.sum(np.all(measured == c_trg, axis=1))
      id_err += synthetic.identity_error(x_np, x_fake).sum()
    id_base += synthetic.identity_error(x_np, np.roll(x_np, 1, axis=0)).sum()
    n += len(x_np)
  target_acc = dict(zip(d.selected_attrs, hits_target / n))
  all_acc = dict(zip(d.selected_attrs, hits_all / n))
  return {
      'target_acc': target_acc,
      'all_acc': all_acc,
      'mean_target_acc': float(np.mean(list(target_acc.values()))),
      'mean_all_acc': float(np.mean(list(all_acc.values()))),
      'identity_error': id_err / (n * n_attr),
      'identity_error_between_images': id_base / n,
      'num_images': n,
  }


def format_report(result):
  lines = [f'{"target":<12} {"target acc":>10} {"all attrs":>10}']
  for name, acc in result['target_acc'].items():
    lines.append(f'{name:<12} {acc:>10.3f} {result["all_acc"][name]:>10.3f}')
  lines.append(f'{"mean":<12} {result["mean_target_acc"]:>10.3f} {result["mean_all_acc"]:>10.3f}')
  lines.append(f'identity error {result["identity_error"]:.4f} (between different images: '
               f'{result["identity_error_between_images"]:.4f}); {result["num_images"]} test images')
  return '\n'.join(lines)


def main(argv):
  del argv
  config, G, _ = trainer.restore_models(flags.FLAGS.work_dir, flags.FLAGS.test_iters)
  result = evaluate_synthetic(G, config.data, flags.FLAGS.max_images)
  logging.info('Evaluated %d test images.', result['num_images'])
  print(format_report(result))


def run():
  flags_lib.define_evaluate_flags()
  app.run(main)


if __name__ == '__main__':
  run()
