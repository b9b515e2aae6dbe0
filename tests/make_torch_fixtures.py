"""Writes the PyTorch fixtures of test_import_torch.py; needs PyTorch, which the tests do not.

  pip install torch && python tests/make_torch_fixtures.py     # rewrites tests/fixtures/torch/

The networks are written here with the module structure and names of the reference
implementation's model.py (an nn.Sequential `main` in G, D and each residual block, D's `conv1`
and `conv2`, InstanceNorm2d with affine weights and tracked running statistics), so their state
dicts have the keys of the authors' released files. Each fixture set is a tiny G and D at 32 px
with random weights, random instance-norm affine weights and running statistics far from 0 and 1
(which the importer must ignore), saved by torch.save in both of its formats:

  celeba/{legacy,zip}/1000-{G,D}.ckpt   5 labels; G conv_dim 4 with 2 residual blocks, D conv_dim 4
                                        with 3 strided convolutions (a 4x4 classifier kernel)
  joint/zip/500-{G,D}.ckpt              the CelebA + RaFD layout: G takes 5 + 8 + 2 label columns,
                                        D classifies 13 domains; 1 residual block
  half/{legacy,zip}/1000-D.ckpt         the celeba D in float16 storages

expected.npz holds, per set, a fixed input `<set>_pixels` [2, 32, 32, 3] (NHWC uint8, the image
`pixels(...)` turns into [-1, 1]; kept as bytes, which is 8 times smaller), labels `<set>_c`
and what PyTorch computes from them: `<set>_g` (G, NHWC), `<set>_d_src` (NHWC) and `<set>_d_cls`.
G runs in training mode, as the reference translates (instance norm with each image's own
statistics); the half set's outputs are the float32 D holding the float16-rounded weights, on the
celeba input. Together the files are about 380 KB.

The module-level builders are also used by the tests that run with PyTorch installed.
"""

import copy
import os

import numpy as np
import torch
from torch import nn

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'torch')
FORMATS = ('legacy', 'zip')


class ResidualBlock(nn.Module):
  """The reference's residual block: conv3x3-IN-ReLU-conv3x3-IN in `main`, plus the input."""

  def __init__(self, dim):
    super().__init__()
    self.main = nn.Sequential(
        nn.Conv2d(dim, dim, 3, 1, 1, bias=False), _norm(dim), nn.ReLU(inplace=True),
        nn.Conv2d(dim, dim, 3, 1, 1, bias=False), _norm(dim))

  def forward(self, x):
    return x + self.main(x)


def _norm(dim):
  return nn.InstanceNorm2d(dim, affine=True, track_running_stats=True)


class Generator(nn.Module):
  """The reference's G: its layers in one Sequential `main` (activations included)."""

  def __init__(self, conv_dim=64, c_dim=5, repeat_num=6):
    super().__init__()
    layers = [nn.Conv2d(3 + c_dim, conv_dim, 7, 1, 3, bias=False), _norm(conv_dim),
              nn.ReLU(inplace=True)]
    dim = conv_dim
    for _ in range(2):
      layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1, bias=False), _norm(dim * 2),
                 nn.ReLU(inplace=True)]
      dim *= 2
    layers += [ResidualBlock(dim) for _ in range(repeat_num)]
    for _ in range(2):
      layers += [nn.ConvTranspose2d(dim, dim // 2, 4, 2, 1, bias=False), _norm(dim // 2),
                 nn.ReLU(inplace=True)]
      dim //= 2
    layers += [nn.Conv2d(dim, 3, 7, 1, 3, bias=False), nn.Tanh()]
    self.main = nn.Sequential(*layers)

  def forward(self, x, c):
    c = c[:, :, None, None].expand(-1, -1, x.size(2), x.size(3))
    return self.main(torch.cat([x, c], dim=1))


class Discriminator(nn.Module):
  """The reference's D: strided convs with LeakyReLU in `main`, then `conv1` and `conv2`."""

  def __init__(self, image_size=128, conv_dim=64, c_dim=5, repeat_num=6):
    super().__init__()
    layers, dim_in, dim = [], 3, conv_dim
    for _ in range(repeat_num):
      layers += [nn.Conv2d(dim_in, dim, 4, 2, 1), nn.LeakyReLU(0.01)]
      dim_in, dim = dim, dim * 2
    self.main = nn.Sequential(*layers)
    self.conv1 = nn.Conv2d(dim_in, 1, 3, 1, 1, bias=False)
    self.conv2 = nn.Conv2d(dim_in, c_dim, image_size // 2 ** repeat_num, bias=False)

  def forward(self, x):
    h = self.main(x)
    return self.conv1(h), self.conv2(h).view(x.size(0), -1)


def make_networks(image_size, g_conv_dim, d_conv_dim, g_repeat_num, d_repeat_num, label_dim,
                  num_domains, seed):
  """(G, D) with random weights: G PyTorch's initial ones, with random instance-norm weights and
  running statistics; D's drawn to keep its activations' scale (He initialisation for its
  LeakyReLUs, random biases), so that its outputs are of order 1 as a trained D's are (PyTorch's
  default initialisation shrinks them layer after layer, to about 1e-5 at 128 px, where an
  absolute tolerance would check nothing)."""
  torch.manual_seed(seed)
  G = Generator(g_conv_dim, label_dim, g_repeat_num)
  D = Discriminator(image_size, d_conv_dim, num_domains, d_repeat_num)
  with torch.no_grad():
    for module in D.modules():
      if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, a=0.01, nonlinearity='leaky_relu')
        if module.bias is not None:
          module.bias.normal_(0, 0.1)
    for module in G.modules():
      if isinstance(module, nn.InstanceNorm2d):
        module.weight.uniform_(0.5, 1.5)
        module.bias.normal_(0, 0.3)
        module.running_mean.normal_(0, 3)
        module.running_var.uniform_(5, 10)
        module.num_batches_tracked.fill_(1234)
  return G, D


def save(state_dict, path, fmt):
  """torch.save in the zip format or the legacy one (the format of the released files)."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  torch.save(state_dict, path, _use_new_zipfile_serialization=fmt == 'zip')


def pixels(values):
  """uint8 images -> float32 in [-1, 1], exactly as the tests compute it."""
  return values.astype(np.float32) / np.float32(127.5) - np.float32(1)


def inputs(image_size, label_dim, seed, n=2):
  """(uint8 images NHWC, x NCHW float32 tensor in [-1, 1], c [n, label_dim] float32 tensor)."""
  r = np.random.default_rng(seed)
  images = r.integers(0, 256, [n, image_size, image_size, 3]).astype(np.uint8)
  c = r.integers(0, 2, [n, label_dim]).astype(np.float32)
  return images, torch.from_numpy(pixels(images).transpose(0, 3, 1, 2).copy()), torch.from_numpy(c)


def outputs(G, D, x, c):
  """{'g', 'd_src', 'd_cls'} as numpy, images NHWC. G runs in training mode, as the reference
  translates (instance norm from each image's statistics; running statistics never read)."""
  G = copy.deepcopy(G).train()  # training mode updates the copy's running statistics, not G's
  nhwc = lambda t: t.permute(0, 2, 3, 1).numpy()
  with torch.no_grad():
    out = {'g': nhwc(G(x, c))}
    if D is not None:
      src, cls = D(x)
      out.update(d_src=nhwc(src), d_cls=cls.numpy())
  return out


def main():
  expected = {}
  sets = {'celeba': dict(label_dim=5, num_domains=5, g_repeat_num=2, seed=0, step=1000,
                         formats=FORMATS),
          'joint': dict(label_dim=15, num_domains=13, g_repeat_num=1, seed=1, step=500,
                        formats=('zip',))}
  for name, s in sets.items():
    G, D = make_networks(32, 4, 4, s['g_repeat_num'], 3, s['label_dim'], s['num_domains'],
                         s['seed'])
    for fmt in s['formats']:
      save(G.state_dict(), os.path.join(FIXTURES, name, fmt, f'{s["step"]}-G.ckpt'), fmt)
      save(D.state_dict(), os.path.join(FIXTURES, name, fmt, f'{s["step"]}-D.ckpt'), fmt)
    images, x, c = inputs(32, s['label_dim'], s['seed'])
    expected.update({f'{name}_pixels': images, f'{name}_c': c.numpy()})
    expected.update({f'{name}_{k}': v for k, v in outputs(G, D, x, c).items()})
    if name == 'celeba':
      half = copy.deepcopy(D).half()
      for fmt in FORMATS:
        save(half.state_dict(), os.path.join(FIXTURES, 'half', fmt, '1000-D.ckpt'), fmt)
      out = outputs(G, half.float(), x, c)
      expected.update(half_d_src=out['d_src'], half_d_cls=out['d_cls'])
  np.savez(os.path.join(FIXTURES, 'expected.npz'), **expected)
  for root, _, files in sorted(os.walk(FIXTURES)):
    for f in sorted(files):
      path = os.path.join(root, f)
      print(f'{os.path.relpath(path, FIXTURES)}: {os.path.getsize(path):,} bytes')


if __name__ == '__main__':
  main()
