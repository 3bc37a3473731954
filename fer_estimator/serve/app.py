"""The FastAPI app of ``fer-estimator serve``: faces and emotions of uploaded images as JSON.

Routes: ``POST /predict`` (an image: faces, boxes, labels and probabilities, the schema of
``fer-estimator predict --json``), ``POST /predict/crops`` (48×48 faces: labels and
probabilities), ``GET /health``, ``GET /`` (a page to upload a photo or use the camera), and
FastAPI's ``/docs`` and ``/openapi.json``.

The model is loaded once, by the caller (see :mod:`.model`). Requests run in a pool of
``workers`` threads: each has its own face detector, and they share the model, which runs one
batch at a time (:class:`~.model.SerialEstimator`). Nothing a client sends names a file: the
service reads no path a client gives and saves nothing. The one thing written is Starlette's:
a multipart upload over 1 MiB is spooled to an anonymous temporary file (at most ``max_bytes``),
deleted when the request ends.
"""

import asyncio
import base64
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from importlib.resources import files
from pathlib import PureWindowsPath

import cv2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from . import MAX_BYTES, MAX_CROPS, MAX_PIXELS
from .images import BodyLimit, BodyTooLarge, RequestRejected, decode_crops, decode_image
from .model import SerialEstimator, make_face_pipeline

UPLOAD_FIELD = "file"
RAW_TYPES = ("image/", "application/octet-stream")


class FaceOut(BaseModel):
    box: list[int]
    label: str
    score: float | None
    probabilities: dict[str, float]


class ImageOut(BaseModel):
    image: str | int
    frame: int | None
    width: int
    height: int
    faces: list[FaceOut]


class PredictOut(BaseModel):
    """``fer-estimator predict --json``'s schema; ``annotated`` only with ``?annotate=true``."""
    classes: list[str]
    images: list[ImageOut]
    annotated: str | None = None


class CropOut(BaseModel):
    label: str
    probabilities: dict[str, float]


class CropsOut(BaseModel):
    classes: list[str]
    faces: list[CropOut]


def _binary_body(*media_types):
    content = {media: {"schema": {"type": "string", "format": "binary"}}
               for media in media_types}
    content["multipart/form-data"] = {"schema": {
        "type": "object", "required": [UPLOAD_FIELD],
        "properties": {UPLOAD_FIELD: {"type": "string", "format": "binary"}}}}
    return {"requestBody": {"required": True, "content": content}}


_ERRORS = {status: {"description": reason, "content": {"application/json": {"example": {
    "detail": "..."}}}} for status, reason in (
    (400, "empty body, not an image, or not 48x48 faces"), (413, "too many bytes or pixels"),
    (415, "wrong content type"))}


def create_app(estimator, *, workers=2, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS,
               max_crops=MAX_CROPS, **pipeline_params):
    """Build the ``serve`` app around a loaded, fitted estimator.

    Parameters
    ----------
    estimator : fitted classifier
        What :func:`~fer_estimator.serve.model.load_estimator` returns.
    workers : int, default=2
        Threads serving requests (detection runs in parallel, the model one batch at a time).
    max_bytes : int, default=10 MiB
        Largest request body; larger ones get 413 before they are read.
    max_pixels : int, default=25,000,000
        Largest image, in pixels (413), read from the image's header before decoding; above
        Pillow's limit (``2 * PIL.Image.MAX_IMAGE_PIXELS``, about 179 million) a header
        cannot be read, so that is the largest in any case.
    max_crops : int, default=256
        Most faces in one ``/predict/crops`` request (413).
    **pipeline_params
        :class:`~fer_estimator.faces.FacePipeline` parameters: the face detector
        (``detector``, ``yunet_model``, ``min_face_size``...).
    """
    shared = SerialEstimator(estimator)
    local = threading.local()

    def pipeline():
        """This thread's pipeline: its own detector (YuNet's is stateful), the shared model."""
        if not hasattr(local, "pipeline"):
            local.pipeline = make_face_pipeline(shared, **pipeline_params)
        return local.pipeline

    first = pipeline()  # fails here, before serving, when the detector cannot be loaded
    classes = list(first.class_names())
    pool = ThreadPoolExecutor(workers, thread_name_prefix="fer-serve")

    @asynccontextmanager
    async def lifespan(app):
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="fer-estimator", lifespan=lifespan,
                  description="Faces and their emotions (FER2013 classes) in images.")
    app.add_middleware(BodyLimit, max_bytes=max_bytes)

    @app.exception_handler(RequestRejected)
    async def rejected(request, error):
        return JSONResponse({"detail": error.detail}, status_code=error.status)

    async def in_pool(function, *args):
        return await asyncio.get_running_loop().run_in_executor(pool, function, *args)

    def predict(data, name, annotate):
        bgr = decode_image(data, max_pixels)
        [faces] = pipeline().predict(bgr)
        result = {"classes": classes, "images": [replace(faces, image=name).to_dict()]}
        if annotate:
            _, jpeg = cv2.imencode(".jpg", pipeline().annotate(bgr, faces))
            result["annotated"] = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
        return result

    def predict_crops(data):
        probabilities = shared.predict_proba(decode_crops(data, max_crops))
        return {"classes": classes, "faces": [
            {"label": classes[row.argmax()],
             "probabilities": {name: float(p) for name, p in zip(classes, row, strict=True)}}
            for row in probabilities]}

    @app.post("/predict", response_model=None, openapi_extra=_binary_body("image/*"),
              responses={200: {"model": PredictOut}, **_ERRORS})
    async def predict_route(request: Request, annotate: bool = False) -> JSONResponse:
        """The faces in one image: boxes ``[x, y, w, h]``, labels and probabilities.

        Send the image as multipart/form-data (field ``file``) or as the raw body with an
        ``image/*`` content type. ``annotate=true`` adds the image with the faces drawn, as a
        JPEG data URL.
        """
        data, name = await _read_upload(request, RAW_TYPES)
        return JSONResponse(await in_pool(predict, data, name, annotate))

    @app.post("/predict/crops", response_model=None,
              openapi_extra=_binary_body("application/x-npy", "image/*"),
              responses={200: {"model": CropsOut}, **_ERRORS})
    async def crops_route(request: Request) -> JSONResponse:
        """Labels and probabilities of 48×48 gray faces: a ``.npy`` uint8 array (n, 48, 48), or
        an image 48 pixels wide with the faces one under the other."""
        data, _ = await _read_upload(request, (*RAW_TYPES, "application/x-npy"))
        return JSONResponse(await in_pool(predict_crops, data))

    @app.get("/health")
    async def health() -> dict:
        """The service is up; its classes, detector and limits."""
        return {"status": "ok", "classes": classes,
                "detector": first.detector if isinstance(first.detector, str) else "callable",
                "workers": workers, "max_bytes": max_bytes, "max_pixels": max_pixels}

    page = (files(__package__) / "page.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index():
        return page

    return app


async def _read_upload(request, raw_types):
    """The uploaded bytes and a name for them (the file name without folders, or "upload")."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if media == "multipart/form-data":
        try:
            # As a context manager: the parsed files are closed when the bytes are read.
            async with request.form(max_files=1, max_fields=10) as form:
                upload = form.get(UPLOAD_FIELD)
                if upload is None or isinstance(upload, str):
                    raise RequestRejected(400, "send the file in the form field "
                                               f"{UPLOAD_FIELD!r}")
                # PureWindowsPath splits at / and at \: no client folder is ever echoed.
                return await upload.read(), PureWindowsPath(upload.filename or "upload").name
        except (BodyTooLarge, RequestRejected):
            raise  # BodyLimit and the exception handler answer these
        except Exception as error:
            raise RequestRejected(400, f"the multipart body could not be parsed: {error}") \
                from None
    if media.startswith(raw_types):
        return await request.body(), "upload"
    shown = repr(content_type) if content_type else "none"
    raise RequestRejected(415, f"send the image as multipart/form-data (field {UPLOAD_FIELD!r}) "
                               f"or as the raw body with one of the content types "
                               f"{', '.join(t + '*' if t.endswith('/') else t for t in raw_types)}"
                               f"; got {shown}")
