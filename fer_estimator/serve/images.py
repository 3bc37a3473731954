"""Request bodies to images for ``serve``: size, pixel and format checks with clear errors.

Nothing here imports a web framework: :class:`BodyLimit` is plain ASGI, and the decoders raise
:class:`RequestRejected`, which the app turns into a JSON error response.
"""

import io
import json

import cv2
import numpy as np

from ..data import IMAGE_SIZE

NPY_MAGIC = b"\x93NUMPY"


class RequestRejected(Exception):
    """A request the service refuses: ``status`` is the HTTP status, ``detail`` the reason."""

    def __init__(self, status, detail):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def decode_image(data, max_pixels, name="the upload"):
    """Decode image bytes (JPEG, PNG, WebP, BMP, TIFF) to a BGR uint8 array.

    The image's size is read from its header first, when Pillow can read it, so that a small
    file announcing a huge image is refused before it is decompressed.

    Raises
    ------
    RequestRejected
        400 for an empty body or bytes that are not an image, 413 for more than ``max_pixels``.
    """
    if not data:
        raise RequestRejected(400, f"{name} is empty: send the bytes of an image")
    size = _header_size(data)
    if size is not None:
        _check_pixels(size, max_pixels, name)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise RequestRejected(400, f"{name} is not an image OpenCV can decode (JPEG, PNG, "
                                   f"WebP, BMP or TIFF); got {len(data)} bytes starting "
                                   f"{data[:8]!r}")
    _check_pixels((image.shape[1], image.shape[0]), max_pixels, name)
    return image


def decode_crops(data, max_crops, name="the upload"):
    """Decode 48×48 face crops: a ``.npy`` array (n, 48, 48) or (48, 48) of uint8, or an
    image 48 pixels wide holding the faces one under the other (converted to gray).

    Returns
    -------
    ndarray of shape (n, 48, 48), dtype uint8
    """
    if not data:
        raise RequestRejected(400, f"{name} is empty: send 48x48 faces as .npy or an image")
    if data.startswith(NPY_MAGIC):
        try:
            crops = np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as error:  # also what a pickled object array raises
            raise RequestRejected(400, f"{name} is not a readable .npy array: {error}") from None
        if crops.dtype != np.uint8:
            raise RequestRejected(400, f"{name}: the faces must be uint8, got {crops.dtype}")
    else:
        image = decode_image(data, max_crops * IMAGE_SIZE * IMAGE_SIZE, name)
        crops = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if crops.shape[1] != IMAGE_SIZE or crops.shape[0] % IMAGE_SIZE:
            raise RequestRejected(400, f"{name}: an image of faces must be {IMAGE_SIZE} pixels "
                                       f"wide and a multiple of {IMAGE_SIZE} high (faces one "
                                       f"under the other); got {crops.shape[1]}x{crops.shape[0]}")
        crops = crops.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    if crops.ndim == 2:
        crops = crops[np.newaxis]
    if crops.ndim != 3 or crops.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or len(crops) == 0:
        raise RequestRejected(400, f"{name}: expected faces of shape (n, {IMAGE_SIZE}, "
                                   f"{IMAGE_SIZE}) with n >= 1, got {crops.shape}")
    if len(crops) > max_crops:
        raise RequestRejected(413, f"{name} holds {len(crops)} faces; at most {max_crops} "
                                   "per request")
    return crops


def _header_size(data):
    """``(width, height)`` from the image's header without decoding it, or None."""
    try:
        from PIL import Image  # Pillow comes with matplotlib; without it OpenCV decodes first
    except ImportError:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # noqa: BLE001 - not something Pillow knows; OpenCV decides
        return None


def _check_pixels(size, max_pixels, name):
    width, height = size
    if width * height > max_pixels:
        raise RequestRejected(413, f"{name} is {width}x{height} = {width * height:,} pixels; "
                                   f"the limit is {max_pixels:,}")


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
