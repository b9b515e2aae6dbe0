import logging
import os
import shutil
import subprocess
import sys

import helpers
import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from stargan_tf import contract
from stargan_tf import images
from stargan_tf import labels
from stargan_tf import runs
from stargan_tf import translate_lib as translate
from stargan_tf.data import pipeline
from stargan_tf.data import splits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def trained(tiny_run):
  return tiny_run


# The headers of the default grids of a CelebA run and of a joint (--dataset=Both) run.
CELEBA_COLUMNS = ('input', 'Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young')
JOINT_COLUMNS = CELEBA_COLUMNS + ('angry', 'contemptuous', 'disgusted', 'fearful', 'happy',
                                  'neutral', 'sad', 'surprised')


def _cells(path, column_names, rows, row_names=None, size=32):
  """The images of a grid file: `rows` x len(column_names) cells of `size` px, checked to lie under
  a header naming `column_names` (and right of `row_names`) as images.make_grid writes them."""
  grid = np.asarray(Image.open(path))
  blank = images.make_grid([np.zeros([rows, size, size, 3])] * len(column_names),
                           column_names=column_names, row_names=row_names)
  assert grid.shape == blank.shape
  top, left = grid.shape[0] - rows * size, grid.shape[1] - len(column_names) * size
  assert top > 0 and (blank[:top] < 128).any()  # the header holds names
  np.testing.assert_array_equal(grid[:top], blank[:top], err_msg='column names')
  np.testing.assert_array_equal(grid[top:, :left], blank[top:, :left], err_msg='row names')
  return grid[top:, left:]


def test_test_split_grids(trained, tmp_path):
  out = translate.translate(trained.train.work_dir, str(tmp_path), batch_size=6)
  assert [os.path.basename(p) for p in out] == ['000001-images.png', '000002-images.png',
                                                '000003-images.png']
  for path, rows in zip(out, (6, 6, 4)):
    assert _cells(path, CELEBA_COLUMNS, rows).shape == (rows * 32, 6 * 32, 3)
  assert translate.default_output_dir(trained.train.work_dir) == os.path.join(
      trained.train.work_dir, 'results')


def test_explicit_target_column_is_g_of_that_target(trained, tmp_path):
  out = translate.translate(trained.train.work_dir, str(tmp_path), target='Blond_Hair=1,Male=0',
                            batch_size=4, max_images=4)
  assert len(out) == 1
  grid = _cells(out[0], ('input', 'Blond_Hair=1,Male=0'), 4)
  G = runs.Run(trained.train.work_dir).restore().G
  paths, c_org = splits.load_split(trained.data, 'test')
  x, c = next(iter(pipeline.make_dataset(paths[:4], c_org[:4], 178, 32, 4, training=False)))
  c_trg = c.numpy().copy()
  c_trg[:, [0, 2]] = 0
  c_trg[:, 1] = 1
  c_trg[:, 3] = 0
  expected = images.make_grid([x.numpy(), G(x, tf.constant(c_trg)).numpy()])
  assert np.abs(grid.astype(int) - expected.astype(int)).max() <= 1


def test_own_images_any_size(trained, tmp_path):
  own = tmp_path / 'own'
  own.mkdir()
  r = np.random.RandomState(0)
  Image.fromarray(r.randint(0, 255, [150, 200, 3], np.uint8)).save(own / 'wide.png')
  Image.fromarray(r.randint(0, 255, [218, 178, 3], np.uint8)).save(own / 'tall.jpg')
  (own / 'notes.txt').write_text('not an image')
  out = translate.translate(trained.train.work_dir, str(tmp_path / 'out'), input_dir=str(own),
                            align=False)
  assert _cells(out[0], CELEBA_COLUMNS, 2, row_names=['tall.jpg', 'wide.png']).shape == (
      2 * 32, 6 * 32, 3)
  assert translate.default_output_dir(trained.train.work_dir, str(own) + '/') == os.path.join(
      trained.train.work_dir, 'results', 'own')


def _folder_with_bad_files(folder):
  """A user's folder: three images among files that cannot be used (sorted, the bad files fall
  between the good ones). Returns (the good file names, {bad file name: the reason given})."""
  folder.mkdir()
  r = np.random.RandomState(1)
  for name, shape in (('a.png', [150, 200, 3]), ('c.jpg', [218, 178, 3]), ('g.png', [40, 40, 3])):
    Image.fromarray(r.randint(0, 255, shape, np.uint8)).save(folder / name)
  jpeg = (folder / 'c.jpg').read_bytes()
  (folder / 'b_empty.jpg').write_bytes(b'')
  (folder / 'd_truncated.jpg').write_bytes(jpeg[:len(jpeg) // 2])
  (folder / 'e_text.jpg').write_text('not an image')
  (folder / 'f_folder.jpg').mkdir()
  return ['a.png', 'c.jpg', 'g.png'], {
      'b_empty.jpg': 'empty file', 'd_truncated.jpg': 'truncated or corrupt JPEG data',
      'e_text.jpg': 'not a JPEG or PNG image', 'f_folder.jpg': 'is a directory'}


def _own_grid(work_dir, folder, names):
  """The grid of `names` in `folder` (one batch) computed here: [input | G per CelebA domain], the
  source labels read off D_cls, under the default header and with the file names as row names."""
  restored = runs.Run(work_dir).restore()
  x = tf.stack([translate.load_own_image(str(folder / n), 32) for n in names])
  c_org = translate.labels_from_classifier(restored.D, x, restored.config.label_space, 'CelebA')
  columns = [x.numpy()] + [restored.G(x, tf.constant(c), training=False).numpy()
                           for c in translate.make_targets(c_org, restored.config, '')]
  return images.make_grid(columns, column_names=CELEBA_COLUMNS, row_names=names)


def _assert_grid_equal(path, expected):
  grid = np.asarray(Image.open(path))
  assert grid.shape == expected.shape
  assert np.abs(grid.astype(int) - expected.astype(int)).max() <= 1


def test_own_images_skip_files_that_are_not_images(trained, tmp_path, caplog):
  """Bad files are skipped with one warning naming each and why; the rows keep their names."""
  good, bad = _folder_with_bad_files(tmp_path / 'own')
  with caplog.at_level(logging.WARNING):
    out = translate.translate(trained.train.work_dir, str(tmp_path / 'out'),
                              input_dir=str(tmp_path / 'own'), batch_size=2, align=False)
  assert [os.path.basename(p) for p in out] == ['000001-images.png', '000002-images.png']
  _assert_grid_equal(out[0], _own_grid(trained.train.work_dir, tmp_path / 'own', good[:2]))
  _assert_grid_equal(out[1], _own_grid(trained.train.work_dir, tmp_path / 'own', good[2:]))
  warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
  assert len(warnings) == 1, warnings
  for name, reason in bad.items():
    assert f'{name} ({reason})' in warnings[0]


def test_own_images_max_images_counts_usable_images(trained, tmp_path):
  good, _ = _folder_with_bad_files(tmp_path / 'own')
  out = translate.translate(trained.train.work_dir, str(tmp_path / 'out'),
                            input_dir=str(tmp_path / 'own'), batch_size=4, max_images=2,
                            align=False)
  _assert_grid_equal(out[0], _own_grid(trained.train.work_dir, tmp_path / 'own', good[:2]))


def test_max_images_is_a_limit_on_images_not_batches(trained, tmp_path):
  out = translate.translate(trained.train.work_dir, str(tmp_path), batch_size=4, max_images=5)
  assert len(out) == 2
  assert _cells(out[1], CELEBA_COLUMNS, 1).shape == (32, 6 * 32, 3)


def test_own_folder_without_a_usable_image(trained, tmp_path):
  folder = tmp_path / 'own'
  folder.mkdir()
  (folder / 'empty.png').write_bytes(b'')
  (folder / 'notes.jpg').write_text('not an image')
  with pytest.raises(ValueError, match=f'--input_dir={folder} holds no usable image: empty.png '
                     r'\(empty file\), notes.jpg \(not a JPEG or PNG image\)'):
    translate.translate(trained.train.work_dir, str(tmp_path / 'out'), input_dir=str(folder),
                        align=False)
  assert not os.path.exists(tmp_path / 'out')


@pytest.mark.parametrize('content, reason', [
    (None, 'no such file or directory'),
    (b'', 'empty file'),
    (b'\x89PNG\r\n\x1a\n', 'truncated or corrupt PNG data'),
    (b'GIF89a but no more', 'not a JPEG or PNG image'),
])
def test_load_own_image_names_the_file_and_the_reason(tmp_path, content, reason):
  path = tmp_path / 'face.png'
  if content is not None:
    path.write_bytes(content)
  with pytest.raises(translate.UnusableImageError,
                     match=f'{path}: {reason}; expected a JPEG or PNG image') as e:
    translate.load_own_image(str(path), 8)
  assert isinstance(e.value, ValueError)  # the commands show it as a one-line error
  assert (e.value.path, e.value.reason) == (str(path), reason)


def test_own_image_preprocessing_is_a_central_square():
  image = np.zeros([40, 80, 3], np.uint8)
  image[:, 20:60] = 255  # the central 40x40 square is white, the sides black
  path = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'stargan_square_test.png')
  Image.fromarray(image).save(path)
  x = translate.load_own_image(path, 8).numpy()
  assert x.shape == (8, 8, 3)
  np.testing.assert_allclose(x, 1.0, atol=1e-6)


@pytest.mark.parametrize('kwargs, error, message', [
    ({'target': 'Blue_Hair=1'}, ValueError, "unknown domain 'Blue_Hair'"),
    ({'input_dir': '/nonexistent/faces', 'output_dir': '/tmp/x'}, FileNotFoundError,
     '/nonexistent/faces is not a folder'),
])
def test_errors(trained, kwargs, error, message):
  with pytest.raises(error, match=message):
    translate.translate(trained.train.work_dir, **kwargs)


def test_missing_checkpoint(tmp_path):
  with pytest.raises(FileNotFoundError, match='config.json not found'):
    translate.translate(str(tmp_path))


@pytest.mark.slow
def test_cli_flagfile_with_overrides_then_translate(tmp_path, synthetic_dir):
  work_dir = tmp_path / 'cli'
  env = dict(os.environ, PYTHONPATH=ROOT)
  train = subprocess.run(
      [sys.executable, '-m', 'stargan_tf.train', '--flagfile=configs/synthetic.flags',
       f'--work_dir={work_dir}', f'--attr_path={synthetic_dir}/list_attr_celeba.txt',
       f'--celeba_image_dir={synthetic_dir}/img_align_celeba', '--synthetic_images=0',
       '--test_size=17', '--g_conv_dim=8', '--d_conv_dim=8', '--num_iters=2', '--log_step=1'],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert train.returncode == 0, train.stderr[-3000:]
  assert 'step 2/2' in train.stderr
  assert 'ETA' in train.stderr
  # The flag file's --num_iters_decay=5000 is longer than this run: it decays over the run.
  assert '--num_iters_decay=5000 is longer than --num_iters=2' in train.stderr
  saved = runs.Run(str(work_dir)).load_config()
  assert (saved.model.g_conv_dim, saved.model.image_size) == (8, 32)
  assert saved.train.num_iters_decay == 2
  # A quiet start, and a summary of where everything went and what to run next.
  assert 'cuInit' not in train.stderr and 'absl::InitializeLog' not in train.stderr
  assert f'python -m stargan_tf.translate --work_dir={work_dir}' in train.stderr
  result = subprocess.run(
      [sys.executable, '-m', 'stargan_tf.translate', f'--work_dir={work_dir}', '--max_images=4',
       '--batch_size=4', '--target=Young=1'],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert os.listdir(work_dir / 'results') == ['000001-images.png']
  bad = subprocess.run(
      [sys.executable, '-m', 'stargan_tf.train', '--flagfile=configs/synthetic.flags',
       f'--work_dir={tmp_path / "bad"}', '--selected_attrs=Black_Hair,Purple_Hair'],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert bad.returncode == 1
  assert "error: --selected_attrs: unknown CelebA attribute(s) ['Purple_Hair']" in bad.stderr
  assert 'Traceback' not in bad.stderr


def test_cli_input_dir_skips_bad_files_and_writes_to_the_default_folder(trained, tmp_path):
  """`translate --input_dir` without --output_dir: grids in <work_dir>/results/<folder name>/."""
  work_dir = tmp_path / 'run'
  shutil.copytree(trained.train.work_dir, work_dir)  # the shared run's folder stays unwritten
  good, bad = _folder_with_bad_files(tmp_path / 'faces')
  result = subprocess.run(
      [sys.executable, '-m', 'stargan_tf.translate', f'--work_dir={work_dir}',
       f'--input_dir={tmp_path / "faces"}', '--batch_size=3', '--no_align'],
      cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
      timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Traceback' not in result.stderr
  for name, reason in bad.items():
    assert f'{name} ({reason})' in result.stderr
  out = work_dir / 'results' / 'faces'
  assert f'Wrote 1 grid(s) to {out}' in result.stdout
  assert os.listdir(out) == ['000001-images.png']
  _assert_grid_equal(out / '000001-images.png', _own_grid(str(work_dir), tmp_path / 'faces', good))


def test_joint_grids_have_a_column_per_domain_of_both_datasets(trained_both, tmp_path):
  """--dataset=Both: CelebA test images x [input | 5 CelebA targets | 8 RaFD expressions]."""
  out = translate.translate(trained_both.train.work_dir, str(tmp_path / 'split'), batch_size=4,
                            max_images=4)
  assert _cells(out[0], JOINT_COLUMNS, 4).shape == (4 * 32, 14 * 32, 3)
  own = tmp_path / 'own'
  own.mkdir()
  Image.fromarray(np.random.RandomState(0).randint(0, 255, [60, 50, 3], np.uint8)).save(
      own / 'face.png')
  out = translate.translate(trained_both.train.work_dir, str(tmp_path / 'own_out'),
                            input_dir=str(own), align=False)
  assert _cells(out[0], JOINT_COLUMNS, 1, row_names=['face.png']).shape == (32, 14 * 32, 3)


def test_joint_target_of_the_other_dataset_sets_its_mask(trained_both, tmp_path):
  """--target=happy=1 on CelebA images: G gets [0 (5) | one-hot happy (8) | 0 1]."""
  out = translate.translate(trained_both.train.work_dir, str(tmp_path), target='happy=1',
                            batch_size=4, max_images=4)
  grid = _cells(out[0], ('input', 'happy=1'), 4)
  G = runs.Run(trained_both.train.work_dir).restore().G
  paths, c_org = splits.load_split(trained_both.data, 'test', 'CelebA')
  x, _ = next(iter(pipeline.make_dataset(paths[:4], c_org[:4], 178, 32, 4, training=False)))
  c_trg = np.zeros([4, 15], np.float32)
  c_trg[:, 5 + 4] = 1  # happy
  c_trg[:, 14] = 1  # mask: RaFD
  expected = images.make_grid([x.numpy(), G(x, tf.constant(c_trg)).numpy()])
  assert np.abs(grid.astype(int) - expected.astype(int)).max() <= 1
  with pytest.raises(ValueError, match='names domains of CelebA and RaFD'):
    translate.translate(trained_both.train.work_dir, str(tmp_path), target='Male=1,happy=1')


@pytest.mark.slow
def test_cli_joint_demo_trains_translates_and_exports(tmp_path):
  """configs/synthetic_both.flags end to end: both synthetic datasets are written on first use."""
  data, work_dir = tmp_path / 'data', tmp_path / 'run'
  env = dict(os.environ, PYTHONPATH=ROOT)
  run = lambda *args: subprocess.run([sys.executable, '-m', *args], cwd=ROOT, env=env,
                                     capture_output=True, text=True, timeout=600)
  train = run('stargan_tf.train', '--flagfile=configs/synthetic_both.flags',
              f'--work_dir={work_dir}', f'--attr_path={data}/celeba/list_attr_celeba.txt',
              f'--celeba_image_dir={data}/celeba/img_align_celeba',
              f'--rafd_image_dir={data}/RaFD/train', f'--rafd_test_dir={data}/RaFD/test',
              '--synthetic_images=64', '--test_size=17', '--g_conv_dim=8', '--d_conv_dim=8',
              '--num_iters=2', '--n_critic=2', '--num_iters_decay=0', '--log_step=1')
  assert train.returncode == 0, train.stderr[-3000:]
  assert 'CelebA/D/loss_cls' in train.stderr and 'RaFD/G/loss_cls' in train.stderr
  assert sorted(os.listdir(data / 'RaFD' / 'test')) == list(labels.RAFD_CLASSES)
  saved = runs.Run(str(work_dir)).load_config()
  assert saved.data.dataset == 'Both' and saved.label_space.mask

  translated = run('stargan_tf.translate', f'--work_dir={work_dir}', '--max_images=4',
                   '--batch_size=4')
  assert translated.returncode == 0, translated.stderr[-3000:]
  assert _cells(work_dir / 'results' / '000001-images.png', JOINT_COLUMNS, 4).shape == (
      4 * 32, 14 * 32, 3)

  exported = run('stargan_tf.export', f'--work_dir={work_dir}',
                 f'--export_dir={tmp_path / "exports"}')
  assert exported.returncode == 0, exported.stderr[-3000:]
  metadata = contract.read_export_metadata(str(tmp_path / 'exports' / '1'))
  assert metadata.label_space.domain_names == labels.DEFAULT_ATTRS + labels.RAFD_CLASSES
  assert metadata.label_space.label_dim == 15


# --- photos, intensity and interpolation ----------------------------------------------------------


def test_photo_faces_are_rows_and_photos_are_written_per_column(trained, tmp_path):
  """--input_dir of photos: one grid row per face, and each photo written whole per column, with
  the face translated and pasted back; a photo without a face is skipped with the warning."""
  import face_photos  # pylint: disable=g-import-not-at-top
  pytest.importorskip('cv2', reason='face detection needs opencv-python-headless 4.x')
  photo, _ = face_photos.astronaut()
  own = tmp_path / 'own'
  own.mkdir()
  Image.fromarray(photo).save(own / 'astronaut.png')
  Image.fromarray(face_photos.smooth_photo(80, 90)).save(own / 'wall.png')
  out = translate.translate(trained.train.work_dir, str(tmp_path / 'out'), input_dir=str(own),
                            target='Male=1', interpolate=3)
  names = ('input', 't=0.00', 't=0.50', 't=1.00')
  assert _cells(out[0], names, 1, row_names=['astronaut.png']).shape == (32, 4 * 32, 3)
  for column in names[1:]:
    written = np.asarray(Image.open(tmp_path / 'out' / column / 'astronaut.png'))
    assert written.shape == photo.shape
    assert (written[480:, :60] == photo[480:, :60]).all()  # far from the face
  assert not os.path.exists(tmp_path / 'out' / 't=1.00' / 'wall.png')
  with pytest.raises(ValueError, match='--interpolate=3 needs a --target'):
    translate.translate(trained.train.work_dir, str(tmp_path / 'x'), interpolate=3)


def _band_position(images_, region, start, end):
  """Where a region's mean colour lies on the line from colour `start` to `end` (0 to 1)."""
  from stargan_tf.data import synthetic  # pylint: disable=g-import-not-at-top
  rgb = synthetic._region_rgb(np.asarray(images_), region)  # pylint: disable=protected-access
  return ((rgb - start) @ (end - start)) / ((end - start) @ (end - start))


@pytest.mark.slow
@pytest.mark.xdist_group(helpers.DEMO_RUN_GROUP)
def test_intensity_between_0_and_1_lies_between_their_outputs(demo_run):
  """On the trained synthetic model: "Male=0" and "Male=1" give exactly the binary targets'
  outputs, and Male=0.25, 0.5, 0.75 put the Male band's colour between them, in order (measured
  on the band, female pink -> male blue, over 64 test images whose source is female)."""
  from stargan_tf.data import synthetic  # pylint: disable=g-import-not-at-top
  restored = runs.Run(demo_run.train.work_dir).restore()
  paths, c_org = splits.load_split(demo_run.data, 'test')
  x, c = next(iter(pipeline.make_dataset(paths[:256], c_org[:256], 178, 32, 256, training=False)))
  female = c.numpy()[:, 3] == 0
  x, c = x.numpy()[female][:64], c.numpy()[female][:64]
  steps = (0.0, 0.25, 0.5, 0.75, 1.0)
  position = []
  for v in steps:
    (c_trg,) = translate.make_targets(c, demo_run, f'Male={v:g}')
    if v in (0.0, 1.0):  # the binary rule: Male set, the rest kept
      expected = c.copy()
      expected[:, 3] = v
      np.testing.assert_array_equal(c_trg, expected)
    y = restored.G(tf.constant(x), tf.constant(c_trg), training=False).numpy()
    position.append(_band_position(y, 'male', synthetic.MALE_RGB[0], synthetic.MALE_RGB[1]))
  means = [float(p.mean()) for p in position]
  print('Male band position (0 pink, 1 blue) at Male=' +
        ', '.join(f'{v:g}: {m:.3f}' for v, m in zip(steps, means)))
  assert means[0] < 0.25 and means[-1] > 0.75  # the model learned the binary translation
  assert all(a < b for a, b in zip(means, means[1:]))  # monotone on average
  assert means[0] < means[2] < means[-1]
  # Image by image, the half-way output lies between the two ends (within 0.05).
  low, high = np.minimum(position[0], position[-1]), np.maximum(position[0], position[-1])
  assert ((position[2] >= low - 0.05) & (position[2] <= high + 0.05)).mean() >= 0.9
