"""Learning tests: training on the synthetic datasets learns what was asked, measured exactly.

One dataset: the demo's set-up (configs/synthetic.flags: model, learning rate, data) on a shorter
schedule, conftest.py's demo_run (4,500 iterations, the rate decaying over the second half), held
to the demo's own goals: every target accuracy >= 0.98 and an identity error at most 0.25 of the
error between different images. Two datasets (the mask vector): see the second test.
"""

import helpers
import pytest

from stargan_tf import evaluate_lib as evaluate
from stargan_tf import runs
from stargan_tf import trainer

JOINT_ITERS = 1500
# The demo's bound: identity error at most this fraction of the error between images.
IDENTITY_BOUND = 0.25
# Identity error of the joint set-up at JOINT_ITERS as a fraction of the error between images
# (measured in docs/demo.md's table, with a margin).
JOINT_BOUND = 0.5  # measured 0.383, 0.414 and 0.39


def _score(config):
  """evaluate_synthetic's scores of the run's generator on 256 test images."""
  G = runs.Run(config.train.work_dir).restore().G
  result = evaluate.evaluate_synthetic(G, config, max_images=256)
  print(evaluate.format_report(result))
  return result


@pytest.mark.slow
@pytest.mark.xdist_group(helpers.DEMO_RUN_GROUP)
def test_generator_learns_the_requested_attributes_and_keeps_the_content(demo_run):
  result = _score(demo_run)
  # Chance: 1/3 for a hair colour, 1/2 for Male/Young (mean 0.4); returning the input unchanged
  # scores 0 on Male/Young and 1/3 on hair.
  for name, acc in result['target_acc'].items():
    assert acc >= 0.98, (name, result)
  assert result['mean_all_acc'] >= 0.98, result
  # The identity content (background, shape) is kept: within a quarter of the error between two
  # different images (returning the input unchanged scores 0, a random image about 1).
  assert result['identity_error'] <= IDENTITY_BOUND * result['identity_error_between_images'], (
      result)


@pytest.mark.slow
@pytest.mark.xdist_group('joint_learning')
def test_joint_training_puts_second_dataset_classes_on_first_dataset_images(tmp_path_factory):
  """The paper's cross-dataset result on the two synthetic datasets (configs/synthetic_both.flags
  at its learning rate, kept constant): no CelebA-format image is labelled with an expression,
  yet G puts each RaFD-layout class's mark on them, keeping their attributes.

  Measured at 1,500 iterations on 2026-12-07 (256 test images), with one TensorFlow thread (as
  under `pytest -n 2`; conftest.py): every CelebA target accuracy 1.000, expression accuracy
  1.000 (chance and the identity mapping 0.125), attributes kept under an expression target
  1.000, identity error 0.167 against 0.436 between images (0.383; 0.414 in a second run of the
  suite, whose other tests differed only in the demo model's length). With two threads: 0.999
  (lowest class 0.992), 1.000 and 0.39. The expression mark is kept under a CelebA target in 0.54
  of the images; as in the demo (docs/demo.md), that is not asserted.
  """
  config = helpers.demo_config(tmp_path_factory.mktemp('joint_learning'), JOINT_ITERS,
                               synthetic_images=6000, test_size=256 + 1, both=True,
                               lr=helpers.demo_lr('synthetic_both.flags'))
  trainer.train(config)
  result = _score(config)
  for name, acc in result['target_acc'].items():
    assert acc >= 0.9, (name, result)
  assert result['mean_all_acc'] >= 0.9, result
  for name, acc in result['cross_acc'].items():
    assert acc >= 0.85, (name, result)
  assert result['mean_cross_acc'] >= 0.93, result
  assert result['mean_cross_kept_acc'] >= 0.9, result
  assert result['identity_error'] < JOINT_BOUND * result['identity_error_between_images'], result
