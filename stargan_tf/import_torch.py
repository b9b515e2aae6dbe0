r"""Import the reference PyTorch StarGAN's checkpoints (the authors' released models) as a run.

  python -m stargan_tf.import_torch --generator=200000-G.ckpt --discriminator=200000-D.ckpt \
      --flagfile=configs/celeba.flags --work_dir=runs/celeba128_official
  python -m stargan_tf.import_torch --generator=200000-G.ckpt --discriminator=200000-D.ckpt \
      --flagfile=configs/celeba.flags --image_size=256 --work_dir=runs/celeba256_official

PyTorch is not needed: the files (state dicts of torch.save, its legacy or its zip format) are
read by an unpickler that admits only tensor data, so no code from them runs. The training flags
(a flag file and overrides) describe the model the files hold and the run written to --work_dir:
config.json and checkpoints/ckpt-<step>, the step taken from the file names (200000-G.ckpt) unless
--step is given. translate, evaluate, export, tflite and training then use the run as if it had
been trained here. With --discriminator the checkpoint is a training checkpoint with fresh Adam
optimizers, from which training can continue; without it, the run holds G alone, which
translates, exports and converts, but cannot read your images' attributes or be trained on.

Files that do not fit the flags are refused with every missing, unexpected or mis-shaped key and
the flags that would fit them (e.g. --image_size=256). --work_dir must be new or empty; it is
written complete or not at all.
"""

from absl import flags

from stargan_tf import cli
from stargan_tf import flags as flags_lib


def main(argv):
  del argv
  # After cli loads TF:
  from stargan_tf import import_torch_lib  # pylint: disable=g-import-not-at-top
  f = flags.FLAGS
  imported = import_torch_lib.import_run(flags_lib.config_from_flags(), f.generator,
                                         f.discriminator, f.step)
  w = imported.work_dir
  # G alone cannot read the attributes of a user's photos (translate --input_dir needs D).
  translate = f'python -m stargan_tf.translate --work_dir={w}' + (
      ' --input_dir=my_photos' if imported.with_discriminator else '   # the test split')
  print(f'Imported {"G and D" if imported.with_discriminator else "G alone"} as step '
        f'{imported.step}: {imported.checkpoint}\n'
        'Next:\n'
        f'  {translate}\n'
        f'  python -m stargan_tf.export --work_dir={w} --export_dir=exports/stargan')


def run():
  cli.run(main, flags_lib.define_import_flags)


if __name__ == '__main__':
  run()
