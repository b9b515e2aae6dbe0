"""Convert an exported generator to TFLite (optionally quantised), check it, and run it.

  python -m stargan_tf.tflite --saved_model_dir=exports/stargan/1 --output=stargan.tflite \
      [--quantize=none|float16|dynamic|int8] [--representative_dir=faces] [--image_size=128]
  python -m stargan_tf.tflite --run=stargan.tflite --image=photo.jpg --set=Blond_Hair=1 \
      [--base=Black_Hair=1,Young=1] [--no_align] --out=out.png

Converting writes <output> (fixed input [1, S, S, 3] and target [1, label_dim], plus the
export's classify signature unless --noclassify) and <output>.json (the domain names and label
layout a mobile app builds targets from), then runs the model with the LiteRT interpreter next to
the SavedModel and prints its size and the difference. --run translates one photo with a
converted model, as a mobile app would: each face found is aligned to CelebA's framing,
translated (the domains --set does not name keep what classify reads off the face) and pasted
back, and the photo is written to --out; with --no_align, the central square, written as
[input | translated] under a header naming the two columns ('input' and the --set text).
"""

from absl import app
from absl import flags

from stargan_tf import cli
from stargan_tf import flags as flags_lib


def main(argv):
  del argv
  f = flags.FLAGS
  if f.run:
    missing = [name for name in ('image', 'set', 'out') if not getattr(f, name)]
    if missing:
      raise app.UsageError(f'--run needs {", ".join("--" + m for m in missing)}.')
  elif not f.saved_model_dir or not f.output:
    raise app.UsageError('give --saved_model_dir and --output to convert, or --run to translate.')
  from stargan_tf import tflite_lib  # pylint: disable=g-import-not-at-top (after cli loads TF)
  if f.run:
    print(tflite_lib.translate_image(f.run, f.image, f.set, f.out, f.base, f.num_threads,
                                     align=not f.no_align))
    return
  r = tflite_lib.convert(f.saved_model_dir, f.output, f.quantize, f.representative_dir,
                         f.image_size, f.num_calibration, f.num_threads, classify=f.classify)
  classify = (f'; classify: max abs diff {r["classify_max_abs_diff"]:.3g} (logits)'
              if r['classify'] else '; no classify signature')
  print(f'{r["path"]}: {r["size_mb"]:.2f} MB, quantize={r["quantize"]}, image '
        f'[1,{r["image_size"]},{r["image_size"]},3]; vs the SavedModel on '
        f'{tflite_lib.NUM_CHECK} inputs: max abs diff {r["max_abs_diff"]:.3g}, mean abs diff '
        f'{r["mean_abs_diff"]:.3g}{classify}')


def run():
  cli.run(main, flags_lib.define_tflite_flags)


if __name__ == '__main__':
  run()
