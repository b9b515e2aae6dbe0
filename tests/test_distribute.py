"""Strategies, precisions and XLA: the same updates whatever the replica count, resumable across
strategies, two real worker processes, finite mixed-precision training; the device kind of a
strategy and the start-up warning of emulated bfloat16.

The session has two logical CPU devices (conftest.py), so `mirrored` runs two replicas here.
"""

import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers
from helpers import with_train as _with_train
from stargan_tf import config as config_lib
from stargan_tf import distribute
from stargan_tf import labels
from stargan_tf import models
from stargan_tf import runs
from stargan_tf import train_step
from stargan_tf import trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = config_lib.ModelConfig(image_size=16, g_conv_dim=4, d_conv_dim=4, g_repeat_num=1,
                               d_repeat_num=2)
SPACE = labels.label_space('CelebA', ('Black_Hair', 'Male', 'Young'))
BATCH = 4


def _batch():
  r = np.random.RandomState(1)
  return (r.uniform(-1, 1, [BATCH, 16, 16, 3]).astype(np.float32),
          r.randint(0, 2, [BATCH, 3]).astype(np.float32),
          r.randint(0, 2, [BATCH, 3]).astype(np.float32),
          r.uniform(size=[BATCH, 1, 1, 1]).astype(np.float32))


JOINT = labels.label_space('Both', ('Black_Hair', 'Male', 'Young'), ('a', 'b'))


def _steps(strategy, weights=None, precision='float32', jit_compile=False, space=SPACE):
  train = config_lib.TrainConfig(precision=precision)
  keras.utils.set_random_seed(0)
  with strategy.scope(), trainer.dtype_policy(precision):
    G, D = models.build(MODEL, space)
    if weights:
      G.set_weights(weights[0])
      D.set_weights(weights[1])
    g_opt = runs.build_optimizer(train.g_lr, train, G.trainable_variables)
    d_opt = runs.build_optimizer(train.d_lr, train, D.trainable_variables)
    rng = tf.random.Generator.from_seed(0)
  return train_step.Steps(G, D, g_opt, d_opt, config_lib.LossConfig(), space, strategy, rng,
                          jit_compile=jit_compile)


def _split(strategy, array):
  """The global batch `array` as per-replica slices (replica i gets rows [i*k, (i+1)*k))."""
  per_replica = len(array) // strategy.num_replicas_in_sync

  def part(context):
    i = context.replica_id_in_sync_group
    return tf.constant(array[i * per_replica:(i + 1) * per_replica])

  return strategy.experimental_distribute_values_from_function(part)


def _one_iteration(steps, strategy, dataset='CelebA'):
  x, c_org, c_trg, alpha = _batch()
  if dataset == 'RaFD':  # one-hot labels of the joint test space's 2 classes
    c_org, c_trg = np.eye(2, dtype=np.float32)[[0, 1, 1, 0]], np.eye(2, dtype=np.float32)[[1] * 4]
  x, c_org, c_trg, alpha = (_split(strategy, a) for a in (x, c_org, c_trg, alpha))
  d_metrics = steps.d_step(x, c_org, c_trg, alpha, dataset)
  g_metrics = steps.g_step(x, c_org, c_trg, dataset)
  return {k: float(v) for k, v in {**d_metrics, **g_metrics}.items()}


def _state(steps):
  """{'G/<i> <name>': value} of the weights and optimizer variables, numbered in model order."""
  state = {}
  for prefix, variables in (('G', steps.G.weights), ('D', steps.D.weights),
                            ('g_opt', steps.g_optimizer.variables),
                            ('d_opt', steps.d_optimizer.variables)):
    for i, v in enumerate(variables):
      # Paths contain the model's unique name (generator, generator_1, ...): keep the last part.
      state[f'{prefix}/{i} {v.path.rsplit("/", 1)[-1].rsplit("_", 1)[-1]}'] = v.numpy()
  return state


def test_two_logical_cpu_devices_are_configured():
  assert len(tf.config.list_logical_devices('CPU')) == helpers.NUM_CPU_DEVICES
  assert distribute.make_strategy('mirrored').num_replicas_in_sync == helpers.NUM_CPU_DEVICES


def test_configuring_devices_too_late_names_the_flag():
  # Whatever ran before in this process (under pytest-xdist, possibly nothing), an op has run now.
  tf.constant(1.0).numpy()
  with pytest.raises(RuntimeError, match='--cpu_devices=3: TensorFlow already initialised'):
    distribute.configure_cpu_devices(3)


def _fake_strategy(*devices):
  return types.SimpleNamespace(extended=types.SimpleNamespace(worker_devices=devices))


def test_device_kind_of_a_strategy():
  local = 'GPU' if tf.config.list_logical_devices('GPU') else 'CPU'
  assert distribute.device_kind(distribute.make_strategy('default')) == local
  assert distribute.device_kind(distribute.make_strategy('mirrored')) == local
  assert distribute.device_kind() == local
  workers = '/job:worker/replica:0/task:{}/device:{}:{}'.format
  assert distribute.device_kind(_fake_strategy(workers(1, 'GPU', 0), workers(1, 'GPU', 1))) == 'GPU'
  assert distribute.device_kind(_fake_strategy(workers(0, 'TPU', 0))) == 'TPU'
  assert distribute.device_kind(_fake_strategy(workers(0, 'CPU', 0), workers(0, 'CPU', 1))) == 'CPU'


def _cpuinfo(key, *flag_lines):
  """/proc/cpuinfo text of one processor per flag line."""
  return '\n'.join(f'processor\t: {i}\nmodel name\t: some CPU\n{key}\t\t: {flags}\n'
                   for i, flags in enumerate(flag_lines))


X86_AVX2 = _cpuinfo('flags', 'fpu sse2 avx avx2 fma', 'fpu sse2 avx avx2 fma')
X86_AVX512_BF16 = _cpuinfo('flags', 'fpu avx2 avx512f avx512_vnni avx512_bf16 clzero',
                           'fpu avx2 avx512f avx512_vnni avx512_bf16 clzero')
X86_AMX = _cpuinfo('flags', 'fpu avx2 avx512f amx_bf16 amx_tile amx_int8')
X86_AMX_INT8_ONLY = _cpuinfo('flags', 'fpu avx2 avx512f amx_tile amx_int8')
ARM_BF16 = _cpuinfo('Features', 'fp asimd evtstrm aes pmull sha1 sha2 crc32 asimddp i8mm bf16')
ARM_NO_BF16 = _cpuinfo('Features', 'fp asimd evtstrm aes pmull sha1 sha2 crc32 svebf16')
MIXED = _cpuinfo('flags', 'fpu avx2 avx512_bf16', 'fpu avx2')


@pytest.mark.parametrize('cpuinfo, native', [
    (X86_AVX2, False), (X86_AVX512_BF16, True), (X86_AMX, True), (X86_AMX_INT8_ONLY, False),
    (ARM_BF16, True), (ARM_NO_BF16, False), (MIXED, False),
    ('', None), ('processor\t: 0\nmodel name\t: some CPU\n', None),
])
def test_native_bfloat16_from_cpuinfo(cpuinfo, native):
  assert distribute.native_bfloat16(cpuinfo) is native


NO_BF16 = 'on a CPU without bfloat16 arithmetic'
ONEDNN_OFF = "with TensorFlow's oneDNN kernels off"


@pytest.mark.parametrize('precision, kind, cpuinfo, onednn, level, says', [
    ('mixed_bfloat16', 'CPU', X86_AVX2, True, logging.WARNING, NO_BF16),
    ('mixed_bfloat16', 'CPU', ARM_NO_BF16, False, logging.WARNING, NO_BF16),
    ('mixed_bfloat16', 'CPU', X86_AVX512_BF16, False, logging.WARNING, ONEDNN_OFF),
    ('mixed_bfloat16', 'CPU', '', False, logging.WARNING, ONEDNN_OFF),
    ('mixed_bfloat16', 'CPU', '', True, logging.INFO, 'cannot tell whether this CPU'),
    ('mixed_bfloat16', 'CPU', X86_AVX512_BF16, True, None, None),
    ('mixed_bfloat16', 'CPU', ARM_BF16, True, None, None),
    ('mixed_bfloat16', 'GPU', X86_AVX2, False, None, None),
    ('mixed_bfloat16', 'TPU', X86_AVX2, False, None, None),
    ('float32', 'CPU', X86_AVX2, False, None, None),
    ('mixed_float16', 'CPU', X86_AVX2, False, None, None),
])
def test_bfloat16_warning(caplog, precision, kind, cpuinfo, onednn, level, says):
  with caplog.at_level(logging.INFO):
    distribute.warn_if_bfloat16_emulated(precision, kind, cpuinfo=cpuinfo, onednn=onednn)
  logged = [(r.levelno, r.getMessage()) for r in caplog.records]
  if level is None:
    assert not logged
    return
  [(got_level, message)] = logged
  assert got_level == level and says in message and '--precision=float32' in message
  if level == logging.WARNING:
    assert 'emulates bfloat16 on this CPU' in message and 'many times slower' in message


@pytest.mark.parametrize('content, level', [(X86_AVX2, logging.WARNING), (None, logging.INFO)])
def test_bfloat16_warning_reads_proc_cpuinfo(caplog, monkeypatch, tmp_path, content, level):
  path = tmp_path / 'cpuinfo'
  if content is not None:
    path.write_text(content)
  monkeypatch.setattr(distribute, 'CPUINFO_PATH', str(path))
  with caplog.at_level(logging.INFO):
    distribute.warn_if_bfloat16_emulated('mixed_bfloat16', 'CPU', onednn=True)
  assert [r.levelno for r in caplog.records] == [level]


def test_onednn_enabled_follows_the_environment():
  # conftest.py sets TF_ENABLE_ONEDNN_OPTS=0 unless the environment sets it.
  value = os.environ['TF_ENABLE_ONEDNN_OPTS'].lower()
  assert distribute.onednn_enabled() == (value in ('1', 'true'))


# Weights after Adam steps on 2 replicas vs 1 device agree to a quarter of one Adam step (lr 1e-4):
# Adam's normalisation magnifies the summation-order rounding of near-zero gradients (e.g. a mask
# column's, zero in one dataset's batches) to ~1e-5 (measured 1.3e-5 on 2 of G's 1,176 first-layer
# weights under XLA with one thread per process, as under `pytest -n 2`).
ADAM_STEP_ROUNDING = 2.5e-5


@pytest.mark.parametrize('jit_compile', [False, True])
def test_mirrored_updates_equal_the_default_strategy(jit_compile):
  """One D and one G update on 2 replicas = the same on 1 device, same global batch and draws."""
  default = tf.distribute.get_strategy()
  single = _steps(default)
  mirrored_strategy = distribute.make_strategy('mirrored')
  assert mirrored_strategy.num_replicas_in_sync == 2
  mirrored = _steps(mirrored_strategy, weights=(single.G.get_weights(), single.D.get_weights()),
                    jit_compile=jit_compile)
  before = _state(single)
  metrics_single = _one_iteration(single, default)
  metrics_mirrored = _one_iteration(mirrored, mirrored_strategy)
  for name in metrics_single:
    np.testing.assert_allclose(metrics_mirrored[name], metrics_single[name], rtol=1e-5,
                               atol=1e-6, err_msg=name)
  a, b = _state(single), _state(mirrored)
  assert a.keys() == b.keys()
  assert any(not np.array_equal(before[k], a[k]) for k in a if k.startswith('D/'))
  assert any(not np.array_equal(before[k], a[k]) for k in a if k.startswith('G/'))
  for name in a:
    np.testing.assert_allclose(b[name], a[name], rtol=1e-5, atol=ADAM_STEP_ROUNDING, err_msg=name)


def test_joint_mirrored_updates_equal_the_default_strategy():
  """--dataset=Both: a RaFD then a CelebA iteration on 2 replicas = the same on 1 device."""
  default = tf.distribute.get_strategy()
  single = _steps(default, space=JOINT)
  mirrored_strategy = distribute.make_strategy('mirrored')
  mirrored = _steps(mirrored_strategy, weights=(single.G.get_weights(), single.D.get_weights()),
                    space=JOINT)
  for dataset in ('RaFD', 'CelebA'):
    metrics_single = _one_iteration(single, default, dataset)
    metrics_mirrored = _one_iteration(mirrored, mirrored_strategy, dataset)
    for name in metrics_single:
      np.testing.assert_allclose(metrics_mirrored[name], metrics_single[name], rtol=1e-5,
                                 atol=1e-6, err_msg=f'{dataset} {name}')
  a, b = _state(single), _state(mirrored)
  for name in a:
    np.testing.assert_allclose(b[name], a[name], rtol=1e-5, atol=ADAM_STEP_ROUNDING, err_msg=name)


def test_replicas_draw_independent_random_numbers():
  strategy = distribute.make_strategy('mirrored')
  steps = _steps(strategy)
  c = _split(strategy, np.zeros([8, 3], np.float32))
  _, alpha = steps.draw(c)
  first, second = (a.numpy().ravel() for a in strategy.experimental_local_results(alpha))
  assert not np.allclose(first, second)


@pytest.mark.slow
@pytest.mark.parametrize('first, second', [('mirrored', 'default'), ('default', 'mirrored')])
def test_checkpoint_resumes_under_another_strategy(tiny_config, tmp_path, first, second):
  config = _with_train(tiny_config, num_iters=4, model_save_step=2, strategy=first)
  trainer.train(config)
  config = _with_train(config, work_dir=str(tmp_path / 'resumed'))
  helpers.killed_after(tiny_config.train.work_dir, config.train.work_dir, 2)
  metrics = trainer.train(_with_train(config, strategy=second))
  assert metrics and all(np.isfinite(v) for v in metrics.values())
  ckpt_dir = os.path.join(config.train.work_dir, 'checkpoints')
  assert tf.train.latest_checkpoint(ckpt_dir).endswith('ckpt-4')
  reader = tf.train.load_checkpoint(os.path.join(ckpt_dir, 'ckpt-4'))
  assert reader.get_tensor('step/.ATTRIBUTES/VARIABLE_VALUE') == 4
  assert reader.get_tensor('d_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE') == 4


@pytest.mark.slow
@pytest.mark.parametrize('precision', config_lib.PRECISIONS)
def test_each_precision_trains_with_finite_losses(tiny_config, precision):
  config = _with_train(tiny_config, num_iters=2, n_critic=1, precision=precision)
  metrics = trainer.train(config)
  assert {'D/loss', 'G/loss', 'D/loss_gp', 'G/loss_rec'} <= set(metrics)
  assert all(np.isfinite(v) for v in metrics.values()), metrics
  # The checkpoint holds the plain Adam state whatever the precision (resumable across them).
  names = [n for n, _ in tf.train.list_variables(
      tf.train.latest_checkpoint(os.path.join(config.train.work_dir, 'checkpoints')))]
  assert not any('loss_scale' in n or 'dynamic_scale' in n for n in names)
  assert 'g_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE' in names


@pytest.mark.slow
@pytest.mark.parametrize('precision', ['mixed_bfloat16', 'mixed_float16'])
def test_joint_training_under_mirrored_and_mixed_precision(make_tiny_both_config, tmp_path,
                                                           precision):
  config = _with_train(make_tiny_both_config(tmp_path / 'run'), num_iters=2, n_critic=1,
                       strategy='mirrored', precision=precision)
  metrics = trainer.train(config)
  assert {'CelebA/G/loss_cls', 'RaFD/G/loss_cls', 'RaFD/D/loss_gp'} <= set(metrics)
  assert all(np.isfinite(v) for v in metrics.values()), metrics


def test_float16_uses_loss_scaling():
  steps = _steps(tf.distribute.get_strategy(), precision='mixed_float16')
  assert isinstance(steps.g_optimizer, keras.optimizers.LossScaleOptimizer)
  assert steps.G.conv_in.compute_dtype == 'float16' and steps.G.conv_in.kernel.dtype == 'float32'
  metrics = _one_iteration(steps, tf.distribute.get_strategy())
  assert all(np.isfinite(v) for v in metrics.values())


BF16_TOLERANCE = 0.1  # max |G_bf16 - G_fp32| in [-1, 1] units on the same weights


def test_bfloat16_generator_stays_close_to_float32():
  x, c, _, _ = _batch()
  keras.utils.set_random_seed(3)
  G32, _ = models.build(MODEL, SPACE)
  with trainer.dtype_policy('mixed_bfloat16'):
    G16, _ = models.build(MODEL, SPACE)
  G16.set_weights(G32.get_weights())
  y32 = G32(x, c).numpy()
  y16 = G16(x, c)
  assert y16.dtype == tf.bfloat16
  diff = np.abs(tf.cast(y16, tf.float32).numpy() - y32)
  assert diff.max() < BF16_TOLERANCE and diff.mean() < BF16_TOLERANCE / 5, (diff.max(), diff.mean())
  assert keras.config.dtype_policy().name == 'float32'  # the policy was restored


def _free_ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(('127.0.0.1', 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


@pytest.mark.slow
def test_two_worker_processes_train_and_the_chief_checkpoint_restores(tmp_path, synthetic_dir):
  work_dir = tmp_path / 'multi'
  workers = [f'127.0.0.1:{p}' for p in _free_ports(2)]
  args = [sys.executable, '-m', 'stargan_tf.train', '--flagfile=configs/synthetic.flags',
          '--strategy=multi_worker', f'--work_dir={work_dir}',
          f'--attr_path={synthetic_dir}/list_attr_celeba.txt',
          f'--celeba_image_dir={synthetic_dir}/img_align_celeba', '--synthetic_images=0',
          '--test_size=17', '--g_conv_dim=8', '--d_conv_dim=8', '--g_repeat_num=1',
          '--num_iters=4', '--num_iters_decay=0', '--n_critic=2', '--log_step=2',
          '--model_save_step=2', '--batch_size=4']
  processes = []
  try:
    for index in range(2):
      tf_config = {'cluster': {'worker': workers}, 'task': {'type': 'worker', 'index': index}}
      env = dict(os.environ, PYTHONPATH=ROOT, TF_CONFIG=json.dumps(tf_config))
      processes.append(subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=420)[0] for p in processes]
  finally:
    for p in processes:
      if p.poll() is None:
        p.kill()
        p.wait()
  for index, (p, out) in enumerate(zip(processes, outputs)):
    assert p.returncode == 0, f'worker {index}:\n{out[-3000:]}'
  assert 'this is worker 0' in outputs[0] and 'this is worker 1' in outputs[1]
  assert '2 replica(s), global batch 4' in outputs[0]
  assert 'Saved checkpoint' in outputs[0] and 'Saved checkpoint' not in outputs[1]
  # Only the chief's outputs remain; the other worker's scratch copies were removed.
  assert sorted(os.listdir(work_dir)) == ['.lock', 'checkpoints', 'config.json', 'logs', 'samples']
  assert not os.path.exists(tmp_path / '.workers') and not os.path.exists(work_dir / '.workers')
  restored = runs.Run(str(work_dir)).restore()
  config, G = restored.config, restored.G
  assert config.train.strategy == 'multi_worker'
  assert G(tf.zeros([1, 32, 32, 3]), tf.zeros([1, 5])).shape == (1, 32, 32, 3)
