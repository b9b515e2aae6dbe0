"""tf.distribute strategy factory."""

import tensorflow as tf


def make_strategy(name):
  """Returns the strategy called `name`: 'default' (one device) or 'mirrored' (all local ones)."""
  if name == 'default':
    return tf.distribute.get_strategy()
  if name == 'mirrored':
    return tf.distribute.MirroredStrategy()
  raise ValueError(f'unknown strategy {name!r}; expected default or mirrored.')
