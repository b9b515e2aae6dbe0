"""CelebA reader: `list_attr_celeba.txt` + a folder of aligned JPEGs -> (paths, labels).

On-disk format (the official files, read as they are shipped):
  line 1   number of records
  line 2   the 40 attribute names, separated by spaces
  line 3+  `000001.jpg  -1  1  1 ...`: a file name, then one value per attribute, 1 or -1,
           separated by runs of spaces.

Splits:
  * Reference split (default): the record lines are taken in file order, shuffled with Python's
    `random.seed(1234); random.shuffle(lines)` as the reference data loader does, and record i of
    the shuffled list is a test record iff `(i + 1) < test_size`, the rest train. With the
    reference constant `REFERENCE_TEST_SIZE = 2000` (the default) that is 1,999 test records;
    smaller values are for small datasets (the synthetic one).
  * Partition mode: the official `list_eval_partition.txt` (`000001.jpg 0`; 0 train, 1 val,
    2 test), for comparisons with methods evaluated on the standard split. Records keep the
    attribute file's order.

Every image has exactly one record: a file name on two lines is an error (naming both lines), as
it would put one image into two splits, possibly with two different labels. Images that are
missing, corrupt or smaller than the crop are left out of every split by
`integrity.drop_bad_images`.
"""

import gc
import os
import random

from absl import logging
import numpy as np

from stargan_tf.data import integrity

REFERENCE_SEED = 1234
REFERENCE_TEST_SIZE = 2000  # the reference code's `(i + 1) < 2000`: 1,999 test records
SPLITS = ('train', 'val', 'test')
_PARTITION_IDS = {'train': '0', 'val': '1', 'test': '2'}
_VALUES = frozenset(('1', '-1'))
_REPORTED_BAD = 5

_HOW_TO_GET = (
    'CelebA is not downloaded automatically. Download img_align_celeba (the aligned and cropped '
    'JPEGs) and list_attr_celeba.txt by hand from the CelebA site '
    '(https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html) and pass their locations with '
    '--attr_path and --celeba_image_dir; or use configs/synthetic.flags for the built-in '
    'offline synthetic dataset.')

def read_attr_file(attr_path):
  """Parses a CelebA attribute file.

  Args:
    attr_path: path of `list_attr_celeba.txt` (or a file in the same layout).

  Returns:
    (attr_names, lines): the attribute names in file order, and one `(file_name, values)` per
    record in file order, values being the strings '1' or '-1'.

  Raises:
    FileNotFoundError: attr_path does not exist (the message says how to get CelebA).
    ValueError: a malformed line (names the file, the line number and what was expected), or a
      file name listed twice (names the file name and both lines).
  """
  if not os.path.isfile(attr_path):
    raise FileNotFoundError(f'CelebA attribute file not found: {attr_path!r}. {_HOW_TO_GET}')
  with open(attr_path, 'r') as f:
    text = f.read().splitlines()
  if len(text) < 2:
    raise ValueError(f'{attr_path}: expected a record count on line 1 and the attribute names '
                     f'on line 2, but the file has {len(text)} line(s).')
  try:
    count = int(text[0].strip())
  except ValueError:
    raise ValueError(f'{attr_path}, line 1: expected the number of records (an integer), got '
                     f'{text[0][:80]!r}.') from None
  attr_names = text[1].split()
  if not attr_names:
    raise ValueError(f'{attr_path}, line 2: expected the attribute names, got an empty line.')
  # 200k records make ~8M small objects without reference cycles; pausing the cyclic garbage
  # collector for the parse makes it about 3x faster.
  gc_was_enabled = gc.isenabled()
  gc.disable()
  try:
    lines = _parse_records(attr_path, text, len(attr_names))
  finally:
    if gc_was_enabled:
      gc.enable()
  if count != len(lines):
    logging.warning('%s: line 1 announces %d records but the file has %d.', attr_path, count,
                    len(lines))
  return attr_names, lines


def _parse_records(attr_path, text, num_attrs):
  """Parses and validates the record lines (text[2:]); blank lines are skipped."""
  lines, line_of = [], {}
  for line_no, line in enumerate(text[2:], start=3):
    fields = line.split()
    if not fields:
      continue
    name, values = fields[0], fields[1:]
    first = line_of.setdefault(name, line_no)
    if first != line_no:
      raise ValueError(f'{attr_path}: {name} has two records, on lines {first} and {line_no}; '
                       'every image must have exactly one (else it would be in two splits, '
                       'perhaps with two labels). Delete the wrong line.')
    if len(values) != num_attrs:
      raise ValueError(f'{attr_path}, line {line_no}: expected a file name and '
                       f'{num_attrs} values (one per attribute on line 2), got '
                       f'{len(values)} values.')
    if not _VALUES.issuperset(values):
      bad = next(v for v in values if v not in _VALUES)
      raise ValueError(f'{attr_path}, line {line_no}: expected attribute values 1 or -1, got '
                       f'{bad!r}.')
    lines.append((name, values))
  return lines


def _read_partition_file(partition_path):
  """Returns {file_name: partition id string} from `list_eval_partition.txt`."""
  if not os.path.isfile(partition_path):
    raise FileNotFoundError(
        f'CelebA partition file not found: {partition_path!r}. It is list_eval_partition.txt '
        f'from the CelebA site (Eval folder); omit it to use the reference split.')
  partition = {}
  with open(partition_path, 'r') as f:
    for line_no, line in enumerate(f, start=1):
      fields = line.split()
      if not fields:
        continue
      if len(fields) != 2 or fields[1] not in _PARTITION_IDS.values():
        raise ValueError(f'{partition_path}, line {line_no}: expected `<file name> <0|1|2>`'
                         f' (0 train, 1 val, 2 test), got {line.strip()[:80]!r}.')
      partition[fields[0]] = fields[1]
  return partition


def celeba_split(attr_path,
                 image_dir,
                 selected_attrs,
                 split,
                 crop_size,
                 partition_path=None,
                 test_size=REFERENCE_TEST_SIZE):
  """Builds one CelebA split.

  Args:
    attr_path: `list_attr_celeba.txt`.
    image_dir: folder holding the images named in the attribute file.
    selected_attrs: attribute names, the label columns in this order.
    split: 'train' or 'test' ('val' too with a partition file).
    crop_size: the center crop of preprocessing; smaller images are left out.
    partition_path: optional `list_eval_partition.txt`; None for the reference split.
    test_size: the reference split's constant: the first test_size - 1 shuffled records are
      the test split (ignored with a partition file).

  Returns:
    (paths, labels): image paths, and float32 [N, len(selected_attrs)] with 1.0 where the
    attribute value is 1 and 0.0 where it is -1. Images failing `integrity.verify_images` are
    left out (with one warning).
  """
  if split not in SPLITS or (split == 'val' and partition_path is None):
    valid = SPLITS if partition_path else ('train', 'test')
    raise ValueError(f'Unknown CelebA split {split!r}; expected one of {valid} '
                     f'(val needs a partition file).')
  if test_size < 1:
    raise ValueError(f'test_size must be >= 1 (test_size - 1 test records), got {test_size}.')
  attr_names, lines = read_attr_file(attr_path)
  unknown = [a for a in selected_attrs if a not in attr_names]
  if unknown:
    raise ValueError(f'Unknown CelebA attribute(s) {unknown} (from {attr_path}); valid names '
                     f'are: {" ".join(attr_names)}')
  if not os.path.isdir(image_dir):
    raise FileNotFoundError(f'CelebA image folder not found: {image_dir!r}. {_HOW_TO_GET}')

  if partition_path is None:
    # Same permutation as the reference's `random.seed(1234); random.shuffle(lines)` (the
    # module functions are methods of one hidden Random), without reseeding the global RNG.
    random.Random(REFERENCE_SEED).shuffle(lines)
    num_test = test_size - 1
    lines = lines[:num_test] if split == 'test' else lines[num_test:]
    source = f'{attr_path} (reference split, test_size={test_size})'
  else:
    partition = _read_partition_file(partition_path)
    missing = [name for name, _ in lines if name not in partition]
    if missing:
      raise ValueError(f'{partition_path} has no partition for {len(missing)} record(s) of '
                       f'{attr_path}, e.g. {missing[:_REPORTED_BAD]}.')
    lines = [(name, v) for name, v in lines if partition[name] == _PARTITION_IDS[split]]
    source = f'{attr_path} with {partition_path}'
  if not lines:
    raise ValueError(f'CelebA split {split!r} is empty ({source}).')

  columns = [attr_names.index(a) for a in selected_attrs]
  paths = [os.path.join(image_dir, name) for name, _ in lines]
  labels = np.array([[values[c] == '1' for c in columns] for _, values in lines],
                    dtype=np.float32).reshape([len(lines), len(columns)])
  return integrity.drop_bad_images(paths, labels, f'CelebA {split} split of {image_dir}',
                                   crop_size)
