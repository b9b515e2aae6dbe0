"""Shared by the benchmark scripts: what headers say about the machine, and --rows checking."""

import os
import platform

from absl import app


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
