"""Translate images with a trained generator into result grids.

  python -m stargan_tf.translate --work_dir=runs/celeba                 # the test split
  python -m stargan_tf.translate --work_dir=runs/celeba --input_dir=my_faces --output_dir=out
  python -m stargan_tf.translate --work_dir=runs/celeba --target="Blond_Hair=1,Male=0"

Each grid row is [input | one column per target]; by default the targets are those of
`labels.create_labels` (one per domain; hair colours exclusive), with --target one explicit
target. A user's own images have no labels, so their source labels are read off the trained
discriminator's classifier (D_cls): attribute present iff its logit > 0, RaFD class = argmax.

A joint model (--dataset=Both) translates CelebA test images (or own images, read as CelebA
faces) into every CelebA target and then every RaFD expression: 1 + 5 + 8 columns with the
default attributes. --target may name domains of either dataset (one dataset per target).
"""

import os

from absl import app
from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

from stargan_tf import flags as flags_lib
from stargan_tf import images
from stargan_tf import trainer
from stargan_tf.data import ops
from stargan_tf.data import pipeline
from stargan_tf.data import splits

def load_own_image(path, image_size):
  """A user's image file: central square of its shorter side, resized, in [-1, 1]."""
  return ops.preprocess_own_image(tf.io.read_file(path), image_size)


def own_images_dataset(input_dir, image_size, batch_size):
  """(dataset of [B,S,S,3] batches, file names) for the images in input_dir."""
  paths = ops.list_images(input_dir, '--input_dir')
  names = [os.path.basename(p) for p in paths]
  ds = tf.data.Dataset.from_tensor_slices(paths).map(
      lambda p: load_own_image(p, image_size), num_parallel_calls=tf.data.AUTOTUNE)
  return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE), names


def labels_from_classifier(D, x, label_space, dataset):
  """Source labels of `dataset` [N, len(names)] as D_cls reads them."""
  return label_space.from_classifier(D(x, training=False)[1].numpy(), dataset)


def make_targets(c_org, config, target):
  """The G labels of each column for one batch of the sample dataset's images with labels
  c_org: LabelSpace.create_labels, or the single --target."""
  d = config.data
  space, dataset = d.label_space, d.sample_dataset
  if target:
    target_dataset, updates = space.parse_target(target)
    if target_dataset != dataset:  # the image has no labels of that dataset
      c_org = np.zeros([len(c_org), len(space.names_of(target_dataset))], np.float32)
    return [space.apply_target(c_org, target_dataset, updates)]
  return space.create_labels(c_org, dataset)


def translate(work_dir, output_dir='', input_dir='', target='', batch_size=16, max_images=0,
              step=0):
  """Writes grids <output_dir>/<k>-images.png; returns their paths."""
  config, G, D = trainer.restore_models(work_dir, step)
  d = config.data
  space, dataset = d.label_space, d.sample_dataset
  if target:  # Fail on a bad --target before any work.
    space.parse_target(target)
  output_dir = output_dir or os.path.join(work_dir, 'results')
  if input_dir:
    batches, _ = own_images_dataset(input_dir, d.image_size, batch_size)
    batches = batches.map(lambda x: (x, tf.zeros([tf.shape(x)[0], 0])))
  else:
    paths, c_org = splits.load_split(d, 'test', dataset)
    batches = pipeline.make_dataset(paths, c_org, d.crop_size_of(dataset), d.image_size,
                                    batch_size, training=False)
  generate = tf.function(lambda x, c: G(x, c, training=False))
  written, seen = [], 0
  for k, (x, c_org) in enumerate(batches, start=1):
    if max_images and seen >= max_images:
      break
    c_org = labels_from_classifier(D, x, space, dataset) if input_dir else c_org.numpy()
    columns = [x.numpy()] + [generate(x, tf.constant(c)).numpy()
                             for c in make_targets(c_org, config, target)]
    written.append(images.save_image(os.path.join(output_dir, f'{k}-images.png'),
                                     images.make_grid(columns)))
    seen += x.shape[0]
    logging.info('Translated %d images -> %s', seen, written[-1])
  return written


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  f = flags.FLAGS
  if f.output_dir == '' and f.input_dir:
    raise app.UsageError('--input_dir needs --output_dir.')
  translate(f.work_dir, f.output_dir, f.input_dir, f.target, f.batch_size, f.max_images,
            f.test_iters)


def run():
  flags_lib.define_translate_flags()
  app.run(main)


if __name__ == '__main__':
  run()
