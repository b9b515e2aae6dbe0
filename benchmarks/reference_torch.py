"""The reference PyTorch StarGAN beside ours: --reference_model, loading the user's model.py, and
timing the reference's training iteration and generator inference on the CPU.

The reference is the authors' implementation (https://github.com/yunjey/stargan). Its model.py
defines `Generator(conv_dim, c_dim, repeat_num)` and `Discriminator(image_size, conv_dim, c_dim,
repeat_num)`; the user clones the repository and passes the file's path. The file is imported from
that path: none of its code is in this repository. PyTorch is optional and imported only when the
flag is given; the CPU build is enough (`pip install torch`, CPU wheel).

The training iteration is written here from the paper (Choi et al. 2018: adversarial loss with a
gradient penalty, domain classification, reconstruction), on the reference's networks, with the
reference's schedule: a D update every iteration, a G update every n_critic-th.

  D: -mean(D_src(x)) + mean(D_src(G(x, c_trg))) + lambda_cls * BCE(D_cls(x), c_org)
     + lambda_gp * mean((||grad_x_hat D_src(x_hat)||_2 - 1)^2),
     x_hat = alpha x + (1 - alpha) G(x, c_trg), alpha ~ U(0, 1) per image; the fake is detached,
     and the penalty's gradient is built with create_graph=True (a double backward).
  G: -mean(D_src(G(x, c_trg))) + lambda_cls * BCE(D_cls(G(x, c_trg)), c_trg)
     + lambda_rec * mean|x - G(G(x, c_trg), c_org)|.

BCE is binary cross-entropy with logits, summed over the attributes and averaged over the batch.
Both networks train with Adam. D's parameters keep requires_grad during the G step, as in the
reference (its G backward also computes D's weight gradients, which the next D step clears).
"""

import importlib.util
import inspect
import os
import sys

from absl import flags
from absl import logging
import numpy as np

import machine  # benchmarks/machine.py, beside this file

REFERENCE_URL = 'https://github.com/yunjey/stargan'
EXPECTED_CLASSES = {
    'Generator': ('conv_dim', 'c_dim', 'repeat_num'),
    'Discriminator': ('image_size', 'conv_dim', 'c_dim', 'repeat_num'),
}
EXPECTED = (f'the reference StarGAN model.py ({REFERENCE_URL}) defining '
            + ' and '.join(f'{name}({", ".join(args)})' for name, args in EXPECTED_CLASSES.items()))
TORCH_MISSING = ('--reference_model needs PyTorch, which is not installed: pip install torch '
                 '(the CPU build is enough).')
# PyTorch's OpenMP threads spin while they wait for each other: on a machine whose cores other
# processes keep busy, a descheduled thread stalls the rest and the reference's times get worse
# many times over (seen on a shared 2-core VM: two threads far slower than one; the environment
# variable OMP_WAIT_POLICY=PASSIVE avoided it there, but it is not PyTorch's default).
BUSY_WARNING = ('warning: load average >= PyTorch threads; on a busy machine the reference\'s '
                'times are unreliable')

flags.DEFINE_string(
    'reference_model', '',
    'Optional: path to the reference PyTorch implementation\'s model.py (git clone '
    f'{REFERENCE_URL}; pass stargan/model.py) to time the reference beside ours. Needs PyTorch '
    '(pip install torch, the CPU build).')


class ReferenceModelError(Exception):
  """--reference_model cannot be used; the message says why, in one line."""


def import_torch():
  """The torch module; ReferenceModelError saying how to install it when it is missing."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise ReferenceModelError(TORCH_MISSING) from None
  return torch


def _accepts(cls, names):
  """The names among `names` that cls(...) does not take as keywords."""
  try:
    parameters = inspect.signature(cls).parameters
  except (TypeError, ValueError):
    return []  # no signature to read: calling it will tell
  if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
    return []
  return [n for n in names if n not in parameters]


def load(path):
  """Imports the reference's model.py from `path` (and PyTorch).

  Args:
    path: the file, e.g. stargan/model.py in a clone of the reference repository.

  Returns:
    A `Reference`.

  Raises:
    ReferenceModelError: the file is missing, PyTorch is not installed, the file does not import,
      or it lacks the expected classes; the message names the path and what was expected.
  """
  if not os.path.isfile(path):
    raise ReferenceModelError(f'--reference_model={path}: no such file; expected {EXPECTED}.')
  torch = import_torch()
  spec = importlib.util.spec_from_file_location('stargan_reference_model', path)
  if spec is None or spec.loader is None:
    raise ReferenceModelError(f'--reference_model={path}: not a Python file; expected '
                              f'{EXPECTED}.')
  module = importlib.util.module_from_spec(spec)
  sys.modules[spec.name] = module  # as an import would (dataclasses, pickling look it up)
  try:
    spec.loader.exec_module(module)
  except Exception as e:  # pylint: disable=broad-except (the user's file: say which and why)
    del sys.modules[spec.name]
    raise ReferenceModelError(f'--reference_model={path}: importing it failed '
                              f'({type(e).__name__}: {" ".join(str(e).split())}); expected '
                              f'{EXPECTED}.') from e
  problems = []
  for name, args in EXPECTED_CLASSES.items():
    cls = getattr(module, name, None)
    if not isinstance(cls, type):
      problems.append(f'no class {name}')
    elif _accepts(cls, args):
      problems.append(f'{name} does not take {", ".join(_accepts(cls, args))}')
  if problems:
    raise ReferenceModelError(f'--reference_model={path}: {"; ".join(problems)}; expected '
                              f'{EXPECTED}.')
  return Reference(torch, module, path)


def load_or_exit(path):
  """`load(path)` for a script's main: None without a path; on ReferenceModelError prints it as
  one line on stderr and exits with status 1."""
  if not path:
    return None
  try:
    return load(path)
  except ReferenceModelError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


def _nchw(x):
  return np.ascontiguousarray(np.transpose(np.asarray(x, np.float32), (0, 3, 1, 2)))


class Reference:
  """The reference's networks on the CPU, with as many PyTorch threads as this process may use."""

  def __init__(self, torch, module, path):
    self.torch = torch
    self.module = module
    self.path = path
    self.threads = machine.usable_cores()
    torch.set_num_threads(self.threads)

  @property
  def version(self):
    return self.torch.__version__.split('+')[0]

  @property
  def label(self):
    """'PyTorch x.y.z', for table rows."""
    return f'PyTorch {self.version}'

  def describe(self):
    """Header lines (without '# '): the PyTorch version, threads and model file, and a warning
    when the machine is busy."""
    lines = [f'{self.label} ({self.torch.__version__}), CPU, {self.threads} threads, model '
             f'{os.path.abspath(self.path)}']
    if os.getloadavg()[0] >= self.threads:
      lines.append(BUSY_WARNING)
      logging.warning('%s', BUSY_WARNING)
    return lines

  def train_cycle(self, image_size, batch_size, c_dim, g_conv_dim, g_repeat_num, d_conv_dim,
                  d_repeat_num, lr, beta1, beta2, lambda_cls, lambda_rec, lambda_gp, n_critic,
                  seed=0):
    """Builds the reference's G and D with Adam, and returns cycle(): n_critic D steps then one G
    step on a fixed random batch, returning when they are done.

    Args:
      image_size: image side.
      batch_size: images per step.
      c_dim: label width.
      g_conv_dim: G's first layer's channels.
      g_repeat_num: G's residual blocks.
      d_conv_dim: D's first layer's channels.
      d_repeat_num: D's strided convolutions.
      lr: the learning rate of both optimisers.
      beta1: Adam's beta1.
      beta2: Adam's beta2.
      lambda_cls: weight of the domain classification losses.
      lambda_rec: weight of the reconstruction loss.
      lambda_gp: weight of the gradient penalty.
      n_critic: D steps per G step.
      seed: random weights, batch and draws.

    Returns:
      A function of no arguments running one cycle; it returns (last D loss, G loss) as floats.
    """
    torch = self.torch
    functional = torch.nn.functional
    torch.manual_seed(seed)
    G = self.module.Generator(conv_dim=g_conv_dim, c_dim=c_dim, repeat_num=g_repeat_num)
    D = self.module.Discriminator(image_size=image_size, conv_dim=d_conv_dim, c_dim=c_dim,
                                  repeat_num=d_repeat_num)
    G.train()
    D.train()
    g_opt = torch.optim.Adam(G.parameters(), lr, betas=(beta1, beta2))
    d_opt = torch.optim.Adam(D.parameters(), lr, betas=(beta1, beta2))
    r = np.random.default_rng(seed)
    x = torch.from_numpy(_nchw(r.uniform(-1, 1, [batch_size, image_size, image_size, 3])))
    c_org = torch.from_numpy(r.integers(0, 2, [batch_size, c_dim]).astype(np.float32))

    def classification(logits, target):
      return functional.binary_cross_entropy_with_logits(
          logits, target, reduction='sum') / logits.shape[0]

    def d_step(c_trg):
      fake = G(x, c_trg).detach()
      src_real, cls_real = D(x)
      src_fake, _ = D(fake)
      alpha = torch.rand(batch_size, 1, 1, 1)
      x_hat = (alpha * x + (1 - alpha) * fake).requires_grad_(True)
      src_hat, _ = D(x_hat)
      grad, = torch.autograd.grad(src_hat.sum(), x_hat, create_graph=True)
      penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
      loss = (-src_real.mean() + src_fake.mean() + lambda_cls * classification(cls_real, c_org)
              + lambda_gp * penalty)
      d_opt.zero_grad()
      loss.backward()
      d_opt.step()
      return loss.item()

    def g_step(c_trg):
      fake = G(x, c_trg)
      src_fake, cls_fake = D(fake)
      reconstruction = G(fake, c_org)
      loss = (-src_fake.mean() + lambda_cls * classification(cls_fake, c_trg)
              + lambda_rec * (x - reconstruction).abs().mean())
      g_opt.zero_grad()
      loss.backward()
      g_opt.step()
      return loss.item()

    def cycle():
      for _ in range(n_critic):
        c_trg = c_org[torch.randperm(batch_size)]  # the batch's labels, shuffled
        d_loss = d_step(c_trg)
      return d_loss, g_step(c_trg)

    logging.info('Reference: G %s, D %s parameters at %d px.',
                 f'{sum(p.numel() for p in G.parameters()):,}',
                 f'{sum(p.numel() for p in D.parameters()):,}', image_size)
    return cycle

  def generator(self, c_dim, conv_dim, repeat_num, seed=0):
    """The reference's G as fn(x [N, H, W, 3], c [N, c_dim]) -> numpy [N, 3, H, W].

    It translates as the reference's test code does: under torch.no_grad(), with G left in
    training mode (that code never calls eval()). Its InstanceNorm2d layers track running
    statistics, which eval() would use; in training mode each image is normalised with its own
    statistics (the running ones are updated, unused).
    """
    torch = self.torch
    torch.manual_seed(seed)
    G = self.module.Generator(conv_dim=conv_dim, c_dim=c_dim, repeat_num=repeat_num)
    G.train()
    tracking = [m for m in G.modules() if getattr(m, 'track_running_stats', False)]
    logging.info('Reference G: %s parameters, %d of its norms track running statistics; timed in '
                 'training mode under no_grad, as its test code runs.',
                 f'{sum(p.numel() for p in G.parameters()):,}', len(tracking))

    def generate(x, c):
      x = torch.from_numpy(_nchw(x))
      c = torch.from_numpy(np.asarray(c, np.float32))
      with torch.no_grad():
        return G(x, c).numpy()

    return generate

