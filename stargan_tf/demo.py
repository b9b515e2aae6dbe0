"""Try a model on your photos in the browser: a local web page (Gradio).

  python -m stargan_tf.demo --work_dir=runs/celeba            # then open http://127.0.0.1:7860
  python -m stargan_tf.demo --export_dir=exports/stargan --port=8080

Upload a photo or take one with the webcam, tick the attributes to set (with an intensity slider
each) or pick an expression, and press Translate: the page shows the faces found and the photo
with them translated and pasted back; "Every domain" shows each face in every domain. The domains
not chosen keep what the discriminator's classifier reads off each face. The page is served on
127.0.0.1 only; stop it with Ctrl-C. Needs the demo extra: pip install -e ".[demo]".
"""

from absl import app
from absl import flags

from stargan_tf import cli
from stargan_tf import flags as flags_lib


def main(argv):
  del argv
  f = flags.FLAGS
  if bool(f.work_dir) == bool(f.export_dir):
    raise app.UsageError('give one of --work_dir (a run folder) and --export_dir (an export).')
  from stargan_tf import demo_lib  # pylint: disable=g-import-not-at-top (after cli loads TF)
  demo_lib.check_gradio()
  model = (demo_lib.from_work_dir(f.work_dir, f.test_iters) if f.work_dir else
           demo_lib.from_export(f.export_dir))
  print(f'Serving the demo of {model.name} on http://127.0.0.1:{f.port} (Ctrl-C stops it).')
  demo_lib.serve(model, f.port)


def run():
  cli.run(main, flags_lib.define_demo_flags)


if __name__ == '__main__':
  run()
