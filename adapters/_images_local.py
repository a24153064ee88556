"""The local keyframe (``local/keyframe``): a still drawn on this machine, free, for
``--providers local`` and keyframe previews. Never a real picture: a gradient whose palette
follows the prompt (the animatic's palette words: night, neon, forest...), a centre figure in
the mean colour of the reference images (so a character's sheet visibly carries into its
keyframes), and the prompt written on a panel (``media.caption``) where the frame can hold it.

``draw_image`` is deterministic in (prompt, size, seed, references); the emulators draw their
providers' answers with it too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from adapters.errors import RejectedInputError
from adapters.images import ImageRequest, ImageResult, Reference, refuse_unsupported
from media.caption import Caption, fit_block

Image = npt.NDArray[np.uint8]
MAX_SIDE = 3840
DEFAULT_SIZE = (1280, 720)
_WORDS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    # keyword: (top, bottom) in BGR, as the animatic's palette
    "night": ((60, 20, 10), (20, 5, 0)),
    "neon": ((160, 20, 200), (60, 10, 40)),
    "sunset": ((60, 120, 250), (40, 40, 120)),
    "forest": ((60, 140, 40), (20, 60, 10)),
    "ocean": ((200, 140, 30), (90, 50, 10)),
    "desert": ((120, 190, 230), (60, 120, 170)),
    "snow": ((250, 245, 240), (200, 190, 180)),
    "fire": ((20, 90, 240), (10, 20, 120)),
}


def digest(prompt: str, seed: int | None) -> bytes:
    return hashlib.sha256(f"{prompt}|{seed}".encode()).digest()


def _palette(prompt: str, key: bytes) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    lowered = prompt.lower()
    for word, (top, bottom) in _WORDS.items():
        if word in lowered:
            return np.array(top, np.float32), np.array(bottom, np.float32)
    hue = key[0] % 180
    hsv = np.array([[[hue, 150, 210], [(hue + 20) % 180, 210, 80]]], np.uint8)
    pair = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0].astype(np.float32)
    return pair[0], pair[1]


def mean_colour(references: Sequence[Reference]) -> npt.NDArray[np.float32] | None:
    """The mean BGR colour of the decodable references (None without any)."""
    means = []
    for ref in references:
        image = cv2.imdecode(np.frombuffer(ref.data, np.uint8), cv2.IMREAD_COLOR)
        if image is not None:
            means.append(image.reshape(-1, 3).mean(axis=0))
    return np.mean(means, axis=0).astype(np.float32) if means else None


def draw_image(
    prompt: str,
    width: int,
    height: int,
    seed: int | None = None,
    references: Sequence[Reference] = (),
    caption: bool = True,
) -> Image:
    """The picture: a vertical gradient from the prompt's palette, a horizontal band whose
    position follows the prompt's hash, an ellipse in the references' mean colour (or the hash's)
    covering the centre, and (``caption``) the prompt on a panel at the top."""
    key = digest(prompt, seed)
    top, bottom = _palette(prompt, key)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    image = ((1 - ramp) * top + ramp * bottom).astype(np.uint8)
    image = np.ascontiguousarray(np.broadcast_to(image, (height, width, 3)))
    band_y = int(key[1] / 255 * 0.6 * height + 0.2 * height)
    band = tuple(int(v) for v in key[2:5])
    cv2.rectangle(image, (0, band_y), (width - 1, band_y + max(1, height // 12)), band, -1)
    figure = mean_colour(references)
    colour = tuple(int(v) for v in (figure if figure is not None else key[5:8]))
    axes = (max(1, width // 6), max(1, height // 3))
    cv2.ellipse(image, (width // 2, height * 3 // 5), axes, 0, 0, 360, colour, -1)
    if caption and min(width, height) >= 96:
        _caption(image, prompt)
    return image


def _caption(image: Image, prompt: str) -> None:
    height, width = image.shape[:2]
    margin = max(4, round(0.04 * min(width, height)))
    unit = min(width, height) / 720
    room = (width - 2 * margin, max(1, height // 3))
    block = fit_block([(prompt or "(no prompt)", 1.0)], (margin, margin), room, 0.9 * unit)
    Caption.build(block, image).apply(image)


def encode(image: Image, mime: str = "image/png") -> bytes:
    ext = {"image/png": ".png", "image/webp": ".webp"}.get(mime, ".jpg")
    ok, data = cv2.imencode(ext, image)
    if not ok:
        raise RejectedInputError(f"could not encode a {mime} image", "local")
    return bytes(data.tobytes())


class LocalImageClient:
    """Draws ``request.size`` (default 1280x720; an ``aspect`` alone gives ~1 MP at it)."""

    provider = "local"

    def generate(self, request: ImageRequest) -> ImageResult:
        refuse_unsupported(request, "local", seed=True)
        width, height = self._size(request)
        image = draw_image(request.prompt, width, height, request.seed, request.references)
        data = encode(image)
        usage = {"images": 1.0}
        return ImageResult(
            data, "image/png", width, height, usage, "local", request.model, request.seed
        )

    @staticmethod
    def _size(request: ImageRequest) -> tuple[int, int]:
        dims = request.dims()
        if dims is None and request.aspect:
            w, _, h = request.aspect.partition(":")
            ratio = int(w) / int(h)
            dims = (round((1_000_000 * ratio) ** 0.5), round((1_000_000 / ratio) ** 0.5))
        width, height = dims or DEFAULT_SIZE
        if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
            raise RejectedInputError(
                f"size {width}x{height}: the local keyframe draws 1..{MAX_SIDE} a side", "local"
            )
        return width, height
