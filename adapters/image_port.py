"""The video stage's image port: a first frame as each provider accepts it, adapted before it is
sent instead of refused after.

Every image-to-video model renders the first frame it is given, so the frame is centre-cropped to
the aspect of the requested video (a 1:1 reference under a 16:9 video would be letterboxed, or, on
Kling, which takes the video's aspect from the image, render a square clip). Then it is brought
within the provider's sides and encoded within its inline limit (PNG when that fits, else JPEG at
falling quality). An image that already fits is sent as it is, byte for byte, when it is a PNG,
JPEG or WebP (any other type is re-encoded). Each adapter names its port; the limits and their
sources:

- Runway: a data URI of at most 5 MB (docs.dev.runwayml.com/assets/inputs, 2026-12-04, as the
  emulator's ``runway_rules.check_uri``), sides under 8,000 px ("common error reasons" on the same
  page, as ComfyUI ``comfy_api_nodes/nodes_runway.py`` ``validate_input_image`` checks).
- Kling: at least 300 px a side, aspect 1:2.5 to 2.5:1, 10 MB inline on the legacy standard
  (app.klingai.com dev document, as ComfyUI ``nodes_kling.py`` ``validate_input_image`` and the
  emulator's ``_kling_rules``); the crop to the video's aspect keeps the ratio inside that range.
- fal: a data URI of at most 10 MB (fal-ai/fal ``toolkit/types.py`` ``MAX_DATA_URI_LENGTH``).
- OpenAI-shaped ``/v1/videos``: exactly the requested size ("Inpaint image must match the
  requested width and height", see ``adapters.openai_videos``).
- Google Veo: 20 MB of image bytes (a third-party gateway's documented limit; UNCERTAIN for
  Vertex); Luma: 50 MB (an earlier revision of its error docs; UNCERTAIN now); Replicate: 1 MB,
  the size under which its docs recommend a data URI (replicate.com/docs/topics/predictions/
  input-files; whether a larger one is refused is UNCERTAIN).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from adapters.errors import RejectedInputError
from media.files import not_a_file
from media.images import decode_problem, header_size, sniff_image

Image = npt.NDArray[np.uint8]
ASPECT_TOLERANCE = 0.01  # a frame this close to the video's aspect is not cropped
JPEG_QUALITIES = (92, 85, 75, 60, 45)
_URI_HEADER = len("data:image/jpeg;base64,")


@dataclass(frozen=True)
class ImagePort:
    """What a provider takes as a first frame. ``max_uri_chars``: the longest ``data:`` URI (or,
    for raw Base64, the longest Base64 text); ``exact``: the frame must have the video's size."""

    provider: str
    max_uri_chars: int | None = None
    min_side: int = 1
    max_side: int | None = None
    exact: bool = False

    def max_bytes(self) -> int | None:
        if self.max_uri_chars is None:
            return None
        return (self.max_uri_chars - _URI_HEADER) // 4 * 3


@dataclass(frozen=True)
class Frame:
    """An encoded first frame."""

    data: bytes
    mime: str

    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{self.base64()}"

    def base64(self) -> str:
        return base64.b64encode(self.data).decode()


def image_problem(path: Path) -> str | None:
    """Why ``path`` cannot be sent to a model as an image (None when it can)."""
    if (missing := not_a_file(path)) is not None:
        return missing
    if (undecodable := decode_problem(path)) is not None:
        return f"{path} {undecodable}"
    if cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR) is None:
        size = header_size(path)  # decode_problem found one
        declared = f"its header declares {size[0]}x{size[1]}, " if size else ""
        return (
            f"{path} is not a readable image: {declared}but its pixels do not decode "
            "(a truncated or corrupt file)"
        )
    return None


def first_frame(path: Path, width: int, height: int, port: ImagePort) -> Frame:
    """``path`` as ``port`` takes it for a ``width`` x ``height`` video; raises
    ``RejectedInputError`` (before anything is sent) when it cannot be read or made to fit."""
    raw, image = _read(path, port)
    fitted = _sized(_cropped(image, width / height), width, height, port)
    return _within(raw, image, fitted, path, port)


def reference(path: Path, port: ImagePort) -> Frame:
    """A character's reference image as ``port`` takes it: whole (a reference sheet is not the
    video's frame, so it is not cropped), within the port's sides and inline limit."""
    raw, image = _read(path, port)
    height, width = image.shape[:2]
    fitted = _sized(image, width, height, replace(port, exact=False))
    return _within(raw, image, fitted, path, port)


def _read(path: Path, port: ImagePort) -> tuple[bytes, Image]:
    raw = path.read_bytes()
    if (undecodable := decode_problem(raw)) is not None:
        raise RejectedInputError(f"image {path.name} {undecodable}", port.provider)
    decoded = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise RejectedInputError(f"image {path.name} is not a readable image", port.provider)
    return raw, np.asarray(decoded, dtype=np.uint8)


def _within(raw: bytes, image: Image, fitted: Image, path: Path, port: ImagePort) -> Frame:
    """The bytes as they are when they fit and are PNG, JPEG or WebP (typed by their content, not
    their name: a data URI must name its bytes' type, docs.dev.runwayml.com/assets/inputs); any
    other image (GIF, BMP, TIFF) is re-encoded."""
    limit = port.max_bytes()
    mime = sniff_image(raw)
    if fitted is image and mime is not None and (limit is None or len(raw) <= limit):
        return Frame(raw, mime)
    return _encoded(fitted, limit, path, port.provider)


def _cropped(image: Image, aspect: float) -> Image:
    height, width = image.shape[:2]
    if abs(width / height - aspect) <= ASPECT_TOLERANCE * aspect:
        return image
    if width / height > aspect:  # too wide: keep the middle columns
        keep = max(1, round(height * aspect))
        left = (width - keep) // 2
        return image if keep == width else image[:, left : left + keep]
    keep = max(1, round(width / aspect))
    top = (height - keep) // 2
    return image if keep == height else image[top : top + keep, :]


def _sized(image: Image, width: int, height: int, port: ImagePort) -> Image:
    if port.exact:
        if image.shape[:2] == (height, width):
            return image
        return np.asarray(
            cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), np.uint8
        )
    short, long = min(image.shape[:2]), max(image.shape[:2])
    scale = 1.0
    if port.max_side is not None and long > port.max_side:
        scale = port.max_side / long
    elif short < port.min_side:
        scale = port.min_side / short
    if scale == 1.0:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return np.asarray(cv2.resize(image, size, interpolation=interpolation), np.uint8)


def _encoded(image: Image, limit: int | None, path: Path, provider: str) -> Frame:
    ok, png = cv2.imencode(".png", image)
    if ok and (limit is None or len(png) <= limit):
        return Frame(png.tobytes(), "image/png")
    for quality in JPEG_QUALITIES:
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and limit is not None and len(jpeg) <= limit:
            return Frame(jpeg.tobytes(), "image/jpeg")
    raise RejectedInputError(
        f"image {path.name} does not fit {provider}'s inline limit of {limit} bytes "
        f"even as a JPEG at quality {JPEG_QUALITIES[-1]}",
        provider,
    )
