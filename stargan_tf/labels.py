"""Domain vocabularies and label construction.

One label convention end to end: float32 vectors. Single-dataset mode uses the dataset's own
domains (`c_dim` CelebA attributes, or RaFD's classes one-hot).
"""

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


def domain_names(dataset, selected_attrs):
  """The names of the label columns, in order."""
  if dataset == 'CelebA':
    return tuple(selected_attrs)
  if dataset == 'RaFD':
    return RAFD_CLASSES
  raise ValueError(f'unknown dataset {dataset!r}; expected CelebA or RaFD.')


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
