"""The browser demo (`python -m stargan_tf.demo`): a local Gradio page to try a model on a photo.

The page takes a photo (upload or webcam), finds and aligns its faces (`faces.py`, as every other
path does), and shows the faces found next to the photo with them translated and pasted back.
Targets are picked by name from the model's label space: a checkbox and an intensity slider (0 to
1; StarGAN learned 0 and 1 only, values between are an interpolation) for each attribute of a
multi_label part (CelebA), a choice and an intensity for a one_hot part (RaFD's expressions). A
joint model shows both; one target sets the domains of one dataset. The domains not chosen keep
what the discriminator's classifier reads off each face. "Every domain" lays out a grid of each
aligned face in every domain (`labels.LabelSpace.create_labels`).

A `Model` is a run folder (`from_work_dir`: G and D from a checkpoint; single-dataset, joint and
imported runs alike) or an export (`from_export`: its serving_default and, if it has it, classify
signature). Gradio is an optional dependency (`pip install "stargan-tf[demo]"`), imported here
only; the page is served on 127.0.0.1 and loads nothing from the network (system fonts).
"""

import dataclasses
import os

import numpy as np
from PIL import Image
from PIL import ImageDraw

from stargan_tf import contract
from stargan_tf import faces
from stargan_tf import images
from stargan_tf import labels as labels_lib

KEEP = '(keep)'  # the one_hot choice that changes nothing
_BOX_COLOUR = (255, 200, 0)

GRADIO_MISSING = ('the browser demo needs Gradio 6 (pip install "stargan-tf[demo]", or pip '
                  'install "gradio>=6,<7")')


@dataclasses.dataclass
class Model:
  """What the demo needs of a model.

  Attributes:
    name: what the page calls it (the run or export folder).
    label_space: its `labels.LabelSpace`.
    image_size: its side S.
    crop_size: the centre crop of CelebA's aligned frame it was trained on.
    generate: (x float32 [N, S, S, 3] in [-1, 1], c float32 [N, label_dim]) -> y like x.
    classify: x -> D's logits [N, num_domains], or None for an export without it.
  """
  name: str
  label_space: labels_lib.LabelSpace
  image_size: int
  crop_size: int
  generate: object
  classify: object = None


def from_work_dir(work_dir, step=0):
  """The Model of a run folder's checkpoint `step` (0: the latest)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top (after cli loads TF)
  from stargan_tf import runs  # pylint: disable=g-import-not-at-top
  restored = runs.Run(work_dir).restore(step)
  G, D = restored.G, restored.D
  generate = tf.function(lambda x, c: G(x, c, training=False))
  classify = None
  if D is not None:  # a run imported from a generator alone has no classifier
    read = tf.function(lambda x: D(x, training=False)[1])
    classify = lambda x: read(tf.constant(x)).numpy()
  config = restored.config
  return Model(os.path.abspath(work_dir), config.label_space, config.model.image_size,
               config.data.celeba_crop_size,
               lambda x, c: generate(tf.constant(x), tf.constant(c)).numpy(), classify)


def from_export(export_dir):
  """The Model of an export: a version folder, or the base folder (its highest version)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top (after cli loads TF)
  if not os.path.exists(contract.metadata_file(export_dir)) and os.path.isdir(export_dir):
    versions = sorted(int(n) for n in os.listdir(export_dir) if n.isdigit())
    if versions:
      export_dir = os.path.join(export_dir, str(versions[-1]))
  record = contract.read_export_metadata(export_dir)
  loaded = tf.saved_model.load(export_dir)
  serve = loaded.signatures[contract.SERVING_DEFAULT]
  classify = None
  if record.classify:
    read = loaded.signatures[contract.CLASSIFY]
    classify = lambda x: read(image=tf.constant(x))[contract.LOGITS].numpy()
  model = Model(os.path.abspath(export_dir), record.label_space, record.image_size,
                record.crop_size,
                lambda x, c: serve(image=tf.constant(x), target=tf.constant(c))['image'].numpy(),
                classify)
  model.loaded = loaded  # the functions' variables live as long as the model
  return model


def target_spec(space, checked, values, choice, intensity):
  """The --target text of the page's controls.

  Args:
    space: the LabelSpace.
    checked: the multi_label domain names ticked.
    values: {domain name: its slider value} of the multi_label domains.
    choice: the one_hot class chosen, or KEEP.
    intensity: the one_hot class's slider value.

  Raises:
    ValueError: nothing chosen, or domains of two datasets.
  """
  parts = [f'{name}={values[name]:g}' for name in checked]
  if choice and choice != KEEP:
    parts.append(f'{choice}={intensity:g}')
  if not parts:
    raise ValueError('choose a domain to change: tick an attribute or pick an expression.')
  spec = ','.join(parts)
  space.parse_target(spec)  # one dataset per target, named in the error
  return spec


def _own_label_logits(model, x, spec):
  """D's logits of the faces x when the target keeps some of their own domains, else None."""
  if model.classify is None or not model.label_space.depends_on_source(spec):
    return None
  return model.classify(x)


def _faces(model, photo, align):
  """(float32 [N, S, S, 3] faces, the AlignedFaces or None): the aligned faces, or the photo's
  central square without align."""
  if align:
    aligned = faces.align_photo(photo, model.image_size, model.crop_size)
    return np.stack([face.image for face in aligned]), aligned
  height, width = photo.shape[:2]
  side = min(height, width)
  top, left = (height - side) // 2, (width - side) // 2
  square = Image.fromarray(photo[top:top + side, left:left + side]).resize(
      (model.image_size, model.image_size), Image.Resampling.BILINEAR)
  return (np.asarray(square, np.float32) / 127.5 - 1.0)[None], None


def mark_faces(photo, aligned):
  """The photo with each face's box and eyes drawn in (what the page shows as 'faces found')."""
  image = Image.fromarray(photo)
  draw = ImageDraw.Draw(image)
  width = max(2, round(max(photo.shape[:2]) / 300))
  for number, face in enumerate(aligned or (), start=1):
    box = [tuple(p) for p in face.face.box]
    draw.line(box + box[:1], fill=_BOX_COLOUR, width=width)
    for x, y in (face.face.left_eye, face.face.right_eye):
      draw.ellipse([x - 2 * width, y - 2 * width, x + 2 * width, y + 2 * width],
                   outline=_BOX_COLOUR, width=width)
    draw.text(box[0], f'#{number}', fill=_BOX_COLOUR)
  return np.asarray(image)


def translate_photo(model, photo, spec, align=True):
  """(the photo with its faces marked, the photo translated by the target `spec`).

  With align, each face is aligned, translated and pasted back; without, the central square is
  translated and returned as it is.

  Raises:
    ValueError: a bad spec, or no face found (faces.NoFaceError).
  """
  photo = np.asarray(photo, np.uint8)[..., :3]
  x, aligned = _faces(model, photo, align)
  c_trg = model.label_space.target(spec, logits=_own_label_logits(model, x, spec))
  y = model.generate(x, np.array(np.broadcast_to(c_trg, [len(x), c_trg.shape[1]])))
  if aligned is None:
    return photo, images.denorm(y[0])
  return mark_faces(photo, aligned), faces.paste_faces(photo, aligned, y)


def domain_grid(model, photo, align=True):
  """A grid of each face (rows) in every domain (columns), under a header naming them."""
  photo = np.asarray(photo, np.uint8)[..., :3]
  x, _ = _faces(model, photo, align)
  space = model.label_space
  dataset = space.datasets[0]
  logits = model.classify(x) if model.classify is not None else np.zeros(
      [len(x), space.num_domains], np.float32)
  c_org = space.from_classifier(logits, dataset)
  columns = [x] + [model.generate(x, c) for c in space.create_labels(c_org, dataset)]
  return images.make_grid(columns, column_names=('input',) + space.domain_names)


def _gradio():
  """The gradio module; ImportError saying how to install it."""
  # Gradio reports usage to its makers unless told not to; nothing here leaves the machine.
  os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
  try:
    import gradio as gr  # pylint: disable=g-import-not-at-top (optional)
  except ImportError:
    raise ImportError(f'{GRADIO_MISSING}.') from None
  return gr


def check_gradio():
  """Fails early, before a model is loaded, where Gradio is missing (as a RuntimeError, which
  the commands show as a one-line error)."""
  try:
    _gradio()
  except ImportError as e:
    raise RuntimeError(str(e)) from None


def build_app(model):
  """The Gradio Blocks of the page; API names 'translate' and 'grid' (gradio_client)."""
  gr = _gradio()
  space = model.label_space
  multi = [n for p in space.parts if p.kind == labels_lib.MULTI_LABEL for n in p.names]
  one_hot = [n for p in space.parts if p.kind == labels_lib.ONE_HOT for n in p.names]
  with gr.Blocks(title='StarGAN demo') as app:
    gr.Markdown(f'## StarGAN: translate the faces in a photo\nModel: `{model.name}` '
                f'({space.name}, {model.image_size} px). Values between 0 and 1 are an '
                'interpolation: StarGAN was trained on 0/1 labels only.')
    with gr.Row():
      photo = gr.Image(label='Photo', sources=['upload', 'webcam'], type='numpy',
                       elem_id='photo')
      with gr.Column():
        checked = gr.CheckboxGroup(multi, label='Attributes to set', elem_id='attributes',
                                   visible=bool(multi))
        sliders = [gr.Slider(0, 1, value=1, step=0.05, label=f'{name} value',
                             elem_id=f'value-{name}') for name in multi]
        choice = gr.Radio([KEEP] + one_hot, value=KEEP, label='Expression', elem_id='expression',
                          visible=bool(one_hot))
        intensity = gr.Slider(0, 1, value=1, step=0.05, label='Expression intensity',
                              visible=bool(one_hot), elem_id='intensity')
        align = gr.Checkbox(value=True, label='Find and align faces (else: the central square)',
                            elem_id='align')
        with gr.Row():
          translate_button = gr.Button('Translate', variant='primary', elem_id='translate')
          grid_button = gr.Button('Every domain', elem_id='grid')
    with gr.Row():
      marked = gr.Image(label='Faces found', elem_id='faces', interactive=False, format='png')
      result = gr.Image(label='Translated', elem_id='result', interactive=False, format='png')
    grid = gr.Image(label='Every domain', elem_id='domain-grid', interactive=False,
                    format='png')

    def on_translate(image, do_align, names, *rest):
      values = dict(zip(multi, rest[:len(multi)]))
      expression, strength = rest[len(multi):]
      if image is None:
        raise gr.Error('Upload a photo or take one with the webcam first.')
      try:
        spec = target_spec(space, names or [], values, expression, strength)
        return translate_photo(model, image, spec, do_align)
      except (ValueError, ImportError) as e:
        raise gr.Error(str(e)) from None

    def on_grid(image, do_align):
      if image is None:
        raise gr.Error('Upload a photo or take one with the webcam first.')
      try:
        return domain_grid(model, image, do_align)
      except (ValueError, ImportError) as e:
        raise gr.Error(str(e)) from None

    translate_button.click(on_translate, [photo, align, checked] + sliders + [choice, intensity],
                           [marked, result], api_name='translate')
    grid_button.click(on_grid, [photo, align], grid, api_name='grid')
  return app


def serve(model, port=7860, block=True):
  """Serves the page of `model` on http://127.0.0.1:<port>; returns the app (with block=False,
  once it is up: `app.close()` stops it)."""
  gr = _gradio()
  app = build_app(model)
  # System fonts: the page must not fetch any from the network.
  theme = gr.themes.Default(font=['ui-sans-serif', 'system-ui', 'sans-serif'],
                            font_mono=['ui-monospace', 'monospace'])
  app.launch(server_name='127.0.0.1', server_port=port, share=False, inbrowser=False,
             prevent_thread_lock=not block, show_error=True, theme=theme, ssr_mode=False)
  return app
