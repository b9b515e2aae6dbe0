"""stargan-tf: StarGAN (Choi et al., CVPR 2018) in TensorFlow 2 / Keras 3.

Commands: `python -m stargan_tf.train`, `.translate`, `.evaluate`, `.export`, `.tflite`, `.cache`
(each with --help). Library modules: `labels` (the label contract), `config`, `models`, `losses`,
`train_step`, `trainer`, `runs` (a run folder), `contract` (what exports and their clients agree
on), `data`.
"""

__version__ = '0.2.0'
