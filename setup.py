"""stargan-tf: StarGAN (Choi et al., CVPR 2018) in TensorFlow 2 / Keras 3."""

import setuptools

setuptools.setup(
    name='stargan-tf',
    version='0.2.0',
    description='StarGAN multi-domain image-to-image translation in TensorFlow 2 / Keras 3, '
                'exportable to TF Serving and TFLite.',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='MIT',
    python_requires='>=3.10',
    packages=setuptools.find_packages(include=['stargan_tf', 'stargan_tf.*', 'serving']),
    install_requires=[
        # The full `tensorflow` package: tensorflow-serving-api depends on it by that name.
        'tensorflow>=2.21,<2.22',
        'keras>=3.15,<4',
        'numpy>=1.26,<3',
        'pillow>=10.0',
        'absl-py>=2.1',
        'tensorflow-serving-api>=2.21,<2.22',
        # tf.summary's writers live in the tensorboard package.
        'tensorboard>=2.21,<2.22',
        'ai-edge-litert>=2.3,<3',
    ],
    extras_require={
        # Face detection: OpenCV 4's Haar cascades ship inside the wheel (OpenCV 5 dropped them).
        'faces': ['opencv-python-headless>=4.8,<5'],
        'demo': ['gradio>=6,<7', 'opencv-python-headless>=4.8,<5'],
        # What CI needs: pytest-xdist (the suite runs on two workers), the optional packages (so
        # their tests run), the real-face photos that ship inside scikit-image and matplotlib, and
        # gradio_client and selenium for the demo.
        'test': ['pytest>=8', 'pytest-xdist>=3.6', 'pyyaml>=6', 'opencv-python-headless>=4.8,<5',
                 'gradio>=6,<7', 'gradio_client>=2,<3', 'selenium>=4.20,<5',
                 'scikit-image>=0.22', 'matplotlib>=3.8'],
        'gpu': ['tensorflow[and-cuda]>=2.21,<2.22'],
    },
    entry_points={
        'console_scripts': [
            'stargan-train=stargan_tf.train:run',
            'stargan-translate=stargan_tf.translate:run',
            'stargan-evaluate=stargan_tf.evaluate:run',
            'stargan-train-classifier=stargan_tf.train_classifier:run',
            'stargan-tflite=stargan_tf.tflite:run',
            'stargan-export=stargan_tf.export:run',
            'stargan-cache=stargan_tf.cache:run',
            'stargan-import-torch=stargan_tf.import_torch:run',
            'stargan-demo=stargan_tf.demo:run',
        ],
    },
)
