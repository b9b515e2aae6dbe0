"""The commands' shared plumbing (stargan_tf/cli.py) and the project's import structure."""

import ast
import os
import subprocess
import sys

import pytest

from stargan_tf import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = ('train', 'translate', 'evaluate', 'export', 'tflite', 'cache', 'import_torch', 'demo',
            'train_classifier')

# What TensorFlow 2.21 printed while loading on a machine without a GPU (stargan_tf/cli.py).
START_UP = '''WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796085654.111817    3123 port.cc:153] oneDNN custom operations are on. You may see \
slightly different numerical results due to floating-point round-off errors.
I0000 00:00:1796085654.112098    3123 cudart_stub.cc:31] Could not find cuda drivers on your \
machine, GPU will not be used.
I0000 00:00:1796085654.148116    3123 cpu_feature_guard.cc:227] This TensorFlow binary is \
optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the \
appropriate compiler flags.
E0000 00:00:1796085655.894425    3123 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA \
error: Failed call to cuInit: UNKNOWN ERROR (303)
'''
REAL_ERROR = ('E0000 00:00:1796085655.9 3123 op_kernel.cc:1] OP_REQUIRES failed: '
              'Not found: libfoo.so\n')


def _run(*args, timeout=300):
  return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                        timeout=timeout, env=dict(os.environ, PYTHONPATH=ROOT))


def test_start_up_notices_are_dropped_and_other_messages_kept():
  assert cli.drop_start_up_notices(START_UP, has_gpu=False) == ''
  assert cli.drop_start_up_notices(START_UP + REAL_ERROR, has_gpu=False) == REAL_ERROR
  # With a GPU in the machine, a failing CUDA probe is a real error.
  kept = cli.drop_start_up_notices(START_UP, has_gpu=True)
  assert kept.count('\n') == 1 and 'failed call to cuInit' in kept


def test_help_lists_the_command_s_own_flags():
  result = _run('-m', 'stargan_tf.export', '--help')
  assert result.returncode == 0, result.stderr
  text = result.stdout
  own = text.split('Try --helpfull')[0]
  for flag in ('--work_dir', '--export_dir', '--version', '--model_name', '--max_image_pixels'):
    assert flag in own, flag
  assert '--lambda_gp' not in text and '--only_check_args' not in text  # not this command's
  assert 'Export a run' in text.splitlines()[0]  # the command's usage comes first


def test_a_user_error_is_one_line_without_start_up_noise(tmp_path):
  result = _run('-m', 'stargan_tf.export', f'--work_dir={tmp_path / "nowhere"}',
                f'--export_dir={tmp_path / "exports"}')
  assert result.returncode == 1
  assert result.stderr.strip().splitlines() == [
      f'error: {tmp_path / "nowhere" / "config.json"} not found: --work_dir must be the folder a '
      'training run wrote (it holds config.json and checkpoints/).']
  assert not os.path.exists(tmp_path / 'exports')


def test_commands_import_tensorflow_only_when_they_run():
  """So cli.import_tensorflow can load it quietly; and the label contract, the deployment
  contract, the run folder's layout, the file helpers and the PyTorch file reader work without
  TensorFlow."""
  modules = [f'stargan_tf.{c}' for c in COMMANDS] + [
      'stargan_tf.labels', 'stargan_tf.contract', 'stargan_tf.faces', 'stargan_tf.runs',
      'stargan_tf.fileio', 'stargan_tf.torch_checkpoint',
      'stargan_tf.images', 'stargan_tf.config', 'stargan_tf.flags', 'stargan_tf.data.rafd',
      'stargan_tf.data.integrity']
  code = ('import importlib, sys\n'
          f'for m in {modules!r}:\n'
          '  importlib.import_module(m)\n'
          "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
  result = _run('-c', code)
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip() == '[]'


def _imports(path):
  tree = ast.parse(open(os.path.join(ROOT, path)).read())
  names = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.ImportFrom) and node.module:
      names.update(f'{node.module}.{a.name}' for a in node.names)
      names.add(node.module)
    elif isinstance(node, ast.Import):
      names.update(a.name for a in node.names)
  return names


@pytest.mark.parametrize('path', ['stargan_tf/translate_lib.py', 'stargan_tf/evaluate_lib.py',
                                  'stargan_tf/classifier_lib.py',
                                  'stargan_tf/export_lib.py', 'stargan_tf/tflite_lib.py',
                                  'stargan_tf/import_torch_lib.py', 'serving/client.py'] +
                         [f'stargan_tf/{c}.py' for c in COMMANDS if c != 'train'])
def test_no_tool_imports_the_training_loop(path):
  imported = _imports(path)
  assert 'stargan_tf.trainer' not in imported and 'stargan_tf.train_step' not in imported


@pytest.mark.parametrize('given, expected', [(None, '0'), ('1', '1')])
def test_commands_load_tensorflow_with_onednn_off_unless_asked(given, expected):
  env = {k: v for k, v in os.environ.items() if k != cli.ONEDNN_ENV}
  if given:
    env[cli.ONEDNN_ENV] = given
  result = subprocess.run(
      [sys.executable, '-c', 'import os; from stargan_tf import cli; cli.import_tensorflow(); '
       f'print(os.environ["{cli.ONEDNN_ENV}"])'],
      cwd=ROOT, capture_output=True, text=True, timeout=300, env=dict(env, PYTHONPATH=ROOT))
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip() == expected
