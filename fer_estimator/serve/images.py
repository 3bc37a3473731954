"""Request bodies to images for ``serve``: size, pixel and format checks with clear errors.

Nothing here imports a web framework: :class:`BodyLimit` is plain ASGI, and the decoders raise
:class:`RequestRejected`, which the app turns into a JSON error response.
"""

import io
import json

import cv2
import numpy as np

from ..data import IMAGE_SIZE
from ..faces.media import ImageTooLargeError, check_pixel_count, read_header

NPY_MAGIC = b"\x93NUMPY"


class RequestRejected(Exception):
    """A request the service refuses: ``status`` is the HTTP status, ``detail`` the reason."""

    def __init__(self, status, detail):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def decode_image(data, max_pixels, name="the upload"):
    """Decode image bytes (JPEG, PNG, WebP, BMP, TIFF) to a BGR uint8 array.

    The format and size are read from the image's header first
    (:func:`~fer_estimator.faces.media.read_header`): another format, a header Pillow cannot
    read, or a small file announcing a huge image is refused before anything is decompressed.

    Raises
    ------
    RequestRejected
        400 for an empty body, bytes that are not an image of those formats, or an image that
        cannot be decoded; 413 for more than ``max_pixels`` pixels, or more than OpenCV decodes.
    """
    size = image_size(data, max_pixels, name)
    return _decode(data, size, max_pixels, name)


def image_size(data, max_pixels, name="the upload"):
    """``(width, height)`` from the header of image bytes, without decoding them.

    Raises
    ------
    RequestRejected
        As :func:`decode_image`, for what the header tells; ``max_pixels=None``: no limit but
        Pillow's own (about 179 megapixels).
    """
    if not data:
        raise RequestRejected(400, f"{name} is empty: send the bytes of an image")
    try:
        width, height, _ = read_header(data, max_pixels, strict=True, name=name)
    except ImageTooLargeError as error:
        raise RequestRejected(413, f"{name} is {error.size}; the limit is "
                                   f"{error.max_pixels:,}") from None
    except ValueError as error:
        raise RequestRejected(400, str(error)) from None
    return width, height


def _decode(data, size, max_pixels, name):
    """Decode bytes whose header :func:`image_size` read as ``size``."""
    width, height = size
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as error:
        if "CV_IO_MAX_IMAGE" in str(error):  # OpenCV's own limits: 2**20 a side, 2**30 pixels
            raise RequestRejected(413, f"{name} is {width}x{height} = {width * height:,} "
                                       "pixels: more than OpenCV decodes") from None
        raise RequestRejected(400, f"{name} could not be decoded: {error.err}") from None
    if image is None or image.size == 0:
        raise RequestRejected(400, f"{name} is not an image OpenCV can decode (a damaged or "
                                   f"truncated {width}x{height} image); got {len(data)} bytes")
    try:  # the header's size, unless the decoder disagrees with it
        check_pixel_count(name, image.shape[1], image.shape[0], max_pixels)
    except ImageTooLargeError as error:
        raise RequestRejected(413, f"{name} is {error.size}; the limit is "
                                   f"{error.max_pixels:,}") from None
    return image


def decode_crops(data, max_crops, name="the upload"):
    """Decode 48×48 face crops: a ``.npy`` array (n, 48, 48) or (48, 48) of uint8, or an
    image 48 pixels wide holding the faces one under the other (converted to gray).

    Shapes, type and the number of faces are checked in the ``.npy`` header or the image
    header, before any pixel is read.

    Returns
    -------
    ndarray of shape (n, 48, 48), dtype uint8
    """
    if not data:
        raise RequestRejected(400, f"{name} is empty: send 48x48 faces as .npy or an image")
    if data.startswith(NPY_MAGIC):
        return _read_npy(data, max_crops, name)
    width, height = image_size(data, None, name)
    _check_strip(width, height, name)
    _check_count(height // IMAGE_SIZE, max_crops, name)
    image = _decode(data, (width, height), max_crops * IMAGE_SIZE * IMAGE_SIZE, name)
    crops = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    _check_strip(crops.shape[1], crops.shape[0], name)  # as decoded (EXIF may turn a JPEG)
    return crops.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


def _check_strip(width, height, name):
    if width != IMAGE_SIZE or height % IMAGE_SIZE or height == 0:
        raise RequestRejected(400, f"{name}: an image of faces must be {IMAGE_SIZE} pixels "
                                   f"wide and a multiple of {IMAGE_SIZE} high (faces one "
                                   f"under the other); got {width}x{height}")


def _check_count(n, max_crops, name):
    if n > max_crops:
        raise RequestRejected(413, f"{name} holds {n:,} faces; at most {max_crops} per request")


def _read_npy(data, max_crops, name):
    """The faces of a ``.npy`` file, its header checked before the array is read."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        else:  # 3.0 only adds UTF-8 field names, which a uint8 array never has
            raise ValueError(f"format version {version[0]}.{version[1]}; 1.0 or 2.0 expected")
    except (ValueError, TypeError) as error:
        raise RequestRejected(400, f"{name} is not a readable .npy array: {error}") from None
    if dtype.hasobject:
        raise RequestRejected(400, f"{name} is not a readable .npy array: it holds Python "
                                   "objects (a pickle), which are never loaded")
    if dtype != np.uint8:
        raise RequestRejected(400, f"{name}: the faces must be uint8, got {dtype}")
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or shape[0] < 1:
        raise RequestRejected(400, f"{name}: expected faces of shape (n, {IMAGE_SIZE}, "
                                   f"{IMAGE_SIZE}) with n >= 1, got {shape}")
    _check_count(shape[0], max_crops, name)
    pixels = memoryview(data)[stream.tell():]
    expected = shape[0] * IMAGE_SIZE * IMAGE_SIZE
    if len(pixels) != expected:
        raise RequestRejected(400, f"{name} holds {len(pixels):,} bytes of pixels after its "
                                   f"header; {shape} uint8 faces are {expected:,}")
    crops = np.frombuffer(pixels, np.uint8).reshape(shape, order="F" if fortran_order else "C")
    return crops.copy()  # C order, writable, and no view of the request's bytes


class BodyLimit:
    """ASGI middleware refusing request bodies over ``max_bytes`` with a JSON 413.

    A ``Content-Length`` over the limit is refused before the body is read; a body sent without
    one (chunked) is counted as it arrives and refused as soon as it passes the limit.
    """

    def __init__(self, app, max_bytes):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"the request body is larger than the limit of {self.max_bytes:,} bytes"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_json(send, 413, detail)
            return
        received = 0
        started = False

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _send_json(send, 413, detail)


class BodyTooLarge(Exception):
    """Raised inside the app when the body passes :class:`BodyLimit`'s limit."""


async def _send_json(send, status, detail):
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
