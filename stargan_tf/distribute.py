"""tf.distribute set-up: logical CPU devices, strategies, the chief, and where each worker writes;
the kind of device training computes on, and whether bfloat16 is emulated there.

Strategies (`--strategy`):
  default       one device (the first GPU, else the CPU).
  mirrored      MirroredStrategy over every local GPU, or over every logical CPU device when there
                is no GPU (`--cpu_devices=N` splits the CPU into N devices, for tests and CPU
                boxes).
  multi_worker  MultiWorkerMirroredStrategy: one process per host, cluster from TF_CONFIG.

Under multi_worker every worker runs the same program. Only the chief (task `chief`, or `worker` 0
when the cluster has no chief) writes the run's outputs; the others write their copies of the
checkpoints to scratch folders that are removed (`scratch_dir`), because saving a distributed
checkpoint is a collective operation every worker must take part in.

bfloat16 on CPUs: TensorFlow computes bfloat16 natively on a CPU only with its oneDNN kernels on,
and only on CPUs with bfloat16 instructions (x86: AVX512-BF16 or AMX-BF16; Arm: BF16). Otherwise
it emulates bfloat16 and training is many times slower than in float32: on an AVX512-BF16 CPU
with oneDNN off (the commands' default, see `cli`), the gradients of a 3x3 128-channel
convolution took 15 times as long as in float32 (half as long with oneDNN on).
`warn_if_bfloat16_emulated` says so at start-up. It reads the CPU's instructions from Linux's
/proc/cpuinfo; where there is none (other systems), it cannot tell and logs a note, not a warning.
"""

import json
import os
import shutil

from absl import logging
import tensorflow as tf

from stargan_tf import config as config_lib

STRATEGIES = config_lib.STRATEGIES
DEVICE_KINDS = ('CPU', 'GPU', 'TPU')
CPUINFO_PATH = '/proc/cpuinfo'
# /proc/cpuinfo flags of bfloat16 arithmetic: x86 'flags' (AMX: amx_bf16, not amx_tile alone,
# which AMX-INT8-only CPUs would have too) and Arm 'Features'.
BFLOAT16_CPU_FLAGS = frozenset({'avx512_bf16', 'amx_bf16', 'bf16'})


def configure_cpu_devices(num_devices):
  """Splits the first physical CPU into `num_devices` logical devices (0 or 1: leave as is).

  Must run before TensorFlow initialises its devices (before the first op); raises RuntimeError
  naming the flag otherwise. Calling it again with the same number is a no-op.
  """
  if num_devices <= 1:
    return
  cpu = tf.config.list_physical_devices('CPU')[0]
  current = tf.config.get_logical_device_configuration(cpu)
  if current is not None and len(current) == num_devices:
    return
  try:
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)])
  except RuntimeError as e:
    raise RuntimeError(f'--cpu_devices={num_devices}: TensorFlow already initialised its devices '
                       f'({len(tf.config.list_logical_devices("CPU"))} logical CPU(s)); set it '
                       'before anything runs a TensorFlow op.') from e


def make_strategy(name):
  """Returns the strategy called `name` (one of STRATEGIES)."""
  if name == 'default':
    return tf.distribute.get_strategy()
  if name == 'mirrored':
    if tf.config.list_logical_devices('GPU'):
      return tf.distribute.MirroredStrategy()
    cpus = [d.name for d in tf.config.list_logical_devices('CPU')]
    # Several CPU devices share one memory; reduce on the first rather than via NCCL.
    return tf.distribute.MirroredStrategy(
        devices=cpus, cross_device_ops=tf.distribute.ReductionToOneDevice(cpus[0]))
  if name == 'multi_worker':
    if 'TF_CONFIG' not in os.environ:
      logging.warning('--strategy=multi_worker without TF_CONFIG: training as a single worker.')
    else:
      _check_tf_config(os.environ['TF_CONFIG'])
    return tf.distribute.MultiWorkerMirroredStrategy()
  raise ValueError(f'--strategy={name!r}: expected one of {", ".join(STRATEGIES)}.')


def device_kind(strategy=None):
  """'GPU', 'TPU' or 'CPU': the kind of device `strategy` (default: the current one) computes on.

  A strategy's replicas run on its `extended.worker_devices`. The default strategy has none: it
  runs on the first GPU when there is one (TensorFlow's placement), else on the CPU.
  """
  strategy = strategy or tf.distribute.get_strategy()
  try:
    devices = strategy.extended.worker_devices
  except RuntimeError:  # the default strategy
    return 'GPU' if tf.config.list_logical_devices('GPU') else 'CPU'
  kinds = {tf.DeviceSpec.from_string(d).device_type for d in devices}
  return next((kind for kind in ('TPU', 'GPU') if kind in kinds), 'CPU')


def native_bfloat16(cpuinfo):
  """Whether the CPU of `cpuinfo` (the text of Linux's /proc/cpuinfo) has bfloat16 arithmetic.

  True when every processor's 'flags' (x86) or 'Features' (Arm) line lists one of
  BFLOAT16_CPU_FLAGS; None when the text has no such line (nothing to tell from).
  """
  flag_sets = [set(value.split()) for key, _, value in
               (line.partition(':') for line in cpuinfo.splitlines())
               if key.strip() in ('flags', 'Features')]
  if not flag_sets:
    return None
  return all(flags & BFLOAT16_CPU_FLAGS for flags in flag_sets)


def _read_cpuinfo():
  try:
    with open(CPUINFO_PATH) as f:
      return f.read()
  except OSError:
    return ''


def onednn_enabled():
  """Whether TensorFlow's oneDNN CPU kernels are on (TF_ENABLE_ONEDNN_OPTS, else TF's default)."""
  try:
    from tensorflow.python.util import _pywrap_util_port  # pylint: disable=g-import-not-at-top
    return bool(_pywrap_util_port.IsMklEnabled())
  except (ImportError, AttributeError):  # not in this TensorFlow: the variable alone
    return os.environ.get('TF_ENABLE_ONEDNN_OPTS', '').lower() in ('1', 'true')


def warn_if_bfloat16_emulated(precision, kind, cpuinfo=None, onednn=None):
  """Logs a warning when training in mixed_bfloat16 on a CPU that emulates bfloat16.

  See the module docstring. Where the CPU's features cannot be read (no /proc/cpuinfo) and oneDNN
  is on, it logs a note (INFO) that bfloat16 may be emulated.

  Args:
    precision: one of config.PRECISIONS.
    kind: the device kind training computes on (`device_kind`); only 'CPU' can warn.
    cpuinfo: the text of /proc/cpuinfo; None: read it ('' where there is none).
    onednn: whether oneDNN's kernels are on; None: `onednn_enabled()`.
  """
  if precision != 'mixed_bfloat16' or kind != 'CPU':
    return
  native = native_bfloat16(_read_cpuinfo() if cpuinfo is None else cpuinfo)
  onednn = onednn_enabled() if onednn is None else onednn
  slower = ('TensorFlow emulates bfloat16 on this CPU, and training is expected to be many times '
            'slower than in float32. Use --precision=float32')
  if native is False:
    logging.warning('--precision=mixed_bfloat16 on a CPU without bfloat16 arithmetic (no '
                    'AVX512-BF16 or AMX-BF16; on Arm, no BF16): %s.', slower)
  elif not onednn:
    logging.warning('--precision=mixed_bfloat16 on CPU with TensorFlow\'s oneDNN kernels off '
                    '(TF_ENABLE_ONEDNN_OPTS=0, which the commands set unless the environment '
                    'sets it; see docs/training.md): only they use a CPU\'s bfloat16 '
                    'instructions. %s, or TF_ENABLE_ONEDNN_OPTS=1 on a CPU with bfloat16 '
                    'arithmetic (AVX512-BF16, AMX-BF16, Arm BF16).', slower)
  elif native is None:
    logging.info('--precision=mixed_bfloat16 on CPU: cannot tell whether this CPU has bfloat16 '
                 'arithmetic (no %s). Without it (x86: AVX512-BF16 or AMX-BF16; Arm: BF16) '
                 'TensorFlow emulates bfloat16 and training is many times slower than in '
                 'float32 (--precision=float32).', CPUINFO_PATH)


def _check_tf_config(text):
  try:
    tf_config = json.loads(text)
    cluster, task = tf_config['cluster'], tf_config['task']
    task_type, task_id = task['type'], int(task['index'])
    addresses = cluster[task_type]
    addresses[task_id]  # pylint: disable=pointless-statement
  except (ValueError, KeyError, TypeError, IndexError) as e:
    raise ValueError('TF_CONFIG must be JSON like {"cluster": {"worker": ["host1:port", '
                     '"host2:port"]}, "task": {"type": "worker", "index": 0}} with the task in '
                     f'the cluster; got {text!r} ({type(e).__name__}: {e}).') from None


def task(strategy):
  """(task_type, task_id) of this process; (None, None) outside a multi-worker cluster."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not resolver.cluster_spec().as_dict():
    return None, None
  return resolver.task_type, resolver.task_id


def is_chief(strategy):
  """True for the process that writes the run's outputs."""
  task_type, task_id = task(strategy)
  if task_type is None:
    return True
  if task_type == 'chief':
    return True
  has_chief = 'chief' in strategy.cluster_resolver.cluster_spec().as_dict()
  return task_type == 'worker' and task_id == 0 and not has_chief


def scratch_dir(directory, strategy):
  """`directory` on the chief; a per-worker scratch folder next to it on the other workers."""
  if is_chief(strategy):
    return directory
  task_type, task_id = task(strategy)
  return os.path.join(os.path.dirname(os.path.abspath(directory)), '.workers',
                      f'{task_type}-{task_id}', os.path.basename(directory))


def remove_scratch(directory, strategy):
  """Deletes a non-chief worker's scratch folders (and `.workers` once empty); no-op on the
  chief."""
  if is_chief(strategy):
    return
  worker_dir = os.path.dirname(scratch_dir(directory, strategy))
  shutil.rmtree(worker_dir, ignore_errors=True)
  try:
    os.rmdir(os.path.dirname(worker_dir))  # .workers, unless another worker still uses it
  except OSError:
    pass
