"""Translate images with a trained generator into result grids (`python -m stargan_tf.translate`).

Each grid row is [input | one column per target]; by default the targets are those of
`labels.create_labels` (one per domain; hair colours exclusive), with --target one explicit
target. A user's own images have no labels, so their source labels are read off the trained
discriminator's classifier (D_cls): attribute present iff its logit > 0, RaFD class = argmax.

A joint model (--dataset=Both) translates CelebA test images (or own images, read as CelebA
faces) into every CelebA target and then every RaFD expression: 1 + 5 + 8 columns with the
default attributes. --target may name domains of either dataset (one dataset per target).
"""

import os

from absl import logging
import numpy as np
import tensorflow as tf

from stargan_tf import images
from stargan_tf import runs
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
  space, dataset = config.label_space, config.data.sample_dataset
  if target:
    target_dataset, updates = space.parse_target(target)
    if target_dataset != dataset:  # the image has no labels of that dataset
      c_org = np.zeros([len(c_org), len(space.names_of(target_dataset))], np.float32)
    return [space.apply_target(c_org, target_dataset, updates)]
  return space.create_labels(c_org, dataset)


def default_output_dir(work_dir, input_dir=''):
  """<work_dir>/results, or <work_dir>/results/<input folder name> for a user's images."""
  results = runs.Run(work_dir).results_dir
  if not input_dir:
    return results
  return os.path.join(results, os.path.basename(os.path.normpath(os.path.abspath(input_dir))))


def translate(work_dir, output_dir='', input_dir='', target='', batch_size=16, max_images=0,
              step=0):
  """Writes grids <output_dir>/<k>-images.png (k = 000001, ...); returns their paths.

  Each grid has a header row naming its columns (input, then each target's domain or the
  --target), and with input_dir the file name of each row.
  """
  restored = runs.Run(work_dir).restore(step)
  config, G, D = restored.config, restored.G, restored.D
  space, dataset = config.label_space, config.data.sample_dataset
  image_size = config.model.image_size
  if target:  # Fail on a bad --target before any work.
    space.parse_target(target)
  column_names = ('input',) + ((target,) if target else space.domain_names)
  output_dir = output_dir or default_output_dir(work_dir, input_dir)
  if input_dir:
    batches, names = own_images_dataset(input_dir, image_size, batch_size)
    batches = batches.map(lambda x: (x, tf.zeros([tf.shape(x)[0], 0])))
  else:
    names = None
    paths, c_org = splits.load_split(config.data, 'test', dataset)
    batches = pipeline.make_dataset(paths, c_org, config.data.crop_size_of(dataset), image_size,
                                    batch_size, training=False)
  generate = tf.function(lambda x, c: G(x, c, training=False))
  written, seen = [], 0
  for k, (x, c_org) in enumerate(batches, start=1):
    if max_images and seen >= max_images:
      break
    c_org = labels_from_classifier(D, x, space, dataset) if input_dir else c_org.numpy()
    columns = [x.numpy()] + [generate(x, tf.constant(c)).numpy()
                             for c in make_targets(c_org, config, target)]
    row_names = names[seen:seen + len(x)] if names else None
    written.append(images.save_image(
        os.path.join(output_dir, f'{k:06d}-images.png'),
        images.make_grid(columns, column_names=column_names, row_names=row_names)))
    seen += x.shape[0]
    logging.info('Translated %d images -> %s', seen, written[-1])
  return written
