"""Shots tied by continuity: a shot marked ``continues`` starts from the previous shot's last frame,
so it waits for that shot's accepted clip and sends the frame as its reference image."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import av
import cv2
from sqlalchemy.orm import Session

from foundation.settings import Settings
from quality.image_safety import UnreadableImageError
from quality.screening import screener_for
from store import jobs
from store.models import Shot


def last_frame(clip: Path, out: Path) -> Path:
    """Write the clip's last decodable frame as a PNG (once) and return its path."""
    if out.exists():
        return out
    with av.open(str(clip)) as container:
        frame = deque(container.decode(video=0), maxlen=1)
    if not frame:
        raise ValueError(f"{clip} has no decodable video frame")
    tmp = out.with_name(f".{out.name}.tmp.png")
    cv2.imwrite(str(tmp), frame[0].to_ndarray(format="bgr24"))
    tmp.replace(out)
    return out


def frame_refusal(settings: Settings, frame: Path, path: str) -> str | None:
    """Why the previous shot's last frame may not be sent as shot ``path``'s reference image (the
    image safety screen that reference images pass before a job starts), or None when it may."""
    images = screener_for(settings, hosted=False).images
    if images is None:
        return None
    field = f"{path}.reference_image (the previous shot's last frame)"
    try:
        verdict = images.check(frame)
    except UnreadableImageError as exc:
        return f"{field}: refused by rule image-safety (cannot be screened: {exc})"
    if not verdict.refused:
        return None
    return f"{field}: refused by rule image-safety ({verdict.reason()}); nothing was sent"


class Placed(Protocol):
    """What ordering needs of a shot: a ``Shot`` row, or a row of just these columns."""

    @property
    def id(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def position(self) -> int: ...


def dependencies(storyboard: dict[str, Any], shots: Sequence[Placed]) -> dict[int, int]:
    """shot pk -> pk of the shot it must wait for (``storyboard``: the job's)."""
    continues = {
        spec["id"]
        for scene in storyboard["scenes"]
        for spec in scene["shots"]
        if spec.get("continues")
    }
    if not continues:
        return {}
    ordered = sorted(shots, key=lambda s: s.position)
    return {
        shot.id: ordered[index - 1].id
        for index, shot in enumerate(ordered)
        if index > 0 and shot.key in continues
    }


def previous_clip(session: Session, shot: Shot) -> str | None:
    """The accepted clip of the shot just before ``shot`` in its job (its asset reference)."""
    previous = jobs.previous_shot(session, shot)
    if previous is None or not previous.asset_path:
        return None
    return previous.asset_path
