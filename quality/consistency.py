"""Cross-shot consistency: colour and exposure continuity at every join and between the shots of a
scene, from luma statistics and Y/U/V histograms read straight from the decoded planes; and each
shot featuring a character against the character's reference images (``check_references``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

import av
import av.error
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from media.colour import SourceColour, colour_of, hdr_transfer
from quality.accumulate import COLOUR_BINS, ColourSample, colour_sample, limited_proxy, luma_plane
from quality.errors import QualityError
from quality.policy import DetectorConfig

EDGE_S = 0.5
BLACK_LUMA = 24.0


@dataclass(frozen=True)
class Look:
    """Aggregated colour statistics of a stretch of frames."""

    luma_mean: float
    luma_std: float
    chroma: tuple[float, float]
    hist: np.ndarray

    @staticmethod
    def of(samples: Sequence[ColourSample]) -> Look:
        lit = [s for s in samples if s.luma_mean > BLACK_LUMA] or list(samples)
        return Look(
            luma_mean=float(np.mean([s.luma_mean for s in lit])),
            luma_std=float(np.mean([s.luma_std for s in lit])),
            chroma=(
                float(np.mean([s.mean_yuv[1] for s in lit])),
                float(np.mean([s.mean_yuv[2] for s in lit])),
            ),
            hist=np.mean([s.hist for s in lit], axis=0),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "luma_mean": round(self.luma_mean, 3),
            "luma_std": round(self.luma_std, 3),
            "chroma": [round(c, 3) for c in self.chroma],
            "hist": np.round(self.hist, 5).tolist(),
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Look:
        u, v = data["chroma"]
        hist = np.asarray(data["hist"], np.float32)
        if hist.shape != (3, COLOUR_BINS):
            raise ValueError(f"a look's histogram has shape {hist.shape}")
        return Look(float(data["luma_mean"]), float(data["luma_std"]), (float(u), float(v)), hist)


@dataclass(frozen=True)
class ColourProfile:
    """A clip's looks. ``hdr`` ("pq" or "hlg") marks a clip whose planes hold HDR code values,
    not on the SDR scale: its looks are compared only with clips of the same transfer.
    ``matrix`` is the Y'CbCr matrix its planes are in ("bt709" or "bt601": the tag, else what
    players assume for its size; ``media.colour``), in which a reference's palette is read."""

    path: Path
    head: Look
    tail: Look
    whole: Look
    hdr: str | None = None
    matrix: str = "bt709"

    def to_json(self) -> dict[str, Any]:
        """The looks as a JSON object (stored with the gate's verdict; the path is not)."""
        data: dict[str, Any] = {
            "head": self.head.to_json(),
            "tail": self.tail.to_json(),
            "whole": self.whole.to_json(),
        }
        if self.hdr:
            data["hdr"] = self.hdr
        if self.matrix != "bt709":
            data["matrix"] = self.matrix
        return data

    @staticmethod
    def from_json(path: Path, data: Mapping[str, Any]) -> ColourProfile:
        """The inverse of ``to_json``; raises ``ValueError`` (or ``KeyError``/``TypeError``) for
        anything else."""
        head, tail, whole = (Look.from_json(data[part]) for part in ("head", "tail", "whole"))
        hdr, matrix = data.get("hdr"), str(data.get("matrix", "bt709"))
        return ColourProfile(Path(path), head, tail, whole, str(hdr) if hdr else None, matrix)


@dataclass(frozen=True)
class JoinThresholds:
    luma: float = 20.0  # mean luma jump, 0-255
    chroma: float = 8.0  # distance of mean U/V, 0-255
    hist: float = 0.25  # Hellinger distance of Y/U/V histograms, 0-1
    contrast: float = 1.6  # ratio of luma standard deviations


@dataclass(frozen=True)
class JoinReport:
    """One compared pair. ``kind`` is "join" (tail of ``a`` against head of ``b``, adjacent) or
    "scene" (whole shots of one scene). Only same-scene pairs are ``flagged``; ``offending`` is the
    index of the shot to re-render."""

    a: int
    b: int
    kind: str
    same_scene: bool
    luma_delta: float
    chroma_delta: float
    hist_distance: float
    contrast_ratio: float
    score: float
    flagged: bool
    offending: int | None
    message: str


def profile(path: Path, colour_fps: float = 4.0) -> ColourProfile:
    """Decode ``path`` once, sampling colour statistics at ``colour_fps`` plus the last frame."""
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise QualityError(f"cannot open {path}: {exc}") from exc
    samples: list[ColourSample] = []
    with container:
        if not container.streams.video:
            raise QualityError(f"{path} has no video")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        every = max(1, round(float(stream.average_rate or 24) / colour_fps))
        context = stream.codec_context
        hdr = hdr_transfer(int(context.color_trc))
        colour = colour_of(context.pix_fmt, context.colorspace, context.color_range,
                           context.width, context.height)  # fmt: skip
        last: tuple[av.VideoFrame, float] | None = None
        for index, frame in enumerate(container.decode(stream)):
            t = float(frame.time or 0.0)
            last = (frame, t)
            if index % every == 0:
                samples.append(_sample(frame, t))
        if last is not None and (not samples or samples[-1].time_s < last[1]):
            samples.append(_sample(*last))
    return profile_from(path, samples, hdr, plane_matrix(colour))


def plane_matrix(colour: SourceColour | None) -> str:
    """The matrix a clip's colour samples are in: its own (``media.colour``) for Y'CbCr, BT.601
    for anything ``colour_sample`` converts to it (swscale's default)."""
    return colour.matrix if colour is not None and colour.matrix in PALETTE_MATRICES else "bt601"


def profile_from(
    path: Path, samples: Sequence[ColourSample], hdr: str | None = None, matrix: str = "bt709"
) -> ColourProfile:
    """The profile of colour samples in time order (the gate's single decode collects them);
    ``hdr`` and ``matrix``: the clip's HDR transfer and plane matrix (``ColourProfile``)."""
    if not samples:
        raise QualityError(f"{path}: no frame decoded")
    end = samples[-1].time_s
    head = [s for s in samples if s.time_s <= samples[0].time_s + EDGE_S]
    tail = [s for s in samples if s.time_s >= end - EDGE_S]
    looks = Look.of(head), Look.of(tail), Look.of(samples)
    return ColourProfile(Path(path), *looks, hdr, matrix)


def _sample(frame: av.VideoFrame, t: float) -> ColourSample:
    """The colour sample the gate's decode takes of the frame (``quality.accumulate``)."""
    proxy = limited_proxy(frame, luma_plane(frame), DetectorConfig().proxy_short_side)
    return colour_sample(frame, t, proxy)


def compare(a: Look, b: Look, limits: JoinThresholds) -> tuple[dict[str, float], float]:
    hist = float(np.mean(np.sqrt(np.maximum(0.0, 1.0 - np.sqrt(a.hist * b.hist).sum(axis=1)))))
    stds = sorted((max(a.luma_std, 1.0), max(b.luma_std, 1.0)))
    values = {
        "luma": abs(a.luma_mean - b.luma_mean),
        "chroma": float(np.hypot(a.chroma[0] - b.chroma[0], a.chroma[1] - b.chroma[1])),
        "hist": hist,
        "contrast": stds[1] / stds[0],
    }
    ratios = [
        values["luma"] / limits.luma,
        values["chroma"] / limits.chroma,
        values["hist"] / limits.hist,
        (values["contrast"] - 1.0) / (limits.contrast - 1.0),
    ]
    return values, max(0.0, min(1.0, 1.0 - max(ratios) / 2.0))


def _distance_to_scene(index: int, members: list[int], profiles: list[ColourProfile]) -> float:
    members = [m for m in members if profiles[m].hdr == profiles[index].hdr]  # comparable only
    others = [profiles[m].whole.luma_mean for m in members]
    chroma_u = median(profiles[m].whole.chroma[0] for m in members)
    chroma_v = median(profiles[m].whole.chroma[1] for m in members)
    look = profiles[index].whole
    return (
        abs(look.luma_mean - median(others)) / 20.0
        + float(np.hypot(look.chroma[0] - chroma_u, look.chroma[1] - chroma_v)) / 8.0
    )


def _report(
    a: int,
    b: int,
    kind: str,
    same: bool,
    profiles: list[ColourProfile],
    scenes: dict[str, list[int]],
    scene: str,
    limits: JoinThresholds,
) -> JoinReport:
    if profiles[a].hdr != profiles[b].hdr:
        return _not_compared(a, b, kind, same, profiles)
    left = profiles[a].tail if kind == "join" else profiles[a].whole
    right = profiles[b].head if kind == "join" else profiles[b].whole
    values, score = compare(left, right, limits)
    flagged = same and score < 0.5
    offending = None
    if flagged:
        members = scenes[scene]
        offending = b
        if len(members) >= 3:
            offending = max((a, b), key=lambda i: _distance_to_scene(i, members, profiles))
    message = (
        f"luma {values['luma']:.1f}, chroma {values['chroma']:.1f}, "
        f"histogram {values['hist']:.2f}, contrast x{values['contrast']:.2f}"
    )
    return JoinReport(
        a,
        b,
        kind,
        same,
        values["luma"],
        values["chroma"],
        values["hist"],
        values["contrast"],
        score,
        flagged,
        offending,
        message,
    )


def _not_compared(
    a: int, b: int, kind: str, same: bool, profiles: list[ColourProfile]
) -> JoinReport:
    """A pair of an HDR and an SDR clip (or of two HDR transfers): their planes are on different
    scales, so a comparison would report a jump the stitched programme (which tone-maps HDR to
    BT.709 SDR) need not have. Reported, with the reason, never flagged."""
    which = ", ".join(f"shot {i + 1} is {(profiles[i].hdr or 'sdr').upper()}" for i in (a, b))
    message = f"not compared: {which}; HDR planes are not on the SDR scale"
    return JoinReport(a, b, kind, same, 0.0, 0.0, 0.0, 1.0, 1.0, False, None, message)


def check_joins(
    paths: list[Path],
    scene_ids: list[str],
    *,
    limits: JoinThresholds | None = None,
    profiles: list[ColourProfile] | None = None,
) -> list[JoinReport]:
    """Reports for every adjacent pair ("join") and every pair of shots within a scene ("scene")."""
    if len(paths) != len(scene_ids):
        raise QualityError(f"{len(paths)} clips but {len(scene_ids)} scene ids")
    limits = limits or JoinThresholds()
    looks = profiles or [profile(Path(p)) for p in paths]
    scenes: dict[str, list[int]] = {}
    for index, scene in enumerate(scene_ids):
        scenes.setdefault(scene, []).append(index)
    reports = []
    for a in range(len(paths) - 1):
        same = scene_ids[a] == scene_ids[a + 1]
        reports.append(_report(a, a + 1, "join", same, looks, scenes, scene_ids[a], limits))
    for scene, members in scenes.items():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                reports.append(_report(a, b, "scene", True, looks, scenes, scene, limits))
    return reports


@dataclass(frozen=True)
class Palette:
    """A reference's colours: the U/V histograms (``COLOUR_BINS`` each, summing to 1) of its
    saturated pixels (a sheet's neutral background and greys left out) and their share of it,
    as BT.709 limited-range planes hold them (``hist``) and as BT.601 ones do (``sd_hist``), so
    each shot is compared in its own matrix (``ColourProfile.matrix``)."""

    hist: np.ndarray  # shape (2, COLOUR_BINS)
    share: float
    sd_hist: np.ndarray | None = None

    def hist_for(self, matrix: str) -> np.ndarray:
        return self.sd_hist if matrix == "bt601" and self.sd_hist is not None else self.hist


@dataclass(frozen=True)
class ReferenceReport:
    """A shot (``shot``: its index) against one reference image of a ``character`` it features:
    ``present``, how much of the reference's colours the shot carries (per U and V, the smaller;
    a colour counts as fully present when at least ``PRESENCE`` of the shot's pixels have it).
    ``flagged`` when under half is (the character's palette is missing from the shot); a
    reference without saturated colours cannot be compared (``present`` 1)."""

    shot: int
    character: str
    present: float
    flagged: bool
    message: str


PRESENCE = 0.05
"""The share of a shot's pixels a character's colour must cover to count as present: a figure
takes a few percent of a wide shot's frame."""
SATURATED = 16
"""|U - 128| + |V - 128| above which a pixel is a colour, not a grey (8-bit planes)."""
MIN_SHARE = 0.02
"""A reference with fewer saturated pixels than this has no palette to compare."""


def still_palette(path: Path) -> Palette:
    """The palette of a still image (a reference), read from U/V planes as a clip's are: limited
    range, BT.709 and BT.601 (a plain conversion of an RGB picture gave full-range BT.601)."""
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
    except (av.error.FFmpegError, OSError, StopIteration) as exc:
        raise QualityError(f"cannot read {path}: {exc}") from exc
    hd, sd = (_palette_hist(frame, matrix) for matrix in PALETTE_MATRICES.values())
    return Palette(hd[0], hd[1], sd[0])


PALETTE_MATRICES = {"bt709": Colorspace.ITU709, "bt601": Colorspace.ITU601}


def _palette_hist(frame: av.VideoFrame, matrix: Colorspace) -> tuple[np.ndarray, float]:
    """The U/V histograms of ``frame``'s saturated pixels in ``matrix`` (limited range), and
    their share of the picture."""
    limited = frame.reformat(format="yuv444p", dst_colorspace=matrix,
                             dst_color_range=ColorRange.MPEG)  # fmt: skip
    planes = np.asarray(limited.to_ndarray(), np.int32)
    u, v = planes[1].ravel(), planes[2].ravel()
    keep = (np.abs(u - 128) + np.abs(v - 128)) > SATURATED
    if not keep.any():
        return np.zeros((2, COLOUR_BINS)), 0.0
    hist = np.stack(
        [np.bincount(c[keep] >> 4, minlength=COLOUR_BINS) / int(keep.sum()) for c in (u, v)]
    )
    return hist, float(keep.mean())


def check_references(
    profiles: Sequence[ColourProfile], references: Mapping[int, Sequence[tuple[str, Palette]]]
) -> list[ReferenceReport]:
    """Each shot (an index of ``profiles``, whose ``whole`` look the join check computed) against
    the palettes of the references of the characters it features."""
    reports = []
    for index, palettes in sorted(references.items()):
        shot = profiles[index].whole.hist[1:]
        for character, palette in palettes:
            if palette.share < MIN_SHARE:
                message = "the reference has no saturated colours to compare"
                reports.append(ReferenceReport(index, character, 1.0, False, message))
                continue
            hist = palette.hist_for(profiles[index].matrix)
            covered = np.minimum(hist, shot / PRESENCE).sum(axis=1)
            present = float(min(1.0, covered.min()))
            message = f"{present:.0%} of the reference's colours in the shot"
            reports.append(ReferenceReport(index, character, present, present < 0.5, message))
    return reports
