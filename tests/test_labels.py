import numpy as np
import pytest

from stargan_tf import labels

ATTRS = ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young')


def test_vocabularies():
  assert len(labels.CELEBA_ATTRS) == 40 and len(set(labels.CELEBA_ATTRS)) == 40
  assert labels.CELEBA_ATTRS[8:12] == ('Black_Hair', 'Blond_Hair', 'Blurry', 'Brown_Hair')
  assert labels.CELEBA_ATTRS[20] == 'Male' and labels.CELEBA_ATTRS[-1] == 'Young'
  assert list(labels.RAFD_CLASSES) == sorted(labels.RAFD_CLASSES) and len(labels.RAFD_CLASSES) == 8


def test_create_labels_celeba_hair_exclusive_and_flips():
  c_org = np.array([[1, 0, 0, 1, 0],
                    [0, 0, 0, 0, 1]], np.float32)
  targets = labels.create_labels(c_org, 'CelebA', ATTRS)
  assert len(targets) == 5
  np.testing.assert_array_equal(targets[0], [[1, 0, 0, 1, 0], [1, 0, 0, 0, 1]])  # black
  np.testing.assert_array_equal(targets[1], [[0, 1, 0, 1, 0], [0, 1, 0, 0, 1]])  # blond
  np.testing.assert_array_equal(targets[2], [[0, 0, 1, 1, 0], [0, 0, 1, 0, 1]])  # brown
  np.testing.assert_array_equal(targets[3], [[1, 0, 0, 0, 0], [0, 0, 0, 1, 1]])  # male flipped
  np.testing.assert_array_equal(targets[4], [[1, 0, 0, 1, 1], [0, 0, 0, 0, 0]])  # young flipped
  np.testing.assert_array_equal(c_org, [[1, 0, 0, 1, 0], [0, 0, 0, 0, 1]])  # input untouched


def test_create_labels_hair_only_among_selected():
  attrs = ('Blond_Hair', 'Gray_Hair', 'Smiling')
  c_org = np.array([[0, 1, 1]], np.float32)
  t = labels.create_labels(c_org, 'CelebA', attrs)
  np.testing.assert_array_equal(np.concatenate(t), [[1, 0, 1], [0, 1, 1], [0, 1, 0]])


def test_create_labels_rafd_one_hot():
  c_org = np.eye(8, dtype=np.float32)[[3, 5]]
  t = labels.create_labels(c_org, 'RaFD')
  assert len(t) == 8
  for i, c in enumerate(t):
    np.testing.assert_array_equal(c, np.eye(8)[[i, i]])


def test_create_labels_errors():
  with pytest.raises(ValueError, match='attribute names'):
    labels.create_labels(np.zeros([1, 5]), 'CelebA', ATTRS[:3])
  with pytest.raises(ValueError, match='unknown dataset'):
    labels.create_labels(np.zeros([1, 5]), 'MNIST', ATTRS)


def test_parse_and_apply_target():
  updates = labels.parse_target('Blond_Hair=1, Male=0', list(ATTRS))
  assert updates == {1: 1.0, 3: 0.0}
  c_org = np.array([[1, 0, 0, 1, 1]], np.float32)
  np.testing.assert_array_equal(labels.apply_target(c_org, updates, 'CelebA', list(ATTRS)),
                                [[0, 1, 0, 0, 1]])
  rafd = labels.apply_target(np.eye(8)[[0]], labels.parse_target('happy=1', list(
      labels.RAFD_CLASSES)), 'RaFD', list(labels.RAFD_CLASSES))
  np.testing.assert_array_equal(rafd, np.eye(8)[[4]])


@pytest.mark.parametrize('spec, message', [
    ('Blonde_Hair=1', 'unknown domain .*valid names: Black_Hair'),
    ('Male=2', 'expected NAME=0 or NAME=1'),
    ('Male', 'expected NAME=0 or NAME=1'),
    (' , ', 'sets nothing'),
])
def test_parse_target_errors(spec, message):
  with pytest.raises(ValueError, match=message):
    labels.parse_target(spec, list(ATTRS))
