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
  assert (c.train.n_critic, c.data.batch_size, c.model.image_size) == (5, 16, 128)
  assert (c.train.num_iters, c.train.num_iters_decay) == (200000, 100000)
  assert c.data.selected_attrs == ('Black_Hair', 'Blond_Hair', 'Brown_Hair', 'Male', 'Young')


@pytest.mark.parametrize('sections, message', [
    ({'data': {'selected_attrs': ('Black_Hair', 'Blue_Hair', 'Brown_Hair', 'Male', 'Young')}},
     r"unknown CelebA attribute\(s\) \['Blue_Hair'\]; valid names: 5_o_Clock_Shadow"),
    ({'data': {'dataset': 'MNIST'}}, "--dataset='MNIST'"),
    ({'model': {'image_size': 96}}, 'divisible by 2\\*\\*d_repeat_num'),
    ({'model': {'image_size': 30, 'd_repeat_num': 1}}, 'expected a multiple of 4'),
    ({'train': {'num_iters_decay': 300000}}, '--num_iters_decay=300000'),
    ({'train': {'n_critic': 0}}, '--n_critic=0'),
    ({'train': {'strategy': 'tpu'}}, "--strategy='tpu': expected one of default, mirrored, "
     'multi_worker'),
    ({'train': {'precision': 'float16'}}, "--precision='float16': expected one of float32, "
     'mixed_bfloat16, mixed_float16'),
    ({'train': {'cpu_devices': -1}}, '--cpu_devices=-1'),
    ({'train': {'strategy': 'multi_worker'}, 'data': {'deterministic_input': False}},
     '--deterministic_input=false cannot be used with --strategy=multi_worker'),
    ({'data': {'dataset': 'Both', 'selected_attrs': ('Black_Hair', 'Smiles')}},
     r"unknown CelebA attribute\(s\) \['Smiles'\]"),
    ({'data': {'selected_attrs': ('Male', 'Male')}}, 'names a domain twice'),
    ({'data': {'dataset': 'RaFD', 'rafd_classes': ('happy',)}}, 'at least 2 classes'),
    ({'train': {'g_lr': float('nan')}}, '--g_lr=nan: expected a finite number >= 0'),
    ({'train': {'d_lr': -1e-4}}, '--d_lr=-0.0001: expected a finite number >= 0'),
    ({'train': {'g_lr': float('inf')}}, '--g_lr=inf'),
    ({'loss': {'lambda_gp': float('nan')}}, '--lambda_gp=nan'),
    ({'loss': {'lambda_rec': -1.0}}, '--lambda_rec=-1.0'),
    ({'train': {'beta1': 1.0}}, r'--beta1=1.0: expected a number in \[0, 1\)'),
    ({'train': {'beta2': float('nan')}}, '--beta2=nan'),
    ({'train': {'beta1': -0.1}}, '--beta1=-0.1'),
])
def test_validate_names_the_bad_setting(sections, message):
  with pytest.raises(ValueError, match=message):
    _config(**sections).validate()


def test_dict_round_trip_and_configs_of_earlier_versions():
  c = _config(train={'num_iters': 7}, model={'g_conv_dim': 8}, data={'dataset': 'Both'})
  assert config_lib.Config.from_dict(c.to_dict()) == c
  # Earlier versions kept the label widths in the model section and image_size in both.
  old = c.to_dict()
  old['model'].update(c_dim=5, c2_dim=8, mask_vector=True)
  old['data']['image_size'] = 128
  assert config_lib.Config.from_dict(old) == c


def test_joint_label_widths_are_the_reference_ones():
  """--dataset=Both: G is conditioned on 5 + 8 + 2 columns and D classifies 5 + 8."""
  c = _config(data={'dataset': 'Both'}).validate()
  assert c.data.datasets == ('CelebA', 'RaFD') and c.data.sample_dataset == 'CelebA'
  assert (c.data.crop_size_of('CelebA'), c.data.crop_size_of('RaFD')) == (178, 256)
  space = c.label_space
  assert (space.label_dim, space.num_domains, space.mask) == (15, 13, True)
  single = config_lib.Config().validate().label_space
  assert (single.label_dim, single.num_domains, single.mask) == (5, 5, False)


def test_joint_cache_has_a_folder_per_dataset(tmp_path):
  c = _config(data={'dataset': 'Both', 'cache_dir': str(tmp_path)})
  assert c.data.cache_dir_of('RaFD') == str(tmp_path / 'RaFD')
  assert _config(data={'cache_dir': str(tmp_path)}).data.cache_dir_of('CelebA') == str(tmp_path)
  assert _config().data.cache_dir_of('CelebA') == ''
