"""Progress lines of long work (training, the classifier, evaluation): rate and time left."""

import time

from absl import logging


def format_eta(seconds):
  """'HH:MM:SS', or 'Nd HH:MM:SS' from a day on."""
  seconds = int(seconds)
  days, rem = divmod(seconds, 86400)
  text = time.strftime('%H:%M:%S', time.gmtime(rem))
  return f'{days}d {text}' if days else text


class Progress:
  """Logs '<what> <done>/<total> | <details> | <rate> <unit>/s | ETA ...' every `every` units
  and at the end."""

  def __init__(self, what, total, unit='it', every=100):
    self.what, self.total, self.unit, self.every = what, total, unit, max(1, every)
    self._start = time.time()
    self._logged = 0

  def update(self, done, details=''):
    """Reports `done` units finished (cumulative); logs when due."""
    if done - self._logged < self.every and done < self.total:
      return
    self._logged = done
    rate = done / max(time.time() - self._start, 1e-9)
    logging.info('%s %d/%d%s | %.2f %s/s | ETA %s', self.what, done, self.total,
                 f' | {details}' if details else '', rate, self.unit,
                 format_eta((self.total - done) / max(rate, 1e-9)))
