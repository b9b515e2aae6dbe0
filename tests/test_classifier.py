"""The domain classifier: it learns the synthetic attributes, not shuffled ones; its folder."""

import json
import os

import helpers
import keras
import numpy as np
import pytest
import tensorflow as tf

from stargan_tf import classifier_lib
from stargan_tf import fileio
from stargan_tf import labels as labels_lib
from stargan_tf import runs
from stargan_tf.data import splits


def test_the_network_is_resnet18_shaped():
  space = labels_lib.label_space('Both')
  model = classifier_lib.build_classifier(space, 128, 64)
  blocks = [getattr(model, n) for n in model.block_names]
  assert [b.filters for b in blocks] == [64, 64, 128, 128, 256, 256, 512, 512]
  assert [b.stride for b in blocks] == [1, 1, 2, 1, 2, 1, 2, 1]
  x = tf.zeros([2, 128, 128, 3])
  assert model(x).shape == (2, 13) and model.embed(x).shape == (2, 512)
  # ResNet-18's trained weights (11,689,512 with its 1000-class head, 513,000 of them) with a
  # head of 5 + 8 outputs instead.
  trained = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
  assert trained == 11_689_512 - 513_000 + 13 * 513
  small = classifier_lib.build_classifier(labels_lib.label_space('CelebA'), 32, 8)
  assert small.stem_pool is None and small.embed(tf.zeros([1, 32, 32, 3])).shape == (1, 64)


def test_it_learns_the_synthetic_attributes(synthetic_classifier):
  _, record = synthetic_classifier
  accuracy = record['accuracy']['CelebA']
  assert set(accuracy) == set(labels_lib.DEFAULT_ATTRS)
  assert min(accuracy.values()) >= 0.95, accuracy


@pytest.mark.slow
def test_shuffled_labels_leave_it_at_chance(classifier_data):
  """The same training on labels shuffled across images: nothing to learn, so the test accuracy
  is what a reading independent of the image gets (about 0.5 for the fair Male and Young coins,
  2/3 for a hair colour read as mostly absent)."""
  paths, c = splits.load_split(classifier_data.data, 'train')
  shuffled = c[np.random.default_rng(0).permutation(len(c))]
  model = classifier_lib.train(classifier_data, train_splits={'CelebA': (paths, shuffled)},
                               **helpers.CLASSIFIER_TRAINING)
  accuracy = classifier_lib.real_accuracy(model, classifier_data)['CelebA']
  print(accuracy)
  assert 0.3 <= accuracy['Male'] <= 0.7 and 0.3 <= accuracy['Young'] <= 0.7, accuracy
  assert np.mean(list(accuracy.values())) <= 0.75, accuracy


def test_domain_hits_per_kind():
  celeba, rafd = labels_lib.celeba_part(), labels_lib.rafd_part()
  c = np.array([[1, 0, 0, 1, 0], [0, 1, 0, 0, 1]], np.float32)
  logits = np.array([[2, -1, -1, -3, -1], [2, -1, -1, -3, 1]], np.float32)
  correct, counted = classifier_lib.domain_hits(celeba, logits, c)
  np.testing.assert_array_equal(correct, [1, 1, 2, 1, 2])
  np.testing.assert_array_equal(counted, [2, 2, 2, 2, 2])
  c = np.eye(8, dtype=np.float32)[[0, 0, 3]]
  logits = np.eye(8, dtype=np.float32)[[0, 5, 3]]
  correct, counted = classifier_lib.domain_hits(rafd, logits, c)
  assert correct[0] == 1 and counted[0] == 2 and correct[3] == 1 and counted[3] == 1
  assert counted.sum() == 3


def test_the_folder_appears_whole_and_is_checked_on_load(classifier_data, tmp_path,
                                                         monkeypatch):
  work_dir = str(tmp_path / 'run')
  folder = runs.Run(work_dir).classifier_dir
  with pytest.raises(FileNotFoundError, match='python -m stargan_tf.train_classifier '
                     f'--work_dir={work_dir}'):
    classifier_lib.load(work_dir, classifier_data)

  # A failure while saving leaves neither the folder nor a temporary one.
  def fail(*args):
    raise OSError('disk full')
  with monkeypatch.context() as patch:
    patch.setattr(fileio, 'write_json', fail)
    with pytest.raises(OSError, match='disk full'):
      classifier_lib.train_classifier(classifier_data, work_dir, num_iters=1, width=4)
  assert not os.path.exists(folder) and os.listdir(work_dir) == []

  record = classifier_lib.train_classifier(classifier_data, work_dir, num_iters=1, width=4,
                                           seed=5)
  assert sorted(os.listdir(work_dir)) == ['classifier']
  with open(os.path.join(folder, classifier_lib.RECORD_FILE)) as f:
    assert json.load(f) == record
  assert record['image_size'] == 32 and record['seed'] == 5 and record['num_iters'] == 1
  assert record['names'] == list(labels_lib.DEFAULT_ATTRS)
  model, loaded = classifier_lib.load(work_dir, classifier_data)
  assert loaded == record and model.width == 4
  with pytest.raises(FileExistsError, match='never overwritten'):
    classifier_lib.train_classifier(classifier_data, work_dir, num_iters=1, width=4)
  other = helpers.with_train(classifier_data)
  other = other.__class__(data=other.data, model=other.model.__class__(image_size=64),
                          loss=other.loss, train=other.train)
  with pytest.raises(ValueError, match='at 32 px, the run is .* at 64 px'):
    classifier_lib.load(work_dir, other)


def test_a_fixed_seed_trains_the_same_weights(classifier_data):
  outputs = []
  x = tf.random.stateless_uniform([4, 32, 32, 3], [1, 2], -1, 1)
  for _ in range(2):
    keras.backend.clear_session()
    model = classifier_lib.train(classifier_data, num_iters=3, width=4, seed=7)
    outputs.append(model(x).numpy())
  np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-6)
  keras.backend.clear_session()
  other = classifier_lib.train(classifier_data, num_iters=3, width=4, seed=8)
  assert np.abs(other(x).numpy() - outputs[0]).max() > 1e-3
