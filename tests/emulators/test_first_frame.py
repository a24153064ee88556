"""An emulated image-to-video clip starts from the first frame it is sent, as the provider's does:
Runway's ``promptImage`` (a URI, or the ``first`` item), fal's ``image_url``/``start_image_url``,
Vertex Veo's ``instances[0].image``."""

from __future__ import annotations

import base64

import av
import cv2
import numpy as np
import pytest

from emulators.media import ClipSpec, render_clip
from emulators.routes.fal import fal_spec
from emulators.routes.fal_apps import APPS
from emulators.routes.runway import _first_image
from emulators.routes.vertex import _spec as vertex_spec

ORANGE = (20, 140, 250)  # BGR


def png(colour: tuple[int, int, int]) -> bytes:
    return cv2.imencode(".png", np.full((90, 160, 3), colour, np.uint8))[1].tobytes()


def uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_the_first_frame_is_read_where_each_api_sends_it():
    image = png(ORANGE)
    assert _first_image(uri(image)) == image
    assert _first_image([{"uri": uri(png((0, 0, 0))), "position": "last"},
                         {"uri": uri(image), "position": "first"}]) == image  # fmt: skip
    assert _first_image("https://example.com/frame.png") is None  # a URL is not fetched
    app_id = next(a for a in APPS if "image-to-video" in a)
    spec = fal_spec(app_id, APPS[app_id], {"prompt": "p", "image_url": uri(image)}, ok=True)
    assert spec.first_frame == image
    inline = {"bytesBase64Encoded": base64.b64encode(image).decode(), "mimeType": "image/png"}
    veo = vertex_spec("veo-3.1-fast-generate-001", {"prompt": "p", "image": inline}, {})
    assert veo.first_frame == image


def test_the_clip_starts_from_the_first_frame(tmp_path):
    spec = ClipSpec("runway", "gen4.5", "a harbour", 1.0, 160, 90, first_frame=png(ORANGE))
    plain = ClipSpec("runway", "gen4.5", "a harbour", 1.0, 160, 90)
    corners = []
    for name, clip in (("framed", spec), ("plain", plain)):
        out = render_clip(clip, tmp_path / f"{name}.mp4")
        with av.open(str(out)) as container:
            frame = next(container.decode(video=0)).to_ndarray(format="bgr24")
        corners.append(frame[-10:, -40:].reshape(-1, 3).mean(axis=0))
    assert corners[0] == pytest.approx(ORANGE, abs=12)
    assert np.abs(corners[1] - np.array(ORANGE)).max() > 40
