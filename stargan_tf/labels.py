"""Domain vocabularies and label construction.

One label convention end to end: float32 vectors. Single-dataset mode uses the dataset's own
domains (`c_dim` CelebA attributes, or RaFD's classes one-hot). Joint training on several datasets
(`--dataset=Both`, paper §3.2) conditions G on the mask-vector layout of `LabelSpace`:

    [ CelebA attributes (c_dim) | RaFD classes (c2_dim) | mask (2) ]

A label describes an image of one dataset: that dataset's part holds its labels, every other
dataset's part is zero, and the mask is the one-hot index of the dataset ([1, 0] CelebA, [0, 1]
RaFD). D classifies all c_dim + c2_dim domains; a batch's classification loss reads only its own
dataset's columns (`LabelSpace.domain_slice`).
"""

import dataclasses

import numpy as np

# The 40 attribute names of `list_attr_celeba.txt`, in file order.
CELEBA_ATTRS = (
    '5_o_Clock_Shadow', 'Arched_Eyebrows', 'Attractive', 'Bags_Under_Eyes', 'Bald', 'Bangs',
    'Big_Lips', 'Big_Nose', 'Black_Hair', 'Blond_Hair', 'Blurry', 'Brown_Hair', 'Bushy_Eyebrows',
    'Chubby', 'Double_Chin', 'Eyeglasses', 'Goatee', 'Gray_Hair', 'Heavy_Makeup', 'High_Cheekbones',
    'Male', 'Mouth_Slightly_Open', 'Mustache', 'Narrow_Eyes', 'No_Beard', 'Oval_Face', 'Pale_Skin',
    'Pointy_Nose', 'Receding_Hairline', 'Rosy_Cheeks', 'Sideburns', 'Smiling', 'Straight_Hair',
    'Wavy_Hair', 'Wearing_Earrings', 'Wearing_Hat', 'Wearing_Lipstick', 'Wearing_Necklace',
    'Wearing_Necktie', 'Young',
)

# Hair colours are mutually exclusive: setting one clears the others (reference create_labels).
HAIR_COLORS = ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Gray_Hair')

DEFAULT_ATTRS = ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young')

# RaFD expression classes: the sub-folder names, sorted.
RAFD_CLASSES = ('angry', 'contemptuous', 'disgusted', 'fearful', 'happy', 'neutral', 'sad',
                'surprised')


def create_labels(c_org, dataset, selected_attrs=()):
  """Test-time target labels: one target per domain.

  CelebA: for each selected attribute, the source labels with that attribute changed: a hair
  colour is set to 1 and the other selected hair colours to 0; any other attribute is flipped.
  RaFD: the one-hot label of each class.

  Args:
    c_org: float array [N, c_dim] of source labels.
    dataset: 'CelebA' or 'RaFD'.
    selected_attrs: the CelebA attribute names of the columns.
  Returns:
    list of c_dim float32 arrays [N, c_dim].
  """
  c_org = np.asarray(c_org, np.float32)
  n, c_dim = c_org.shape
  if dataset == 'RaFD':
    return [np.tile(np.eye(c_dim, dtype=np.float32)[i], (n, 1)) for i in range(c_dim)]
  if dataset != 'CelebA':
    raise ValueError(f'unknown dataset {dataset!r}; expected CelebA or RaFD.')
  if len(selected_attrs) != c_dim:
    raise ValueError(f'labels have {c_dim} columns but {len(selected_attrs)} attribute names '
                     'were given.')
  hair = [i for i, a in enumerate(selected_attrs) if a in HAIR_COLORS]
  targets = []
  for i, name in enumerate(selected_attrs):
    c_trg = c_org.copy()
    if name in HAIR_COLORS:
      c_trg[:, hair] = 0.0
      c_trg[:, i] = 1.0
    else:
      c_trg[:, i] = (c_trg[:, i] == 0).astype(np.float32)
    targets.append(c_trg)
  return targets


def parse_target(spec, names, flag='--target'):
  """Parses "Blond_Hair=1,Male=0" into {column index: value}.

  Raises ValueError naming `flag`, the bad entry and the valid names.
  """
  updates = {}
  for item in filter(None, (s.strip() for s in spec.split(','))):
    name, sep, value = item.partition('=')
    name, value = name.strip(), value.strip()
    if not sep or value not in ('0', '1'):
      raise ValueError(f'{flag} entry {item!r}: expected NAME=0 or NAME=1.')
    if name not in names:
      raise ValueError(f'{flag} names unknown domain {name!r}; valid names: '
                       f'{", ".join(names)}.')
    updates[names.index(name)] = float(value)
  if not updates:
    raise ValueError(f'{flag} {spec!r} sets nothing; expected e.g. "{names[0]}=1".')
  return updates


def apply_target(c_org, updates, dataset, names):
  """Applies parse_target's updates to source labels [N, c_dim] -> target labels.

  CelebA: setting a hair colour to 1 clears the other hair colours. RaFD: the target is the
  one-hot label of the class set to 1.
  """
  c_trg = np.array(c_org, np.float32, copy=True)
  if dataset == 'RaFD':
    on = [i for i, v in updates.items() if v == 1.0]
    if len(on) != 1:
      raise ValueError('a RaFD target must set exactly one class to 1, e.g. "happy=1".')
    c_trg[:] = 0.0
    c_trg[:, on[0]] = 1.0
    return c_trg
  hair = [i for i, a in enumerate(names) if a in HAIR_COLORS]
  for i, value in updates.items():
    if value == 1.0 and i in hair:
      c_trg[:, hair] = 0.0
  for i, value in updates.items():
    c_trg[:, i] = value
  return c_trg


JOINT_DATASETS = ('CelebA', 'RaFD')  # --dataset=Both, in label order


@dataclasses.dataclass(frozen=True)
class LabelSpace:
  """The label columns G is conditioned on and D classifies.

  Attributes:
    parts: ((dataset, domain names), ...) in column order; one part for single-dataset training,
      several (with a mask vector) for joint training.
  """
  parts: tuple

  def __post_init__(self):
    object.__setattr__(self, 'parts', tuple((d, tuple(n)) for d, n in self.parts))
    for dataset, names in self.parts:
      if dataset not in JOINT_DATASETS:
        raise ValueError(f'unknown dataset {dataset!r}; expected CelebA or RaFD.')
      if not names:
        raise ValueError(f'the {dataset} part of a label space has no domain names.')
    datasets = [d for d, _ in self.parts]
    if not datasets or len(set(datasets)) != len(datasets):
      raise ValueError(f'a label space needs distinct datasets, got {datasets}.')

  @classmethod
  def from_names(cls, domain_names, domain_datasets):
    """Rebuilds a space from per-column names and datasets (an export's metadata)."""
    if len(domain_names) != len(domain_datasets):
      raise ValueError(f'{len(domain_names)} domain names but {len(domain_datasets)} datasets.')
    parts = []
    for name, dataset in zip(domain_names, domain_datasets):
      if parts and parts[-1][0] == dataset:
        parts[-1][1].append(name)
      else:
        parts.append((dataset, [name]))
    return cls(tuple(parts))

  @property
  def datasets(self):
    return tuple(d for d, _ in self.parts)

  @property
  def dataset(self):
    """The --dataset value: 'CelebA' or 'RaFD' for one dataset, 'Both' for a joint space."""
    return 'Both' if self.mask else self.datasets[0]

  @property
  def layout(self):
    """The columns of G's label in words (error messages, export metadata)."""
    if not self.mask:
      return f'one column per domain: {", ".join(self.domain_names)}'
    parts = ' | '.join(f'{d}: {", ".join(names)}' for d, names in self.parts)
    return (f'{self.num_domains} domains then the mask: [{parts} | mask: '
            f'{", ".join(self.datasets)}]; a target sets the domains of one dataset, 0 in the '
            "other dataset's columns and 1 in that dataset's mask column")

  @property
  def mask(self):
    """Whether labels end with a mask vector (more than one dataset)."""
    return len(self.parts) > 1

  @property
  def domain_names(self):
    return tuple(n for _, names in self.parts for n in names)

  @property
  def domain_datasets(self):
    """The dataset of every domain column."""
    return tuple(d for d, names in self.parts for _ in names)

  @property
  def num_domains(self):
    """Columns D classifies (D_cls outputs)."""
    return len(self.domain_names)

  @property
  def label_dim(self):
    """Columns of G's label: the domains, then one mask column per dataset in joint training."""
    return self.num_domains + (len(self.parts) if self.mask else 0)

  def names_of(self, dataset):
    return self.parts[self._index(dataset)][1]

  def _index(self, dataset):
    if dataset not in self.datasets:
      raise ValueError(f'dataset {dataset!r} is not one of this model\'s datasets '
                       f'({", ".join(self.datasets)}).')
    return self.datasets.index(dataset)

  def domain_slice(self, dataset):
    """The columns of `dataset` in D_cls outputs and in G labels."""
    start = sum(len(names) for _, names in self.parts[:self._index(dataset)])
    return slice(start, start + len(self.names_of(dataset)))

  def embed(self, c, dataset):
    """Dataset labels [N, len(names_of(dataset))] -> G labels [N, label_dim].

    Works on numpy arrays and on tensors (inside tf.function too); a single-dataset space
    returns `c` unchanged.
    """
    if not self.mask:
      return c
    i = self._index(dataset)
    before = sum(len(names) for _, names in self.parts[:i])
    after = self.num_domains - before - len(self.parts[i][1])
    mask = np.eye(len(self.parts), dtype=np.float32)[i]
    if isinstance(c, np.ndarray):
      c = np.asarray(c, np.float32)
      n = c.shape[0]
      return np.concatenate([np.zeros([n, before], np.float32), c,
                             np.zeros([n, after], np.float32), np.tile(mask, (n, 1))], axis=1)
    import tensorflow as tf  # pylint: disable=g-import-not-at-top (numpy users need no TF)
    n = tf.shape(c)[0]
    zeros = lambda k: tf.zeros([n, k], c.dtype)
    return tf.concat([zeros(before), c, zeros(after),
                      tf.tile(tf.constant(mask[None], c.dtype), [n, 1])], axis=1)

  def create_labels(self, c_org, dataset):
    """Test-time targets of images of `dataset` with labels c_org [N, len(names_of(dataset))].

    Returns num_domains arrays [N, label_dim], one per domain in column order: the module-level
    `create_labels` targets of each dataset, embedded in its part. For another dataset's part the
    image has no labels there, so its targets start from zeros (as in joint training's test
    grids: a CelebA face given each RaFD expression).
    """
    c_org = np.asarray(c_org, np.float32)
    if c_org.ndim != 2 or c_org.shape[1] != len(self.names_of(dataset)):
      raise ValueError(f'{dataset} labels must be [N, {len(self.names_of(dataset))}], got '
                       f'{c_org.shape}.')
    targets = []
    for part, names in self.parts:
      start = c_org if part == dataset else np.zeros([len(c_org), len(names)], np.float32)
      targets += [self.embed(t, part) for t in create_labels(start, part, names)]
    return targets

  def parse_target(self, spec, flag='--target'):
    """parse_target over all domain names; returns (dataset, {column within dataset: value}).

    Raises ValueError naming `flag` when the names belong to several datasets: a label describes
    an image of one dataset (the mask selects it).
    """
    updates = parse_target(spec, list(self.domain_names), flag)
    datasets = sorted({self.domain_datasets[i] for i in updates})
    if len(datasets) > 1:
      raise ValueError(f'{flag} {spec!r} names domains of {" and ".join(datasets)}; one target '
                       'sets the domains of one dataset (the mask vector selects it).')
    dataset = datasets[0]
    offset = self.domain_slice(dataset).start
    return dataset, {i - offset: v for i, v in updates.items()}

  def apply_target(self, c_org, dataset, updates):
    """Dataset labels c_org [N, len(names_of(dataset))] with `updates` -> G labels [N, label_dim].

    `updates` as returned by `parse_target`, with the same rules as the module-level
    `apply_target` (hair colours exclusive, RaFD one-hot).
    """
    return self.embed(apply_target(c_org, updates, dataset, list(self.names_of(dataset))),
                      dataset)

  def target(self, set_spec, base_spec=''):
    """The G label [1, label_dim] of `set_spec` applied on `base_spec`, given by domain names.

    base_spec ("Black_Hair=1,Young=1"; default: every domain 0) is the image's own label and
    set_spec changes domains on top of it, by the rules of `apply_target`. Both name domains of
    one dataset (a label describes an image of one dataset); the mask is set for it. The flags
    named in errors are the clients' --set and --base.

    Raises:
      ValueError: naming the flag: an unknown name, a malformed entry, domains of two datasets.
    """
    base = self.parse_target(base_spec, '--base') if base_spec else None
    dataset, updates = self.parse_target(set_spec, '--set')
    names = list(self.names_of(dataset))
    c_org = np.zeros([1, len(names)], np.float32)
    if base:
      if base[0] != dataset:
        raise ValueError(f'--base {base_spec!r} names {base[0]} domains but --set {set_spec!r} '
                         f'names {dataset} domains; both describe one image, of one dataset.')
      c_org = apply_target(c_org, base[1], dataset, names)
    return self.apply_target(c_org, dataset, updates)

  def from_classifier(self, logits, dataset):
    """Labels of `dataset` as D_cls logits [N, num_domains] read them (own images)."""
    logits = np.asarray(logits)[:, self.domain_slice(dataset)]
    if dataset == 'RaFD':
      return np.eye(logits.shape[1], dtype=np.float32)[logits.argmax(axis=1)]
    return (logits > 0).astype(np.float32)


def label_space(dataset, selected_attrs=DEFAULT_ATTRS, rafd_classes=RAFD_CLASSES):
  """The LabelSpace of --dataset=CelebA, RaFD or Both."""
  parts = {'CelebA': (('CelebA', selected_attrs),), 'RaFD': (('RaFD', rafd_classes),),
           'Both': (('CelebA', selected_attrs), ('RaFD', rafd_classes))}
  if dataset not in parts:
    raise ValueError(f'unknown dataset {dataset!r}; expected CelebA, RaFD or Both.')
  return LabelSpace(parts[dataset])
