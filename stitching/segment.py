"""Normalise on arrival: one accepted clip -> one segment in the output profile, exact in frames.

A segment is an MP4 (H.264 + AAC, keyframe at frame 0, closed GOPs) plus sidecars: the final audio
as raw float32 stereo PCM holding exactly ``samples`` samples, grey proxies of the edge frames and
a thumbnail. Its AAC sits on the programme's sample grid (see ``shotaudio``), so the assembler
copies it and encodes from the PCM only around joins: no priming drift, no second lossy encode.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from media.colour import SourceColour
from media.ffmpeg import has_filter
from media.graph import Stream, compile_graph, open_input
from media.probe import MediaInfo, probe
from media.runner import run_ffmpeg
from stitching.arrival import TMP_SUFFIXES, Arrival, SideOutputs, Temporaries, add_audio
from stitching.chains import audio_chain, source_input, video_chain, x264_args
from stitching.digest import probe_params, scan_segment
from stitching.edges import edges_path, save_edges
from stitching.errors import ClipError
from stitching.loudness import parse_ebur128
from stitching.meter import blocks_path, save_segment
from stitching.profile import OutputProfile
from stitching.shotaudio import ShotAudio, finalise
from stitching.thumbs import thumb_path, write_thumb
from stitching.track import track_chain, track_path

PCM_SUFFIX = ".f32"


@dataclass(frozen=True)
class Segment:
    """A normalised clip: what was written, measured after writing. The annotations' bounds are
    what a stored plan may hold (``plan.EditPlan.from_json``)."""

    path: Path
    audio_path: Path
    frames: Annotated[int, Field(ge=1)]
    samples: Annotated[int, Field(ge=1)]
    width: int
    height: int
    fps: str
    codec: str
    codec_profile: str
    pix_fmt: str
    sar: str
    time_base: str
    extradata_sha: str
    audio_codec: str
    audio_rate: int
    audio_layout: str
    keyframes: Annotated[tuple[Annotated[int, Field(ge=0)], ...], Field(min_length=1)]
    source: str = ""
    source_had_audio: bool = True
    held_frames: Annotated[int, Field(ge=0)] = 0
    edge_frames: Annotated[int, Field(ge=0)] = 0
    head_black: Annotated[int, Field(ge=0)] = 0
    head_frozen: Annotated[int, Field(ge=0)] = 0
    tail_black: Annotated[int, Field(ge=0)] = 0
    tail_frozen: Annotated[int, Field(ge=0)] = 0
    thumb_frame: Annotated[int, Field(ge=0)] = 0
    video_sha: str = ""
    audio_offset: Annotated[int, Field(ge=0)] | None = None
    source_lufs: float | None = None
    gain_db: float = 0.0
    final_lufs: float | None = None
    limited: bool = False

    def copy_params(self) -> dict[str, Any]:
        """Every parameter that must be identical for the segments to be joined by stream copy."""
        video = ("width", "height", "fps", "codec", "codec_profile", "pix_fmt", "sar", "time_base")
        more = ("extradata_sha", "audio_codec", "audio_rate", "audio_layout")
        return {key: getattr(self, key) for key in (*video, *more)}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"], data["audio_path"] = str(self.path), str(self.audio_path)
        data["keyframes"] = list(self.keyframes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        fields = {**data, "path": Path(data["path"]), "audio_path": Path(data["audio_path"])}
        return cls(**{**fields, "keyframes": tuple(data["keyframes"])})


def normalise_argv(
    src: Path,
    profile: OutputProfile,
    frames: int,
    outputs: tuple[Path, Path],
    *,
    has_audio: bool,
    keyframes: Sequence[int] = (0,),
    side: SideOutputs | None = None,
    track: Path | None = None,
    video_lead_s: float = 0.0,
    hdr: bool = False,
    colour: SourceColour | None = None,
) -> list[str]:
    """Argv for one clip -> (video-only MP4, PCM sidecar), with the audio's loudness measured on
    the way (``ebur128`` summary on stderr at log level info) and, with ``track``, a small grey
    copy of the picture for reframing (``track.track_chain``). ``video_lead_s`` (the source's
    picture starting after its audio) moves the source back so the segment starts at its first
    picture, the audio before it cut; ``hdr`` tone-maps the picture; ``colour`` is how its
    Y'CbCr is read (``video_chain``). Pure: unit-tested without FFmpeg."""
    source = source_input(src, video_lead_s)
    audio_in = (
        source["a:0"]
        if has_audio
        else open_input(f"anullsrc=r={profile.sample_rate}:cl=stereo", f="lavfi")["a"]
    )
    hold = profile.max_hold_frames + 2
    video = video_chain(source["v:0"], profile, frames, hold, hdr=hdr, colour=colour)
    windows: list[Stream] = []
    if side:
        video, copy = video.split(2)
        windows = side.windows(copy)
    small: list[Stream] = []
    if track is not None:
        video, copy = video.split(2)
        small = [track_chain(copy, profile.width, profile.height)]
    audio = audio_chain(audio_in, profile, frames)
    graph = compile_graph([video, audio, *windows, *small])
    video_label, pcm_label, *window_labels = graph.labels
    track_out = ["-map", window_labels.pop(), "-f", "rawvideo", str(track)] if small else []
    video_out, pcm_out = outputs
    side_outputs = [
        arg
        for label, argv in zip(window_labels, side.outputs if side else [], strict=True)
        for arg in ("-map", label, *argv)
    ]
    return [
        *graph.inputs, "-filter_complex", graph.text,
        "-map", video_label, "-an", *x264_args(profile, keyframes), "-f", "mp4", str(video_out),
        "-map", pcm_label, "-c:a", "pcm_f32le", "-f", "f32le", str(pcm_out),
        *side_outputs, *track_out,
    ]  # fmt: skip


def _available_frames(info: MediaInfo, profile: OutputProfile) -> int:
    seconds = info.video_duration_s or info.duration_s
    return int(Fraction(seconds).limit_denominator(1_000_000) * profile.rate + Fraction(1, 2))


def _check_source(src: Path, info: MediaInfo, profile: OutputProfile, frames: int) -> None:
    if info.error or not info.has_video:
        raise ClipError(f"{src}: not a usable video ({info.error or 'no video stream'})")
    if info.hdr and not (has_filter("zscale") and has_filter("tonemap")):
        raise ClipError(
            f"{src}: an HDR (PQ or HLG) picture needs FFmpeg's zscale (libzimg) and tonemap "
            "filters to be shown as SDR; the configured FFmpeg lacks them"
        )
    available = _available_frames(info, profile)
    if available and frames - available > profile.max_hold_frames:
        need, have = profile.seconds(frames), profile.seconds(available)
        raise ClipError(
            f"{src}: clip is {frames - available} frames ({need - have:.3f} s) short: "
            f"has {available} frames ({have:.3f} s) at {profile.rate} fps, plan needs {frames} "
            f"({need:.3f} s); at most {profile.max_hold_frames} frames can be held"
        )


def segment_keyframes(frames: int, head: int, tail: int, profile: OutputProfile) -> list[int]:
    """Where a segment's keyframes go: its start, the ends of the transitions into and out of
    it, and ``profile.verify_margin`` frames before the tail."""
    margin = profile.verify_margin
    keyframes = [0, head, frames - tail, frames - tail - margin - 1]
    return [k for k in keyframes if 0 <= k < frames]


def normalise(
    src: Path,
    profile: OutputProfile,
    frames: int,
    out: Path,
    *,
    head_frames: int = 0,
    tail_frames: int = 0,
    sample_offset: int = 0,
    side: SideOutputs | None = None,
) -> Segment:
    """Convert one accepted clip to the output profile, exactly ``frames`` frames long.

    ``head_frames``/``tail_frames`` are the frames the transitions into and out of this shot will
    cover; keyframes are forced there so the assembler re-encodes only those windows (and
    ``profile.verify_margin`` frames before the tail). ``sample_offset`` is the programme sample
    where the shot is planned to start: its audio is made final (loudness, limiter) and encoded on
    the programme's AAC grid, so the assembler can copy it. A clip shorter than needed by at most
    ``profile.max_hold_frames`` is padded by holding its last frame; shorter still raises
    ``ClipError`` naming the shortfall. ``side`` adds outputs made from the normalised picture in
    the same run. Thread-safe: temporary files carry a unique name and are renamed into place.
    """
    if frames <= 0:
        raise ClipError(f"{src}: a segment needs at least one frame, got {frames}")
    info = probe(src)
    _check_source(src, info, profile, frames)
    keyframes = segment_keyframes(frames, head_frames, tail_frames, profile)
    token = uuid.uuid4().hex[:10]
    tmp = Temporaries(*(out.with_name(f".{out.stem}.{token}{ext}") for ext in TMP_SUFFIXES))
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = normalise_argv(
        src, profile, frames, (tmp.video, tmp.pcm), has_audio=info.has_audio,
        keyframes=keyframes, side=side, track=tmp.track, video_lead_s=info.video_lead_s,
        hdr=info.hdr, colour=info.colour,
    )  # fmt: skip
    try:
        loudness = parse_ebur128(run_ffmpeg(argv, loglevel="info"))
        arrival = Arrival(src, info, frames, (head_frames, tail_frames), sample_offset, loudness)
        return _finish(arrival, profile, tmp, out, side.after if side else None)
    finally:
        for path in tmp:
            path.unlink(missing_ok=True)


def _finish(
    arrival: Arrival,
    profile: OutputProfile,
    tmp: Temporaries,
    out: Path,
    more: Callable[[], object] | None,
) -> Segment:
    """Measure what was written, make the audio final and put the segment in place.

    The edge proxies, the thumbnail, the audio (gain, AAC, remux) and ``more`` (the side
    outputs' measurements) are independent: they run side by side.
    """
    frames, hints = arrival.frames, arrival.hints
    edge = max(hints) + profile.verify_margin + 2
    samples = tmp.pcm.stat().st_size // (4 * 2)  # before the audio is rewritten in place
    with ThreadPoolExecutor(max_workers=4) as pool:
        sound = pool.submit(_final_audio, arrival, profile, tmp, blocks_path(out))
        side = pool.submit(more) if more is not None else None
        scan = scan_segment(tmp.video, profile)
        _check_counts(arrival, profile, scan["frames"], samples)
        edges = pool.submit(save_edges, tmp.video, frames, profile.rate, edge, edges_path(out),
                            scan["video_sha"])  # fmt: skip
        lo, hi = hints[0], max(hints[0] + 1, frames - hints[1])
        thumb = write_thumb(tmp.video, scan["keyframes"], lo, hi, profile, thumb_path(out))
        head, tail = edges.result()
        shot_audio, audio = sound.result()
        if side is not None:
            side.result()
    pcm_path = out.with_suffix(PCM_SUFFIX)
    os.replace(tmp.muxed, out)
    os.replace(tmp.pcm, pcm_path)
    os.replace(tmp.track, track_path(out))
    held = max(0, frames - _available_frames(arrival.info, profile))
    return Segment(
        path=out,
        audio_path=pcm_path,
        samples=profile.samples_for(frames),
        fps=str(profile.rate),
        source=str(arrival.src),
        source_had_audio=arrival.info.has_audio,
        held_frames=held,
        edge_frames=min(edge, frames),
        head_black=head.black,
        head_frozen=head.frozen,
        tail_black=tail.black,
        tail_frozen=tail.frozen,
        thumb_frame=thumb,
        audio_offset=arrival.sample_offset,
        **asdict(shot_audio),
        **{**scan, **audio},
    )


def _check_counts(arrival: Arrival, profile: OutputProfile, frames: int, samples: int) -> None:
    if frames < arrival.frames:
        raise ClipError(
            f"{arrival.src}: normalised to {frames} frames, plan needs {arrival.frames} "
            f"({arrival.frames - frames} short at {profile.rate} fps)"
        )
    if frames > arrival.frames:
        raise ClipError(
            f"{arrival.src}: normalised to {frames} frames, {frames - arrival.frames} more than "
            f"the plan's {arrival.frames} at {profile.rate} fps (FFmpeg restarts its filters "
            "where the picture changes size or format mid-clip)"
        )
    if samples != profile.samples_for(arrival.frames):
        raise ClipError(
            f"{arrival.src}: audio has {samples} samples, needs "
            f"{profile.samples_for(arrival.frames)}"
        )


def _final_audio(
    arrival: Arrival, profile: OutputProfile, tmp: Temporaries, blocks: Path
) -> tuple[ShotAudio, dict[str, Any]]:
    """Gain, limit and encode the shot's audio; the video with it as ``tmp.muxed``; the AAC's
    loudness sub-blocks at ``blocks`` (``measured.save_segment``)."""
    shot_audio, packets = finalise(tmp.pcm, arrival.loudness, profile, arrival.sample_offset)
    add_audio(tmp.video, packets, tmp.muxed)
    save_segment(tmp.muxed, arrival.sample_offset, profile.sample_rate, blocks)
    params = probe_params(tmp.muxed, quick=True)
    return shot_audio, {k: v for k, v in params.items() if k.startswith("audio_")}
