"""Shared test set-up: marker registration, logical CPU devices and session-wide fixtures.

Builders and configurations live in helpers.py.
"""

import logging
import os

import pytest

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# What the commands run with (stargan_tf/cli.py): oneDNN off, for exact results.
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')
# Under `pytest -n N` the N workers share the cores, but TensorFlow sizes each process's thread
# pools to all of them. Two workers training at once on 2 cores, 2 threads each, took 85 s for
# what took 51 s with one thread each (docs/demo.md, "The learning tests"). The commands the
# tests start inherit the setting.
_WORKERS = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '0'))
if _WORKERS > 1:
  _THREADS = str(max(1, len(os.sched_getaffinity(0)) // _WORKERS))
  os.environ.setdefault('TF_NUM_INTRAOP_THREADS', _THREADS)
  os.environ.setdefault('TF_NUM_INTEROP_THREADS', _THREADS)

import helpers  # pylint: disable=g-import-not-at-top,wrong-import-position
from stargan_tf import distribute  # pylint: disable=g-import-not-at-top,wrong-import-position

# Set before any TensorFlow op runs: the distribution tests mirror over these devices; everything
# else runs on the first, as without them.
distribute.configure_cpu_devices(helpers.NUM_CPU_DEVICES)


@pytest.hookimpl(trylast=True)  # after the terminal reporter is set up
def pytest_configure(config):
  config.addinivalue_line(
      'markers', 'slow: training, learning and end-to-end tests (minutes); they run in CI; '
      'deselect locally with -m "not slow"')
  # Tests skip only when an optional package is missing (PyTorch for the full-size parity tests of
  # the importer): the summary lists them with the reason, so that such a run is not taken for a
  # complete one.
  reporter = config.pluginmanager.get_plugin('terminalreporter')
  if reporter is not None and 's' not in reporter.reportchars and 'N' not in (
      config.option.reportchars or ''):
    reporter.reportchars += 's'


def pytest_collection_modifyitems(items):
  """The tests of an xdist group (each shares one long training) first, so that with
  `-n 2 --dist loadgroup` the two workers start on the long ones and share out the rest after."""
  items.sort(key=lambda item: item.get_closest_marker('xdist_group') is None)


@pytest.fixture(scope='session', autouse=True)
def private_cache(tmp_path_factory):
  """Keeps the image verification records of the tests' images out of the user's cache (the
  commands the tests start inherit the setting)."""
  from stargan_tf.data import integrity
  with pytest.MonkeyPatch.context() as patch:
    patch.setenv(integrity.CACHE_ENV, str(tmp_path_factory.mktemp('stargan_tf_cache')))
    yield


_ABSL_LEVEL = logging.getLogger('absl').level


@pytest.fixture(autouse=True)
def absl_logging_level():
  """Each test runs with the absl logger's level as the session began. tf.saved_model.save sets
  it to the effective level it finds (WARNING outside an absl app), which would hide the INFO
  records later tests look for; shared fixtures that export run before a test's own fixtures, so
  the level is set at the start of each test, not only restored after it."""
  logging.getLogger('absl').setLevel(_ABSL_LEVEL)
  yield
  logging.getLogger('absl').setLevel(_ABSL_LEVEL)


@pytest.fixture(scope='session')
def synthetic_dir(tmp_path_factory):
  """A small synthetic dataset in the CelebA layout, written once per test session."""
  from stargan_tf.data import synthetic
  root = tmp_path_factory.mktemp('synthetic') / 'data'
  synthetic.generate(str(root), num_images=helpers.TINY_IMAGES, seed=0)
  return root


@pytest.fixture(scope='session')
def make_tiny_config(synthetic_dir):
  """Returns make(work_dir, **train_values): a tiny 32px model on the tiny synthetic dataset."""
  return lambda work_dir, **train_values: helpers.tiny_config(synthetic_dir, work_dir,
                                                              **train_values)


@pytest.fixture
def tiny_config(make_tiny_config, tmp_path):
  return make_tiny_config(tmp_path / 'run')


@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory, make_tiny_config):
  """A tiny run trained for 2 steps, shared by every test that restores, translates or exports
  a trained run. Tests must not write into its folder (give translate an output_dir)."""
  from stargan_tf import trainer
  config = make_tiny_config(tmp_path_factory.mktemp('tiny_run') / 'run', num_iters=2,
                            num_iters_decay=0, n_critic=1, log_step=1)
  trainer.train(config)
  return config


@pytest.fixture(scope='session')
def synthetic_both_dir(tmp_path_factory):
  """The two small synthetic datasets of joint training, written once per test session."""
  from stargan_tf.data import synthetic
  root = tmp_path_factory.mktemp('synthetic_both')
  synthetic.generate(str(root / 'celeba'), num_images=helpers.TINY_IMAGES, seed=0,
                     expressions=True)
  synthetic.generate_rafd(str(root / 'RaFD'), num_images=helpers.TINY_IMAGES, seed=1,
                          test_fraction=0.25)
  return root


@pytest.fixture(scope='session')
def make_tiny_both_config(make_tiny_config, synthetic_both_dir):
  """Like make_tiny_config, with --dataset=Both on the two tiny synthetic datasets."""
  return lambda work_dir, **train_values: helpers.joint(make_tiny_config(work_dir, **train_values),
                                                        synthetic_both_dir)


@pytest.fixture(scope='session')
def trained_both(tmp_path_factory, make_tiny_both_config):
  """A tiny --dataset=Both run trained for 2 steps, shared by the tests that restore it (and
  compare a resumed run with it)."""
  config = make_tiny_both_config(tmp_path_factory.mktemp('both_run'), num_iters=2,
                                 num_iters_decay=0, n_critic=1, log_step=1, model_save_step=1)
  helpers.train_as_in_a_new_process(config)
  return config


@pytest.fixture(scope='session')
def demo_run(tmp_path_factory):
  """A generator really trained on the synthetic dataset: the demo's set-up
  (configs/synthetic.flags: its model, learning rate and 6,000 images) on a shorter schedule,
  helpers.DEMO_RUN_ITERS iterations with the rate decaying over the second half; 256 + 1 test
  images. Shared by the slow tests that measure what a trained model does (learning, TFLite
  parity, intensity), which run in one xdist group (DEMO_RUN_GROUP) so that it is trained once."""
  from stargan_tf import trainer
  config = helpers.demo_config(tmp_path_factory.mktemp('demo_run'), helpers.DEMO_RUN_ITERS,
                               synthetic_images=6000, test_size=256 + 1,
                               lr=helpers.demo_lr('synthetic.flags'),
                               num_iters_decay=helpers.DEMO_RUN_ITERS // 2)
  trainer.train(config)
  return config


@pytest.fixture(scope='session')
def classifier_data(tmp_path_factory):
  """A synthetic CelebA-format dataset of 400 images (100 test) and a tiny 32 px config on it,
  for the domain classifier's tests."""
  import dataclasses  # pylint: disable=g-import-not-at-top
  from stargan_tf.data import synthetic  # pylint: disable=g-import-not-at-top
  root = tmp_path_factory.mktemp('classifier_data')
  synthetic.generate(str(root / 'data'), num_images=400, seed=3)
  config = helpers.tiny_config(root / 'data', root / 'run')
  return dataclasses.replace(config, data=dataclasses.replace(config.data, test_size=101))


@pytest.fixture(scope='session')
def synthetic_classifier(classifier_data):
  """(model, record) of a small domain classifier trained briefly on classifier_data (record:
  {'accuracy': its accuracy on the real test images})."""
  from stargan_tf import classifier_lib  # pylint: disable=g-import-not-at-top
  model = classifier_lib.train(classifier_data, **helpers.CLASSIFIER_TRAINING)
  return model, {'accuracy': classifier_lib.real_accuracy(model, classifier_data)}
