"""Shared by the benchmark scripts: what headers say about the machine, --rows checking, and
--onednn (one new process per oneDNN setting)."""

import os
import platform
import subprocess
import sys

from absl import app
from absl import flags

ONEDNN_ENV = 'TF_ENABLE_ONEDNN_OPTS'
ONEDNN_VALUES = {'off': ('0',), 'on': ('1',), 'both': ('0', '1')}

flags.DEFINE_enum(
    'onednn', 'env', ['env'] + list(ONEDNN_VALUES),
    'TensorFlow\'s oneDNN CPU kernels: env (as TF_ENABLE_ONEDNN_OPTS or TensorFlow\'s default '
    'say), off, on, or both (the script runs once per setting, each in a new process, since '
    'TensorFlow reads the setting when it loads).')


def cpu_model():
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def usable_cores():
  return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()


def load_average():
  return ', '.join(f'{v:.1f}' for v in os.getloadavg())


def check_rows(requested, valid):
  """Raises app.UsageError naming the unknown entries of --rows and the valid ones."""
  unknown = sorted(set(requested) - set(valid))
  if unknown:
    raise app.UsageError(f'--rows: unknown {", ".join(unknown)}; valid: {", ".join(valid)}.')


def onednn_state():
  """'on' or 'off': whether TensorFlow's oneDNN kernels are on in this process."""
  from stargan_tf import distribute  # pylint: disable=g-import-not-at-top
  return 'on' if distribute.onednn_enabled() else 'off'


def rerun_per_onednn(setting):
  """For --onednn=off, on or both: runs this script again once per setting, in a new process with
  TF_ENABLE_ONEDNN_OPTS set, each one's output under a heading, and returns True. For 'env'
  returns False: the caller runs here."""
  if setting == 'env':
    return False
  args = [a for a in sys.argv if not a.startswith(('--onednn', '-onednn'))]
  for value in ONEDNN_VALUES[setting]:
    print(f'## oneDNN {"on" if value == "1" else "off"} ({ONEDNN_ENV}={value})', flush=True)
    subprocess.run([sys.executable] + args + ['--onednn=env'],
                   env=dict(os.environ, **{ONEDNN_ENV: value}), check=True)
    print(flush=True)
  return True
