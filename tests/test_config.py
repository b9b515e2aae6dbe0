import dataclasses

import pytest

from stargan_tf import config as config_lib


def _config(**sections):
  c = config_lib.Config()
  return dataclasses.replace(c, **{
      name: dataclasses.replace(getattr(c, name), **values) for name, values in sections.items()})


def test_defaults_are_the_paper_settings():
  c = config_lib.Config().validate()
  assert (c.loss.lambda_cls, c.loss.lambda_rec, c.loss.lambda_gp) == (1.0, 10.0, 10.0)
  assert (c.train.g_lr, c.train.d_lr, c.train.beta1, c.train.beta2) == (1e-4, 1e-4, 0.5, 0.999)
  assert (c.train.n_critic, c.data.batch_size, c.data.image_size) == (5, 16, 128)
  assert (c.train.num_iters, c.train.num_iters_decay) == (200000, 100000)
  assert c.data.selected_attrs == ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young')


@pytest.mark.parametrize('sections, message', [
    ({'data': {'selected_attrs': ('Black_Hair', 'Blue_Hair', 'Brown_Hair', 'Male', 'Young')}},
     r"unknown CelebA attribute\(s\) \['Blue_Hair'\]; valid names: 5_o_Clock_Shadow"),
    ({'model': {'c_dim': 4}}, '--c_dim=4 but --selected_attrs names 5'),
    ({'data': {'dataset': 'MNIST'}}, "--dataset='MNIST'"),
    ({'data': {'image_size': 96}, 'model': {'image_size': 96}}, 'divisible by 2\\*\\*d_repeat_num'),
    ({'train': {'num_iters_decay': 300000}}, '--num_iters_decay=300000'),
    ({'train': {'n_critic': 0}}, '--n_critic=0'),
    ({'train': {'strategy': 'tpu'}}, "--strategy='tpu': expected one of default, mirrored, "
     'multi_worker'),
    ({'train': {'precision': 'float16'}}, "--precision='float16': expected one of float32, "
     'mixed_bfloat16, mixed_float16'),
    ({'train': {'cpu_devices': -1}}, '--cpu_devices=-1'),
    ({'train': {'strategy': 'multi_worker'}, 'data': {'deterministic_input': False}},
     '--deterministic_input=false cannot be used with --strategy=multi_worker'),
    ({'data': {'dataset': 'Both'}}, '--dataset=Both but the model config has mask_vector=False'),
    ({'model': {'mask_vector': True}}, '--dataset=CelebA but the model config has mask_vector='
     'True'),
    ({'data': {'dataset': 'Both'}, 'model': {'mask_vector': True, 'c2_dim': 0}},
     '--c2_dim=0: expected the number of RaFD classes'),
    ({'data': {'dataset': 'Both', 'selected_attrs': ('Black_Hair', 'Smiles')},
      'model': {'mask_vector': True, 'c_dim': 2}}, r"unknown CelebA attribute\(s\) \['Smiles'\]"),
])
def test_validate_names_the_bad_setting(sections, message):
  with pytest.raises(ValueError, match=message):
    _config(**sections).validate()


def test_json_round_trip(tmp_path):
  c = _config(train={'num_iters': 7, 'work_dir': str(tmp_path)}, model={'g_conv_dim': 8})
  config_lib.save(c, str(tmp_path))
  assert config_lib.load(str(tmp_path)) == c
  assert not list(tmp_path.glob('*.tmp'))


def test_load_missing(tmp_path):
  with pytest.raises(FileNotFoundError, match='config.json not found'):
    config_lib.load(str(tmp_path))


def test_joint_label_widths_are_the_reference_ones():
  """--dataset=Both: G is conditioned on 5 + 8 + 2 columns and D classifies 5 + 8."""
  c = _config(data={'dataset': 'Both'}, model={'mask_vector': True}).validate()
  assert (c.model.label_dim, c.model.num_domains) == (15, 13)
  assert c.data.datasets == ('CelebA', 'RaFD') and c.data.sample_dataset == 'CelebA'
  assert (c.data.crop_size_of('CelebA'), c.data.crop_size_of('RaFD')) == (178, 256)
  space = c.data.label_space
  assert (space.label_dim, space.num_domains) == (15, 13)
  single = config_lib.Config().validate()
  assert (single.model.label_dim, single.model.num_domains) == (5, 5)
  with pytest.raises(ValueError, match='crop size per dataset'):
    c.data.crop_size  # pylint: disable=pointless-statement


def test_joint_cache_has_a_folder_per_dataset(tmp_path):
  c = _config(data={'dataset': 'Both', 'cache_dir': str(tmp_path)}, model={'mask_vector': True})
  assert c.data.cache_dir_of('RaFD') == str(tmp_path / 'RaFD')
  assert _config(data={'cache_dir': str(tmp_path)}).data.cache_dir_of('CelebA') == str(tmp_path)
  assert _config().data.cache_dir_of('CelebA') == ''
