"""Real MP4s for emulated jobs: the local animatic renderer, then optional injected defects."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, replace
from pathlib import Path

from adapters.animatic import request_seed
from adapters.base import GenerationRequest
from adapters.local import render_animatic
from emulators.render_cache import CLIPS, request_key
from emulators.scenario import Defect
from foundation.spoken import spoken_line
from media.probe import probe
from media.runner import run_ffmpeg

ENCODE = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


@dataclass(frozen=True)
class ClipSpec:
    """What an emulated provider was asked for, in canonical units."""

    provider: str
    model: str
    prompt: str
    duration_s: float
    width: int
    height: int
    fps: float = 24.0
    audio: bool = False
    seed: int | None = None
    first_frame: bytes | None = None  # the image an image-to-video request starts from
    extend_video: bytes | None = None  # the clip an extend request sends (Vertex Veo ``video``)


def inline_image_bytes(value: object) -> bytes | None:
    """The bytes of a Google ``Image`` sent inline (``{bytesBase64Encoded, mimeType}``), else None
    (a ``gcsUri`` is not fetched)."""
    data = value.get("bytesBase64Encoded") if isinstance(value, dict) else None
    if not isinstance(data, str):
        return None
    try:
        return base64.b64decode(data, validate=False)
    except ValueError:
        return None


def data_uri_bytes(value: object) -> bytes | None:
    """The bytes of a ``data:`` URI (an inline first frame), else None (a URL is not fetched)."""
    if not isinstance(value, str) or not value.startswith("data:") or "," not in value:
        return None
    try:
        return base64.b64decode(value.split(",", 1)[1], validate=False)
    except ValueError:
        return None


def capped(spec: ClipSpec, max_side: int | None) -> ClipSpec:
    """Scale the frame down (keeping even sizes) so that no side exceeds ``max_side``."""
    if not max_side or max(spec.width, spec.height) <= max_side:
        return spec
    factor = max_side / max(spec.width, spec.height)
    return replace(
        spec,
        width=max(2, int(spec.width * factor) // 2 * 2),
        height=max(2, int(spec.height * factor) // 2 * 2),
    )


def render_clip(spec: ClipSpec, out: Path, defects: tuple[Defect, ...] = ()) -> Path:
    """Render ``spec`` to ``out`` and write each defect into it. A model with sound voices the
    line its prompt quotes (``spoken_line``), so the emulated clip does too."""
    request = GenerationRequest(
        shot_id=f"emulated-{out.stem}",
        prompt=spec.prompt,
        duration_s=spec.duration_s,
        width=spec.width,
        height=spec.height,
        fps=spec.fps,
        model=f"{spec.provider}/{spec.model}",
        provider_model=spec.model,
        audio=spec.audio,
        dialogue=spoken_line(spec.prompt) if spec.audio else None,
        seed=spec.seed,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if spec.extend_video:
        return _extended(spec, out, defects)
    # the job id shapes the picture only through the seed (``request_seed``)
    seeded = replace(spec, first_frame=None, seed=request_seed(request))
    key = request_key(seeded, spec.first_frame or b"")
    CLIPS.render(key, out, lambda path: _animatic(request, spec.first_frame, path))
    for defect in defects:
        apply_defect(out, defect, spec)
    return out


def _animatic(request: GenerationRequest, first_frame: bytes | None, out: Path) -> Path:
    if first_frame:  # the clip starts from the given image, as the provider's does
        frame = out.with_suffix(".first.png")
        frame.write_bytes(first_frame)
        request = replace(request, reference_image=frame)
    return render_animatic(request, out, annotate=False)


def _extended(spec: ClipSpec, out: Path, defects: tuple[Defect, ...]) -> Path:
    """An extend request's answer, as Vertex's: the clip sent, then ``duration_s`` new seconds
    that start from its last frame (rendered like an image-to-video clip from that frame), as one
    video at the sent clip's size and rate."""
    assert spec.extend_video is not None
    sent = out.with_suffix(".sent.mp4")
    sent.write_bytes(spec.extend_video)
    info = probe(sent)
    new = render_clip(
        replace(spec, extend_video=None, first_frame=last_frame_png(sent), width=info.width,
                height=info.height, fps=info.fps or spec.fps),
        out.with_suffix(".new.mp4"), defects,
    )  # fmt: skip
    run_ffmpeg(_concat_args([sent, new], out))
    for path in (sent, new):
        path.unlink(missing_ok=True)
    return out


def last_frame_png(clip: Path) -> bytes:
    """The clip's last frame as PNG bytes (what an extension continues from)."""
    last = clip.with_name(f".{clip.stem}.last.png")
    run_ffmpeg(["-sseof", "-1", "-i", str(clip), "-update", "1", str(last)])
    try:
        return last.read_bytes()
    finally:
        last.unlink(missing_ok=True)


def _concat_args(parts: list[Path], out: Path) -> list[str]:
    """FFmpeg argv joining ``parts`` (same size and rate) end to end; a part without sound gets
    silence for its length."""
    inputs: list[str] = [arg for part in parts for arg in ("-i", str(part))]
    streams, count = [], len(parts)
    for index, part in enumerate(parts):
        info = probe(part)
        audio = f"{index}:a"
        if not info.has_audio:
            audio, count = f"{count}:a", count + 1
            inputs += ["-f", "lavfi", "-t", f"{info.duration_s:.6f}", "-i", "anullsrc=r=48000"]
        streams.append(f"[{audio}]aformat=sample_rates=48000:channel_layouts=stereo[a{index}]")
    joined = "".join(f"[{i}:v][a{i}]" for i in range(len(parts)))
    graph = ";".join([*streams, f"{joined}concat=n={len(parts)}:v=1:a=1[v][a]"])
    return [*inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]", *ENCODE,
            "-c:a", "aac", str(out)]  # fmt: skip


def defect_args(defect: Defect, spec: ClipSpec) -> list[str] | None:
    """FFmpeg output options that write ``defect``; ``None`` for defects done on bytes (corrupt)."""
    length = min(defect.seconds, spec.duration_s)
    if defect.kind in ("black_head", "black_tail", "black_middle"):
        start = {
            "black_head": 0.0,
            "black_tail": spec.duration_s - length,
            "black_middle": (spec.duration_s - length) / 2,
        }[defect.kind]
        box = f"drawbox=c=black:t=fill:enable='between(t,{start:.3f},{start + length:.3f})'"
        return ["-vf", box, *ENCODE, "-c:a", "copy"]
    if defect.kind == "frozen":
        first = round((spec.duration_s - length) / 2 * spec.fps)
        last = first + max(1, round(length * spec.fps))
        freeze = f"[0:v]split[a][b];[a][b]freezeframes=first={first}:last={last}:replace={first}[v]"
        return ["-filter_complex", freeze, "-map", "[v]", "-map", "0:a?", *ENCODE, "-c:a", "copy"]
    if defect.kind == "wrong_size":
        width = max(2, int(spec.width * defect.scale) // 2 * 2)
        height = max(2, int(spec.height * defect.scale) // 2 * 2)
        return ["-vf", f"scale={width}:{height}", *ENCODE, "-c:a", "copy"]
    if defect.kind == "short_duration":
        return ["-t", f"{spec.duration_s * defect.fraction:.3f}", "-c", "copy"]
    if defect.kind == "missing_audio":
        return ["-an", "-c:v", "copy"]
    return None


def apply_defect(path: Path, defect: Defect, spec: ClipSpec) -> None:
    """Rewrite ``path`` in place with ``defect``."""
    args = defect_args(defect, spec)
    if args is None:
        data = path.read_bytes()
        path.write_bytes(data[: max(64, len(data) * 2 // 5)])
        return
    tmp = path.with_suffix(".defect.mp4")
    run_ffmpeg(["-i", str(path), *args, "-f", "mp4", str(tmp)])
    os.replace(tmp, path)
