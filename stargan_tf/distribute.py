"""tf.distribute set-up: logical CPU devices, strategies, the chief, and where each worker writes.

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
"""

import json
import os
import shutil

from absl import logging
import tensorflow as tf

from stargan_tf import config as config_lib

STRATEGIES = config_lib.STRATEGIES


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
