"""Digests of packets (timestamps and bytes): what stream copy reproduces exactly."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import av

# Per-stream decoder options while the file is probed: no picture is decoded (an intra frame of
# busy 720p content costs ~30 ms). PyAV's stub types this list[str]; it takes dicts.
QUICK_PROBE: Any = [{"skip_frame": "nonintra"}, {}]


def video_digest(packets: Iterable[av.Packet[Any]]) -> str:
    """Digest of packets (timestamps and bytes), video or audio: what stream copy reproduces."""
    digest = hashlib.sha256()
    for packet in packets:
        digest.update(f"{packet.pts},{packet.dts},{packet.size};".encode())
        digest.update(bytes(packet))
    return digest.hexdigest()[:24]
