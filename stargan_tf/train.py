"""Train StarGAN: `python -m stargan_tf.train --flagfile=configs/celeba.flags [--flag=value ...]`.

Rerunning the same command resumes from the latest checkpoint in --work_dir.
"""

from absl import app

from stargan_tf import flags as flags_lib
from stargan_tf import trainer


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  trainer.train(flags_lib.config_from_flags())


def run():
  flags_lib.define_train_flags()
  app.run(main)


if __name__ == '__main__':
  run()
