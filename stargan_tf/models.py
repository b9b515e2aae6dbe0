"""StarGAN generator and discriminator (paper Tables 1 and 2; reference `model.py`).

Both networks are Keras subclassed models holding layers only. Layers are created in `__init__`
with fixed names, because checkpoints and the PyTorch weight converter address them by name.

Padding: every convolution uses Keras `padding='same'`. For the even spatial sizes these networks
see, that is exactly the reference's zero padding:
  * conv k7 s1 p3, conv k3 s1 p1: 'same' pads k - 1 (6, 2) in total, split evenly (3|3, 1|1).
  * conv k4 s2 p1 on an even size: 'same' pads max(k - s, 0) = 2 in total, split 1|1, giving H/2.
  * transposed conv k4 s2 p1: TF's 'same' transposed conv is the adjoint of the 'same' k4 s2 conv
    above (pads 1|1), which is what PyTorch's ConvTranspose2d(k4, s2, p1) is, with output
    (H - 1) * 2 - 2 + 4 = 2H. `tests/test_models.py` checks both against a numpy scatter/gather
    implementation of the PyTorch definitions.
On odd sizes 'same' pads asymmetrically, so `build` rejects sizes that would produce them.

Instance norm is `GroupNormalization(groups=-1, epsilon=1e-5)`: one group per channel, per-channel
affine weights, statistics always from the image itself (no running averages), PyTorch's epsilon.
"""

import keras
import tensorflow as tf


def _instance_norm(name):
  return keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)


def _conv(filters, kernel_size, strides, name, use_bias=False):
  return keras.layers.Conv2D(
      filters, kernel_size, strides=strides, padding='same', use_bias=use_bias, name=name)


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

  def __init__(self, filters, **kwargs):
    super().__init__(**kwargs)
    _check_positive('ResidualBlock', filters=filters)
    self.filters = filters
    self.conv1 = _conv(filters, 3, 1, name='conv1')
    self.norm1 = _instance_norm('norm1')
    self.conv2 = _conv(filters, 3, 1, name='conv2')
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
    return {**super().get_config(), 'filters': self.filters}


class Generator(keras.Model):
  """Translates images to target domains: `G(x, c)`.

  Args of `call`:
    x: images [N, H, W, 3] in [-1, 1]; H and W multiples of 4.
    c: target domain labels [N, c_dim] (float vectors; see `stargan_tf.labels`).
  Returns:
    [N, H, W, 3] in (-1, 1) (tanh), in the layer's compute dtype.
  """

  def __init__(self, conv_dim=64, c_dim=5, repeat_num=6, **kwargs):
    super().__init__(**kwargs)
    _check_positive('Generator', conv_dim=conv_dim, c_dim=c_dim, repeat_num=repeat_num)
    self.conv_dim = conv_dim
    self.c_dim = c_dim
    self.repeat_num = repeat_num

    self.conv_in = _conv(conv_dim, 7, 1, name='conv_in')
    self.norm_in = _instance_norm('norm_in')
    for i in (1, 2):
      _set_layer(self, _conv(conv_dim * 2 ** i, 4, 2, name=f'down{i}_conv'))
      _set_layer(self, _instance_norm(f'down{i}_norm'))
    for i in range(1, repeat_num + 1):
      _set_layer(self, ResidualBlock(conv_dim * 4, name=f'res{i}'))
    for i in (1, 2):
      _set_layer(self, keras.layers.Conv2DTranspose(
          conv_dim * 2 ** (2 - i), 4, strides=2, padding='same', use_bias=False,
          name=f'up{i}_conv'))
      _set_layer(self, _instance_norm(f'up{i}_norm'))
    self.conv_out = _conv(3, 7, 1, name='conv_out')

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
            'repeat_num': self.repeat_num}


class Discriminator(keras.Model):
  """PatchGAN critic with an auxiliary domain classifier: `D(x) -> (out_src, out_cls)`.

  Args of `call`:
    x: images [N, image_size, image_size, 3] in [-1, 1].
  Returns:
    out_src: critic scores per patch [N, image_size / 2**repeat_num, (same), 1].
    out_cls: domain logits [N, c_dim].
  """

  def __init__(self, image_size=128, conv_dim=64, c_dim=5, repeat_num=6, **kwargs):
    super().__init__(**kwargs)
    _check_positive('Discriminator', image_size=image_size, conv_dim=conv_dim, c_dim=c_dim,
                    repeat_num=repeat_num)
    if image_size % 2 ** repeat_num:
      raise ValueError(f'Discriminator: image_size ({image_size}) must be divisible by '
                       f'2**repeat_num ({2 ** repeat_num}).')
    self.image_size = image_size
    self.conv_dim = conv_dim
    self.c_dim = c_dim
    self.repeat_num = repeat_num

    for i in range(1, repeat_num + 1):
      _set_layer(self, _conv(conv_dim * 2 ** (i - 1), 4, 2, name=f'conv{i}', use_bias=True))
    self.conv_src = _conv(1, 3, 1, name='conv_src')
    self.conv_cls = keras.layers.Conv2D(c_dim, image_size // 2 ** repeat_num, padding='valid',
                                        use_bias=False, name='conv_cls')

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
            'c_dim': self.c_dim, 'repeat_num': self.repeat_num}
