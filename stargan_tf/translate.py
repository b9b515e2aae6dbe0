"""Translate images with a trained generator into result grids.

  python -m stargan_tf.translate --work_dir=runs/celeba                    # the test split
  python -m stargan_tf.translate --work_dir=runs/celeba --input_dir=my_faces
  python -m stargan_tf.translate --work_dir=runs/celeba --target="Blond_Hair=1,Male=0"
  python -m stargan_tf.translate --work_dir=runs/celeba --input_dir=my_photos \
      --target="Blond_Hair=1" --interpolate=5

Each grid row is one image: the input, then one column per target domain (by default one per
domain; with --target the one target given), under a header naming the columns. Grids go to
--output_dir: by default <work_dir>/results/ for the test split and
<work_dir>/results/<input folder name>/ for --input_dir, as 000001-images.png, 000002-...
(--batch_size rows each), and the command prints where. --max_images stops after that many images.
Files of --input_dir that are not usable images (empty, truncated, not JPEG/PNG) are skipped with
one warning naming each and why; a folder without a usable image is an error.

A user's own images have no labels: their attributes are read off the trained discriminator's
classifier, so each target changes the domains it names and keeps the others as D sees them.

--input_dir holds photos: each face found (OpenCV's face detector; any size, EXIF orientation
honoured, several faces) is aligned to CelebA's framing and is one grid row, and each photo is
also written whole with its faces translated and pasted back, once per column:
<output_dir>/<column name>/<photo file name>. Photos in which no face is found are skipped with
the warning; --no_align translates the central square of each image instead (grids only).
Target values may lie between 0 and 1 ("Blond_Hair=0.5"), and --interpolate=N writes N columns
from the source label to the --target: StarGAN is trained on 0/1 labels, so values in between are
an interpolation the model was never taught.
"""

from absl import flags

from stargan_tf import cli
from stargan_tf import flags as flags_lib


def main(argv):
  del argv
  from stargan_tf import translate_lib  # pylint: disable=g-import-not-at-top (after cli loads TF)
  f = flags.FLAGS
  paths = translate_lib.translate(f.work_dir, f.output_dir, f.input_dir, f.target, f.batch_size,
                                  f.max_images, f.test_iters, align=not f.no_align,
                                  interpolate=f.interpolate)
  folder = paths[0].rsplit('/', 1)[0] if paths else 'nowhere'
  print(f'Wrote {len(paths)} grid(s) to {folder}.')
  if f.input_dir and not f.no_align:
    print(f'Wrote the photos with their faces translated to {folder}/<column name>/.')


def run():
  cli.run(main, flags_lib.define_translate_flags)


if __name__ == '__main__':
  run()
