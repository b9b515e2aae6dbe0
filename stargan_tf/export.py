"""Export a run's generator as a SavedModel for TF Serving.

  python -m stargan_tf.export --work_dir=runs/celeba --export_dir=exports/stargan
  python -m stargan_tf.export --work_dir=runs/celeba --export_dir=exports/stargan --version=3
  python -m stargan_tf.export --work_dir=runs/celeba --export_dir=exports/stargan \
      --max_image_pixels=4000000

Writes <export_dir>/<version>/ (by default the next free version; an existing one is never
overwritten), complete or not at all: the SavedModel with the signatures serving_default (float
images), translate_bytes (JPEG/PNG bytes in, PNGs out), metadata (the domain names and label
layout clients build targets from) and classify (the discriminator's reading of a photo's own
attributes, which clients keep for the domains a target does not name; --noclassify leaves it
out), the same metadata as assets.extra/stargan.json, and warmup
requests TF Serving replays at load. Prints the version folder. translate_bytes refuses, before
decoding it, an image of more than --max_image_pixels pixels (width x height; default 25 million).
"""

from absl import flags

from stargan_tf import cli
from stargan_tf import flags as flags_lib


def main(argv):
  del argv
  from stargan_tf import export_lib  # pylint: disable=g-import-not-at-top (after cli loads TF)
  f = flags.FLAGS
  print(export_lib.export_from_work_dir(f.work_dir, f.export_dir, version=f.version,
                                        model_name=f.model_name, checkpoint=f.checkpoint,
                                        max_image_pixels=f.max_image_pixels,
                                        classify=f.classify))


def run():
  cli.run(main, flags_lib.define_export_flags)


if __name__ == '__main__':
  run()
