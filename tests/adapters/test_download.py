"""Downloads: size limit, content type, container check, checksum, atomic write."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import httpx
import pytest

from adapters._http import HttpClient
from adapters.download import DownloadLimits, Fetched, UrlExpiredError, download_asset
from adapters.errors import AssetError
from emulators.media import ClipSpec, render_clip
from tests.media.oversized import REFUSAL, spy_full_probe, write_over_8k

# each test asserts what its directory holds afterwards: no data directory in it
pytestmark = pytest.mark.empty_data_dir


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    spec = ClipSpec("runway", "gen4.5", "a kite", 1.0, 160, 90, fps=12.0)
    return render_clip(spec, tmp_path_factory.mktemp("clip") / "c.mp4").read_bytes()


def client(status: int, body: bytes, content_type: str = "video/mp4") -> HttpClient:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["x-goog-api-key"] == "k"
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    return HttpClient("p", "https://files.test", {}, transport=httpx.MockTransport(handler))


FETCHED = Fetched("job/1", "https://files.test/v.mp4", {"x-goog-api-key": "k"}, 0.4, {"raw": 1})


def test_good_download_is_measured_and_atomic(clip: bytes, tmp_path: Path):
    asset = download_asset(client(200, clip), FETCHED, tmp_path)
    assert asset.sha256 == hashlib.sha256(clip).hexdigest()
    assert asset.path.read_bytes() == clip
    assert (asset.width, asset.height) == (160, 90)
    assert asset.provider_cost_usd == 0.4
    assert [p.name for p in tmp_path.iterdir()] == [asset.path.name]


def test_a_killed_downloads_part_file_is_removed_by_the_next_download_of_its_job(
    clip: bytes, tmp_path: Path
):
    """A process killed mid-download never unlinks its ``.part``: they piled up. The next
    download of the same job removes one unwritten for an hour; a fresh one (another process
    writing now) and another job's are left."""
    stale = tmp_path / ".job_1.999999.part"
    fresh = tmp_path / ".job_1.999998.part"
    other = tmp_path / ".job_2.999999.part"
    for left in (stale, fresh, other):
        left.write_bytes(b"half a clip")
    hour_ago = time.time() - 3601
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    asset = download_asset(client(200, clip), FETCHED, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [asset.path.name, fresh.name, other.name]
    )


def test_size_limit(clip: bytes, tmp_path: Path):
    with pytest.raises(AssetError, match=r"over 1000|larger than"):
        download_asset(client(200, clip), FETCHED, tmp_path, DownloadLimits(max_bytes=1000))
    assert not list(tmp_path.iterdir())


def test_content_type(clip: bytes, tmp_path: Path):
    with pytest.raises(AssetError, match="content-type"):
        download_asset(client(200, clip, "text/html"), FETCHED, tmp_path)


def test_truncated_container_is_refused(clip: bytes, tmp_path: Path):
    with pytest.raises(AssetError, match="not a readable video"):
        download_asset(client(200, clip[: len(clip) // 3]), FETCHED, tmp_path)
    assert not list(tmp_path.iterdir())


def test_expired_url(tmp_path: Path):
    with pytest.raises(UrlExpiredError):
        download_asset(client(403, b"<Error>Request has expired</Error>"), FETCHED, tmp_path)


def test_size_limit_without_content_length(clip: bytes, tmp_path: Path):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=httpx.ByteStream(clip), headers={"content-type": ""})

    http = HttpClient("p", "https://files.test", {}, transport=httpx.MockTransport(handler))
    with pytest.raises(AssetError, match="larger than"):
        download_asset(http, FETCHED, tmp_path, DownloadLimits(max_bytes=1000, chunk=512))
    assert not list(tmp_path.iterdir())


def test_inline_base64_output(clip: bytes, tmp_path: Path):
    import base64

    url = "data:video/mp4;base64," + base64.b64encode(clip).decode()
    fetched = Fetched("op/1", url)
    asset = download_asset(client(500, b""), fetched, tmp_path)
    assert asset.sha256 == hashlib.sha256(clip).hexdigest()
    with pytest.raises(AssetError, match="unsupported inline"):
        download_asset(client(500, b""), Fetched("op/1", "data:text/html,<b>"), tmp_path)


@pytest.fixture(scope="module")
def over_8k(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An H.264 file declaring 8192x4352 pixels a frame (over ``MAX_PIXELS``) in about 100 KB: a
    16000x16000 one costs FFmpeg 1.4 GB to encode; decoding either costs far more than its size."""
    return write_over_8k(tmp_path_factory.mktemp("big") / "over-8k.mp4").read_bytes()


def test_an_output_declaring_more_pixels_than_any_output_is_refused_undecoded(
    over_8k: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    decoded = spy_full_probe(monkeypatch, "media.probe.probe")
    fetched = Fetched("job/1", "https://files.test/v.mp4?X-Amz-Signature=s3cr3t", FETCHED.headers)
    with pytest.raises(AssetError) as refused:
        download_asset(client(200, over_8k), fetched, tmp_path)
    assert str(refused.value) == (f"p: output of job job/1 (https://files.test/v.mp4): {REFUSAL}")
    assert refused.value.billing_hint == "success"
    assert decoded == []
    assert not list(tmp_path.iterdir())


def test_an_unreadable_output_is_named_by_its_job_not_its_temporary_file(tmp_path: Path):
    with pytest.raises(AssetError) as refused:
        download_asset(client(200, b"not a video at all"), FETCHED, tmp_path)
    message = str(refused.value)
    assert message.startswith("p: output of job job/1 (https://files.test/v.mp4) is not a readable")
    assert ".part" not in message
    assert str(tmp_path) not in message


@pytest.mark.parametrize("inline", [False, True])
def test_an_empty_output_is_named_empty(tmp_path: Path, inline: bool):
    """Inline, it was 'Invalid data found when processing input'; streamed, 'is empty'."""
    fetched = Fetched("op/1", "data:video/mp4;base64,") if inline else FETCHED
    with pytest.raises(AssetError) as refused:
        download_asset(client(200, b""), fetched, tmp_path)
    where = "op/1 (inline)" if inline else "job/1 (https://files.test/v.mp4)"
    assert str(refused.value) == (
        f"p: output of job {where} is not a readable video: it is empty (0 bytes)"
    )
    assert not list(tmp_path.iterdir())
