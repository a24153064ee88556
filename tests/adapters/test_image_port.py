"""The video stage's image port (issue 18's typed ports): a first frame is adapted to what its
provider takes (the video's aspect, the provider's sides and inline limit) instead of refused after
the attempt is opened; an image that fits is sent byte for byte."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from adapters import fal, google, kling, luma, openai_videos, replicate, runway
from adapters.base import GenerationRequest
from adapters.errors import RejectedInputError
from adapters.image_port import ImagePort, first_frame, image_problem
from adapters.kling import KlingAdapter
from emulators import Scenario, start_emulator
from media.runner import run_ffmpeg
from tests.media.declared import png_declaring

PORT = ImagePort("test")


def write(path: Path, image: np.ndarray) -> Path:
    path.write_bytes(cv2.imencode(path.suffix, image)[1].tobytes())
    return path


def decoded(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image)


def banded(width: int, height: int) -> np.ndarray:
    """Blue, with red bands on the outer quarters of the long side."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = (255, 0, 0)
    if height > width:
        image[: height // 4], image[-height // 4 :] = (0, 0, 255), (0, 0, 255)
    else:
        image[:, : width // 4], image[:, -width // 4 :] = (0, 0, 255), (0, 0, 255)
    return image


def test_a_frame_that_fits_is_sent_byte_for_byte(tmp_path):
    path = write(tmp_path / "f.png", banded(320, 180))
    frame = first_frame(path, 1280, 720, PORT)
    assert frame.data == path.read_bytes()
    assert frame.mime == "image/png"


def test_a_square_reference_is_centre_cropped_to_the_videos_aspect(tmp_path):
    path = write(tmp_path / "sq.png", banded(400, 400)[:, ::-1].transpose(1, 0, 2).copy())
    image = decoded(first_frame(path, 1280, 720, PORT).data)
    assert image.shape[:2] == (225, 400)  # 16:9, the middle rows kept
    tall = write(tmp_path / "tall.png", banded(200, 800))
    middle = decoded(first_frame(tall, 1280, 720, PORT).data)
    assert middle.shape[:2] == (112, 200)
    assert (middle[..., 0] > 200).all()  # only the blue middle is left: the red bands were cut


def test_sides_are_brought_within_the_port(tmp_path):
    small = write(tmp_path / "small.png", banded(160, 90))
    image = decoded(first_frame(small, 1280, 720, kling.IMAGE_PORT).data)
    assert min(image.shape[:2]) >= 300  # Kling refuses a side under 300 px
    assert image.shape[1] / image.shape[0] == pytest.approx(16 / 9, rel=0.02)
    large = write(tmp_path / "large.png", banded(640, 360))
    shrunk = decoded(first_frame(large, 1280, 720, ImagePort("t", max_side=100)).data)
    assert max(shrunk.shape[:2]) == 100


def test_exact_ports_get_the_videos_size(tmp_path):
    path = write(tmp_path / "f.png", banded(500, 300))
    image = decoded(first_frame(path, 1280, 720, openai_videos.IMAGE_PORT).data)
    assert image.shape[:2] == (720, 1280)


def test_over_the_inline_limit_it_is_re_encoded_as_jpeg_within_it(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (360, 640, 3), dtype=np.uint8)
    path = write(tmp_path / "noise.png", noise)
    port = ImagePort("t", max_uri_chars=400_000)
    frame = first_frame(path, 1280, 720, port)
    assert frame.mime == "image/jpeg"
    assert len(frame.data_uri()) <= 400_000 < len(path.read_bytes()) * 4 // 3
    with pytest.raises(RejectedInputError, match="t's inline limit of 2982 bytes"):
        first_frame(path, 1280, 720, ImagePort("t", max_uri_chars=4000))


def test_an_unreadable_image_is_refused_naming_the_provider(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    with pytest.raises(RejectedInputError, match=r"runway: image x\.png is not a readable image"):
        first_frame(path, 1280, 720, runway.IMAGE_PORT)


def test_a_truncated_image_is_refused_saying_so(tmp_path):
    """Planning's refusal said only "is not a readable image" for a PNG cut in half."""
    noise = np.random.default_rng(1).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    whole = write(tmp_path / "whole.png", noise).read_bytes()
    half = tmp_path / "half.png"
    half.write_bytes(whole[: len(whole) // 2])
    problem = image_problem(half)
    assert problem is not None
    assert problem.endswith(
        "half.png is not a readable image: its header declares 96x64, but its pixels do not "
        "decode (a truncated or corrupt file)"
    )


def test_an_image_declaring_too_many_pixels_is_refused_before_it_is_decoded(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(32000, 32000))
    problem = image_problem(path)
    assert (
        problem
        == f"{path} declares 32000x32000 pixels, over the limit of 120,000,000 (it was not decoded)"
    )
    with pytest.raises(RejectedInputError, match=r"runway: image bomb\.png declares 32000x32000"):
        first_frame(path, 1280, 720, runway.IMAGE_PORT)


def test_every_hosted_video_adapter_names_its_port():
    ports = [m.IMAGE_PORT for m in (fal, google, kling, luma, openai_videos, replicate, runway)]
    assert [p.provider for p in ports] == [
        "fal", "google", "kling", "luma", "openai", "replicate", "runway"
    ]  # fmt: skip
    assert runway.IMAGE_PORT.max_uri_chars == 5 * 1024 * 1024
    assert runway.IMAGE_PORT.max_side == 7999
    assert kling.IMAGE_PORT.min_side == 300


def test_a_replicate_first_frame_is_kept_under_the_recommended_megabyte(tmp_path):
    """replicate.com's input-files page recommends a data URI only under 1 MB: a 1080p keyframe
    of fine detail (a 3 MB PNG) was sent whole."""
    noise = np.random.default_rng(1).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    path = write(tmp_path / "keyframe.png", noise)
    assert path.stat().st_size > 3_000_000
    frame = first_frame(path, 1920, 1080, replicate.IMAGE_PORT)
    assert len(frame.data) < 1_000_000
    assert decoded(frame.data).shape[:2] == (1080, 1920)


def test_kling_takes_a_frame_it_would_refuse_as_sent(tmp_path):
    """The strict emulator refuses a first frame under 300 px or outside 1:2.5..2.5:1 (Kling's
    rules); through the port the same file is accepted, as the video's 16:9 aspect."""
    narrow = write(tmp_path / "narrow.png", banded(120, 360))  # 1:3, 120 px
    scenario = Scenario.model_validate({"seed": 3, "defaults": {"latency": {"seconds": 600}}})
    with start_emulator(scenario) as emulator:
        url = emulator.base_urls["kling"]
        adapter = KlingAdapter(api_key="key-1", base_url=url)
        request = GenerationRequest(
            "s", "a lighthouse", 5, 1280, 720, 24, "kling/v3-std", "kling-v3",
            reference_image=narrow,
        )  # fmt: skip
        sent = decoded(base64.b64decode(adapter.build_body(request)["contents"][1]["url"]))
        task = adapter.submit(request)  # refused with HTTP 400 if the frame broke a rule
        assert task in emulator.emulator.jobs
    assert min(sent.shape[:2]) >= 300
    assert sent.shape[1] / sent.shape[0] == pytest.approx(16 / 9, rel=0.02)


@contextmanager
def strict_vertex() -> Iterator[Any]:
    """The Google adapter against the strict Vertex emulator (jobs render for 10 minutes)."""
    from adapters.factory import build_adapter
    from foundation.settings import Settings

    scenario = Scenario.model_validate({"seed": 3, "defaults": {"latency": {"seconds": 600}}})
    with start_emulator(scenario) as emulator:
        yield build_adapter(
            "google", settings=Settings(_env_file=None), base_url=emulator.base_urls["google"]
        )


def test_veo_is_sent_character_references_whole_and_the_strict_emulator_takes_them(tmp_path):
    """Veo 3.1's ``referenceImages`` (``referenceType: asset``): a portrait reference sheet is
    sent whole, not cropped to the video's frame; the strict Vertex emulator, which refuses more
    than 3 or a length other than 8 s, accepts the request."""
    sheets = (
        write(tmp_path / "front.png", banded(90, 120)),
        write(tmp_path / "side.png", banded(90, 120)),
    )
    with strict_vertex() as adapter:
        request = GenerationRequest(
            "s", "Mara at the dock", 8, 1280, 720, 24, "google/veo-3.1-fast",
            "veo-3.1-fast-generate-001", reference_images=sheets,
        )  # fmt: skip
        body = adapter.build_body(request)
        assert adapter.submit(request)
        short = GenerationRequest(**{**request.__dict__, "duration_s": 4})
        with pytest.raises(RejectedInputError, match="only supported with durationSeconds 8"):
            adapter.submit(short)  # what the router's reference_seconds keeps from being sent
    refs = body["instances"][0]["referenceImages"]
    assert [r["referenceType"] for r in refs] == ["asset", "asset"]
    sent = decoded(base64.b64decode(refs[0]["image"]["bytesBase64Encoded"]))
    assert sent.shape[:2] == (120, 90)  # whole: the sheet's own aspect


def test_veo_is_sent_a_keyframe_without_the_references_it_was_drawn_from(tmp_path):
    """Veo takes a first frame or reference images, never both (google-genai 3.6.1
    ``GenerateVideosConfig.reference_images``); a keyframed character shot sent both."""
    sheets = (write(tmp_path / "front.png", banded(90, 120)),)
    keyframe = write(tmp_path / "key.png", banded(1280, 720))
    with strict_vertex() as adapter:
        request = GenerationRequest(
            "s", "Mara at the dock", 6, 720, 1280, 24, "google/veo-3.1",
            "veo-3.1-generate-001", reference_image=keyframe, reference_images=sheets,
        )  # fmt: skip
        instance = adapter.build_body(request)["instances"][0]
        assert adapter.submit(request)  # 6 s at 9:16: allowed without references
    assert "image" in instance
    assert "referenceImages" not in instance


def test_a_frame_is_typed_by_its_bytes_not_its_name(tmp_path):
    """A JPEG named .png went out as ``data:image/png`` with JPEG bytes."""
    jpeg = write(tmp_path / "f.jpg", banded(320, 180)).rename(tmp_path / "named.png")
    frame = first_frame(jpeg, 1280, 720, PORT)
    assert frame.data == jpeg.read_bytes()
    assert frame.mime == "image/jpeg"


@pytest.mark.parametrize("suffix", [".gif", ".bmp"])
def test_an_image_of_another_type_is_re_encoded_as_png(tmp_path, suffix):
    """A GIF (animated or not) or a BMP that fits went out byte for byte as ``image/gif`` or
    ``image/bmp``, types the video providers do not list; it is sent as a PNG of its first frame."""
    path = tmp_path / f"f{suffix}"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x180:r=5:d=1", *(
        ["-frames:v", "1"] if suffix == ".bmp" else []), str(path)])  # fmt: skip
    frame = first_frame(path, 1280, 720, PORT)
    assert frame.mime == "image/png"
    assert frame.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert decoded(frame.data).shape[:2] == (180, 320)


def test_an_empty_image_is_named_empty(tmp_path):
    path = tmp_path / "x.png"
    path.touch()
    assert image_problem(path) == f"{path} is empty (0 bytes)"
    with pytest.raises(RejectedInputError, match=r"runway: image x\.png is empty \(0 bytes\)"):
        first_frame(path, 1280, 720, runway.IMAGE_PORT)
