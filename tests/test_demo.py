"""The browser demo (stargan_tf/demo_lib.py): its API through gradio_client, and the page in a real
headless Chromium (Debian's chromium and chromium-driver; skipped, saying so, where missing)."""

import base64
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
from PIL import Image
import pytest

import face_photos

gr = pytest.importorskip('gradio', reason='the demo needs gradio (pip install -e ".[demo]")')
pytest.importorskip('cv2', reason='the demo aligns faces with opencv-python-headless 4.x')
# pylint: disable-next=g-import-not-at-top,wrong-import-position
from gradio_client import Client, handle_file

from stargan_tf import demo_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from stargan_tf import export_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from stargan_tf import labels  # pylint: disable=g-import-not-at-top,wrong-import-position

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM, CHROMEDRIVER = '/usr/bin/chromium', '/usr/bin/chromedriver'


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


@pytest.fixture(scope='module')
def photo_path(tmp_path_factory):
  photo, _ = face_photos.astronaut()
  path = tmp_path_factory.mktemp('photos') / 'astronaut.png'
  Image.fromarray(photo).save(path)
  return str(path)


@pytest.fixture(scope='module')
def page(tiny_run):
  """The demo of the session's tiny run, served on a free port: (url, model)."""
  model = demo_lib.from_work_dir(tiny_run.train.work_dir)
  port = _free_port()
  app = demo_lib.serve(model, port, block=False)
  yield f'http://127.0.0.1:{port}/', model
  app.close()


def _read(path):
  return np.asarray(Image.open(path).convert('RGB'))


def test_target_spec_from_the_controls():
  space = labels.label_space('Both')
  values = {name: 1.0 for name in labels.DEFAULT_ATTRS}
  values['Male'] = 0.0
  assert demo_lib.target_spec(space, ['Blond_Hair', 'Male'], values, demo_lib.KEEP, 1.0) == (
      'Blond_Hair=1,Male=0')
  assert demo_lib.target_spec(space, [], values, 'happy', 0.5) == 'happy=0.5'
  with pytest.raises(ValueError, match='names domains of CelebA and RaFD'):
    demo_lib.target_spec(space, ['Male'], values, 'happy', 1.0)
  with pytest.raises(ValueError, match='choose a domain to change'):
    demo_lib.target_spec(space, [], values, demo_lib.KEEP, 1.0)


def test_api_translates_the_face_and_pastes_it_back(page, photo_path):
  url, model = page
  client = Client(url, verbose=False)
  marked, result = client.predict(handle_file(photo_path), True, ['Blond_Hair'], 1, 1, 1, 1, 1,
                                  api_name='/translate')
  photo, out = _read(photo_path), _read(result)
  assert out.shape == photo.shape
  diff = np.abs(out.astype(int) - photo).sum(axis=-1)
  assert diff[80:140, 190:260].mean() > 10  # the face changed
  assert diff[450:, :100].max() == 0  # far from the face, the photo is untouched
  assert _read(marked).shape == photo.shape
  grid = _read(client.predict(handle_file(photo_path), True, api_name='/grid'))
  assert grid.shape[1] >= 6 * model.image_size  # input + one column per domain


def test_api_no_face_is_a_clear_error(page, tmp_path):
  url, _ = page
  path = tmp_path / 'wall.png'
  Image.fromarray(face_photos.smooth_photo(200, 200)).save(path)
  client = Client(url, verbose=False)
  with pytest.raises(Exception, match='no face found'):
    client.predict(handle_file(str(path)), True, ['Male'], 1, 1, 1, 1, 1, api_name='/translate')
  _, result = client.predict(handle_file(str(path)), False, ['Male'], 1, 1, 1, 1, 1,
                             api_name='/translate')
  assert _read(result).shape == (32, 32, 3)  # --no_align: the central square


def test_export_of_a_joint_model_offers_the_expressions(trained_both, tmp_path, photo_path):
  base = export_lib.export_from_work_dir(trained_both.train.work_dir, str(tmp_path / 'exports'))
  model = demo_lib.from_export(os.path.dirname(base))  # the base folder: its latest version
  assert model.label_space.domain_names == labels.DEFAULT_ATTRS + labels.RAFD_CLASSES
  assert model.classify is not None
  photo = _read(photo_path)
  marked, out = demo_lib.translate_photo(model, photo, 'happy=0.5')
  assert out.shape == photo.shape and np.abs(out.astype(int) - photo).max() > 0
  grid = demo_lib.domain_grid(model, photo)
  assert grid.shape[1] >= 14 * 32


def _chromium_or_skip():
  missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
  if missing:
    pytest.skip('the browser test needs Debian\'s chromium and chromium-driver '
                f'({", ".join(missing)} not found; apt-get install chromium chromium-driver)')
  return pytest.importorskip('selenium.webdriver', reason='the browser test needs selenium')


@pytest.mark.slow
def test_page_in_a_real_browser(page, photo_path, tmp_path):
  """Upload a photo, tick Blond_Hair, press Translate: the translated photo appears and differs
  from the one uploaded."""
  webdriver = _chromium_or_skip()
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.support import expected_conditions  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.support.ui import WebDriverWait  # pylint: disable=g-import-not-at-top
  url, _ = page
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for flag in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
               '--disable-component-update', '--disable-sync', '--no-first-run',
               f'--user-data-dir={tmp_path / "profile"}', '--window-size=1400,1800'):
    options.add_argument(flag)
  driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER),
                            options=options)
  try:
    driver.get(url)
    wait = WebDriverWait(driver, 60)
    upload = wait.until(expected_conditions.presence_of_element_located(
        (By.CSS_SELECTOR, '#photo input[type=file]')))
    upload.send_keys(photo_path)
    wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, '#photo img')))
    driver.find_element(By.XPATH, '//*[@id="attributes"]//label[.//span[text()="Blond_Hair"]]'
                        ).click()
    driver.find_element(By.ID, 'translate').click()
    image = wait.until(expected_conditions.presence_of_element_located(
        (By.CSS_SELECTOR, '#result img')))
    src = image.get_attribute('src')
    driver.save_screenshot(str(tmp_path / 'page.png'))
  finally:
    driver.quit()
  if src.startswith('data:'):
    data = base64.b64decode(src.split(',', 1)[1])
  else:
    with urllib.request.urlopen(src, timeout=30) as response:
      data = response.read()
  out = np.asarray(Image.open(io.BytesIO(data)).convert('RGB'))
  photo = _read(photo_path)
  assert out.shape == photo.shape
  assert np.abs(out.astype(int) - photo).sum(axis=-1)[80:140, 190:260].mean() > 10


def test_cli_needs_a_model(tmp_path):
  result = subprocess.run([sys.executable, '-m', 'stargan_tf.demo'], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 1
  assert 'give one of --work_dir (a run folder) and --export_dir (an export)' in result.stderr
