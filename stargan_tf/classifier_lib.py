"""The domain classifier of the evaluation: a ResNet-18-style network trained on real images.

StarGAN's Table 3 scores translated images by how often a classifier trained on the real images
(a ResNet-18 there) sees the target domain. This classifier is that judge, separate from the
run's discriminator (an imported generator has none, and D was trained alongside G). It is trained
on the run's training split, with the run's crop and resize (`splits.load_split`,
`pipeline.make_dataset`, random flips as in training), and scored on the real test split: its
accuracy there is the ceiling of the accuracy of translated images.

Network: ResNet-18's basic blocks [2, 2, 2, 2] at widths w, 2w, 4w, 8w (`--width`, 64 in the
original ResNet-18), batch norm, global average pooling (the 8w features FID is computed on when
no InceptionV3 weights are given) and one linear head per label part: sigmoid logits for
multi-label attributes (CelebA), softmax logits for one-hot classes (RaFD), trained with the
losses of D's classifier (`losses.classification_loss`). The logits are concatenated in the
columns of the run's label space (`LabelSpace.domain_slice`), so the label space reads them
(`LabelPart.from_logits`). From 64 px up the stem is ResNet's (conv 7x7 stride 2, max pool
stride 2: 128 px images enter the blocks at 32 px); below it, a conv 3x3 at full resolution.

`<work_dir>/classifier/` holds `classifier.weights.h5` and `classifier.json` (the record: test
accuracy per domain, image size, label space, width, steps, seed), written together as one folder
that appears only complete; an existing classifier is never overwritten.
"""

import json
import os

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from stargan_tf import fileio
from stargan_tf import labels as labels_lib
from stargan_tf import losses
from stargan_tf import progress
from stargan_tf import runs
from stargan_tf.data import pipeline
from stargan_tf.data import splits

WEIGHTS_FILE = 'classifier.weights.h5'
RECORD_FILE = 'classifier.json'
STAGES = (2, 2, 2, 2)
_RESNET_STEM_FROM = 64  # image sizes from which the stem downsamples by 4, as ResNet's
_COMMAND = 'python -m stargan_tf.train_classifier'


def _batch_norm(name):
  return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)


class BasicBlock(keras.layers.Layer):
  """conv3x3 (stride) -> BN -> ReLU -> conv3x3 -> BN, plus the input (projected by a strided
  conv1x1 -> BN when the block downsamples), -> ReLU."""

  def __init__(self, filters, stride=1, **kwargs):
    super().__init__(**kwargs)
    self.filters, self.stride = filters, stride
    conv = lambda k, s, name: keras.layers.Conv2D(filters, k, s, padding='same', use_bias=False,
                                                  name=name)
    self.conv1, self.bn1 = conv(3, stride, 'conv1'), _batch_norm('bn1')
    self.conv2, self.bn2 = conv(3, 1, 'conv2'), _batch_norm('bn2')
    self.project = (conv(1, stride, 'project'), _batch_norm('project_bn')) if stride > 1 else None

  def build(self, input_shape):
    self.conv1.build(input_shape)
    shape = self.conv1.compute_output_shape(input_shape)
    for layer in (self.bn1, self.conv2, self.bn2):
      layer.build(shape)
    if self.project:
      self.project[0].build(input_shape)
      self.project[1].build(shape)

  def call(self, x, training=False):
    h = tf.nn.relu(self.bn1(self.conv1(x), training=training))
    h = self.bn2(self.conv2(h), training=training)
    if self.project:
      x = self.project[1](self.project[0](x), training=training)
    return tf.nn.relu(x + h)

  def compute_output_shape(self, input_shape):
    return self.conv1.compute_output_shape(input_shape)[:-1] + (self.filters,)

  def get_config(self):
    return {**super().get_config(), 'filters': self.filters, 'stride': self.stride}


class DomainClassifier(keras.Model):
  """Images [N, S, S, 3] in [-1, 1] -> logits [N, sum(head_widths)]; `embed` -> features
  [N, 8 * width]."""

  def __init__(self, head_widths, width=32, image_size=128, **kwargs):
    super().__init__(**kwargs)
    self.head_widths, self.width, self.image_size = tuple(head_widths), width, image_size
    if image_size >= _RESNET_STEM_FROM:
      self.stem = keras.layers.Conv2D(width, 7, 2, padding='same', use_bias=False, name='stem')
      self.stem_pool = keras.layers.MaxPooling2D(3, 2, padding='same', name='stem_pool')
    else:
      self.stem = keras.layers.Conv2D(width, 3, 1, padding='same', use_bias=False, name='stem')
      self.stem_pool = None
    self.stem_bn = _batch_norm('stem_bn')
    # Attributes, not list items, so that the weights are tracked by name.
    self.block_names = []
    for stage, repeats in enumerate(STAGES):
      for k in range(repeats):
        name = f'block{stage + 1}_{k + 1}'
        setattr(self, name, BasicBlock(width * 2 ** stage, 2 if stage and not k else 1,
                                       name=name))
        self.block_names.append(name)
    self.pool = keras.layers.GlobalAveragePooling2D(name='pool')
    self.head_names = [f'head{k}' for k in range(len(self.head_widths))]
    for name, w in zip(self.head_names, self.head_widths):
      setattr(self, name, keras.layers.Dense(w, name=name))

  def embed(self, x, training=False):
    """The pooled features [N, 8 * width] (the penultimate layer)."""
    h = tf.nn.relu(self.stem_bn(self.stem(x), training=training))
    if self.stem_pool is not None:
      h = self.stem_pool(h)
    for name in self.block_names:
      h = getattr(self, name)(h, training=training)
    return self.pool(h)

  def call(self, x, training=False):
    features = self.embed(x, training=training)
    return tf.concat([getattr(self, name)(features) for name in self.head_names], axis=-1)

  def get_config(self):
    return {**super().get_config(), 'head_widths': list(self.head_widths), 'width': self.width,
            'image_size': self.image_size}


def build_classifier(label_space, image_size, width):
  """A DomainClassifier for the label space's parts, its variables created."""
  if width < 1:
    raise ValueError(f'--width={width}: expected a positive number of channels.')
  model = DomainClassifier([p.width for p in label_space.parts], width, image_size)
  model(tf.zeros([1, image_size, image_size, 3]))
  return model


def _train_step(model, optimizer, kind, columns):
  @tf.function
  def step(x, c):
    with tf.GradientTape() as tape:
      loss = losses.classification_loss(model(x, training=True), c, kind, columns)
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                  model.trainable_variables))
    return loss
  return step


def train(config, num_iters, batch_size=32, lr=1e-3, seed=0, width=32, train_splits=None):
  """Trains a DomainClassifier on the run's real training images; returns it.

  Args:
    config: the run's Config (data and image size; its label space gives the heads).
    num_iters: iterations; with several datasets each iteration takes one batch of each.
    batch_size, lr, seed, width: Adam's batch size and learning rate, the seed of the weights,
      data order and flips, the network width.
    train_splits: {dataset: (paths, labels)} to train on instead of the run's training splits.
  """
  if num_iters < 1 or batch_size < 1 or not lr > 0:
    raise ValueError(f'--num_iters={num_iters}, --batch_size={batch_size}, --lr={lr}: expected '
                     'positive numbers.')
  space, d, image_size = config.label_space, config.data, config.model.image_size
  if train_splits is None:
    train_splits = {ds: splits.load_split(d, 'train', ds) for ds in d.datasets}
  keras.utils.set_random_seed(seed)
  model = build_classifier(space, image_size, width)
  optimizer = keras.optimizers.Adam(learning_rate=lr)
  optimizer.build(model.trainable_variables)
  streams = []
  for k, (dataset, (paths, c)) in enumerate(sorted(train_splits.items())):
    ds = pipeline.make_dataset(paths, c, d.crop_size_of(dataset), image_size, batch_size,
                               training=True, seed=seed + k,
                               cache_dir=d.cache_dir_of(dataset) or None)
    kind, columns = space.part(dataset).kind, space.domain_slice(dataset)
    streams.append((dataset, iter(ds), _train_step(model, optimizer, kind, columns)))
  logging.info('Training the domain classifier (%s parameters, width %d) on %s at %d px for %d '
               'iterations.', f'{model.count_params():,}', width, ' and '.join(train_splits),
               image_size, num_iters)
  meter = progress.Progress('classifier step', num_iters)
  for it in range(1, num_iters + 1):
    step_losses = {dataset: step(*next(batches)) for dataset, batches, step in streams}
    if it % meter.every == 0 or it == num_iters:
      meter.update(it, ' '.join(f'loss/{k} {float(v):.4f}' for k, v in step_losses.items()))
  return model


def domain_hits(part, logits, c):
  """Per-domain (correct, counted) [width] of classifier logits [N, width] against labels c.

  multi_label: attribute i is right when the reading equals c[:, i] (every image counts);
  one_hot: images of class k (c[:, k] = 1) read as k (per-class recall). For translated images c
  is the target, so a domain's count is its target's.
  """
  pred, c = part.from_logits(logits), part.check(c)
  if part.kind == labels_lib.ONE_HOT:
    return (pred * c).sum(axis=0), c.sum(axis=0)
  return (pred == c).sum(axis=0).astype(np.float64), np.full(part.width, float(len(c)))


def real_accuracy(model, config, batch_size=64):
  """{dataset: {domain: accuracy}} of the classifier on the run's real test images."""
  space, d = config.label_space, config.data
  accuracy = {}
  classify = tf.function(lambda x: model(x, training=False))
  for dataset in d.datasets:
    paths, c_org = splits.load_split(d, 'test', dataset)
    part, columns = space.part(dataset), space.domain_slice(dataset)
    correct, counted = np.zeros(part.width), np.zeros(part.width)
    for x, c in pipeline.make_dataset(paths, c_org, d.crop_size_of(dataset),
                                      config.model.image_size, batch_size, training=False,
                                      cache_dir=d.cache_dir_of(dataset) or None):
      hit, n = domain_hits(part, classify(x).numpy()[:, columns], c.numpy())
      correct, counted = correct + hit, counted + n
    accuracy[dataset] = {name: float(h / n) if n else None
                         for name, h, n in zip(part.names, correct, counted)}
  return accuracy


def train_classifier(config, work_dir, num_iters, batch_size=32, lr=1e-3, seed=0, width=32):
  """Trains, scores and saves the classifier of the run in `work_dir`; returns its record.

  Raises:
    FileExistsError: the run already has a classifier (checked before training).
  """
  out = runs.Run(work_dir).classifier_dir
  for leftover in fileio.remove_stale(out):
    logging.info('Removed %s, left by an interrupted classifier training.', leftover)
  if os.path.exists(out):
    raise FileExistsError(f'{out} already exists; it is never overwritten: delete it to train '
                          'the classifier again.')
  model = train(config, num_iters, batch_size, lr, seed, width)
  accuracy = real_accuracy(model, config, batch_size)
  record = {'accuracy': accuracy,
            'mean_accuracy': {ds: float(np.mean([v for v in acc.values() if v is not None]))
                              for ds, acc in accuracy.items()},
            'image_size': config.model.image_size, 'width': width,
            'label_space': config.label_space.to_dict(),
            'names': list(config.label_space.domain_names), 'num_iters': num_iters,
            'batch_size': batch_size, 'lr': lr, 'seed': seed}
  with fileio.atomic_dir(out) as tmp:
    model.save_weights(os.path.join(tmp, WEIGHTS_FILE))
    fileio.write_json(os.path.join(tmp, RECORD_FILE), record)
  logging.info('Saved the domain classifier to %s.', out)
  return record


def load(work_dir, config):
  """(DomainClassifier, record) of the run in `work_dir`, checked against its config.

  Raises:
    FileNotFoundError: no classifier (the message names the command that trains one).
    ValueError: a classifier of another image size or label space.
  """
  folder = runs.Run(work_dir).classifier_dir
  record_path = os.path.join(folder, RECORD_FILE)
  if not os.path.exists(record_path):
    raise FileNotFoundError(f'no domain classifier in {folder}: train one with `{_COMMAND} '
                            f'--work_dir={work_dir}` (classification accuracy and FID without '
                            '--inception_weights need it).')
  with open(record_path) as f:
    record = json.load(f)
  space = config.label_space
  if (record.get('image_size') != config.model.image_size or
      labels_lib.LabelSpace.from_dict(record.get('label_space', {})) != space):
    raise ValueError(f'{folder} was trained for {record.get("names")} at '
                     f'{record.get("image_size")} px, the run is {list(space.domain_names)} at '
                     f'{config.model.image_size} px: delete it and run `{_COMMAND} '
                     f'--work_dir={work_dir}`.')
  model = build_classifier(space, config.model.image_size, record['width'])
  model.load_weights(os.path.join(folder, WEIGHTS_FILE))
  return model, record
