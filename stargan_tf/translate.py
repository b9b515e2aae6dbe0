"""Translate images with a trained generator into result grids.

  python -m stargan_tf.translate --work_dir=runs/celeba                    # the test split
  python -m stargan_tf.translate --work_dir=runs/celeba --input_dir=my_faces
  python -m stargan_tf.translate --work_dir=runs/celeba --target="Blond_Hair=1,Male=0"

Each grid row is one image: the input, then one column per target domain (by default one per
domain; with --target the one target given), under a header naming the columns. Grids go to
--output_dir: by default <work_dir>/results/ for the test split and
<work_dir>/results/<input folder name>/ for --input_dir, as 000001-images.png, 000002-...
(--batch_size rows each), and the command prints where. --max_images stops after that many images.
Files of --input_dir that are not usable images (empty, truncated, not JPEG/PNG) are skipped with
one warning naming each and why; a folder without a usable image is an error.

A user's own images have no labels: their attributes are read off the trained discriminator's
classifier, so each target changes one domain and keeps the others as D sees them.
"""

from absl import flags

from stargan_tf import cli
from stargan_tf import flags as flags_lib


def main(argv):
  del argv
  from stargan_tf import translate_lib  # pylint: disable=g-import-not-at-top (after cli loads TF)
  f = flags.FLAGS
  paths = translate_lib.translate(f.work_dir, f.output_dir, f.input_dir, f.target, f.batch_size,
                                  f.max_images, f.test_iters)
  print(f'Wrote {len(paths)} grid(s) to {paths[0].rsplit("/", 1)[0] if paths else "nowhere"}.')


def run():
  cli.run(main, flags_lib.define_translate_flags)


if __name__ == '__main__':
  run()
