"""Learning tests: training on the synthetic datasets learns what was asked, measured exactly.

One dataset: the demo's set-up (configs/synthetic.flags, its learning rate) cut to its first 1,500
iterations at a constant learning rate. Two datasets (the mask vector): see the second test.

The demos' own bound on identity (identity error at most 0.25 of the error between different
images) takes their full schedules (10,000 and 6,000 iterations, several minutes each), longer
than the suite can spend; docs/demo.md has those runs, three seeds each. These tests hold the
same runs at 1,500 iterations to the bounds measured there, with a margin.
"""

import os

import helpers
import pytest

from stargan_tf import evaluate_lib as evaluate
from stargan_tf import runs
from stargan_tf import trainer

ITERS = 1500
JOINT_ITERS = 1500
# Identity error at 1,500 iterations as a fraction of the error between images (measured in
# docs/demo.md's table, with a margin).
SINGLE_BOUND = 0.4  # measured 0.31
JOINT_BOUND = 0.45  # measured 0.36
CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, 'configs')


def _demo_lr(flagfile):
  """The G learning rate set in configs/<flagfile> (the demos set G's and D's alike)."""
  with open(os.path.join(CONFIGS, flagfile)) as f:
    [lr] = [line.split('=', 1)[1] for line in f.read().splitlines() if line.startswith('--g_lr=')]
  return float(lr)


def _train_and_score(root, num_iters, both=False):
  """Trains the demo set-up under root; returns evaluate_synthetic's scores on 256 test images."""
  lr = _demo_lr('synthetic_both.flags' if both else 'synthetic.flags')
  config = helpers.demo_config(root, num_iters, synthetic_images=6000, both=both, lr=lr)
  trainer.train(config)
  G = runs.Run(config.train.work_dir).restore().G
  result = evaluate.evaluate_synthetic(G, config, max_images=256)
  print(evaluate.format_report(result))
  return result


@pytest.mark.slow
def test_generator_learns_the_requested_attributes(tmp_path_factory):
  result = _train_and_score(tmp_path_factory.mktemp('learning'), ITERS)
  # Chance: 1/3 for a hair colour, 1/2 for Male/Young (mean 0.4); returning the input unchanged
  # scores 0 on Male/Young and 1/3 on hair.
  for name, acc in result['target_acc'].items():
    assert acc >= 0.9, (name, result)
  assert result['mean_all_acc'] >= 0.9, result
  # The identity content (background, shape) is kept: well closer to the input than another
  # image is (see docs/demo.md for the measurement).
  assert result['identity_error'] < SINGLE_BOUND * result['identity_error_between_images'], result


@pytest.mark.slow
def test_joint_training_puts_second_dataset_classes_on_first_dataset_images(tmp_path_factory):
  """The paper's cross-dataset result on the two synthetic datasets (configs/synthetic_both.flags
  at its learning rate, kept constant): no CelebA-format image is labelled with an expression,
  yet G puts each RaFD-layout class's mark on them, keeping their attributes.

  Measured at 1,500 iterations on 2026-12-01 (256 test images): every CelebA target accuracy
  1.000, expression accuracy 0.984 (lowest class 0.957; chance and the identity mapping 0.125),
  attributes kept under an expression target 1.000, identity error 0.166 against 0.462 between
  images (0.36).
  """
  result = _train_and_score(tmp_path_factory.mktemp('joint_learning'), JOINT_ITERS, both=True)
  for name, acc in result['target_acc'].items():
    assert acc >= 0.9, (name, result)
  assert result['mean_all_acc'] >= 0.9, result
  for name, acc in result['cross_acc'].items():
    assert acc >= 0.85, (name, result)
  assert result['mean_cross_acc'] >= 0.93, result
  assert result['mean_cross_kept_acc'] >= 0.9, result
  assert result['identity_error'] < JOINT_BOUND * result['identity_error_between_images'], result
