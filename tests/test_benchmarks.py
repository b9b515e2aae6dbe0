"""The benchmarks' --reference_model (benchmarks/reference_torch.py): its errors, without PyTorch.

PyTorch is optional: these tests stand in a fake `torch` module (or hide the real one), so they
run, and can fail, whether it is installed or not.
"""

import os
import subprocess
import sys
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))

import reference_torch  # pylint: disable=g-import-not-at-top,wrong-import-position

SIGNATURES = ('Generator(conv_dim, c_dim, repeat_num)',
              'Discriminator(image_size, conv_dim, c_dim, repeat_num)')
GENERATOR = '''
class Generator:
  def __init__(self, conv_dim=64, c_dim=5, repeat_num=6):
    pass
'''
DISCRIMINATOR = '''
class Discriminator:
  def __init__(self, image_size=128, conv_dim=64, c_dim=5, repeat_num=6):
    pass
'''


@pytest.fixture
def fake_torch(monkeypatch):
  """A stand-in `torch` module: enough for loading, not for timing."""
  torch = types.ModuleType('torch')
  torch.__version__ = '9.8.7+cpu'
  torch.threads = []
  torch.set_num_threads = torch.threads.append
  monkeypatch.setitem(sys.modules, 'torch', torch)
  return torch


def write(tmp_path, text, name='model.py'):
  path = tmp_path / name
  path.write_text(text)
  return str(path)


def error_of(path):
  with pytest.raises(reference_torch.ReferenceModelError) as e:
    reference_torch.load(path)
  message = str(e.value)
  assert '\n' not in message
  return message


def test_a_missing_file_is_named_with_what_was_expected(tmp_path, fake_torch):
  del fake_torch
  path = str(tmp_path / 'stargan' / 'model.py')
  message = error_of(path)
  assert path in message and 'no such file' in message
  assert all(s in message for s in SIGNATURES), message
  assert 'github.com/yunjey/stargan' in message


def test_a_file_without_the_classes_is_named_with_what_it_lacks(tmp_path, fake_torch):
  del fake_torch
  path = write(tmp_path, GENERATOR)
  message = error_of(path)
  assert path in message and 'no class Discriminator' in message, message
  assert 'no class Generator' not in message
  assert all(s in message for s in SIGNATURES), message
  message = error_of(write(tmp_path, 'import math\n', 'other.py'))
  assert 'no class Generator; no class Discriminator' in message, message


def test_classes_with_other_arguments_are_refused(tmp_path, fake_torch):
  del fake_torch
  path = write(tmp_path, 'class Generator:\n  def __init__(self, dim):\n    pass\n'
               + DISCRIMINATOR)
  message = error_of(path)
  assert 'Generator does not take conv_dim, c_dim, repeat_num' in message, message
  assert 'Discriminator does not' not in message


def test_a_file_that_fails_to_import_is_named_with_the_reason(tmp_path, fake_torch):
  del fake_torch
  path = write(tmp_path, 'import torch.nn\n' + GENERATOR + DISCRIMINATOR)
  message = error_of(path)
  assert path in message and 'importing it failed' in message and 'torch.nn' in message, message
  assert 'stargan_reference_model' not in sys.modules


def test_without_torch_the_error_says_to_install_it(tmp_path, monkeypatch):
  monkeypatch.setitem(sys.modules, 'torch', None)  # `import torch` raises ImportError
  message = error_of(write(tmp_path, GENERATOR + DISCRIMINATOR))
  assert 'pip install torch' in message and 'CPU' in message, message


def test_the_reference_file_loads_with_torch_threads_set(tmp_path, fake_torch):
  reference = reference_torch.load(write(tmp_path, GENERATOR + DISCRIMINATOR))
  assert reference.module.Generator(conv_dim=8, c_dim=5, repeat_num=1) is not None
  assert reference.label == 'PyTorch 9.8.7'
  assert fake_torch.threads == [reference.threads] and reference.threads >= 1


def test_load_or_exit_prints_one_line_and_exits_1(tmp_path, capsys, monkeypatch):
  monkeypatch.setitem(sys.modules, 'torch', None)
  assert reference_torch.load_or_exit('') is None  # no flag: nothing is loaded
  with pytest.raises(SystemExit) as e:
    reference_torch.load_or_exit(write(tmp_path, GENERATOR + DISCRIMINATOR))
  assert e.value.code == 1
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and err.startswith('error: ') and 'pip install torch' in err, err


def test_the_script_stops_at_a_bad_path_before_timing_anything(tmp_path):
  """train_speed.py: one error line naming the path (no usage text), status 1, no table."""
  path = str(tmp_path / 'missing' / 'model.py')
  result = subprocess.run(
      [sys.executable, os.path.join('benchmarks', 'train_speed.py'), f'--reference_model={path}',
       '--rows=64/float32'], cwd=ROOT, capture_output=True, text=True, timeout=300,
      env=dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, 'benchmarks')]),
               TF_CPP_MIN_LOG_LEVEL='3'))
  assert result.returncode == 1, result.stderr
  assert result.stdout == ''
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('error: --reference_model=') and path in last, result.stderr
  assert 'flags:' not in result.stderr  # not absl's usage text
