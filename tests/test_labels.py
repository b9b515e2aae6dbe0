import numpy as np
import pytest
import tensorflow as tf

from stargan_tf import labels

ATTRS = ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young')
CELEBA = labels.celeba_part(ATTRS)
RAFD = labels.rafd_part()
CELEBA_SPACE = labels.LabelSpace((CELEBA,))


def test_vocabularies():
  assert len(labels.CELEBA_ATTRS) == 40 and len(set(labels.CELEBA_ATTRS)) == 40
  assert labels.CELEBA_ATTRS[8:12] == ('Black_Hair', 'Blond_Hair', 'Blurry', 'Brown_Hair')
  assert labels.CELEBA_ATTRS[20] == 'Male' and labels.CELEBA_ATTRS[-1] == 'Young'
  assert list(labels.RAFD_CLASSES) == sorted(labels.RAFD_CLASSES) and len(labels.RAFD_CLASSES) == 8


def test_create_labels_celeba_hair_exclusive_and_flips():
  c_org = np.array([[1, 0, 0, 1, 0],
                    [0, 0, 0, 0, 1]], np.float32)
  targets = CELEBA.create_labels(c_org)
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
  part = labels.celeba_part(attrs)
  assert part.kind == labels.MULTI_LABEL and part.exclusive == (('Blond_Hair', 'Gray_Hair'),)
  t = part.create_labels(c_org)
  np.testing.assert_array_equal(np.concatenate(t), [[1, 0, 1], [0, 1, 1], [0, 1, 0]])


def test_a_single_hair_colour_is_set_not_flipped():
  # As in the reference: a hair-colour attribute is set to 1, even with no other hair colour.
  t = labels.celeba_part(('Blond_Hair', 'Male')).create_labels(np.array([[1, 1]], np.float32))
  np.testing.assert_array_equal(np.concatenate(t), [[1, 1], [1, 0]])


def test_create_labels_rafd_one_hot():
  c_org = np.eye(8, dtype=np.float32)[[3, 5]]
  assert RAFD.kind == labels.ONE_HOT
  t = RAFD.create_labels(c_org)
  assert len(t) == 8
  for i, c in enumerate(t):
    np.testing.assert_array_equal(c, np.eye(8)[[i, i]])


def test_create_labels_errors():
  with pytest.raises(ValueError, match=r'CelebA labels must be \[N, 5\]'):
    CELEBA.create_labels(np.zeros([1, 3]))


def test_parse_and_apply_target():
  updates = labels.parse_target('Blond_Hair=1, Male=0', ATTRS)
  assert updates == {1: 1.0, 3: 0.0}
  c_org = np.array([[1, 0, 0, 1, 1]], np.float32)
  np.testing.assert_array_equal(CELEBA.apply(c_org, updates), [[0, 1, 0, 0, 1]])
  rafd = RAFD.apply(np.eye(8)[[0]], labels.parse_target('happy=1', labels.RAFD_CLASSES))
  np.testing.assert_array_equal(rafd, np.eye(8)[[4]])
  with pytest.raises(ValueError, match='a RaFD label sets exactly one class, e.g. "angry=1"'):
    RAFD.apply(np.eye(8)[[0]], {4: 0.0})


def test_real_valued_targets_are_points_on_the_line_to_the_binary_target():
  """"NAME=v" of a domain that is 0 in the source is the point v of source -> "NAME=1"; 0 and 1
  give exactly what the binary rules give."""
  assert labels.parse_target('Blond_Hair=0.25, Male=1.0', ATTRS) == {1: 0.25, 3: 1.0}
  c_org = np.array([[1, 0, 0, 1, 1]], np.float32)  # black hair, male, young
  for v in (0.0, 0.25, 0.5, 1.0):
    got = CELEBA.apply(c_org, {1: v, 3: 1.0 - v})
    full = CELEBA.apply(c_org, {1: 1.0, 3: 0.0})
    np.testing.assert_allclose(got, c_org + v * (full - c_org), atol=1e-7)
  # 0 and 1 are the binary rules: a hair colour at 1 clears the others, at 0 leaves them.
  np.testing.assert_array_equal(CELEBA.apply(c_org, {1: 1.0}), [[0, 1, 0, 1, 1]])
  np.testing.assert_array_equal(CELEBA.apply(c_org, {0: 0.0}), [[0, 0, 0, 1, 1]])
  np.testing.assert_array_equal(CELEBA.apply(c_org, {1: 0.0}), c_org)
  # A RaFD class at v: (1 - v) * source + v * the class.
  np.testing.assert_allclose(RAFD.apply(np.eye(8)[[0]], {4: 0.5}),
                             0.5 * np.eye(8)[[0]] + 0.5 * np.eye(8)[[4]])
  steps = CELEBA_SPACE.interpolate(c_org, full, 5)
  np.testing.assert_allclose(steps[2], CELEBA.apply(c_org, {1: 0.5, 3: 0.5}), atol=1e-7)
  np.testing.assert_array_equal(steps[0], c_org)
  np.testing.assert_array_equal(steps[-1], full)
  with pytest.raises(ValueError, match='--interpolate=1: expected at least 2 steps'):
    CELEBA_SPACE.interpolate(c_org, full, 1)


def test_target_keeps_the_classifier_s_reading_of_the_domains_not_named():
  logits = np.array([[3.0, -2, -1, 2, -4], [-1, -3, 2, -2, 1]], np.float32)
  np.testing.assert_array_equal(CELEBA_SPACE.target('Blond_Hair=1', logits=logits),
                                [[0, 1, 0, 1, 0], [0, 1, 0, 0, 1]])
  # --base wins over the classifier; neither: every domain 0.
  np.testing.assert_array_equal(CELEBA_SPACE.target('Blond_Hair=1', 'Young=1', logits),
                                [[0, 1, 0, 0, 1]] * 2)
  np.testing.assert_array_equal(CELEBA_SPACE.target('Male=0.5'), [[0, 0, 0, 0.5, 0]])
  joint = labels.label_space('Both', ATTRS)
  logits = np.concatenate([logits[:1], np.eye(8, dtype=np.float32)[[1]]], axis=1)
  np.testing.assert_array_equal(joint.target('happy=1', logits=logits),
                                joint.embed(np.eye(8, dtype=np.float32)[[4]], 'RaFD'))
  np.testing.assert_allclose(joint.target('happy=0.25', logits=logits),
                             joint.embed(0.75 * np.eye(8)[[1]] + 0.25 * np.eye(8)[[4]], 'RaFD'))


class TestUserPart:
  """A user's own dataset is one more LabelPart: nothing else changes."""

  SEASONS = labels.LabelPart('Landscapes', ('summer', 'winter', 'night', 'day'),
                             labels.MULTI_LABEL, exclusive=(('summer', 'winter'), ('night', 'day')))

  def test_targets_follow_its_exclusive_groups(self):
    t = self.SEASONS.create_labels(np.array([[1, 0, 0, 1]], np.float32))
    np.testing.assert_array_equal(np.concatenate(t), [[1, 0, 0, 1], [0, 1, 0, 1],
                                                      [1, 0, 1, 0], [1, 0, 0, 1]])

  def test_joint_space_with_celeba_round_trips_and_embeds(self):
    space = labels.LabelSpace((CELEBA, self.SEASONS))
    assert (space.num_domains, space.label_dim, space.name) == (9, 11, 'CelebA+Landscapes')
    assert labels.LabelSpace.from_dict(space.to_dict()) == space
    np.testing.assert_array_equal(space.target('winter=1', 'summer=1,day=1'),
                                  [[0] * 5 + [0, 1, 0, 1] + [0, 1]])

  def test_samples_are_valid_labels(self):
    rng = np.random.default_rng(0)
    c = self.SEASONS.sample(2000, rng)
    assert c[:, :2].sum(axis=1).max() == 1 and c[:, 2:].sum(axis=1).max() == 1
    assert 0.25 < c[:, 0].mean() < 0.42  # one third: summer, winter or neither
    r = RAFD.sample(800, rng)
    assert (r.sum(axis=1) == 1).all() and len(set(r.argmax(axis=1))) == 8

  @pytest.mark.parametrize('args, message', [
      (('X', ('a', 'b'), 'softmax'), "kind 'softmax'"),
      (('X', ('a', 'a')), 'names a domain twice'),
      (('X', ('a',), labels.ONE_HOT), 'at least 2 classes'),
      (('X', ('a', 'b'), labels.MULTI_LABEL, (('a', 'c'),)), 'must be disjoint groups of its'),
      (('X', ()), 'has no domain names'),
  ])
  def test_bad_parts(self, args, message):
    with pytest.raises(ValueError, match=message):
      labels.LabelPart(*args)


@pytest.mark.parametrize('spec, message', [
    ('Blonde_Hair=1', 'unknown domain .*valid names: Black_Hair'),
    ('Male=2', "entry 'Male=2': expected NAME=VALUE with VALUE a number from 0 to 1"),
    ('Male=x', "entry 'Male=x': expected NAME=VALUE with VALUE a number from 0 to 1"),
    ('Male=-0.1', 'a number from 0 to 1, e.g. NAME=1, NAME=0 or NAME=0.5'),
    ('Male=nan', 'a number from 0 to 1'),
    ('Male', 'expected NAME=VALUE'),
    (' , ', 'sets nothing'),
])
def test_parse_target_errors(spec, message):
  with pytest.raises(ValueError, match=message):
    labels.parse_target(spec, list(ATTRS))


class TestJointLabelSpace:
  """--dataset=Both: [celeba(5) | rafd(8) | mask(2)], the other dataset's part zero."""

  SPACE = labels.label_space('Both', ATTRS)

  def test_layout(self):
    s = self.SPACE
    assert s.mask and (s.num_domains, s.label_dim) == (13, 15)
    assert s.domain_names == ATTRS + labels.RAFD_CLASSES
    assert s.domain_datasets == ('CelebA',) * 5 + ('RaFD',) * 8
    assert (s.domain_slice('CelebA'), s.domain_slice('RaFD')) == (slice(0, 5), slice(5, 13))
    assert labels.LabelSpace.from_dict(s.to_dict()) == s
    assert [p.kind for p in s.parts] == [labels.MULTI_LABEL, labels.ONE_HOT]

  def test_embed_sets_the_mask_and_zeros_the_other_part(self):
    celeba = np.array([[1, 0, 0, 1, 1], [0, 1, 0, 0, 0]], np.float32)
    np.testing.assert_array_equal(self.SPACE.embed(celeba, 'CelebA'),
                                  np.concatenate([celeba, np.zeros([2, 8]), [[1, 0]] * 2], 1))
    rafd = np.eye(8, dtype=np.float32)[[2, 7]]
    np.testing.assert_array_equal(self.SPACE.embed(rafd, 'RaFD'),
                                  np.concatenate([np.zeros([2, 5]), rafd, [[0, 1]] * 2], 1))
    as_tensor = self.SPACE.embed(tf.constant(rafd), 'RaFD')
    np.testing.assert_array_equal(as_tensor, self.SPACE.embed(rafd, 'RaFD'))
    single = labels.label_space('CelebA', ATTRS)
    assert not single.mask and single.label_dim == 5
    assert single.embed(celeba, 'CelebA') is celeba

  def test_create_labels_one_column_per_domain_of_both_datasets(self):
    c_org = np.array([[1, 0, 0, 1, 0]], np.float32)
    targets = self.SPACE.create_labels(c_org, 'CelebA')
    assert len(targets) == 13 and all(t.shape == (1, 15) for t in targets)
    for t, expected in zip(targets[:5], CELEBA.create_labels(c_org)):
      np.testing.assert_array_equal(t, np.concatenate([expected, np.zeros([1, 8]), [[1, 0]]], 1))
    for k, t in enumerate(targets[5:]):
      np.testing.assert_array_equal(t, np.concatenate([np.zeros([1, 5]), np.eye(8)[[k]],
                                                       [[0, 1]]], 1))
    rafd_targets = self.SPACE.create_labels(np.eye(8)[[3]], 'RaFD')
    np.testing.assert_array_equal(rafd_targets[0][0, :5], [1, 0, 0, 0, 0])  # from zeros
    np.testing.assert_array_equal(rafd_targets[4][0, :5], [0, 0, 0, 0, 1])
    with pytest.raises(ValueError, match=r'RaFD labels must be \[N, 8\]'):
      self.SPACE.create_labels(c_org, 'RaFD')

  def test_targets_name_one_dataset(self):
    assert self.SPACE.parse_target('happy=1') == ('RaFD', {4: 1.0})
    assert self.SPACE.parse_target('Blond_Hair=1,Male=0') == ('CelebA', {1: 1.0, 3: 0.0})
    np.testing.assert_array_equal(
        self.SPACE.apply_target(np.zeros([1, 8]), 'RaFD', {4: 1.0}),
        [[0] * 5 + [0, 0, 0, 0, 1, 0, 0, 0] + [0, 1]])
    with pytest.raises(ValueError, match='--set .* names domains of CelebA and RaFD'):
      self.SPACE.parse_target('Blond_Hair=1,happy=1', '--set')
    with pytest.raises(ValueError, match='unknown domain .*valid names: Black_Hair.*surprised'):
      self.SPACE.parse_target('smiling=1')

  def test_from_classifier_reads_the_dataset_slice(self):
    logits = np.full([1, 13], -1.0)
    logits[0, [1, 3]] = 2.0
    logits[0, 5 + 6] = 5.0
    np.testing.assert_array_equal(self.SPACE.from_classifier(logits, 'CelebA'), [[0, 1, 0, 1, 0]])
    np.testing.assert_array_equal(self.SPACE.from_classifier(logits, 'RaFD'), np.eye(8)[[6]])

  def test_bad_spaces(self):
    with pytest.raises(ValueError, match='unknown dataset'):
      labels.label_space('MNIST')
    with pytest.raises(ValueError, match='distinct datasets'):
      labels.LabelSpace((CELEBA, CELEBA))
    with pytest.raises(ValueError, match='share domain names'):
      labels.LabelSpace((CELEBA, labels.rafd_part(('Male', 'other'))))
    with pytest.raises(ValueError, match="not one of this model's datasets"):
      labels.label_space('CelebA', ATTRS).domain_slice('RaFD')
