"""Score a run trained on the built-in synthetic dataset against its ground truth.

  python -m stargan_tf.evaluate --work_dir=runs/synthetic [--max_images=512] [--test_iters=N]

Every test image is translated into every target domain and the result's attributes are read back
from its pixels: target accuracy (the changed attribute shows the requested value), all-attributes
accuracy (every attribute right), and identity error (how much of the image's own content is lost,
next to the same measure between different images). Two-dataset runs are also scored on the
cross-dataset translation (RaFD expressions on CelebA-format images).
"""

from absl import flags

from stargan_tf import cli
from stargan_tf import flags as flags_lib


def main(argv):
  del argv
  # After cli loads TF:
  from stargan_tf import evaluate_lib  # pylint: disable=g-import-not-at-top
  from stargan_tf import runs  # pylint: disable=g-import-not-at-top
  f = flags.FLAGS
  restored = runs.Run(f.work_dir).restore(f.test_iters)
  result = evaluate_lib.evaluate_synthetic(restored.G, restored.config, f.max_images)
  print(evaluate_lib.format_report(result))


def run():
  cli.run(main, flags_lib.define_evaluate_flags)


if __name__ == '__main__':
  run()
