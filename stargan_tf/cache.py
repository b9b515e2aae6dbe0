"""Write the preprocessed image cache of a dataset (decode, crop and resize once, not every epoch).

  python -m stargan_tf.cache --flagfile=configs/celeba.flags --cache_dir=/fast/celeba128

Takes the training flags (dataset, crop and image sizes) and writes the train and test splits'
images into --cache_dir; train with the same flags and --cache_dir to read them from there. See
`stargan_tf.data.cache` for the format.
"""

from absl import app

from stargan_tf import cli
from stargan_tf import flags as flags_lib


def main(argv):
  del argv
  from stargan_tf.data import cache  # pylint: disable=g-import-not-at-top (after cli loads TF)
  config = flags_lib.config_from_flags()
  if not config.data.cache_dir:
    raise app.UsageError('--cache_dir is required: the folder to write the image cache into.')
  cache.write_cache_for_config(config.data, config.model.image_size)


def run():
  cli.run(main, flags_lib.define_train_flags)


if __name__ == '__main__':
  run()
