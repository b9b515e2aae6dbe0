"""Score a run: the paper's protocol on real data, and the ground truth of the synthetic dataset.

  python -m stargan_tf.train_classifier --work_dir=runs/celeba      # once: the domain classifier
  python -m stargan_tf.evaluate --work_dir=runs/celeba [--max_images=512] [--test_iters=N]
  python -m stargan_tf.evaluate --work_dir=runs/celeba --inception_weights=inception_v3.weights.h5
  python -m stargan_tf.evaluate --work_dir=runs/synthetic            # synthetic runs

Every test image is translated into every target domain. Per target domain it reports:
classification accuracy (the domain classifier of train_classifier reads the target; next to it,
its accuracy on real test images, the ceiling), FID between the translations and real training
images of the domain (on InceptionV3 features with --inception_weights, else on the classifier's
features, labelled "FID (classifier features)": not comparable with published FIDs), and PSNR and
SSIM of the reconstruction G(G(x, c_trg), c_org) against x. --metrics picks the measures.

Runs on the built-in synthetic dataset are also scored against its ground truth, read back from
the pixels: target accuracy, all-attributes accuracy, identity error and shape overlap (and, for
two-dataset runs, the cross-dataset translation and whether CelebA targets keep the unlabelled
expression mark); without a classifier they get that and the reconstruction.

The report is printed and written to <work_dir>/evaluation/<step>.json. Imported generators (no
discriminator) are evaluated like trained ones.
"""

from absl import flags

from stargan_tf import cli
from stargan_tf import flags as flags_lib


def main(argv):
  del argv
  from stargan_tf import evaluate_lib  # pylint: disable=g-import-not-at-top (after cli loads TF)
  f = flags.FLAGS
  _, text, _ = evaluate_lib.evaluate_run(f.work_dir, f.test_iters, f.metrics, f.max_images,
                                         f.seed, f.batch_size, f.inception_weights)
  print(text)


def run():
  cli.run(main, flags_lib.define_evaluate_flags)


if __name__ == '__main__':
  run()
