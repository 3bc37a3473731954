"""Faces over the network: ``fer-estimator serve`` (an HTTP inference service) and
``fer-estimator live`` (camera or video frames, annotated as they come).

The submodules import their web framework (FastAPI, uvicorn) only when used, so
``import fer_estimator.cli`` stays light:

- :mod:`.model`: the one place that loads a saved model, and the pipeline serving it;
- :mod:`.images`: request bodies to images, with size and pixel limits;
- :mod:`.app`: the FastAPI app of ``serve`` (``create_app``) and its page ``page.html``;
- :mod:`.live`: frames from a camera, video or stream, annotated, shown or streamed as MJPEG;
- :mod:`.commands`: the ``serve`` and ``live`` subcommands of the command line.
"""

# serve's default limits: the largest request body, the largest image, the most crops a request.
MAX_BYTES = 10 * 2**20
# Lower than the library's DEFAULT_MAX_PIXELS (89 M, Pillow's limit for a file the user chose):
# a service decodes images from anyone, --workers of them at once, and a 10 MiB body can
# declare 89 M pixels (268 MB decoded, per worker). Uploads take the library's header guard
# (faces.media.read_header) in its strict form: a format or header Pillow cannot read is
# refused undecoded, where a local file is decoded and then checked.
MAX_PIXELS = 25_000_000
MAX_CROPS = 256
