"""StarGAN generator and discriminator (paper Tables 1 and 2; reference `model.py`).

Both networks are Keras subclassed models holding layers only. Layers are created in `__init__`
with fixed names, because checkpoints and the PyTorch importer (`import_torch_lib`) address them
by name.

Padding: every convolution uses Keras `padding='same'`. For the even spatial sizes these networks
see, that is exactly the reference's zero padding:
  * conv k7 s1 p3, conv k3 s1 p1: 'same' pads k - 1 (6, 2) in total, split evenly (3|3, 1|1).
  * conv k4 s2 p1 on an even size: 'same' pads max(k - s, 0) = 2 in total, split 1|1, giving H/2.
  * transposed conv k4 s2 p1: TF's 'same' transposed conv is the adjoint of the 'same' k4 s2 conv
    above (pads 1|1), which is what PyTorch's ConvTranspose2d(k4, s2, p1) is, with output
    (H - 1) * 2 - 2 + 4 = 2H. `tests/test_models.py` checks both against a numpy scatter/gather
    implementation of the PyTorch definitions.
On odd sizes 'same' pads asymmetrically, so `build` rejects sizes that would produce them.

Instance norm is `InstanceNormalization`: Keras' `GroupNormalization` with one group per channel
(`groups=-1`) and PyTorch's epsilon 1e-5, with per-channel affine weights and statistics always from
the image itself (no running averages). It keeps GroupNormalization's weights (`gamma`, `beta`) and
arithmetic and only computes the statistics directly over the spatial axes of the 4-D tensor instead
of through GroupNormalization's 5-D group reshape. That reshape is what made instance norm the most
expensive op of G in TFLite (46 ms against 1.6 ms for one 128x128x64 tensor). Its gradient is
written out in closed form (`_normalize_fn`) rather than derived by TensorFlow from the ops: about
a third less time for the layer's forward and backward pass, 4-5% of a G step on a CPU.
`tests/test_models.py` checks the layer against GroupNormalization on the same weights: outputs,
first and second derivatives.

G's transposed convolutions stay keras.layers.Conv2DTranspose. Computing each as four stride-1 2x2
convolutions, one per output pixel parity, interleaved, was measured and was slower on a CPU
(forward and backward 1.2-1.5 times as long at G's shapes, a G step 3% longer, G's forward no
faster): see docs/benchmarks.md.
"""

import keras
import tensorflow as tf

from stargan_tf import distribute


class InstanceNormalization(keras.layers.GroupNormalization):
  """Instance norm of NHWC images: GroupNormalization(groups=-1) with 4-D statistics.

  The statistics are computed in float32 (at least) and the result is cast to the layer's compute
  dtype, as GroupNormalization does under a mixed precision policy. The normalisation has a
  closed-form gradient (`_normalize_fn`); second derivatives through it are correct.
  """

  def __init__(self, epsilon=1e-5, **kwargs):
    kwargs.pop('groups', None)  # always one group per channel (from_config passes it back)
    super().__init__(groups=-1, epsilon=epsilon, **kwargs)

  def build(self, input_shape):
    if len(input_shape) != 4 or self.axis not in (-1, 3):
      raise ValueError(f'InstanceNormalization {self.name!r}: expects NHWC images [N, H, W, C] '
                       f'normalised over H and W, got shape {tuple(input_shape)} and axis '
                       f'{self.axis}.')
    super().build(input_shape)

  def call(self, inputs):
    x = keras.ops.cast(inputs, keras.backend.result_type(inputs.dtype, 'float32'))
    mean, variance = keras.ops.moments(x, axes=[1, 2], keepdims=True)
    rstd = keras.ops.rsqrt(variance + self.epsilon)
    params = []
    if self.scale:
      params.append(keras.ops.cast(self.gamma, x.dtype))
    if self.center:
      params.append(keras.ops.cast(self.beta, x.dtype))
    y = _normalize_fn(self.scale, self.center)(x, mean, rstd, *params)
    return keras.ops.cast(y, self.compute_dtype)


def _normalize_fn(scale, center):
  """f(x, mean, rstd, [gamma], [beta]) = (x - mean) * rstd * gamma + beta, with its own gradient.

  f computes x * a + (beta - mean * a), a = rstd * gamma. Its gradient is the closed form below,
  which writes five image-sized tensors (dy * x, dy * a, x * b and two sums), fewer than the one
  TensorFlow derives from the ops through `moments` and its broadcasts. The gradient with respect
  to x includes the paths through the statistics, so `mean` and `rstd` (computed from x by the
  caller) get none of their own. Because the caller computes them, a tape around the gradient
  computation sees them as functions of x and differentiates the closed form correctly: second
  derivatives are right too.
  """

  @tf.custom_gradient
  def normalize(x, mean, rstd, *params):
    gamma = params[0] if scale else None
    beta = params[-1] if center else None
    a = rstd if gamma is None else rstd * gamma
    shift = -mean * a
    if beta is not None:
      shift = shift + beta

    def grad(dy):
      # With n = H * W pixels per image, xc = x - mean and xhat = xc * rstd:
      #   dL/dbeta = sum dy,  dL/dgamma = sum dy * xhat  (over N, H, W),
      #   dL/dx = a * (dy - mean_hw(dy) - xhat * mean_hw(dy * xhat))
      #         = a * dy - x * b + (mean * b - a * mean_hw(dy)),  b = a rstd^2 mean_hw(dy * xc);
      # sum_hw(dy * xc) = sum_hw(dy * x) - mean * sum_hw(dy).
      n = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], x.dtype)
      sum_dy = tf.reduce_sum(dy, axis=[1, 2], keepdims=True)
      sum_dy_xc = tf.reduce_sum(dy * x, axis=[1, 2], keepdims=True) - mean * sum_dy
      b = a * rstd * rstd * (sum_dy_xc / n)
      dx = dy * a - x * b + (mean * b - a * (sum_dy / n))
      dparams = []
      if gamma is not None:
        dparams.append(tf.reduce_sum(sum_dy_xc * rstd, axis=[0, 1, 2]))
      if beta is not None:
        dparams.append(tf.reduce_sum(sum_dy, axis=[0, 1, 2]))
      return (dx, None, None, *dparams)

    return x * a + shift, grad

  return normalize


def _instance_norm(name):
  return InstanceNormalization(epsilon=1e-5, name=name)


CONV_IMPLS = ('auto', 'native', 'transposed', 'patches')
# 'auto' computes a convolution from patches when its output has at most this many pixels and its
# input at least this many channels (measured: a win for D's 8x8x512 and 4x4x1024 layers, a loss
# for the 32 px demo D's 8x8x32 and 4x4x64 ones), and as a transposed convolution when its input
# has at least this many times more channels than it has filters (a win for 64 -> 3 and
# 2048 -> 1, a loss for 256 -> 256).
PATCHES_MAX_OUTPUT_PIXELS = 16
PATCHES_MIN_INPUT_CHANNELS = 256
TRANSPOSED_MIN_CHANNEL_RATIO = 4


def _same_padding(size, kernel, stride):
  """(before, after) zero padding of TF's 'same' convolution along one axis of `size` pixels."""
  out = -(-size // stride)
  total = max((out - 1) * stride + kernel - size, 0)
  return total // 2, total - total // 2


class Conv2D(keras.layers.Conv2D):
  """keras.layers.Conv2D (NHWC, no dilation) with a choice of how the convolution is computed.

  The weights, their names and the result are those of keras.layers.Conv2D; `impl` only selects
  the TensorFlow kernels that compute it, because on CPU TensorFlow's convolution gradients are
  slow for some of StarGAN's layer shapes (`benchmarks/train_speed.py --profile_layers`). GPUs
  (cuDNN) and TPUs have no such slow shapes, so there 'auto' is always native:

    native      tf.nn.conv2d.
    transposed  (stride 1, 'same', odd kernel) the same convolution as a stride-1 transposed
                convolution of the spatially flipped kernel with its channel axes swapped. Much
                faster gradients when filters <= input channels (G's conv_out 64->3: 8x).
    patches     (static H and W) gather the kh*kw shifted, strided views of the zero-padded input
                into one [N, OH, OW, kh*kw*C] tensor and multiply by the kernel as a matrix; all
                derivatives, including the second ones of the gradient penalty, are slices, pads
                and matmuls. Much faster for D's deepest layers (4x4x1024 -> 2x2x2048: 16x).
    auto        (default) native on a GPU or TPU. On a CPU: transposed for a stride-1 'same'
                odd-kernel convolution with at least TRANSPOSED_MIN_CHANNEL_RATIO times more
                input channels than filters; otherwise patches when the layer is built for a
                fixed input size (`fixed_input_size=True`, as in D), its output has at most
                PATCHES_MAX_OUTPUT_PIXELS pixels and its input at least
                PATCHES_MIN_INPUT_CHANNELS channels; native otherwise. The choice is made in
                `build` from `device_kind` and the input shape, and kept in
                `self.resolved_impl`.

  `device_kind` ('CPU', 'GPU' or 'TPU') is the kind of device the layer will run on; None (the
  default) takes that of the tf.distribute strategy current at `build` (`distribute.device_kind`).
  It matters to 'auto' only: the other `impl` values are used as given on any device.

  `tests/test_models.py` checks every implementation against keras.layers.Conv2D: outputs, first
  and second derivatives.
  """

  def __init__(self, *args, impl='auto', fixed_input_size=False, device_kind=None, **kwargs):
    super().__init__(*args, **kwargs)
    if impl not in CONV_IMPLS:
      raise ValueError(f'Conv2D {self.name!r}: impl must be one of {", ".join(CONV_IMPLS)}, '
                       f'got {impl!r}.')
    _check_device_kind(f'Conv2D {self.name!r}', device_kind)
    if self.data_format != 'channels_last' or tuple(self.dilation_rate) != (1, 1):
      raise ValueError(f'Conv2D {self.name!r}: only channels_last without dilation is supported.')
    self.impl = impl
    self.fixed_input_size = fixed_input_size
    self.device_kind = device_kind
    self.resolved_impl = None
    self._built_size = None

  def _transposable(self):
    kh, kw = self.kernel_size
    return tuple(self.strides) == (1, 1) and self.padding == 'same' and kh % 2 and kw % 2

  def build(self, input_shape):
    super().build(input_shape)
    height, width, channels = input_shape[1], input_shape[2], input_shape[3]
    impl = self.impl
    if impl == 'auto' and (self.device_kind or distribute.device_kind()) != 'CPU':
      impl = 'native'
    if impl == 'auto':
      out_pixels = None
      if self.fixed_input_size and height is not None and width is not None:
        out_h, out_w = self.compute_output_shape(input_shape)[1:3]
        out_pixels = out_h * out_w
      if self._transposable() and self.filters * TRANSPOSED_MIN_CHANNEL_RATIO <= channels:
        impl = 'transposed'
      elif (out_pixels is not None and out_pixels <= PATCHES_MAX_OUTPUT_PIXELS and
            channels >= PATCHES_MIN_INPUT_CHANNELS):
        impl = 'patches'
      else:
        impl = 'native'
    if impl == 'transposed' and not self._transposable():
      raise ValueError(f'Conv2D {self.name!r}: impl "transposed" needs stride 1, "same" padding '
                       f'and an odd kernel; got strides {self.strides}, padding {self.padding!r}, '
                       f'kernel {self.kernel_size}.')
    if impl == 'patches' and (height is None or width is None):
      raise ValueError(f'Conv2D {self.name!r}: impl "patches" needs a static height and width, '
                       f'got input shape {tuple(input_shape)}.')
    self.resolved_impl = impl
    self._built_size = (height, width)

  def convolution_op(self, inputs, kernel):
    if self.resolved_impl == 'transposed':
      return self._transposed_conv(inputs, kernel)
    if self.resolved_impl == 'patches':
      return self._patches_conv(inputs, kernel)
    return super().convolution_op(inputs, kernel)

  def _transposed_conv(self, inputs, kernel):
    # conv(x, w)[p] = sum_d x[p + d] w[d]; a stride-1 transposed conv with kernel v computes
    # sum_d x[p - d] v[d]; so v = w flipped in space, with (in, out) channels as (out, in).
    flipped = tf.transpose(tf.reverse(kernel, axis=[0, 1]), [0, 1, 3, 2])
    shape = tf.shape(inputs)
    output_shape = tf.stack([shape[0], shape[1], shape[2], self.filters])
    return tf.nn.conv2d_transpose(inputs, flipped, output_shape, strides=1, padding='SAME')

  def _patches_conv(self, inputs, kernel):
    kh, kw = self.kernel_size
    sh, sw = self.strides
    height, width = inputs.shape[1], inputs.shape[2]
    if (height, width) != self._built_size:
      raise ValueError(f'Conv2D {self.name!r} computes from patches and was built for '
                       f'{self._built_size[0]}x{self._built_size[1]} inputs; got shape '
                       f'{tuple(inputs.shape)}.')
    if self.padding == 'same':
      pads = [_same_padding(height, kh, sh), _same_padding(width, kw, sw)]
      inputs = tf.pad(inputs, [[0, 0], list(pads[0]), list(pads[1]), [0, 0]])
    out_h, out_w = self.compute_output_shape((None, height, width, None))[1:3]
    views = [inputs[:, i:i + (out_h - 1) * sh + 1:sh, j:j + (out_w - 1) * sw + 1:sw, :]
             for i in range(kh) for j in range(kw)]
    patches = tf.concat(views, axis=-1)  # [N, OH, OW, kh*kw*C], ordered like the kernel's axes
    matrix = tf.reshape(kernel, [-1, self.filters])
    return tf.tensordot(patches, matrix, axes=1)

  def get_config(self):
    return {**super().get_config(), 'impl': self.impl,
            'fixed_input_size': self.fixed_input_size, 'device_kind': self.device_kind}


def _check_device_kind(owner, device_kind):
  if device_kind is not None and device_kind not in distribute.DEVICE_KINDS:
    raise ValueError(f'{owner}: device_kind must be None or one of '
                     f'{", ".join(distribute.DEVICE_KINDS)}, got {device_kind!r}.')


def _conv(filters, kernel_size, strides, name, device_kind, use_bias=False, padding='same',
          fixed_input_size=False):
  return Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias,
                name=name, fixed_input_size=fixed_input_size, device_kind=device_kind)


def conv_summary(model):
  """How `model`'s `Conv2D` layers compute: 'native x15, transposed x1 (conv_out)'.

  Counts per resolved implementation, naming the layers that are not native by their path in the
  model ('res1/conv2'); layers not built yet count as 'unbuilt'.
  """
  paths = {}
  for path, layer in _conv_layers(model):
    paths.setdefault(layer.resolved_impl or 'unbuilt', []).append(path)
  parts = []
  for impl in CONV_IMPLS[1:] + ('unbuilt',):
    if impl in paths:
      names = '' if impl == 'native' else f' ({", ".join(paths[impl])})'
      parts.append(f'{impl} x{len(paths[impl])}{names}')
  return ', '.join(parts) or 'none'


def _conv_layers(layer, prefix=''):
  """(path, layer) of every `Conv2D` inside `layer`, paths like 'res1/conv2', in creation order."""
  # pylint: disable-next=protected-access
  for sub in layer._flatten_layers(include_self=False, recursive=False):
    if isinstance(sub, Conv2D):
      yield prefix + sub.name, sub
    else:
      yield from _conv_layers(sub, f'{prefix}{sub.name}/')


def _check_positive(cls_name, **values):
  for key, value in values.items():
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
      raise ValueError(f'{cls_name}: {key} must be a positive integer, got {value!r}.')


def _set_layer(model, layer):
  """Stores `layer` as `model.<layer.name>`.

  Repeated layers are attributes rather than list items because tf.train.Checkpoint does not see
  layers held in Python lists of a Keras 3 model (their weights would silently be left out).
  """
  setattr(model, layer.name, layer)


def _with_channels(shape, channels):
  return tuple(shape[:-1]) + (channels,)


class ResidualBlock(keras.layers.Layer):
  """conv3x3 -> IN -> ReLU -> conv3x3 -> IN, plus the identity; channels unchanged, no biases."""

  def __init__(self, filters, device_kind=None, **kwargs):
    super().__init__(**kwargs)
    _check_positive('ResidualBlock', filters=filters)
    _check_device_kind('ResidualBlock', device_kind)
    self.filters = filters
    self.device_kind = device_kind
    self.conv1 = _conv(filters, 3, 1, name='conv1', device_kind=device_kind)
    self.norm1 = _instance_norm('norm1')
    self.conv2 = _conv(filters, 3, 1, name='conv2', device_kind=device_kind)
    self.norm2 = _instance_norm('norm2')

  def build(self, input_shape):
    if input_shape[-1] != self.filters:
      raise ValueError(f'ResidualBlock {self.name!r}: expected {self.filters} input channels, '
                       f'got shape {tuple(input_shape)}.')
    for layer in (self.conv1, self.norm1, self.conv2, self.norm2):
      layer.build(input_shape)

  def call(self, x):
    h = tf.nn.relu(self.norm1(self.conv1(x)))
    return x + self.norm2(self.conv2(h))

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    return {**super().get_config(), 'filters': self.filters, 'device_kind': self.device_kind}


class Generator(keras.Model):
  """Translates images to target domains: `G(x, c)`.

  `device_kind` ('CPU', 'GPU', 'TPU' or None) is passed to every `Conv2D`: the device kind its
  'auto' implementation is chosen for.

  Args of `call`:
    x: images [N, H, W, 3] in [-1, 1]; H and W multiples of 4.
    c: target domain labels [N, c_dim] (float vectors; see `stargan_tf.labels`).
  Returns:
    [N, H, W, 3] in (-1, 1) (tanh), in the layer's compute dtype.
  """

  def __init__(self, conv_dim=64, c_dim=5, repeat_num=6, device_kind=None, **kwargs):
    super().__init__(**kwargs)
    _check_positive('Generator', conv_dim=conv_dim, c_dim=c_dim, repeat_num=repeat_num)
    _check_device_kind('Generator', device_kind)
    self.conv_dim = conv_dim
    self.c_dim = c_dim
    self.repeat_num = repeat_num
    self.device_kind = device_kind

    self.conv_in = _conv(conv_dim, 7, 1, name='conv_in', device_kind=device_kind)
    self.norm_in = _instance_norm('norm_in')
    for i in (1, 2):
      _set_layer(self, _conv(conv_dim * 2 ** i, 4, 2, name=f'down{i}_conv',
                             device_kind=device_kind))
      _set_layer(self, _instance_norm(f'down{i}_norm'))
    for i in range(1, repeat_num + 1):
      _set_layer(self, ResidualBlock(conv_dim * 4, device_kind=device_kind, name=f'res{i}'))
    for i in (1, 2):
      _set_layer(self, keras.layers.Conv2DTranspose(
          conv_dim * 2 ** (2 - i), 4, strides=2, padding='same', use_bias=False,
          name=f'up{i}_conv'))
      _set_layer(self, _instance_norm(f'up{i}_norm'))
    self.conv_out = _conv(3, 7, 1, name='conv_out', device_kind=device_kind)

  def _stages(self, kind):
    """[(conv, norm)] of the 'down' or 'up' sampling stages, in order."""
    return [(getattr(self, f'{kind}{i}_conv'), getattr(self, f'{kind}{i}_norm')) for i in (1, 2)]

  def _res_blocks(self):
    return [getattr(self, f'res{i}') for i in range(1, self.repeat_num + 1)]

  def build(self, x_shape, c_shape):
    x_shape, c_shape = tuple(x_shape), tuple(c_shape)
    if len(x_shape) != 4 or x_shape[-1] != 3:
      raise ValueError(f'Generator: x must be [N, H, W, 3], got shape {x_shape}.')
    if len(c_shape) != 2 or c_shape[-1] != self.c_dim:
      raise ValueError(f'Generator: c must be [N, {self.c_dim}] (c_dim), got shape {c_shape}.')
    for size in x_shape[1:3]:
      if size is not None and size % 4:
        raise ValueError(f'Generator: H and W must be multiples of 4 (two stride-2 stages), '
                         f'got x shape {x_shape}.')

    shape = _with_channels(x_shape, 3 + self.c_dim)
    for layer in (self.conv_in, self.norm_in):
      layer.build(shape)
      shape = layer.compute_output_shape(shape)
    for conv, norm in self._stages('down'):
      conv.build(shape)
      shape = conv.compute_output_shape(shape)
      norm.build(shape)
    for block in self._res_blocks():
      block.build(shape)
    for conv, norm in self._stages('up'):
      conv.build(shape)
      shape = conv.compute_output_shape(shape)
      norm.build(shape)
    self.conv_out.build(shape)

  def call(self, x, c, training=None):
    del training  # Instance norm behaves the same in training and inference.
    c = tf.cast(c, x.dtype)
    shape = tf.shape(x)
    c = tf.broadcast_to(c[:, None, None, :], [shape[0], shape[1], shape[2], self.c_dim])
    h = tf.concat([x, c], axis=-1)
    h = tf.nn.relu(self.norm_in(self.conv_in(h)))
    for conv, norm in self._stages('down'):
      h = tf.nn.relu(norm(conv(h)))
    for block in self._res_blocks():
      h = block(h)
    for conv, norm in self._stages('up'):
      h = tf.nn.relu(norm(conv(h)))
    return tf.tanh(self.conv_out(h))

  def compute_output_shape(self, x_shape, c_shape):
    return tuple(x_shape)

  def get_config(self):
    return {**super().get_config(), 'conv_dim': self.conv_dim, 'c_dim': self.c_dim,
            'repeat_num': self.repeat_num, 'device_kind': self.device_kind}


class Discriminator(keras.Model):
  """PatchGAN critic with an auxiliary domain classifier: `D(x) -> (out_src, out_cls)`.

  `device_kind`: as for `Generator`.

  Args of `call`:
    x: images [N, image_size, image_size, 3] in [-1, 1].
  Returns:
    out_src: critic scores per patch [N, image_size / 2**repeat_num, (same), 1].
    out_cls: domain logits [N, c_dim].
  """

  def __init__(self, image_size=128, conv_dim=64, c_dim=5, repeat_num=6, device_kind=None,
               **kwargs):
    super().__init__(**kwargs)
    _check_positive('Discriminator', image_size=image_size, conv_dim=conv_dim, c_dim=c_dim,
                    repeat_num=repeat_num)
    _check_device_kind('Discriminator', device_kind)
    if image_size % 2 ** repeat_num:
      raise ValueError(f'Discriminator: image_size ({image_size}) must be divisible by '
                       f'2**repeat_num ({2 ** repeat_num}).')
    self.image_size = image_size
    self.conv_dim = conv_dim
    self.c_dim = c_dim
    self.repeat_num = repeat_num
    self.device_kind = device_kind

    for i in range(1, repeat_num + 1):
      _set_layer(self, _conv(conv_dim * 2 ** (i - 1), 4, 2, name=f'conv{i}',
                             device_kind=device_kind, use_bias=True, fixed_input_size=True))
    self.conv_src = _conv(1, 3, 1, name='conv_src', device_kind=device_kind,
                          fixed_input_size=True)
    self.conv_cls = _conv(c_dim, image_size // 2 ** repeat_num, 1, name='conv_cls',
                          device_kind=device_kind, padding='valid', fixed_input_size=True)

  def _convs(self):
    return [getattr(self, f'conv{i}') for i in range(1, self.repeat_num + 1)]

  def build(self, x_shape):
    x_shape = tuple(x_shape)
    if len(x_shape) != 4 or x_shape[-1] != 3:
      raise ValueError(f'Discriminator: x must be [N, H, W, 3], got shape {x_shape}.')
    for size in x_shape[1:3]:
      if size is not None and size != self.image_size:
        raise ValueError(f'Discriminator: built for image_size {self.image_size}, '
                         f'got x shape {x_shape}.')
    shape = x_shape
    for conv in self._convs():
      conv.build(shape)
      shape = conv.compute_output_shape(shape)
    self.conv_src.build(shape)
    self.conv_cls.build(shape)

  def call(self, x, training=None):
    del training  # No normalisation or dropout.
    h = x
    for conv in self._convs():
      h = tf.nn.leaky_relu(conv(h), alpha=0.01)
    out_src = self.conv_src(h)
    # conv_cls covers the whole final map, leaving [N, 1, 1, c_dim]; squeeze (not reshape) so a
    # wrongly sized input fails instead of folding positions into the batch.
    out_cls = tf.squeeze(self.conv_cls(h), axis=[1, 2])
    return out_src, out_cls

  def compute_output_shape(self, x_shape):
    size = self.image_size // 2 ** self.repeat_num
    return (x_shape[0], size, size, 1), (x_shape[0], self.c_dim)

  def get_config(self):
    return {**super().get_config(), 'image_size': self.image_size, 'conv_dim': self.conv_dim,
            'c_dim': self.c_dim, 'repeat_num': self.repeat_num, 'device_kind': self.device_kind}


def build(model_config, label_space, device_kind=None):
  """(G, D) of a `config.ModelConfig` for a `labels.LabelSpace`, built so their variables exist.

  G takes the space's label_dim label columns and D classifies its num_domains domains.
  `device_kind` ('CPU', 'GPU' or 'TPU') is the kind of device they will run on, for which their
  convolutions' implementations are chosen (`Conv2D`); None: that of the current tf.distribute
  strategy (`distribute.device_kind`).
  """
  m = model_config
  device_kind = device_kind or distribute.device_kind()
  G = Generator(conv_dim=m.g_conv_dim, c_dim=label_space.label_dim, repeat_num=m.g_repeat_num,
                device_kind=device_kind)
  D = Discriminator(image_size=m.image_size, conv_dim=m.d_conv_dim,
                    c_dim=label_space.num_domains, repeat_num=m.d_repeat_num,
                    device_kind=device_kind)
  x = tf.zeros([1, m.image_size, m.image_size, 3])
  G(x, tf.zeros([1, label_space.label_dim]))
  D(x)
  return G, D


def non_finite_weights(groups):
  """Names ('<group>/<variable path>') of the variables holding NaN or inf.

  Args:
    groups: {name: a Keras model or optimizer, or a list of variables}.
  """
  bad = []
  for group, owner in groups.items():
    variables = getattr(owner, 'variables', owner)
    for v in variables:
      if tf.as_dtype(v.dtype).is_floating and not bool(tf.reduce_all(tf.math.is_finite(v))):
        bad.append(f'{group}/{v.path if hasattr(v, "path") else v.name}')
  return bad
