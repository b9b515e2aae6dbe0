"""Learning tests: training on the synthetic datasets learns what was asked, measured exactly.

One dataset: the demo's set-up (configs/synthetic.flags) cut to its first 1,500 iterations at a
constant learning rate. The attributes are learned within ~1,000 iterations, the identity content
more slowly. Measured in this set-up on 2026-11-26 (256 test images; identity error against the
error between different images):

  iterations   500    1,000  1,500  2,000  (4,000 in an earlier version of this test)
  target acc   0.961  1.000  1.000  1.000
  all attrs    0.635  0.997  0.999  0.999
  identity     1.00   0.94   0.87   0.79   (0.74)

Two datasets (the mask vector): see the second test.
"""

import helpers
import pytest

from stargan_tf import evaluate_lib as evaluate
from stargan_tf import runs
from stargan_tf import trainer

ITERS = 1500
JOINT_ITERS = 1500


def _train_and_score(root, num_iters, both=False):
  """Trains the demo set-up under root; returns evaluate_synthetic's scores on 256 test images."""
  config = helpers.demo_config(root, num_iters, synthetic_images=6000, both=both)
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
  # The identity content (background, shape) is kept: closer to the input than another image is
  # (the joint test below, which learns identity faster, asserts 0.8).
  assert result['identity_error'] < 0.95 * result['identity_error_between_images'], result


@pytest.mark.slow
def test_joint_training_puts_second_dataset_classes_on_first_dataset_images(tmp_path_factory):
  """The paper's cross-dataset result on the two synthetic datasets (configs/synthetic_both.flags
  at a constant learning rate): no CelebA-format image is labelled with an expression, yet G puts
  each RaFD-layout class's mark on them, keeping their attributes.

  Measured at 1,500 iterations on 2026-11-26 (256 test images): CelebA target accuracy 0.981
  (lowest Young, 0.910), expression accuracy 0.987 (lowest class 0.957; chance and the identity
  mapping 0.125), attributes kept under an expression target 0.898, identity error 0.42 against
  0.65 between images.
  """
  result = _train_and_score(tmp_path_factory.mktemp('joint_learning'), JOINT_ITERS, both=True)
  # Young is the last CelebA attribute learned here (0.910 at 1,500 iterations).
  for name, acc in result['target_acc'].items():
    assert acc >= 0.8, (name, result)
  assert result['mean_target_acc'] >= 0.9, result
  assert result['mean_all_acc'] >= 0.9, result
  for name, acc in result['cross_acc'].items():
    assert acc >= 0.75, (name, result)
  assert result['mean_cross_acc'] >= 0.9, result
  assert result['mean_cross_kept_acc'] >= 0.7, result
  assert result['identity_error'] < 0.8 * result['identity_error_between_images'], result
