"""Tests for stargan_tf.models: architecture, parameter counts, padding, instance norm, configs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from stargan_tf import config as config_lib
from stargan_tf import distribute
from stargan_tf import labels
from stargan_tf import models

# A tiny generator / discriminator keeps every test in this file fast.
SMALL_G = dict(conv_dim=8, c_dim=3, repeat_num=2)
SMALL_D = dict(image_size=32, conv_dim=8, c_dim=3, repeat_num=3)


def small_generator(size=16):
  g = models.Generator(**SMALL_G)
  g.build((None, size, size, 3), (None, SMALL_G['c_dim']))
  return g


def small_discriminator():
  d = models.Discriminator(**SMALL_D)
  d.build((None, 32, 32, 3))
  return d


def random_images(n, h, w, seed=0):
  return tf.constant(np.random.default_rng(seed).uniform(-1, 1, (n, h, w, 3)), tf.float32)


def random_labels(n, c_dim, seed=0):
  return tf.constant(np.random.default_rng(seed).integers(0, 2, (n, c_dim)), tf.float32)


def weights_by_path(model):
  """{'<layer path>/<weight name>': shape} with the model's own name stripped."""
  return {w.path.split('/', 1)[1]: tuple(w.shape) for w in model.weights}


# PyTorch's definitions of a zero-padded convolution and of a transposed convolution, in numpy.
def torch_conv2d(x, w, stride, pad):
  """x [N, H, W, Cin], w [k, k, Cin, Cout] (Keras Conv2D layout), zero padding `pad`."""
  k = w.shape[0]
  xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  h_out = (x.shape[1] + 2 * pad - k) // stride + 1
  w_out = (x.shape[2] + 2 * pad - k) // stride + 1
  out = np.zeros((x.shape[0], h_out, w_out, w.shape[3]))
  for i in range(k):
    for j in range(k):
      patch = xp[:, i:i + stride * h_out:stride, j:j + stride * w_out:stride, :]
      out += np.einsum('nhwc,co->nhwo', patch, w[i, j])
  return out


def torch_conv_transpose2d(x, w, stride, pad):
  """x [N, H, W, Cin], w [k, k, Cout, Cin] (Keras Conv2DTranspose layout), output cropped by pad."""
  n, h, wd, _ = x.shape
  k = w.shape[0]
  full = np.zeros((n, (h - 1) * stride + k, (wd - 1) * stride + k, w.shape[2]))
  for i in range(k):
    for j in range(k):
      full[:, i:i + stride * h:stride, j:j + stride * wd:stride, :] += np.einsum(
          'nhwc,oc->nhwo', x, w[i, j])
  return full[:, pad:full.shape[1] - pad, pad:full.shape[2] - pad, :]


class TestParameterCounts:

  @pytest.mark.parametrize('c_dim, expected', [(5, 8_430_528), (15, 8_461_888)])
  def test_generator_128(self, c_dim, expected):
    g = models.Generator(c_dim=c_dim)
    g.build((None, 128, 128, 3), (None, c_dim))
    assert g.count_params() == expected

  @pytest.mark.parametrize('c_dim, expected', [(5, 44_762_048), (13, 44_827_584)])
  def test_discriminator_128(self, c_dim, expected):
    d = models.Discriminator(image_size=128, c_dim=c_dim)
    d.build((None, 128, 128, 3))
    assert d.count_params() == expected

  @pytest.mark.parametrize('dataset, g_params, d_params', [
      ('CelebA', 8_430_528, 44_762_048), ('Both', 8_461_888, 44_827_584)])
  def test_build_takes_the_widths_from_the_label_space(self, dataset, g_params, d_params):
    """The paper's settings; Both: G takes 3 + 5 + 8 + 2 channels, D classifies 5 + 8."""
    G, D = models.build(config_lib.ModelConfig(), labels.label_space(dataset))
    assert (G.count_params(), D.count_params()) == (g_params, d_params)

  def test_building_by_calling_matches_build(self):
    g = models.Generator(**SMALL_G)
    g(random_images(1, 16, 16), random_labels(1, 3))
    d = models.Discriminator(**SMALL_D)
    d(random_images(1, 32, 32))
    assert g.count_params() == small_generator().count_params()
    assert d.count_params() == small_discriminator().count_params()


class TestGenerator:

  @pytest.mark.parametrize('h, w', [(16, 16), (32, 24)])
  def test_output_shape_and_range(self, h, w):
    g = models.Generator(**SMALL_G)
    y = g(random_images(2, h, w), random_labels(2, 3))
    assert y.shape == (2, h, w, 3)
    assert y.dtype == tf.float32
    assert np.all(np.abs(y.numpy()) < 1)

  def test_architecture_kernels(self):
    """Layer by layer kernel shapes of Table 1; no layer has a bias."""
    g = models.Generator(conv_dim=8, c_dim=3, repeat_num=2)
    g.build((None, 16, 16, 3), (None, 3))
    shapes = weights_by_path(g)
    kernels = {path: shape for path, shape in shapes.items() if path.endswith('kernel')}
    res = {f'res{b}/conv{i}/kernel': (3, 3, 32, 32) for b in (1, 2) for i in (1, 2)}
    assert kernels == {
        'conv_in/kernel': (7, 7, 3 + 3, 8),
        'down1_conv/kernel': (4, 4, 8, 16),
        'down2_conv/kernel': (4, 4, 16, 32),
        **res,
        'up1_conv/kernel': (4, 4, 16, 32),  # Conv2DTranspose: (k, k, out, in).
        'up2_conv/kernel': (4, 4, 8, 16),
        'conv_out/kernel': (7, 7, 8, 3),
    }
    non_kernels = {path.rsplit('/', 1)[1] for path in shapes} - {'kernel'}
    assert non_kernels == {'gamma', 'beta'}

  def test_no_bias_in_any_conv(self):
    convs = [layer for layer in small_generator()._flatten_layers()
             if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose)]
    assert len(convs) == 1 + 2 + 2 * 2 + 2 + 1
    assert all(not layer.use_bias and layer.bias is None for layer in convs)

  def test_instance_norm_config(self):
    norms = [layer for layer in small_generator()._flatten_layers()
             if isinstance(layer, keras.layers.GroupNormalization)]
    assert len(norms) == 1 + 2 + 2 * 2 + 2
    for norm in norms:
      assert norm.epsilon == 1e-5
      assert norm.groups == norm.gamma.shape[0]  # One group per channel.
      assert norm.center and norm.scale

  def test_instance_norm_matches_per_channel_normalisation(self):
    norm = small_generator().norm_in
    rng = np.random.default_rng(1)
    norm.gamma.assign(rng.normal(size=norm.gamma.shape))
    norm.beta.assign(rng.normal(size=norm.beta.shape))
    x = rng.normal(2.0, 3.0, (2, 16, 16, 8))
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-5) * norm.gamma.numpy() + norm.beta.numpy()
    np.testing.assert_allclose(norm(tf.constant(x, tf.float32)).numpy(), expected, atol=1e-4)

  @pytest.mark.parametrize('shape, affine', [
      ((2, 16, 16, 8), {}), ((1, 12, 20, 32), {}), ((3, 4, 4, 1), {}), ((2, 5, 7, 3), {}),
      ((2, 6, 6, 4), dict(center=False)), ((2, 6, 6, 4), dict(scale=False)),
      ((1, 6, 6, 4), dict(center=False, scale=False))])
  @pytest.mark.parametrize('graph', [False, True])
  def test_instance_norm_equals_group_normalization(self, shape, affine, graph):
    """Same weights, outputs, first and second derivatives as GroupNormalization(groups=-1,
    epsilon=1e-5), eagerly and in a tf.function.

    InstanceNormalization's gradient is its own closed form; the second derivatives (of a
    penalty on the input gradient, as a gradient penalty takes them) are taken through it. In
    float64 both layers agree to 1e-9; in float32 each result is as close to the float64 one as
    GroupNormalization's own float32 result is (some second derivatives are 0 up to rounding).
    """
    rng = np.random.default_rng(2)
    names = [name for name, on in (('gamma', 'scale'), ('beta', 'center')) if affine.get(on, True)]
    weights = [rng.normal(size=shape[-1:]) for _ in names]
    x = rng.normal(1.5, 4.0, shape)
    upstream = rng.normal(size=shape)

    def derivatives(layer, dtype):
      layer.build(shape)
      layer.set_weights(weights)
      x_t, upstream_t = tf.constant(x, dtype), tf.constant(upstream, dtype)

      def run():
        with tf.GradientTape(persistent=True) as outer:
          outer.watch(x_t)
          with tf.GradientTape() as inner:
            inner.watch(x_t)
            y = layer(x_t)
            # Nonlinear in y, so that the second derivatives depend on the upstream gradient.
            loss = tf.reduce_sum(y * upstream_t + 0.1 * y ** 3)
          first = inner.gradient(loss, [x_t] + layer.trainable_weights)
          penalty = tf.reduce_sum(first[0] ** 2)
        second = outer.gradient(penalty, [x_t] + layer.trainable_weights)
        return [y] + first + second

      return [t.numpy().astype(np.float64) for t in (tf.function(run) if graph else run)()]

    results = {}
    for dtype in ('float32', 'float64'):
      fast = models.InstanceNormalization(epsilon=1e-5, dtype=dtype, **affine)
      reference = keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, dtype=dtype, **affine)
      results[dtype] = derivatives(fast, dtype), derivatives(reference, dtype)
      assert [w.path.rsplit('/', 1)[1] for w in fast.weights] == names
    (fast32, ref32), (fast64, ref64) = results['float32'], results['float64']
    assert len(fast64) == len(ref64) == 3 + 2 * len(names)
    for got32, want32, got, want in zip(fast32, ref32, fast64, ref64):
      scale = max(1.0, np.abs(want).max())
      np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * scale)
      assert np.abs(got32 - want).max() <= 2 * np.abs(want32 - want).max() + 1e-6 * scale

  def test_instance_norm_under_mixed_precision(self):
    """bfloat16 in, statistics in float32, bfloat16 out; close to the float32 result."""
    rng = np.random.default_rng(3)
    x = rng.normal(3.0, 2.0, (2, 8, 8, 4)).astype(np.float32)
    norm32 = models.InstanceNormalization()
    norm16 = models.InstanceNormalization(dtype='mixed_bfloat16')
    y32 = norm32(tf.constant(x))
    y16 = norm16(tf.constant(x, tf.bfloat16))
    assert norm16.gamma.dtype == 'float32' and y16.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(y16, tf.float32).numpy(), y32.numpy(), atol=0.05)

  @pytest.mark.parametrize('policy, dtype, atol', [
      ('mixed_bfloat16', tf.bfloat16, 0.05), ('mixed_float16', tf.float16, 5e-3)])
  def test_instance_norm_gradients_under_mixed_precision(self, policy, dtype, atol):
    """Gradients in the input's dtype for x, float32 for the float32 weights; close to float32."""
    rng = np.random.default_rng(4)
    x = rng.normal(3.0, 2.0, (2, 8, 8, 4)).astype(np.float32)
    upstream = tf.constant(rng.normal(size=x.shape), tf.float32)
    results = []
    for layer, x_in in ((models.InstanceNormalization(), tf.constant(x)),
                        (models.InstanceNormalization(dtype=policy), tf.constant(x, dtype))):
      layer.build(x.shape)
      layer.set_weights([np.linspace(0.5, 2.0, 4, dtype=np.float32),
                         np.linspace(-1.0, 1.0, 4, dtype=np.float32)])
      with tf.GradientTape() as tape:
        tape.watch(x_in)
        loss = tf.reduce_sum(tf.cast(layer(x_in), tf.float32) * upstream)
      results.append(tape.gradient(loss, [x_in] + layer.trainable_weights))
    (dx32, *dw32), (dx16, *dw16) = results
    assert dx16.dtype == dtype and all(g.dtype == tf.float32 for g in dw16)
    np.testing.assert_allclose(tf.cast(dx16, tf.float32).numpy(), dx32.numpy(), atol=atol)
    for got, want in zip(dw16, dw32):
      np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0.02, atol=atol * 10)

  def test_instance_norm_rejects_non_image_inputs(self):
    with pytest.raises(ValueError, match=r'NHWC images \[N, H, W, C\].*\(2, 8, 4\)'):
      models.InstanceNormalization().build((2, 8, 4))

  def test_instance_norm_config_round_trip(self):
    norm = models.InstanceNormalization(name='n')
    clone = models.InstanceNormalization.from_config(norm.get_config())
    assert (clone.groups, clone.epsilon, clone.name) == (-1, 1e-5, 'n')

  @pytest.mark.parametrize('training', [True, False])
  def test_output_uses_only_the_images_own_statistics(self, training):
    g = small_generator()
    x, c = random_images(3, 16, 16, seed=0), random_labels(3, 3, seed=0)
    others_x, others_c = random_images(3, 16, 16, seed=1) * 0.3 + 0.5, random_labels(3, 3, seed=1)
    y = g(x, c, training=training).numpy()
    y_mixed = g(tf.concat([x[:1], others_x[1:]], 0), tf.concat([c[:1], others_c[1:]], 0),
                training=training).numpy()
    y_alone = g(x[:1], c[:1], training=training).numpy()
    assert not np.allclose(y[1:], y_mixed[1:], atol=1e-3)  # The others did change.
    np.testing.assert_allclose(y_mixed[0], y[0], atol=1e-5)
    np.testing.assert_allclose(y_alone[0], y[0], atol=1e-5)

  def test_training_flag_does_not_change_output(self):
    g = small_generator()
    x, c = random_images(2, 16, 16), random_labels(2, 3)
    np.testing.assert_allclose(g(x, c, training=True), g(x, c, training=False), atol=1e-6)

  def test_label_conditions_output(self):
    g = small_generator()
    x = random_images(2, 16, 16)
    y1 = g(x, tf.constant([[1.0, 0.0, 0.0]] * 2))
    y2 = g(x, tf.constant([[0.0, 1.0, 1.0]] * 2))
    assert np.max(np.abs(y1.numpy() - y2.numpy())) > 1e-3

  def test_label_is_tiled_and_concatenated_to_image_channels(self):
    """conv_in sees [x | c tiled]: with conv_in replaced by a probe, compare its input."""
    g = small_generator()
    seen = []
    original = g.conv_in.call
    g.conv_in.call = lambda h: seen.append(h) or original(h)
    x, c = random_images(2, 16, 16), random_labels(2, 3)
    g(x, c)
    c_tiled = np.broadcast_to(c.numpy()[:, None, None], (2, 16, 16, 3))
    expected = np.concatenate([x.numpy(), c_tiled], axis=-1)
    np.testing.assert_array_equal(seen[0].numpy(), expected)

  def test_label_dtype_is_cast(self):
    g = small_generator()
    y = g(random_images(1, 16, 16), tf.constant([[1, 0, 1]], tf.int32))
    assert y.dtype == tf.float32

  @pytest.mark.parametrize('layer_name, stride, pad, in_size', [
      ('conv_in', 1, 3, 16), ('down1_conv', 2, 1, 16), ('down2_conv', 2, 1, 8)])
  def test_convs_equal_zero_padded_reference(self, layer_name, stride, pad, in_size):
    g = small_generator()
    layer = getattr(g, layer_name)
    x = np.random.default_rng(2).normal(size=(2, in_size, in_size, layer.kernel.shape[2]))
    expected = torch_conv2d(x, layer.kernel.numpy(), stride, pad)
    np.testing.assert_allclose(layer(tf.constant(x, tf.float32)).numpy(), expected, atol=1e-4)

  def test_residual_conv_equals_zero_padded_reference(self):
    conv = small_generator().res1.conv1
    x = np.random.default_rng(3).normal(size=(1, 4, 4, 32))
    expected = torch_conv2d(x, conv.kernel.numpy(), 1, 1)
    np.testing.assert_allclose(conv(tf.constant(x, tf.float32)).numpy(), expected, atol=1e-4)

  def test_zero_padding_border_effect(self):
    """On a constant image a zero-padded 7x7 conv differs only within 3 pixels of the border."""
    conv = small_generator().conv_in
    y = conv(tf.ones([1, 16, 16, 6])).numpy()[0]
    interior = y[3:-3, 3:-3]
    np.testing.assert_allclose(interior, np.broadcast_to(interior[0, 0], interior.shape), atol=1e-5)
    full_sum = conv.kernel.numpy().sum(axis=(0, 1, 2))
    np.testing.assert_allclose(interior[0, 0], full_sum, atol=1e-5)
    corner_sum = conv.kernel.numpy()[3:, 3:].sum(axis=(0, 1, 2))  # Top-left: half the window.
    np.testing.assert_allclose(y[0, 0], corner_sum, atol=1e-5)

  @pytest.mark.parametrize('layer_name, in_size',
                           [('up1_conv', 4), ('up2_conv', 8), ('up1_conv', 3)])
  def test_transposed_convs_equal_reference(self, layer_name, in_size):
    """Keras 'same' Conv2DTranspose k4 s2 == PyTorch ConvTranspose2d(k4, s2, p1): size 2H."""
    layer = getattr(small_generator(), layer_name)
    x = np.random.default_rng(4).normal(size=(2, in_size, in_size, layer.kernel.shape[3]))
    y = layer(tf.constant(x, tf.float32)).numpy()
    assert y.shape[1:3] == (2 * in_size, 2 * in_size)
    np.testing.assert_allclose(y, torch_conv_transpose2d(x, layer.kernel.numpy(), 2, 1), atol=1e-4)

  def test_config_round_trip(self):
    g = models.Generator(conv_dim=4, c_dim=7, repeat_num=3, name='gen')
    config = g.get_config()
    assert {k: config[k] for k in ('conv_dim', 'c_dim', 'repeat_num')} == dict(
        conv_dim=4, c_dim=7, repeat_num=3)
    clone = models.Generator.from_config(config)
    assert clone.get_config() == config
    for model in (g, clone):
      model.build((None, 8, 8, 3), (None, 7))
    assert clone.count_params() == g.count_params()
    assert weights_by_path(clone) == weights_by_path(g)

  def test_residual_block_config_round_trip(self):
    block = models.ResidualBlock(6, name='block')
    clone = models.ResidualBlock.from_config(block.get_config())
    assert clone.filters == 6 and clone.name == 'block'
    x = random_images(1, 4, 4)[..., :1] * tf.ones([1, 1, 1, 6])
    assert block(x).shape == clone(x).shape == (1, 4, 4, 6)
    assert clone.count_params() == block.count_params() == 2 * (9 * 36 + 12)

  def test_residual_block_adds_identity(self):
    block = models.ResidualBlock(4)
    x = random_images(1, 4, 4)[..., :1] * tf.ones([1, 1, 1, 4])
    block(x)
    block.norm2.gamma.assign(tf.zeros([4]))  # Zero the residual branch: only x remains.
    np.testing.assert_allclose(block(x).numpy(), x.numpy(), atol=1e-6)

  def test_checkpoint_holds_every_variable(self, tmp_path):
    g = small_generator()
    path = tf.train.Checkpoint(model=g).save(str(tmp_path / 'ckpt'))
    saved = [name for name, _ in tf.train.list_variables(path) if name.startswith('model/')]
    # conv_in + IN, 2 x (down conv + IN), 2 blocks x (2 convs + 2 INs), 2 x (up + IN), conv_out.
    assert len(saved) == len(g.weights) == 3 + 2 * 3 + 2 * 6 + 2 * 3 + 1
    restored = small_generator()
    tf.train.Checkpoint(model=restored).restore(path).assert_consumed()
    x, c = random_images(1, 16, 16), random_labels(1, 3)
    np.testing.assert_allclose(restored(x, c), g(x, c), atol=1e-6)

  def test_tf_function_with_dynamic_shapes(self):
    g = small_generator()
    fn = tf.function(lambda x, c: g(x, c),
                     input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32),
                                      tf.TensorSpec([None, 3], tf.float32)])
    for h, w in ((16, 16), (8, 12)):
      x, c = random_images(2, h, w), random_labels(2, 3)
      np.testing.assert_allclose(fn(x, c), g(x, c), atol=1e-5)

  def test_mixed_precision_policy(self):
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy('mixed_bfloat16')
    try:
      g = models.Generator(**SMALL_G)
      y = g(random_images(1, 8, 8), random_labels(1, 3))
    finally:
      keras.mixed_precision.set_global_policy(previous)
    assert y.dtype == tf.bfloat16
    assert all(w.dtype == 'float32' for w in g.weights)

  @pytest.mark.parametrize('x_shape, c_shape, match', [
      ((None, 18, 16, 3), (None, 3), 'multiples of 4'),
      ((None, 16, 16, 1), (None, 3), r'\[N, H, W, 3\]'),
      ((None, 16, 16, 3), (None, 4), 'c_dim'),
  ])
  def test_bad_shapes_raise(self, x_shape, c_shape, match):
    with pytest.raises(ValueError, match=match):
      models.Generator(**SMALL_G).build(x_shape, c_shape)

  @pytest.mark.parametrize('kwargs', [dict(conv_dim=0), dict(c_dim=-1), dict(repeat_num=2.5)])
  def test_bad_arguments_raise(self, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
      models.Generator(**kwargs)


class TestDiscriminator:

  @pytest.mark.parametrize('image_size, repeat_num, c_dim', [(32, 3, 3), (64, 6, 5), (16, 2, 8)])
  def test_output_shapes(self, image_size, repeat_num, c_dim):
    d = models.Discriminator(image_size=image_size, conv_dim=4, c_dim=c_dim, repeat_num=repeat_num)
    out_src, out_cls = d(random_images(2, image_size, image_size))
    patch = image_size // 2 ** repeat_num
    assert out_src.shape == (2, patch, patch, 1)
    assert out_cls.shape == (2, c_dim)

  def test_architecture_and_biases(self):
    d = small_discriminator()
    assert weights_by_path(d) == {
        'conv1/kernel': (4, 4, 3, 8), 'conv1/bias': (8,),
        'conv2/kernel': (4, 4, 8, 16), 'conv2/bias': (16,),
        'conv3/kernel': (4, 4, 16, 32), 'conv3/bias': (32,),
        'conv_src/kernel': (3, 3, 32, 1),
        'conv_cls/kernel': (4, 4, 32, 3),  # kernel image_size / 2**repeat_num, 'valid'.
    }
    assert d.conv_cls.padding == 'valid'
    assert all(getattr(d, f'conv{i}').strides == (2, 2) for i in (1, 2, 3))

  @pytest.mark.parametrize('layer_name, stride, pad, in_size', [
      ('conv1', 2, 1, 32), ('conv3', 2, 1, 8), ('conv_src', 1, 1, 4)])
  def test_convs_equal_zero_padded_reference(self, layer_name, stride, pad, in_size):
    layer = getattr(small_discriminator(), layer_name)
    rng = np.random.default_rng(5)
    if layer.use_bias:
      layer.bias.assign(rng.normal(size=layer.bias.shape))
    x = rng.normal(size=(1, in_size, in_size, layer.kernel.shape[2]))
    expected = torch_conv2d(x, layer.kernel.numpy(), stride, pad)
    if layer.use_bias:
      expected += layer.bias.numpy()
    np.testing.assert_allclose(layer(tf.constant(x, tf.float32)).numpy(), expected, atol=1e-4)

  def test_leaky_relu_slope(self):
    """With identity-like conv weights the model's activations show the 0.01 negative slope."""
    d = models.Discriminator(image_size=4, conv_dim=1, c_dim=1, repeat_num=1)
    d.build((None, 4, 4, 3))
    kernel = np.zeros((4, 4, 3, 1))
    kernel[1, 1, 0, 0] = 1.0  # Output (i, j) reads input (2i, 2j), channel 0.
    d.conv1.kernel.assign(kernel)
    d.conv1.bias.assign([0.0])
    d.conv_cls.kernel.assign(np.ones((2, 2, 1, 1)))
    x = np.zeros((1, 4, 4, 3), np.float32)
    x[0, ::2, ::2, 0] = [[1.0, -2.0], [-3.0, 4.0]]
    _, out_cls = d(tf.constant(x))
    np.testing.assert_allclose(out_cls.numpy(), [[1.0 - 0.02 - 0.03 + 4.0]], atol=1e-6)

  def test_config_round_trip(self):
    d = models.Discriminator(image_size=16, conv_dim=4, c_dim=2, repeat_num=2, name='disc')
    config = d.get_config()
    clone = models.Discriminator.from_config(config)
    assert clone.get_config() == config
    for model in (d, clone):
      model.build((None, 16, 16, 3))
    assert clone.count_params() == d.count_params()
    assert weights_by_path(clone) == weights_by_path(d)

  def test_checkpoint_holds_every_variable(self, tmp_path):
    d = small_discriminator()
    path = tf.train.Checkpoint(model=d).save(str(tmp_path / 'ckpt'))
    saved = [name for name, _ in tf.train.list_variables(path) if name.startswith('model/')]
    assert len(saved) == len(d.weights) == 3 * 2 + 2

  @pytest.mark.parametrize('kwargs, match', [
      (dict(image_size=100, repeat_num=6), 'divisible by 2\\*\\*repeat_num'),
      (dict(image_size=0), 'image_size'),
      (dict(conv_dim=True), 'conv_dim'),
  ])
  def test_bad_arguments_raise(self, kwargs, match):
    with pytest.raises(ValueError, match=match):
      models.Discriminator(**kwargs)

  def test_wrong_image_size_raises(self):
    with pytest.raises(ValueError, match='image_size 32'):
      models.Discriminator(**SMALL_D)(random_images(1, 64, 64))


class TestConv2DImplementations:
  """Every models.Conv2D implementation computes keras.layers.Conv2D, with the same derivatives."""

  CASES = [  # (input shape, filters, kernel, stride, padding, impl)
      ((2, 9, 9, 5), 3, 3, 1, 'same', 'transposed'),
      ((2, 8, 8, 6), 1, 7, 1, 'same', 'transposed'),
      ((2, 8, 8, 3), 4, 4, 2, 'same', 'patches'),
      ((2, 7, 9, 3), 4, 4, 2, 'same', 'patches'),  # odd sizes: asymmetric 'same' padding
      ((2, 4, 4, 8), 6, 4, 2, 'same', 'patches'),
      ((2, 4, 4, 8), 5, 4, 1, 'valid', 'patches'),  # D's conv_cls: kernel = map size
      ((2, 6, 6, 4), 2, 3, 1, 'same', 'patches'),
  ]

  @staticmethod
  def _pair(shape, filters, kernel, stride, padding, impl, use_bias):
    fast = models.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=use_bias,
                         impl=impl, fixed_input_size=True)
    reference = keras.layers.Conv2D(filters, kernel, strides=stride, padding=padding,
                                    use_bias=use_bias)
    fast.build(shape)
    reference.build(shape)
    rng = np.random.default_rng(4)
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in reference.weights]
    fast.set_weights(weights)
    reference.set_weights(weights)
    assert fast.resolved_impl == impl
    return fast, reference

  @pytest.mark.parametrize('shape, filters, kernel, stride, padding, impl', CASES)
  def test_output_and_derivatives_match_keras(self, shape, filters, kernel, stride, padding, impl):
    fast, reference = self._pair(shape, filters, kernel, stride, padding, impl, use_bias=True)
    x = tf.constant(np.random.default_rng(5).normal(size=shape), tf.float32)

    def derivatives(layer):
      # First derivatives, and the second ones a gradient penalty takes:
      # d/dW ||d sum(f(x)^2)/dx||^2.
      with tf.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
          inner.watch(x)
          y = layer(x)
          loss = tf.reduce_sum(y * y)
        dx = inner.gradient(loss, x)
        penalty = tf.reduce_sum(dx * dx)
      first = outer.gradient(loss, [x] + layer.trainable_weights)
      second = outer.gradient(penalty, layer.trainable_weights)
      return [y, dx] + first + [s if s is not None else tf.zeros_like(w)
                                for s, w in zip(second, layer.trainable_weights)]

    for got, want in zip(derivatives(fast), derivatives(reference)):
      scale = max(1.0, float(tf.reduce_max(tf.abs(want))))
      np.testing.assert_allclose(got.numpy(), want.numpy(), atol=2e-5 * scale, rtol=1e-5)

  def test_auto_choices_of_the_full_size_networks(self):
    g, d = models.Generator(device_kind='CPU'), models.Discriminator(device_kind='CPU')
    g(tf.zeros([1, 128, 128, 3]), tf.zeros([1, 5]))
    d(tf.zeros([1, 128, 128, 3]))
    impls = {f'G/{path}': layer.resolved_impl for path, layer in conv_layers(g)}
    impls.update({f'D/{path}': layer.resolved_impl for path, layer in conv_layers(d)})
    expected = {k: 'native' for k in impls}
    expected.update({'G/conv_out': 'transposed', 'D/conv_src': 'transposed',
                     'D/conv5': 'patches', 'D/conv6': 'patches', 'D/conv_cls': 'patches'})
    assert impls == expected

  def test_small_discriminator_layers_stay_native(self):
    """The demo's D (32 px, 16 channels): small outputs but few channels, where patches lose."""
    d = models.Discriminator(image_size=32, conv_dim=16, c_dim=5, repeat_num=4, device_kind='CPU')
    d(tf.zeros([1, 32, 32, 3]))
    impls = {path: layer.resolved_impl for path, layer in conv_layers(d)}
    assert impls == {'conv1': 'native', 'conv2': 'native', 'conv3': 'native', 'conv4': 'native',
                     'conv_src': 'transposed', 'conv_cls': 'native'}

  def test_generator_never_computes_from_patches(self):
    """G takes any size (export): its convs must not depend on the size they were built for."""
    g = small_generator(size=8)  # down2's output is 2x2: would qualify for patches in D
    assert all(layer.resolved_impl != 'patches' for _, layer in conv_layers(g))
    y = g(random_images(1, 24, 16), random_labels(1, 3))
    assert y.shape == (1, 24, 16, 3)

  AUTO_CASES = [  # (input shape, filters, kernel, stride, padding, fixed size, 'auto' on CPU)
      ((1, 16, 16, 64), 3, 7, 1, 'same', False, 'transposed'),  # G's conv_out
      ((1, 4, 4, 256), 8, 4, 2, 'same', True, 'patches'),  # like D's conv5 at 128 px
      ((1, 16, 16, 8), 16, 3, 1, 'same', False, 'native'),
  ]

  @pytest.mark.parametrize('shape, filters, kernel, stride, padding, fixed, on_cpu', AUTO_CASES)
  def test_auto_follows_the_shape_on_cpu_and_is_native_on_gpu_and_tpu(
      self, shape, filters, kernel, stride, padding, fixed, on_cpu):
    resolved = {}
    for kind in distribute.DEVICE_KINDS:
      layer = models.Conv2D(filters, kernel, strides=stride, padding=padding,
                            fixed_input_size=fixed, device_kind=kind)
      layer.build(shape)
      resolved[kind] = layer.resolved_impl
    assert resolved == {'CPU': on_cpu, 'GPU': 'native', 'TPU': 'native'}

  @pytest.mark.parametrize('impl', models.CONV_IMPLS[1:])
  def test_an_explicit_impl_is_used_on_every_device(self, impl):
    for kind in distribute.DEVICE_KINDS:
      layer = models.Conv2D(2, 3, padding='same', impl=impl, fixed_input_size=True,
                            device_kind=kind)
      layer.build((1, 4, 4, 16))
      assert layer.resolved_impl == impl, kind

  def test_without_a_device_kind_auto_follows_the_current_strategy(self, monkeypatch):
    resolved = {}
    for kind in ('CPU', 'GPU'):
      monkeypatch.setattr(distribute, 'device_kind', lambda strategy=None, kind=kind: kind)
      layer = models.Conv2D(3, 7, padding='same')  # G's conv_out
      layer.build((1, 16, 16, 64))
      resolved[kind] = layer.resolved_impl
    assert resolved == {'CPU': 'transposed', 'GPU': 'native'}

  def test_bad_device_kind_names_the_choices(self):
    with pytest.raises(ValueError,
                       match="device_kind must be None or one of CPU, GPU, TPU, got 'gpu'"):
      models.Conv2D(2, 3, device_kind='gpu')
    with pytest.raises(ValueError, match='Generator: device_kind'):
      models.Generator(device_kind='cuda')

  def test_patches_rejects_another_input_size(self):
    layer = models.Conv2D(2, 4, strides=2, padding='same', impl='patches', fixed_input_size=True)
    layer.build((1, 4, 4, 3))
    with pytest.raises(ValueError, match=r'built for 4x4 inputs.*\(1, 8, 8, 3\)'):
      layer(tf.zeros([1, 8, 8, 3]))

  def test_bad_impl_names_the_choices(self):
    with pytest.raises(ValueError, match='impl must be one of auto, native, transposed, patches'):
      models.Conv2D(2, 3, impl='fast')
    layer = models.Conv2D(2, 4, strides=2, padding='same', impl='transposed')
    with pytest.raises(ValueError, match='"transposed" needs stride 1'):
      layer.build((1, 8, 8, 3))


def conv_layers(model):
  """(path, layer) of every models.Conv2D in the model, paths like 'res1/conv2' or 'conv_out'."""
  found = []
  for layer in model._flatten_layers(include_self=False, recursive=False):
    if isinstance(layer, models.Conv2D):
      found.append((layer.name, layer))
    elif isinstance(layer, models.ResidualBlock):
      found += [(f'{layer.name}/{path}', sub) for path, sub in conv_layers(layer)]
  return found


# G's conv_out (12 -> 3) is transposed on CPU; D's conv_src (256 -> 1) transposed and its conv_cls
# (2x2x256 -> 1x1) from patches.
SUMMARY_MODEL = config_lib.ModelConfig(image_size=16, g_conv_dim=12, d_conv_dim=64,
                                       g_repeat_num=1, d_repeat_num=3)


@pytest.mark.parametrize('kind, detected, g_summary, d_summary', [
    ('CPU', 'GPU', 'native x5, transposed x1 (conv_out)',
     'native x3, transposed x1 (conv_src), patches x1 (conv_cls)'),
    ('GPU', 'CPU', 'native x6', 'native x5'),
    (None, 'GPU', 'native x6', 'native x5'),  # None: the current strategy's device kind
    (None, 'CPU', 'native x5, transposed x1 (conv_out)',
     'native x3, transposed x1 (conv_src), patches x1 (conv_cls)'),
])
def test_build_chooses_convolutions_for_the_device_kind(monkeypatch, kind, detected, g_summary,
                                                         d_summary):
  monkeypatch.setattr(distribute, 'device_kind', lambda strategy=None: detected)
  G, D = models.build(SUMMARY_MODEL, labels.label_space('CelebA'), device_kind=kind)
  assert G.device_kind == D.device_kind == (kind or detected)
  assert (models.conv_summary(G), models.conv_summary(D)) == (g_summary, d_summary)


def test_conv_summary_names_nested_layers_and_unbuilt_ones():
  g = models.Generator(conv_dim=4, c_dim=2, repeat_num=1, device_kind='CPU')
  assert models.conv_summary(g) == ('unbuilt x6 (conv_in, down1_conv, down2_conv, res1/conv1, '
                                    'res1/conv2, conv_out)')
  g.build((None, 8, 8, 3), (None, 2))
  assert models.conv_summary(g) == 'native x6'


def test_non_finite_weights_names_the_variables():
  G, D = models.build(config_lib.ModelConfig(image_size=16, g_conv_dim=4, d_conv_dim=4,
                                             g_repeat_num=1, d_repeat_num=2),
                      labels.label_space('CelebA'))
  assert models.non_finite_weights({'G': G, 'D': D}) == []
  G.res1.conv1.kernel.assign(tf.fill(G.res1.conv1.kernel.shape, float('nan')))
  D.conv_src.kernel.assign(D.conv_src.kernel * float('inf'))
  bad = models.non_finite_weights({'G': G, 'D': D})
  assert len(bad) == 2 and bad[0].startswith('G/') and 'res1' in bad[0] and bad[1].startswith('D/')
