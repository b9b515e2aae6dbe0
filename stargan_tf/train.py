"""Train StarGAN.

  python -m stargan_tf.train --flagfile=configs/celeba.flags [--flag=value ...]
  python -m stargan_tf.train --flagfile=configs/synthetic.flags      # the offline demo

Flags follow the reference implementation's names (c_dim, image_size, lambda_cls, n_critic,
selected_attrs, ...); options on the command line override the flag file. Everything goes to
--work_dir: config.json, checkpoints/, samples/, logs/. Running the same command again resumes
from the latest checkpoint (--resume_iters=N: from step N). When training ends, the log says
where everything is and what to run next.
"""

from stargan_tf import cli
from stargan_tf import flags as flags_lib


def main(argv):
  del argv
  from stargan_tf import trainer  # pylint: disable=g-import-not-at-top (after cli loads TF)
  trainer.train(flags_lib.config_from_flags())


def run():
  cli.run(main, flags_lib.define_train_flags)


if __name__ == '__main__':
  run()
