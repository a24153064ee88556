"""Download a provider's output at once into the asset store, checked and measured.

Output URLs expire (Runway 24-48 h, Replicate and Luma 1 h, Veo ~2 days), so the adapter fetches the
bytes as soon as a job succeeds: size limit, content type, container probe, sha256, atomic rename.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import hashlib
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from adapters._http import HttpClient, edge
from adapters.base import Asset
from adapters.errors import AssetError, TransientError
from media.probe import MediaInfo, probe_guarded

VIDEO_TYPES = ("video/", "application/octet-stream", "binary/octet-stream", "application/binary")
CONTAINERS = ("mov", "mp4", "m4a", "3gp", "matroska", "webm")
# An output URL that answers these has expired or refuses the request, it is never bad input:
# S3 presigned URLs answer 403 AccessDenied "Request has expired" after X-Amz-Expires, and 400
# InvalidArgument "Only one auth mechanism allowed" to a request that also carries an
# Authorization header; GCS signed URLs answer 400 ExpiredToken after expiry (third-party reports:
# catalyst/moodle-tool_objectfs#303, docs.extendtech.net "Understanding GCS signed URLs").
REFUSED_STATUS = (400, 401, 403, 404, 410)
_XML_CODE = re.compile(r"<Code>([A-Za-z]{1,64})</Code>")


class UrlExpiredError(TransientError):
    """The output URL no longer serves the file (an expired or refused presigned URL): the job is
    polled again for a fresh URL; after the last refresh this is a transient failure."""

    billing_hint = "success"


@dataclass(frozen=True)
class DownloadLimits:
    max_bytes: int = 1 << 30
    chunk: int = 1 << 16
    url_refreshes: int = 2  # re-polls for a fresh output URL after a refused one


@dataclass(frozen=True)
class Fetched:
    """What the adapter knows about a finished job when it downloads its output."""

    job_id: str
    url: str
    headers: Mapping[str, str] | None = None
    cost_usd: float | None = None
    raw: Any = None


def download_asset(
    http: HttpClient, fetched: Fetched, dest_dir: Path, limits: DownloadLimits | None = None
) -> Asset:
    """Stream ``fetched.url`` into ``dest_dir`` and return the measured ``Asset``.

    Raises ``UrlExpiredError`` for 400/401/403/404/410 (the caller re-polls for a fresh URL) and
    ``AssetError`` when the bytes are too large, of the wrong type or not a readable video.
    """
    limits = limits or DownloadLimits()
    dest_dir.mkdir(parents=True, exist_ok=True)
    part = dest_dir / f".{_safe(fetched.job_id)}.{os.getpid()}.part"
    _drop_stale_parts(dest_dir, fetched.job_id, part)
    try:
        if fetched.url.startswith("data:"):
            digest = _inline_to(http.provider, fetched, part, limits)
        else:
            digest = _stream_to(http, fetched, part, limits)
        return _finish(http.provider, fetched, part, digest, dest_dir)
    finally:
        part.unlink(missing_ok=True)


STALE_PART_S = 3600.0
"""A partial download of the same job unwritten this long was left by a killed process."""


def _drop_stale_parts(dest_dir: Path, job_id: str, mine: Path) -> None:
    """Remove what earlier downloads of this job left (a process killed mid-download never
    unlinks its ``.part``); one another process writes now is younger than ``STALE_PART_S``."""
    now = time.time()
    for left in dest_dir.glob(f".{glob.escape(_safe(job_id))}.*.part"):
        with contextlib.suppress(OSError):
            if left != mine and now - left.stat().st_mtime > STALE_PART_S:
                left.unlink()


def _stream_to(http: HttpClient, fetched: Fetched, part: Path, limits: DownloadLimits) -> str:
    provider = http.provider
    sha = hashlib.sha256()
    with (
        edge(provider),
        http.client.stream(
            "GET", http.url(fetched.url), headers=dict(fetched.headers or {})
        ) as resp,
    ):
        if resp.status_code in REFUSED_STATUS:
            resp.read()
            code = _XML_CODE.search(resp.text[:2000])
            detail = f" ({code.group(1)})" if code else ""
            raise UrlExpiredError(
                f"output URL refused with HTTP {resp.status_code}{detail}", provider
            )
        if resp.status_code >= 400:
            resp.read()
            raise http.classifier(provider, resp)
        _check_headers(provider, _named(fetched), resp, limits)
        size = 0
        with part.open("wb") as out:
            for chunk in resp.iter_bytes(limits.chunk):
                size += len(chunk)
                if size > limits.max_bytes:
                    raise AssetError(
                        f"{_named(fetched)} is larger than {limits.max_bytes} bytes", provider
                    )
                sha.update(chunk)
                out.write(chunk)
    return sha.hexdigest()


def _inline_to(provider: str, fetched: Fetched, part: Path, limits: DownloadLimits) -> str:
    """A ``data:video/mp4;base64,...`` output (Veo may return ``encodedVideo`` inline)."""
    header, _, payload = fetched.url.partition(",")
    if not header.startswith("data:video/") or not header.endswith(";base64"):
        raise AssetError(f"unsupported inline output {header[:40]!r}", provider)
    if len(payload) * 3 // 4 > limits.max_bytes:
        raise AssetError(f"{_named(fetched)} is larger than {limits.max_bytes} bytes", provider)
    try:
        data = base64.b64decode(payload, validate=True)
    except ValueError as exc:  # binascii.Error, or a character outside ASCII
        raise AssetError(f"{_named(fetched)} is not valid base64", provider) from exc
    part.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _check_headers(provider: str, named: str, resp: httpx.Response, limits: DownloadLimits) -> None:
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and not ctype.startswith(VIDEO_TYPES):
        raise AssetError(f"{named} has content-type {ctype!r}, not a video", provider)
    length = resp.headers.get("content-length")
    if length and length.isdigit() and int(length) > limits.max_bytes:
        raise AssetError(f"{named} is {length} bytes, over {limits.max_bytes}", provider)


def _measured(provider: str, fetched: Fetched, part: Path) -> MediaInfo:
    """The downloaded output's measure. Its header is checked first: a file declaring more pixels
    a frame than any output (``header_refusal``) is refused before the full probe decodes a frame.
    Errors name the job and URL, never the temporary file."""
    named = _named(fetched)
    info, why = probe_guarded(part)
    if why is not None:
        raise AssetError(f"{named}: {why}", provider)
    if info.error or not info.has_video:
        error = (info.error or "no video").replace(f": '{part}'", "").replace(str(part), "file")
        raise AssetError(f"{named} is not a readable video: {error}", provider)
    if not any(name in info.container.split(",") for name in CONTAINERS):
        raise AssetError(f"{named} has an unexpected container {info.container!r}", provider)
    return info


def _named(fetched: Fetched) -> str:
    """The output as an error names it: its job and URL, without the URL's query (a presigned
    URL's signature) or an inline output's bytes."""
    where = "inline" if fetched.url.startswith("data:") else fetched.url.split("?")[0][:200]
    return f"output of job {fetched.job_id} ({where})"


def _finish(provider: str, fetched: Fetched, part: Path, digest: str, dest_dir: Path) -> Asset:
    info = _measured(provider, fetched, part)
    final = dest_dir / f"{_safe(fetched.job_id)}-{digest[:12]}.mp4"
    os.replace(part, final)
    return Asset(
        path=final,
        sha256=digest,
        duration_s=info.duration_s,
        width=info.width,
        height=info.height,
        fps=info.fps,
        has_audio=info.has_audio,
        provider_job_id=fetched.job_id,
        provider_cost_usd=fetched.cost_usd,
        raw=fetched.raw,
    )


def _safe(job_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", job_id)[-80:]
