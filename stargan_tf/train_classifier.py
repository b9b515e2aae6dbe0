"""Train the domain classifier that `evaluate` scores translated images with.

  python -m stargan_tf.train_classifier --work_dir=runs/celeba [--num_iters=3000] [--width=32]

A ResNet-18-style network (basic blocks [2, 2, 2, 2], --width channels in the first stage) is
trained on the run's real training images, with the run's crop and image size: sigmoid outputs
for CelebA attributes, softmax for RaFD classes, one head per dataset for a two-dataset run. Its
accuracy on the real test images, printed per domain, is the ceiling of the accuracy of translated
images. It is saved to <work_dir>/classifier/ (weights and classifier.json), which appears only
complete and is never overwritten. Works for imported runs too (they need no discriminator).
"""

from absl import flags

from stargan_tf import cli
from stargan_tf import flags as flags_lib


def main(argv):
  del argv
  # After cli loads TF:
  from stargan_tf import classifier_lib  # pylint: disable=g-import-not-at-top
  from stargan_tf import runs  # pylint: disable=g-import-not-at-top
  f = flags.FLAGS
  run = runs.Run(f.work_dir)
  record = classifier_lib.train_classifier(run.load_config(), f.work_dir, f.num_iters,
                                           f.batch_size, f.lr, f.seed, f.width)
  print(f'{"domain":<14} {"real test accuracy":>18}')
  for dataset, accuracy in record['accuracy'].items():
    for name, value in accuracy.items():
      print(f'{name:<14} {"-" if value is None else f"{value:.4f}":>18}')
    print(f'{"mean " + dataset:<14} {record["mean_accuracy"][dataset]:>18.4f}')
  print(f'Saved the classifier to {run.classifier_dir}.')


def run():
  cli.run(main, flags_lib.define_train_classifier_flags)


if __name__ == '__main__':
  run()
