"""Imports StarGAN checkpoints of the reference PyTorch implementation as a run, without PyTorch.

The authors' released models, and models trained with their code, are state dicts written by
torch.save: `<step>-G.ckpt` for the generator, `<step>-D.ckpt` for the discriminator.
`import_run` reads them (`torch_checkpoint`, which runs no code from the files), puts their
weights into this project's Generator and Discriminator as the flags describe them, and writes
a run folder (`runs.Run`) that translate, evaluate, export, tflite and training read as if the run
had been trained here.

Names. The reference keeps each network's layers in an nn.Sequential `main`, where activations
take indices too. For G with R residual blocks (reference index: this project's layer):

  main.0 conv 7x7 (3 + label columns -> conv_dim): conv_in   main.1 instance norm: norm_in
  main.3, main.6 conv 4x4 stride 2: down1_conv, down2_conv   main.4, main.7: down1_norm, down2_norm
  main.9 ... main.<8 + R> residual blocks: res1 ... resR, each with its own `main`:
      .0 conv 3x3: conv1   .1: norm1   (.2 ReLU)   .3 conv 3x3: conv2   .4: norm2
  main.<9 + R>, main.<12 + R> transposed conv 4x4 stride 2: up1_conv, up2_conv
  main.<10 + R>, main.<13 + R>: up1_norm, up2_norm
  main.<15 + R> conv 7x7 (-> 3): conv_out                      (main.<16 + R> Tanh)

The ReLUs sit at 2, 5, 8, 11 + R and 14 + R. D with M strided convolutions: main.0, main.2, ...,
main.<2M - 2> (weight and bias; LeakyReLUs between) are conv1 ... convM, `conv1` (3x3, one output)
is conv_src and `conv2` (image_size / 2**M square, one output per domain) is conv_cls.

Layouts. PyTorch's Conv2d weight is [out, in, kh, kw] and Keras' Conv2D kernel [kh, kw, in, out];
ConvTranspose2d's weight is [in, out, kh, kw] and Keras' Conv2DTranspose kernel [kh, kw, out, in].
Both are the axis permutation (2, 3, 1, 0), without a spatial flip: either pair defines the
transposed convolution as the adjoint of the convolution with the same kernel (and
`tests/test_models.py` checks the padding equivalence). Instance norm's weight and bias are the
layer's gamma and beta.

Running statistics. The reference's InstanceNorm2d layers track running means and variances (and,
since torch 0.4.1, a batch counter). They are ignored on purpose: the reference translates with
its networks in training mode, where instance norm uses each image's own statistics, and this
project's instance norm always does.

Checks. Every key the flags' model needs must be in the file with its shape, and every other key
must be a running statistic (running_mean, running_var, num_batches_tracked); otherwise the
import is refused with one message listing the missing, unexpected and mis-shaped keys of each
file and the flags that would fit the files (read off their shapes: conv_dim, repeat_num, label
columns, domains, image size). Non-finite weights are refused too.

What the run holds. config.json is the configuration the flags describe (the same as a training
run's: `translate` reads its data paths, training its schedule). The checkpoint's step is --step,
else the number the file names start with (200000 for 200000-G.ckpt), else 0. With the
discriminator it is a training checkpoint (`runs.training_checkpoint`): G, D, fresh Adam
optimizers (zero moments, iteration count 0: the files hold no optimizer state), the step and
a random generator seeded by --seed, so training resumes from it at that step. Without it the
checkpoint holds G alone: translate (not --input_dir, which reads the images' attributes off D),
evaluate, export and tflite work; training refuses it.

Writing. The run folder is assembled in a hidden temporary folder beside --work_dir and renamed
into place when complete, so a refused or killed import leaves nothing under that name; an
existing non-empty folder is never written into.
"""

import dataclasses
import os
import re

from absl import logging
import numpy as np
import tensorflow as tf

from stargan_tf import fileio
from stargan_tf import models
from stargan_tf import runs
from stargan_tf import torch_checkpoint

# The buffers of the reference's InstanceNorm2d(track_running_stats=True), not used (see above).
IGNORED_NORM_BUFFERS = ('running_mean', 'running_var', 'num_batches_tracked')
# 200000-G.ckpt -> 200000, the reference's '{step}-G.ckpt' / '{step}-D.ckpt' names.
_STEP_IN_NAME = re.compile(r'^(\d+)-')
_LIST_LIMIT = 6  # keys listed per kind of difference before '...'
_NETWORKS = {'G': 'generator', 'D': 'discriminator'}


@dataclasses.dataclass(frozen=True)
class Imported:
  """What `import_run` wrote: the run folder, its checkpoint, the step and whether D is in it."""
  work_dir: str
  checkpoint: str
  step: int
  with_discriminator: bool


def generator_layers(G):
  """[(reference module name, Keras layer)] of every layer of G that has weights."""
  r = G.repeat_num
  layers = [('main.0', G.conv_in), ('main.1', G.norm_in),
            ('main.3', G.down1_conv), ('main.4', G.down1_norm),
            ('main.6', G.down2_conv), ('main.7', G.down2_norm)]
  for i in range(1, r + 1):
    block, prefix = getattr(G, f'res{i}'), f'main.{8 + i}.main'
    layers += [(f'{prefix}.0', block.conv1), (f'{prefix}.1', block.norm1),
               (f'{prefix}.3', block.conv2), (f'{prefix}.4', block.norm2)]
  return layers + [(f'main.{9 + r}', G.up1_conv), (f'main.{10 + r}', G.up1_norm),
                   (f'main.{12 + r}', G.up2_conv), (f'main.{13 + r}', G.up2_norm),
                   (f'main.{15 + r}', G.conv_out)]


def discriminator_layers(D):
  """[(reference module name, Keras layer)] of every layer of D."""
  layers = [(f'main.{2 * (i - 1)}', getattr(D, f'conv{i}')) for i in range(1, D.repeat_num + 1)]
  return layers + [('conv1', D.conv_src), ('conv2', D.conv_cls)]


def weight_map(layers):
  """{state dict key: Keras variable} of `layers`."""
  weights = {}
  for prefix, layer in layers:
    if isinstance(layer, models.InstanceNormalization):
      weights[f'{prefix}.weight'] = layer.gamma
      weights[f'{prefix}.bias'] = layer.beta
    else:
      weights[f'{prefix}.weight'] = layer.kernel
      if layer.use_bias:
        weights[f'{prefix}.bias'] = layer.bias
  return weights


def is_ignored(key):
  """Whether `key` is a running-statistics buffer of instance norm (read, never used)."""
  return key.rsplit('.', 1)[-1] in IGNORED_NORM_BUFFERS


def torch_shape(variable):
  """The shape the reference stores `variable` in: kernels [out, in, kh, kw] for a convolution,
  [in, out, kh, kw] for a transposed one (both the permutation (3, 2, 0, 1) of Keras' kernel)."""
  shape = tuple(variable.shape)
  return tuple(shape[i] for i in (3, 2, 0, 1)) if len(shape) == 4 else shape


def to_keras(array):
  """A reference weight in Keras' layout (kernels permuted (2, 3, 1, 0)), as float32."""
  array = np.asarray(array, np.float32)
  return np.transpose(array, (2, 3, 1, 0)) if array.ndim == 4 else array


def checkpoint_step(generator, discriminator='', step=None):
  """The step to write: `step`, else the number the file names start with (200000-G.ckpt), else 0.

  Raises:
    ValueError: the two names hold different numbers (and `step` is None).
  """
  if step is not None:
    return step
  found = {}
  for flag, path in (('--generator', generator), ('--discriminator', discriminator)):
    match = _STEP_IN_NAME.match(os.path.basename(path)) if path else None
    if match:
      found[flag] = int(match.group(1))
  if len(set(found.values())) > 1:
    raise ValueError(f'--generator={generator} and --discriminator={discriminator} are of '
                     f'different steps ({found["--generator"]} and {found["--discriminator"]}): '
                     'give the G and D saved together, or --step to write them as one step.')
  return next(iter(found.values()), 0)


def _listing(keys):
  keys = sorted(keys, key=_natural)
  shown = ', '.join(keys[:_LIST_LIMIT])
  return shown + (f', ... ({len(keys) - _LIST_LIMIT} more)' if len(keys) > _LIST_LIMIT else '')


def _natural(key):
  """Sort key: main.9 before main.10."""
  return [int(p) if p.isdigit() else p for p in re.split(r'(\d+)', key)]


def differences(state, weights):
  """What keeps `state` from loading into `weights`: ['missing ...', 'unexpected ...',
  'mis-shaped ...'] (empty when it fits). Running statistics are never unexpected: a module
  they belong to that does not fit shows with its weights."""
  missing = [k for k in weights if k not in state]
  unexpected = [k for k in state if k not in weights and not is_ignored(k)]
  misshaped = [f'{k} {tuple(state[k].shape)} (expected {torch_shape(v)})'
               for k, v in weights.items() if k in state and state[k].shape != torch_shape(v)]
  found = []
  for kind, keys in (('missing', missing), ('unexpected', unexpected),
                     ('mis-shaped', misshaped)):
    if keys:
      found.append(f'{kind} {_listing(keys)}')
  return found


def _count(state, template, start, step):
  """How many consecutive keys template.format(start), template.format(start + step), ... exist."""
  n = 0
  while template.format(start + n * step) in state:
    n += 1
  return n


def _generator_found(state):
  """The flags a generator state dict was saved with, read off its shapes ({} if it does not look
  like a generator's: a 7x7 first convolution, no classifier)."""
  first = state.get('main.0.weight')
  if first is None or first.ndim != 4 or first.shape[2:] != (7, 7) or 'conv2.weight' in state:
    return {}
  return {'g_conv_dim': first.shape[0], 'label_dim': first.shape[1] - 3,
          'g_repeat_num': _count(state, 'main.{}.main.0.weight', 9, 1)}


def _discriminator_found(state):
  """The flags a discriminator state dict was saved with, read off its shapes ({} if
  unreadable)."""
  first, cls = state.get('main.0.weight'), state.get('conv2.weight')
  repeat = _count(state, 'main.{}.weight', 0, 2)
  if first is None or cls is None or first.ndim != 4 or cls.ndim != 4 or not repeat:
    return {}
  return {'d_conv_dim': first.shape[0], 'd_repeat_num': repeat, 'num_domains': cls.shape[0],
          'image_size': cls.shape[2] * 2 ** repeat}


def _label_hint(config, label_dim, num_domains):
  """The label flags for a G of `label_dim` label columns and a D of `num_domains` domains (None:
  no D), or None when the flags' label space already fits."""
  space = config.label_space
  if label_dim == space.label_dim and num_domains in (None, space.num_domains):
    return None
  if label_dim is not None and num_domains is not None and label_dim == num_domains + 2:
    return (f'--dataset=Both with --c_dim plus --c2_dim = {num_domains} (the files are a joint '
            f'model: {num_domains} domains and a 2-column mask vector; CelebA + RaFD is '
            '--c_dim=5 --c2_dim=8)')
  width = num_domains if num_domains is not None else label_dim
  if config.data.dataset == 'Both':
    return (f'--dataset=Both takes c_dim + c2_dim + 2 label columns, the generator '
            f'{label_dim}: give --c_dim and --c2_dim that add up to {label_dim - 2}, or '
            f'--dataset=CelebA or RaFD with --c_dim={width} for a single-dataset model')
  celeba = f'{width} --selected_attrs (--flagfile=configs/celeba.flags names 5)'
  rafd = f'{width} class folders in --rafd_image_dir (--flagfile=configs/rafd.flags: 8)'
  if config.data.dataset == 'RaFD':
    return f'--c_dim={width} with {rafd}, or --dataset=CelebA with {celeba}'
  return f'--c_dim={width} with {celeba}, or --dataset=RaFD with {rafd}'


def suggestions(config, g_state, d_state):
  """The flags under which the files would fit, read off their shapes (may be empty)."""
  m = config.model
  g_found = _generator_found(g_state)
  d_found = _discriminator_found(d_state) if d_state is not None else {}
  hints = [f'--{name}={value}' for name, value in {**g_found, **d_found}.items()
           if hasattr(m, name) and value != getattr(m, name)]
  label = _label_hint(config, g_found.get('label_dim'), d_found.get('num_domains'))
  if label and (g_found or d_found):
    hints.append(label)
  if 'conv2.weight' in g_state:
    hints.append('--generator names a discriminator file (it has conv1 and conv2): are '
                 '--generator and --discriminator swapped?')
  if d_state is not None and 'main.1.weight' in d_state:
    hints.append('--discriminator names a generator file (it has instance norm weights): are '
                 '--generator and --discriminator swapped?')
  return hints


def _describe(config, role):
  m, space = config.model, config.label_space
  if role == 'G':
    return (f'g_conv_dim {m.g_conv_dim}, g_repeat_num {m.g_repeat_num}, {space.label_dim} label '
            'columns')
  return (f'image_size {m.image_size}, d_conv_dim {m.d_conv_dim}, d_repeat_num {m.d_repeat_num}, '
          f'{space.num_domains} domains')


def _check_new_folder(run):
  """Refuses a --work_dir that exists and is not an empty folder (nothing is overwritten)."""
  work_dir = run.work_dir
  if not os.path.lexists(work_dir) or (os.path.isdir(work_dir) and not os.listdir(work_dir)):
    return
  steps = run.checkpoint_steps()
  held = (f'checkpoints ({", ".join(f"ckpt-{s}" for s in steps)})' if steps else
          'files' if os.path.isdir(work_dir) else 'a file of that name')
  raise FileExistsError(f'--work_dir={work_dir} already holds {held}; an import writes a new run '
                        'folder and never overwrites one: choose another --work_dir.')


def _read(path, flag):
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{flag}={path}: no such file; give the reference implementation\'s '
                            'checkpoint (e.g. 200000-G.ckpt).')
  state = torch_checkpoint.load_state_dict(path)
  logging.info('Read %s: %d tensors, %.1f M values.', path, len(state),
               sum(v.size for v in state.values()) / 1e6)
  return state


def import_run(config, generator, discriminator='', step=None):
  """Writes the run folder config.train.work_dir from the reference's checkpoint files.

  Args:
    config: the validated `config.Config` the flags describe: the model (image size, conv dims,
      repeat nums), the labels and the run folder; written as the run's config.json.
    generator: the generator's state dict file (e.g. 200000-G.ckpt), either torch.save format.
    discriminator: the discriminator's file (e.g. 200000-D.ckpt), or '' for a run holding G only.
    step: the checkpoint's step; None: from the file names (see `checkpoint_step`).

  Returns:
    An `Imported`.

  Raises:
    FileExistsError: --work_dir exists and is not empty.
    FileNotFoundError: a file is missing.
    torch_checkpoint.CheckpointError: a file is not a readable PyTorch state dict.
    ValueError: the files do not fit the flags' model (the message lists every difference and
      the flags that would fit), hold non-finite weights, or name different steps.
  """
  run = runs.Run(config.train.work_dir)
  _check_new_folder(run)
  step = checkpoint_step(generator, discriminator, step)
  files = {'G': ('--generator', generator)}
  if discriminator:
    files['D'] = ('--discriminator', discriminator)
  states = {role: _read(path, flag) for role, (flag, path) in files.items()}

  G, D = models.build(config.model, config.label_space)
  networks = {'G': generator_layers(G), 'D': discriminator_layers(D)}
  maps = {role: weight_map(networks[role]) for role in files}
  problems = []
  for role, (flag, path) in files.items():
    found = differences(states[role], maps[role])
    if found:
      problems.append(f'{flag}={path} does not fit the {_NETWORKS[role]} the flags describe '
                      f'({_describe(config, role)}): {"; ".join(found)}.')
  if problems:
    hints = suggestions(config, states['G'], states.get('D'))
    raise ValueError(' '.join(problems) + (f' Flags that fit the files: {"; ".join(hints)}.'
                                           if hints else ' No flags explain the difference: '
                                           'is it a StarGAN checkpoint of the reference code?'))
  for role, (flag, path) in files.items():
    bad = [k for k in maps[role] if not np.all(np.isfinite(states[role][k]))]
    if bad:
      raise ValueError(f'{flag}={path} holds non-finite values (NaN or infinity) in '
                       f'{_listing(bad)}: the model diverged before it was saved.')
  for role in files:
    for key, variable in maps[role].items():
      variable.assign(to_keras(states[role][key]))
  ignored = sum(is_ignored(k) for role in files for k in states[role])
  if ignored:
    logging.info('Ignored %d running-statistics buffers of instance norm (statistics are always '
                 'computed per image, as the reference does when translating).', ignored)
  return _write(run, config, G, D if discriminator else None, step)


def _write(run, config, G, D, step):
  """Writes config.json and the checkpoint into `run`'s folder, atomically; returns Imported."""
  t = config.train
  if D is None:
    checkpoint = tf.train.Checkpoint(G=G)
  else:
    checkpoint = runs.training_checkpoint(
        G, D, runs.build_optimizer(t.g_lr, t, G.trainable_variables),
        runs.build_optimizer(t.d_lr, t, D.trainable_variables),
        tf.Variable(step, dtype=tf.int64, trainable=False, name='step'),
        tf.random.Generator.from_seed(t.seed))
  fileio.remove_stale(run.work_dir)
  with fileio.atomic_dir(run.work_dir, replace_empty=True) as tmp:
    staged = runs.Run(tmp)
    staged.save_config(config)
    manager = tf.train.CheckpointManager(checkpoint, staged.checkpoint_dir,
                                         max_to_keep=t.max_to_keep)
    written = manager.save(checkpoint_number=step)
    name = os.path.relpath(written, tmp)
  path = os.path.join(run.work_dir, name)
  logging.info('Wrote %s (%s) and %s.', path, 'G only' if D is None else
               'G, D, fresh Adam optimizers, step, random generator', run.config_path)
  return Imported(run.work_dir, path, step, D is not None)
