"""What every command (`python -m stargan_tf.<command>`) shares: start-up, --help and errors.

  * A quiet start. Importing TensorFlow prints start-up notices from its C++ runtime (that
    oneDNN is on, which CPU instructions it was built for, that there is no CUDA driver on a
    machine without a GPU, a `failed call to cuInit` error from the same GPU probe), before its
    logging can be configured, so log levels do not silence them. `import_tensorflow` loads
    TensorFlow with the process's stderr captured and replays everything except those known
    notices; any other message, an error included, still reaches the terminal. The cuInit error
    is dropped only on machines without an NVIDIA device, where it is expected.
  * Exact results. TensorFlow turns on its oneDNN kernels by default on CPUs with AVX512-VNNI,
    AVX512-BF16 or AMX. Measured on such a CPU (2026-12-01), they made the discriminator step's
    gradient penalty differ from run to run (1 to 7 runs in 40 of a tiny model gave a value 1.8%
    off; with oneDNN off, 60 of 60 agreed), which breaks the exact resume this project promises.
    So the commands set TF_ENABLE_ONEDNN_OPTS=0 unless the environment already sets it; set
    TF_ENABLE_ONEDNN_OPTS=1 to trade exactness for speed (the 32 px demo trained about 40% faster
    with it there).
  * `--help` shows the command's own flags (`--helpfull` lists every flag, absl's included).
  * Errors a user can fix (bad flags, missing or unreadable files, a locked or diverged run)
    end the command with a one-line `error: ...` on stderr and exit status 1, not a traceback;
    `--verbosity=1` shows the traceback too.

Commands keep their library imports inside `main`, so TensorFlow is first imported by
`import_tensorflow`.
"""

import glob
import os
import re
import sys
import tempfile

from absl import app
from absl import flags
from absl import logging

# Lines TensorFlow writes to stderr while it loads and probes for devices, and which say nothing
# a user must act on.
_START_UP_NOTICES = (
    r'All log messages before absl::InitializeLog\(\) is called are written to STDERR',
    r'port\.cc:\d+\] oneDNN custom operations are on',
    r'cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine',
    r'cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized',
    r'^To enable the following instructions: .* rebuild TensorFlow with the appropriate',
)
_NO_GPU_NOTICES = (r'cuda_(platform|executor|diagnostics)\.cc:\d+\] .*(cuInit|CUDA)',)

_HELP_FLAGS = {'--help', '-help', '-h', '-?', '--helpshort', '--helpfull', '--helpxml'}

ONEDNN_ENV = 'TF_ENABLE_ONEDNN_OPTS'

# Exceptions that carry a message for the user rather than a bug.
USER_ERRORS = (ValueError, OSError, FloatingPointError, RuntimeError)


def _has_nvidia_device():
  return bool(glob.glob('/dev/nvidia[0-9]*'))


def drop_start_up_notices(text, has_gpu):
  """`text` (what TensorFlow wrote to stderr while loading) without the known start-up notices;
  the CUDA probe's errors are dropped only when the machine has no GPU (`has_gpu` False)."""
  patterns = _START_UP_NOTICES + (() if has_gpu else _NO_GPU_NOTICES)
  return ''.join(line for line in text.splitlines(keepends=True)
                 if not any(re.search(p, line) for p in patterns))


def import_tensorflow():
  """Imports TensorFlow and lists its devices with the start-up notices filtered out of stderr,
  oneDNN off unless the environment says otherwise.

  A no-op once TensorFlow is imported. Returns the tensorflow module.
  """
  if 'tensorflow' in sys.modules:
    return sys.modules['tensorflow']
  os.environ.setdefault(ONEDNN_ENV, '0')  # read when TensorFlow loads; see the module docstring
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as capture:
    os.dup2(capture.fileno(), 2)
    try:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      tf.config.list_physical_devices()  # the device probe (where CUDA is tried)
    finally:
      os.dup2(saved, 2)
      os.close(saved)
      capture.seek(0)
      sys.stderr.write(drop_start_up_notices(capture.read().decode('utf-8', 'replace'),
                                             _has_nvidia_device()))
      sys.stderr.flush()
  return tf


def run(main, define_flags):
  """Runs a command: defines its flags, loads TensorFlow quietly, then `main(argv)` under absl.

  Args:
    main: the command's main(argv).
    define_flags: defines the command's flags (from `stargan_tf.flags`).
  """
  before = set(flags.FLAGS)
  define_flags()
  # --help prints the key flags of the main program (absl keys them by sys.argv[0]).
  for name in flags.FLAGS:
    if name not in before:
      flags.FLAGS.register_key_flag_for_module(sys.argv[0], flags.FLAGS[name])
  module = sys.modules.get(main.__module__)
  main_module = sys.modules.get('__main__')
  if main_module is not None and not main_module.__doc__ and module is not None:
    main_module.__doc__ = module.__doc__  # an installed console script's usage text
  import_tensorflow()
  try:
    app.run(lambda argv: _main_with_clean_errors(main, argv))
  except SystemExit as e:
    # absl ends --help with status 1; asking for help is not a failure.
    if e.code == 1 and set(sys.argv[1:]) & _HELP_FLAGS:
      sys.exit(0)
    raise


def _main_with_clean_errors(main, argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  try:
    return main(argv)
  except USER_ERRORS as e:
    if logging.get_verbosity() >= logging.DEBUG:
      raise
    message = str(e) or type(e).__name__
    print(f'error: {message}', file=sys.stderr)
    sys.exit(1)
