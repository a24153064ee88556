"""What the emulated judge sees: the frames a judge request carries (Gemini ``inlineData`` JPEG
stills or an inline video, OpenAI ``image_url`` data URLs), measured the way the gate's detectors
measure them, so its scores follow the clip: black or blank frames lower visual quality and prompt
adherence, identical consecutive frames lower temporal coherence, and a request without frames
scores low.

Thresholds are the gate's defaults (``quality/policy.yaml``): a pixel under luma 32 is black, a
frame 98% black is a black frame, a mean absolute difference under 0.25 between two frames is a
freeze. A frame whose luma deviates less than 2 levels is blank (a flat colour).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt

BLACK_LEVEL, BLACK_SHARE, FREEZE_MAD, FLAT_STD = 32, 0.98, 0.25, 2.0
WIDTH = 160  # every still is measured at this width
_FRAME_AT = re.compile(r"Frame at (\d+(?:\.\d+)?)s")


@dataclass(frozen=True)
class Still:
    time_s: float
    gray: npt.NDArray[np.uint8]

    @property
    def black(self) -> bool:
        return float(np.mean(self.gray < BLACK_LEVEL)) >= BLACK_SHARE

    @property
    def blank(self) -> bool:
        return self.black or float(self.gray.std()) < FLAT_STD


def _gray(image: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    height = max(1, round(image.shape[0] * WIDTH / image.shape[1]))
    resized = cv2.resize(image, (WIDTH, height), interpolation=cv2.INTER_AREA)
    return np.asarray(resized, dtype=np.uint8)


def _jpeg(data: str) -> npt.NDArray[np.uint8] | None:
    try:
        raw = np.frombuffer(base64.b64decode(data, validate=True), np.uint8)
    except (binascii.Error, ValueError):
        return None
    image = cv2.imdecode(raw, cv2.IMREAD_GRAYSCALE) if raw.size else None
    return None if image is None else _gray(image)


def _video(data: str) -> list[Still]:
    """An inline video, one still a second."""
    stills: list[Still] = []
    try:
        with av.open(io.BytesIO(base64.b64decode(data)), mode="r") as container:
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                t = float(frame.time or 0.0)
                if not stills or t >= stills[-1].time_s + 1.0:
                    stills.append(Still(t, _gray(frame.to_ndarray(format="gray"))))
    except (av.FFmpegError, IndexError, binascii.Error, ValueError):
        return stills
    return stills


def _gemini(body: dict[str, Any]) -> Iterator[Still]:
    at = 0.0
    for content in body.get("contents") or []:
        for part in (content or {}).get("parts") or []:
            found = _FRAME_AT.search(str(part.get("text", ""))) if isinstance(part, dict) else None
            if found:
                at = float(found[1])
            inline = part.get("inlineData") if isinstance(part, dict) else None
            if not isinstance(inline, dict):
                continue
            mime, data = str(inline.get("mimeType", "")), str(inline.get("data", ""))
            if mime.startswith("video/"):
                yield from _video(data)
            elif (image := _jpeg(data)) is not None:
                yield Still(at, image)


def _openai(body: dict[str, Any]) -> Iterator[Still]:
    for message in body.get("messages") or []:
        content = (message or {}).get("content")
        if not isinstance(content, list):
            continue
        text = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        sampled = text.split("sampled at:", 1)[1] if "sampled at:" in text else ""
        times = [float(t) for t in re.findall(r"(\d+(?:\.\d+)?)s", sampled)]
        urls = [
            str((p.get("image_url") or {}).get("url", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "image_url"
        ]
        for index, url in enumerate(urls):
            image = _jpeg(url.split(",", 1)[1]) if url.startswith("data:image/") else None
            if image is not None:
                yield Still(times[index] if index < len(times) else float(index), image)


def stills_of(body: Any) -> list[Still]:
    """Every frame of a Gemini or OpenAI judge request body, in time order."""
    if not isinstance(body, dict):
        return []
    found = list(_gemini(body)) + list(_openai(body))
    return sorted(found, key=lambda s: s.time_s)


def _frozen_pairs(stills: list[Still]) -> list[tuple[Still, Still]]:
    pairs = pairwise(stills)
    return [
        (a, b)
        for a, b in pairs
        if a.gray.shape == b.gray.shape and float(np.mean(cv2.absdiff(a.gray, b.gray))) < FREEZE_MAD
    ]


def view(stills: list[Still]) -> tuple[dict[str, float], list[dict[str, object]]]:
    """Scores in [0, 1] and timestamped issues for what the frames show."""
    if not stills:
        issue = {
            "t": 0.0,
            "kind": "other",
            "description": "no frames to judge",
            "severity": "major",
        }
        return dict.fromkeys(
            ("prompt_adherence", "visual_quality", "temporal_coherence", "anatomy"), 0.1
        ), [issue]
    blank = [s for s in stills if s.blank]
    shown = 1.0 - len(blank) / len(stills)
    frozen = _frozen_pairs(stills)
    still_share = len(frozen) / (len(stills) - 1) if len(stills) > 1 else 0.0
    scores = {
        "prompt_adherence": 0.15 + 0.8 * shown,
        "visual_quality": 0.15 + 0.8 * shown,
        "temporal_coherence": 0.15 + 0.8 * (1.0 - still_share),
        "anatomy": 0.3 + 0.6 * shown,
    }
    issues: list[dict[str, object]] = [
        {
            "t": s.time_s,
            "end": s.time_s,
            "kind": "visual_quality",
            "severity": "major",
            "description": "black frame" if s.black else "blank frame",
        }
        for s in blank
    ]
    issues += [
        {
            "t": a.time_s,
            "end": b.time_s,
            "kind": "temporal_coherence",
            "severity": "minor",
            "description": "nothing moves",
        }
        for a, b in frozen
    ]
    return {k: round(v, 3) for k, v in scores.items()}, issues
