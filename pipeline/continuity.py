"""Shots tied by continuity: a shot marked ``continues`` starts from the previous shot's last frame,
so it waits for that shot's accepted clip and sends the frame as its reference image; one marked
``extends`` too sends that clip itself to its model's extend operation, and keeps the new tail of
what comes back (``extension_tail``)."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import av
import cv2
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import Asset
from foundation.settings import Settings
from media.colour import to_rgb
from media.probe import probe
from quality.image_safety import UnreadableImageError
from quality.repair import trim
from quality.screening import screener_for
from store import jobs
from store.models import Job, Shot


def frame_name(key: str, clip: str) -> str:
    """The file of the last frame of ``clip`` (an asset reference) that shot ``key`` starts from:
    one per clip, so a shot rendered again after its predecessor was (a consistency re-render)
    starts from the new clip's frame, not the one written for the old clip."""
    return f"lastframe-{key}-{hashlib.sha256(clip.encode()).hexdigest()[:12]}.png"


def last_frame(clip: Path, out: Path) -> Path:
    """Write the clip's last decodable frame as a PNG (once) and return its path."""
    if out.exists():
        return out
    with av.open(str(clip)) as container:
        frame = deque(container.decode(video=0), maxlen=1)
    if not frame:
        raise ValueError(f"{clip} has no decodable video frame")
    tmp = out.with_name(f".{out.name}.tmp.png")
    cv2.imwrite(str(tmp), to_rgb(frame[0], "bgr24"))  # its matrix, else the players' one
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


class PlacedShot(NamedTuple):
    id: int
    key: str
    position: int
    status: str


def placed_shots(session: Session, job_id: str) -> tuple[dict[str, Any], list[PlacedShot]]:
    """The job's storyboard and its shots' ids, keys, positions and statuses (not whole rows:
    a step that asks where every shot is reads no routes, verdicts or segments)."""
    board = session.scalar(select(Job.storyboard).where(Job.id == job_id))
    return board or {"scenes": []}, shot_places(session, job_id)


def shot_places(session: Session, job_id: str) -> list[PlacedShot]:
    """``placed_shots`` without the storyboard, for a caller that holds it already."""
    shots = session.execute(
        select(Shot.id, Shot.key, Shot.position, Shot.status).where(Shot.job_id == job_id)
    ).all()
    return [PlacedShot(*row) for row in shots]


def waits_for(session: Session, job_id: str) -> dict[int, int]:
    """``dependencies`` of the job as stored."""
    return dependencies(*placed_shots(session, job_id))


def continuing(storyboard: dict[str, Any]) -> set[str]:
    """The ids of the shots marked ``continues`` in a stored storyboard."""
    return {
        spec["id"]
        for scene in storyboard["scenes"]
        for spec in scene["shots"]
        if spec.get("continues")
    }


def dependencies(storyboard: dict[str, Any], shots: Sequence[Placed]) -> dict[int, int]:
    """shot pk -> pk of the shot it must wait for (``storyboard``: the job's)."""
    continues = continuing(storyboard)
    if not continues:
        return {}
    ordered = sorted(shots, key=lambda s: s.position)
    return {
        shot.id: ordered[index - 1].id
        for index, shot in enumerate(ordered)
        if index > 0 and shot.key in continues
    }


def with_followers(waits_for: dict[int, int], shot_pks: Sequence[int]) -> list[int]:
    """``shot_pks`` and every shot continuing from one of them, directly or through another
    (``waits_for``: ``dependencies``), sorted: a shot rendered again changes the frame or
    the clip its follower started from, so the follower no longer continues it."""
    chosen = set(shot_pks)
    grown = True
    while grown:
        followers = {pk for pk, after in waits_for.items() if after in chosen} - chosen
        chosen |= followers
        grown = bool(followers)
    return sorted(chosen)


def previous_clip(session: Session, shot: Shot) -> str | None:
    """The accepted clip of the shot just before ``shot`` in its job (its asset reference)."""
    previous = jobs.previous_shot(session, shot)
    if previous is None or not previous.asset_path:
        return None
    return previous.asset_path


def extended_clip(session: Session, storyboard: dict[str, Any], shot: Shot) -> str | None:
    """The clip an ``extends`` shot sends to its model's extend operation (the previous shot's
    accepted clip), or None when the shot does not extend or that clip is missing."""
    spec: dict[str, Any] = next(
        (s for scene in storyboard["scenes"] for s in scene["shots"] if s["id"] == shot.key), {}
    )
    return previous_clip(session, shot) if spec.get("extends") else None


def extended_job(session: Session, shot: Shot, model_id: str) -> str | None:
    """The provider's job id of the generation that made the clip an ``extends`` shot extends
    (the previous shot's accepted clip), for an extend operation that takes the provider's own
    generation by id (registry ``extend.input: generation``). None when no attempt of
    ``model_id`` made that clip as it is: one the gate repaired differs from the provider's
    generation, so extending that generation would not continue the accepted clip."""
    clip = previous_clip(session, shot)
    return jobs.job_of_asset(session, clip, model_id) if clip else None


def extension_tail(asset: Asset, previous: Path, out: Path) -> Asset:
    """The new part of an extension: the provider returns the video it was sent followed by the
    extension (Vertex Veo ``extend``), so the sent clip's frames are cut from the head with a
    frame-accurate re-encode (``quality.repair.trim``), leaving a segment that starts at the frame
    after the previous part's last one. The cut is at the sent clip's frame count (a quarter frame
    early, so rounding never keeps a repeated frame). A clip not longer than the sent one by half a
    second is taken as the extension alone and kept whole."""
    sent = probe(previous)
    if asset.duration_s < sent.duration_s + 0.5 or asset.fps <= 0:
        return asset
    frames = round(sent.duration_s * (sent.fps or asset.fps))
    start = max(0.0, (frames - 0.25) / asset.fps)
    trim(asset.path, (start, asset.duration_s + 1.0), out)
    info = probe(out)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    return replace(
        asset, path=out, sha256=digest, duration_s=info.duration_s, width=info.width,
        height=info.height, fps=info.fps, has_audio=info.has_audio,
    )  # fmt: skip
