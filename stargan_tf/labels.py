"""The label contract: which label columns G is conditioned on and D classifies, and their rules.

One convention end to end: float32 vectors. A `LabelSpace` is a sequence of `LabelPart`s, one per
dataset, each with its domain names and its kind:

  multi_label  independent binary attributes (CelebA): sigmoid cross-entropy summed over the
               attributes; a test-time target flips one attribute, except that the members of an
               `exclusive` group (CelebA's hair colours) are set to 1 with the rest of the group 0.
  one_hot      exactly one class (RaFD's expressions): softmax cross-entropy; a target is a class.

One part is single-dataset training. Several parts are joint training (`--dataset=Both`, paper
§3.2), and G's label then ends with a mask vector, one column per part:

    [ CelebA attributes (c_dim) | RaFD classes (c2_dim) | mask (2) ]

A label describes an image of one dataset: that dataset's part holds its labels, every other part
is zero, and the mask is the one-hot index of the part. D classifies every domain of every part; a
batch's classification loss reads only its own part's columns (`LabelSpace.domain_slice`).

Everything about labels is decided here from the parts (widths, names, losses, targets, reading D's
classifier), so a user's own dataset is one more `LabelPart`, not a code change. This module
needs only numpy (TensorFlow is imported only when `embed` is given a tensor), so clients of a
served model can use it.
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

MULTI_LABEL = 'multi_label'
ONE_HOT = 'one_hot'
KINDS = (MULTI_LABEL, ONE_HOT)


def _label_value(text):
  """The float of a target value text, or None if it is not a number from 0 to 1."""
  try:
    value = float(text)
  except ValueError:
    return None
  return value if 0.0 <= value <= 1.0 else None  # NaN fails both comparisons


def parse_target(spec, names, flag='--target'):
  """Parses "Blond_Hair=1,Male=0" or "Blond_Hair=0.5" into {column index: value}.

  Values are numbers from 0 to 1. StarGAN is trained on 0/1 labels only: a value in between asks
  for an interpolation between the two (see `LabelPart.apply`).

  Raises ValueError naming `flag`, the bad entry and the valid names.
  """
  updates = {}
  for item in filter(None, (s.strip() for s in spec.split(','))):
    name, sep, value = item.partition('=')
    name, value = name.strip(), _label_value(value.strip())
    if not sep or value is None:
      raise ValueError(f'{flag} entry {item!r}: expected NAME=VALUE with VALUE a number from 0 to '
                       '1, e.g. NAME=1, NAME=0 or NAME=0.5.')
    if name not in names:
      raise ValueError(f'{flag} names unknown domain {name!r}; valid names: '
                       f'{", ".join(names)}.')
    updates[list(names).index(name)] = value
  if not updates:
    raise ValueError(f'{flag} {spec!r} sets nothing; expected e.g. "{names[0]}=1".')
  return updates


@dataclasses.dataclass(frozen=True)
class LabelPart:
  """The domains of one dataset.

  Attributes:
    dataset: the dataset's name ('CelebA', 'RaFD', or a user's own).
    names: the domain names, in column order.
    kind: MULTI_LABEL or ONE_HOT (see the module docstring).
    exclusive: multi_label only: groups of names of which a label has at most one set; a target
      sets a member to 1 and the rest of its group to 0 (CelebA's hair colours).
  """
  dataset: str
  names: tuple
  kind: str = MULTI_LABEL
  exclusive: tuple = ()

  def __post_init__(self):
    object.__setattr__(self, 'names', tuple(self.names))
    object.__setattr__(self, 'exclusive', tuple(tuple(g) for g in self.exclusive))
    where = f'label part {self.dataset!r}'
    if not self.dataset or not isinstance(self.dataset, str):
      raise ValueError(f'a label part needs a dataset name, got {self.dataset!r}.')
    if self.kind not in KINDS:
      raise ValueError(f'{where}: kind {self.kind!r}, expected one of {", ".join(KINDS)}.')
    if not self.names:
      raise ValueError(f'{where} has no domain names.')
    if len(set(self.names)) != len(self.names):
      raise ValueError(f'{where} names a domain twice: {list(self.names)}.')
    if self.kind == ONE_HOT and (len(self.names) < 2 or self.exclusive):
      raise ValueError(f'{where}: a one_hot part needs at least 2 classes and no exclusive '
                       'groups (its classes already exclude each other).')
    grouped = [n for group in self.exclusive for n in group]
    if len(set(grouped)) != len(grouped) or not set(grouped) <= set(self.names):
      raise ValueError(f'{where}: exclusive groups {list(self.exclusive)} must be disjoint '
                       f'groups of its names {list(self.names)}.')

  @property
  def width(self):
    return len(self.names)

  def _group_of(self, column):
    """The columns of the exclusive group holding `column` (empty if none)."""
    for group in self.exclusive:
      if self.names[column] in group:
        return [self.names.index(n) for n in group]
    return []

  def create_labels(self, c_org):
    """Test-time targets: one per domain, [N, width] each.

    multi_label: the source labels with that domain changed: a member of an exclusive group is
    set to 1 with the rest of its group 0; any other domain is flipped. one_hot: each class.
    """
    c_org = self.check(c_org)
    if self.kind == ONE_HOT:
      return [np.tile(np.eye(self.width, dtype=np.float32)[i], (len(c_org), 1))
              for i in range(self.width)]
    targets = []
    for i in range(self.width):
      c_trg = c_org.copy()
      group = self._group_of(i)
      if group:
        c_trg[:, group] = 0.0
        c_trg[:, i] = 1.0
      else:
        c_trg[:, i] = (c_trg[:, i] == 0).astype(np.float32)
      targets.append(c_trg)
    return targets

  def apply(self, c_org, updates):
    """Source labels [N, width] with `updates` ({column: value}, from `parse_target`) applied.

    multi_label: each named domain takes its value; setting a member of an exclusive group to v
    scales the rest of its group by 1 - v (v = 1 clears them, v = 0 leaves them).
    one_hot: exactly one named class has a value v > 0 (the others named are 0), and the label is
    (1 - v) * source + v * that class (v = 1: the class).

    For a domain that is 0 in the source, "NAME=v" is thus the point v of the straight line from
    the source label to "NAME=1" (`interpolate`).
    """
    c_trg = np.array(self.check(c_org), np.float32, copy=True)
    if self.kind == ONE_HOT:
      on = [i for i, v in updates.items() if v > 0.0]
      if len(on) != 1:
        raise ValueError(f'a {self.dataset} label sets exactly one class, e.g. '
                         f'"{self.names[0]}=1" (or "{self.names[0]}=0.5" for half way); got '
                         f'{[self.names[i] for i in on] or "none"}.')
      value = updates[on[0]]
      c_trg *= 1.0 - value
      c_trg[:, on[0]] += value
      return c_trg
    for i, value in updates.items():
      others = [k for k in self._group_of(i) if k != i]
      c_trg[:, others] *= 1.0 - value
    for i, value in updates.items():
      c_trg[:, i] = value
    return c_trg

  def from_logits(self, logits):
    """Labels [N, width] as classifier logits [N, width] read them: attribute iff logit > 0,
    class = argmax."""
    logits = np.asarray(logits)
    if self.kind == ONE_HOT:
      return np.eye(self.width, dtype=np.float32)[logits.argmax(axis=1)]
    return (logits > 0).astype(np.float32)

  def sample(self, num, rng):
    """Random valid labels [num, width]: fair coins, at most one member of an exclusive group
    set (each member, or none, equally likely); one_hot: a uniform class."""
    if self.kind == ONE_HOT:
      return np.eye(self.width, dtype=np.float32)[rng.integers(0, self.width, num)]
    c = (rng.random([num, self.width]) < 0.5).astype(np.float32)
    for group in self.exclusive:
      columns = [self.names.index(n) for n in group]
      c[:, columns] = 0.0
      pick = rng.integers(0, len(columns) + 1, num)  # len(columns): none of the group set
      rows = np.flatnonzero(pick < len(columns))
      c[rows, np.asarray(columns)[pick[rows]]] = 1.0
    return c

  def check(self, c):
    """`c` as float32 [N, width], or ValueError naming the expected shape."""
    c = np.asarray(c, np.float32)
    if c.ndim != 2 or c.shape[1] != self.width:
      raise ValueError(f'{self.dataset} labels must be [N, {self.width}] '
                       f'({", ".join(self.names)}), got {list(c.shape)}.')
    return c

  def to_dict(self):
    return {'dataset': self.dataset, 'names': list(self.names), 'kind': self.kind,
            'exclusive': [list(g) for g in self.exclusive]}


def celeba_part(attrs=DEFAULT_ATTRS):
  """CelebA attributes: multi_label, with the selected hair colours exclusive."""
  hair = tuple(a for a in attrs if a in HAIR_COLORS)
  return LabelPart('CelebA', tuple(attrs), MULTI_LABEL, (hair,) if hair else ())


def rafd_part(classes=RAFD_CLASSES):
  """RaFD expressions (or a user's class folders): one_hot."""
  return LabelPart('RaFD', tuple(classes), ONE_HOT)


@dataclasses.dataclass(frozen=True)
class LabelSpace:
  """The label columns G is conditioned on and D classifies.

  Attributes:
    parts: the `LabelPart`s in column order: one for single-dataset training, several (with a
      mask vector) for joint training.
  """
  parts: tuple

  def __post_init__(self):
    object.__setattr__(self, 'parts', tuple(self.parts))
    if not self.parts or not all(isinstance(p, LabelPart) for p in self.parts):
      raise ValueError(f'a label space needs one or more LabelParts, got {self.parts!r}.')
    if len(set(self.datasets)) != len(self.datasets):
      raise ValueError(f'a label space needs distinct datasets, got {list(self.datasets)}.')
    names = self.domain_names
    if len(set(names)) != len(names):
      raise ValueError(f'the parts of a label space share domain names: {list(names)}; a target '
                       'names its domains, so each name must be unique.')

  def to_dict(self):
    """A JSON-able description (config.json, export metadata, TFLite sidecars)."""
    return {'parts': [p.to_dict() for p in self.parts]}

  @classmethod
  def from_dict(cls, d):
    try:
      return cls(tuple(LabelPart(p['dataset'], p['names'], p['kind'], p.get('exclusive', ()))
                       for p in d['parts']))
    except (KeyError, TypeError) as e:
      raise ValueError(f'not a label space description ({type(e).__name__}: {e}): '
                       f'{str(d)[:200]}') from None

  @property
  def datasets(self):
    return tuple(p.dataset for p in self.parts)

  @property
  def name(self):
    """The datasets joined by '+', e.g. 'CelebA' or 'CelebA+RaFD'."""
    return '+'.join(self.datasets)

  @property
  def mask(self):
    """Whether labels end with a mask vector (more than one part)."""
    return len(self.parts) > 1

  @property
  def layout(self):
    """The columns of G's label in words (error messages, export metadata)."""
    if not self.mask:
      return f'one column per domain: {", ".join(self.domain_names)}'
    parts = ' | '.join(f'{p.dataset}: {", ".join(p.names)}' for p in self.parts)
    return (f'{self.num_domains} domains then the mask: [{parts} | mask: '
            f'{", ".join(self.datasets)}]; a target sets the domains of one dataset, 0 in the '
            "other datasets' columns and 1 in that dataset's mask column")

  @property
  def domain_names(self):
    return tuple(n for p in self.parts for n in p.names)

  @property
  def domain_datasets(self):
    """The dataset of every domain column."""
    return tuple(p.dataset for p in self.parts for _ in p.names)

  @property
  def num_domains(self):
    """Columns D classifies (D_cls outputs)."""
    return len(self.domain_names)

  @property
  def label_dim(self):
    """Columns of G's label: the domains, then one mask column per part in joint training."""
    return self.num_domains + (len(self.parts) if self.mask else 0)

  def part(self, dataset):
    """The LabelPart of `dataset`."""
    if dataset not in self.datasets:
      raise ValueError(f"dataset {dataset!r} is not one of this model's datasets "
                       f'({", ".join(self.datasets)}).')
    return self.parts[self.datasets.index(dataset)]

  def names_of(self, dataset):
    return self.part(dataset).names

  def domain_slice(self, dataset):
    """The columns of `dataset` in D_cls outputs and in G labels."""
    part = self.part(dataset)
    start = sum(p.width for p in self.parts[:self.parts.index(part)])
    return slice(start, start + part.width)

  def embed(self, c, dataset):
    """Dataset labels [N, width of dataset] -> G labels [N, label_dim].

    Works on numpy arrays and on tensors (inside tf.function too); a single-part space returns
    `c` unchanged.
    """
    if not self.mask:
      return c
    columns = self.domain_slice(dataset)
    after = self.num_domains - columns.stop
    mask = np.eye(len(self.parts), dtype=np.float32)[self.datasets.index(dataset)]
    if isinstance(c, np.ndarray):
      c = np.asarray(c, np.float32)
      n = c.shape[0]
      return np.concatenate([np.zeros([n, columns.start], np.float32), c,
                             np.zeros([n, after], np.float32), np.tile(mask, (n, 1))], axis=1)
    import tensorflow as tf  # pylint: disable=g-import-not-at-top (numpy users need no TF)
    n = tf.shape(c)[0]
    zeros = lambda k: tf.zeros([n, k], c.dtype)
    return tf.concat([zeros(columns.start), c, zeros(after),
                      tf.tile(tf.constant(mask[None], c.dtype), [n, 1])], axis=1)

  def create_labels(self, c_org, dataset):
    """Test-time targets of images of `dataset` with labels c_org [N, width of dataset].

    Returns num_domains arrays [N, label_dim], one per domain in column order: each part's
    `LabelPart.create_labels`, embedded. The images have no labels of the other parts, so those
    parts' targets start from zeros (as in joint training's test grids: a CelebA face given each
    RaFD expression).
    """
    c_org = self.part(dataset).check(c_org)
    targets = []
    for part in self.parts:
      start = c_org if part.dataset == dataset else np.zeros([len(c_org), part.width],
                                                              np.float32)
      targets += [self.embed(t, part.dataset) for t in part.create_labels(start)]
    return targets

  def parse_target(self, spec, flag='--target'):
    """parse_target over all domain names; returns (dataset, {column within dataset: value}).

    Raises ValueError naming `flag` when the names belong to several datasets: a label describes
    an image of one dataset (the mask selects it).
    """
    updates = parse_target(spec, self.domain_names, flag)
    datasets = sorted({self.domain_datasets[i] for i in updates})
    if len(datasets) > 1:
      raise ValueError(f'{flag} {spec!r} names domains of {" and ".join(datasets)}; one target '
                       'sets the domains of one dataset (the mask vector selects it).')
    dataset = datasets[0]
    offset = self.domain_slice(dataset).start
    return dataset, {i - offset: v for i, v in updates.items()}

  def apply_target(self, c_org, dataset, updates):
    """Dataset labels c_org with `updates` (from `parse_target`) -> G labels [N, label_dim]."""
    return self.embed(self.part(dataset).apply(c_org, updates), dataset)

  def target(self, set_spec, base_spec='', logits=None):
    """G labels [N, label_dim] of `set_spec` applied on the image's own label, by domain names.

    The image's own label is, in this order: `base_spec` ("Black_Hair=1,Young=1") if given; else
    its classifier's reading (`logits` [N, num_domains], D_cls's or an export's `classify`) if
    given, so every domain not named keeps the photo's value; else every domain 0. set_spec
    changes domains on top of it by the rules of `LabelPart.apply`. Both specs name domains of one
    dataset (a label describes an image of one dataset); the mask is set for it. N is len(logits),
    or 1. The flags named in errors are the clients' --set and --base.

    Raises:
      ValueError: naming the flag: an unknown name, a malformed entry, domains of two datasets.
    """
    dataset, updates = self.parse_target(set_spec, '--set')
    part = self.part(dataset)
    n = 1 if logits is None else len(logits)
    c_org = np.zeros([n, part.width], np.float32)
    if base_spec:
      base_dataset, base = self.parse_target(base_spec, '--base')
      if base_dataset != dataset:
        raise ValueError(f'--base {base_spec!r} names {base_dataset} domains but --set '
                         f'{set_spec!r} names {dataset} domains; both describe one image, of one '
                         'dataset.')
      c_org = part.apply(c_org, base)
    elif logits is not None:
      c_org = self.from_classifier(logits, dataset)
    return self.apply_target(c_org, dataset, updates)

  def depends_on_source(self, set_spec):
    """Whether the label of `set_spec` depends on the image's own label (it does unless it sets
    every domain its dataset's rules let the source show through, e.g. one RaFD class at 1)."""
    dataset, updates = self.parse_target(set_spec, '--set')
    part = self.part(dataset)
    if part.kind == ONE_HOT:
      sources = np.eye(part.width, dtype=np.float32)
    else:
      sources = np.array([np.zeros(part.width), np.ones(part.width)], np.float32)
    out = part.apply(sources, updates)
    return not np.array_equal(out, np.broadcast_to(out[0], out.shape))

  def interpolate(self, c_src, c_trg, steps):
    """`steps` G labels [N, label_dim] from c_src (first) to c_trg (last), evenly spaced.

    StarGAN learns 0/1 labels only: what G makes of the labels in between is an interpolation it
    was never trained on (the attribute-slider view of AttGAN and STGAN's demos).
    """
    if steps < 2:
      raise ValueError(f'--interpolate={steps}: expected at least 2 steps (source and target).')
    c_src, c_trg = np.asarray(c_src, np.float32), np.asarray(c_trg, np.float32)
    return [c_src + np.float32(t) * (c_trg - c_src) for t in np.linspace(0.0, 1.0, steps)]

  def from_classifier(self, logits, dataset):
    """Labels of `dataset` as D_cls logits [N, num_domains] read them (own images)."""
    return self.part(dataset).from_logits(np.asarray(logits)[:, self.domain_slice(dataset)])

  def sample_targets(self, num, seed=0):
    """Targets as met in use, [num, label_dim]: for random valid labels of the first part, one
    `create_labels` target each (any part's, with its mask)."""
    rng = np.random.default_rng(seed)
    dataset = self.datasets[0]
    targets = self.create_labels(self.parts[0].sample(num, rng), dataset)
    column = rng.integers(0, len(targets), num)
    return np.stack([targets[k][row] for row, k in enumerate(column)])


def label_space(dataset, selected_attrs=DEFAULT_ATTRS, rafd_classes=RAFD_CLASSES):
  """The LabelSpace of --dataset=CelebA, RaFD or Both (CelebA then RaFD)."""
  parts = {'CelebA': lambda: (celeba_part(selected_attrs),),
           'RaFD': lambda: (rafd_part(rafd_classes),),
           'Both': lambda: (celeba_part(selected_attrs), rafd_part(rafd_classes))}
  if dataset not in parts:
    raise ValueError(f'unknown dataset {dataset!r}; expected CelebA, RaFD or Both.')
  return LabelSpace(parts[dataset]())
