"""A corpus of short synthetic clips with known injected defects, generated with FFmpeg.

Used by the tests and by ``benchmarks/bench_gate.py``. Every clip is 320x180 at 24 fps; the shot
asks for 1.5 s and the "provider" renders 2 s (duration grid 2.0), so head/tail defects are
repairable when the rest still covers 1.5 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from media.runner import run_ffmpeg
from quality.expectation import ClipExpectation

W, H, FPS, LENGTH = 320, 180, 24, 2.0
SRC = f"testsrc2=s={W}x{H}:r={FPS}:d={LENGTH}"
TONE = f"sine=f=440:sample_rate=48000:d={LENGTH}"
ENCODE = [
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    "-movflags",
    "+faststart",
    "-shortest",
]


@dataclass(frozen=True)
class CorpusClip:
    name: str
    defects: frozenset[str]
    args: tuple[str, ...]
    expect: ClipExpectation
    verdicts: frozenset[str] = field(default_factory=lambda: frozenset({"accept"}))
    truncate: float | None = None


def _expect(**kw: object) -> ClipExpectation:
    base: dict[str, object] = dict(
        duration_s=1.5, width=W, height=H, fps=FPS, audio="required", duration_grid=(2.0,)
    )
    base.update(kw)
    return ClipExpectation(**base)  # type: ignore[arg-type]


def _video(
    vf: str | None = None, src: str = SRC, audio: str | None = TONE, af: str | None = None
) -> tuple[str, ...]:
    args = ["-f", "lavfi", "-i", src]
    if audio:
        args += ["-f", "lavfi", "-i", audio]
    if vf:
        args += ["-vf", vf]
    if af:
        args += ["-af", af]
    return tuple(args)


def _frozen(first: int, last: int) -> tuple[str, ...]:
    graph = f"[0:v]split[a][b];[a][b]freezeframes=first={first}:last={last}:replace={first - 1}[v]"
    return (
        "-f",
        "lavfi",
        "-i",
        SRC,
        "-f",
        "lavfi",
        "-i",
        TONE,
        "-filter_complex",
        graph,
        "-map",
        "[v]",
        "-map",
        "1:a",
    )


def _black(expr: str) -> str:
    return f"drawbox=color=black:t=fill:enable='{expr}'"


def _clip(
    name: str, defects: set[str], args: tuple[str, ...], verdicts: set[str], **kw: object
) -> CorpusClip:
    expect = kw.pop("expect", _expect())
    truncate = kw.pop("truncate", None)
    return CorpusClip(name, frozenset(defects), args, expect, frozenset(verdicts), truncate)  # type: ignore[arg-type]


def corpus() -> list[CorpusClip]:
    cut = (
        f"testsrc2=s={W}x{H}:r={FPS}:d=1[a];testsrc2=s={W}x{H}:r={FPS}:d=1,negate,hflip[b];"
        "[a][b]concat=n=2:v=1:a=0"
    )
    last = round(LENGTH * FPS) - 1
    return [
        _clip("clean", set(), _video(), {"accept"}),
        _clip(
            "clean_mandelbrot",
            set(),
            _video(src=f"mandelbrot=s={W}x{H}:r={FPS},trim=duration={LENGTH}"),
            {"accept"},
        ),
        _clip(
            "clean_stereo",
            set(),
            _video(audio=f"aevalsrc=0.2*sin(2*PI*330*t)|0.2*sin(2*PI*550*t):s=48000:d={LENGTH}"),
            {"accept"},
        ),
        _clip("clean_hue_cycle", set(), _video("hue=H=2*PI*t:s=1.5"), {"accept"}),
        _clip(
            "clean_pan",
            set(),
            _video(src=f"smptehdbars=s=640x360:r={FPS}:d={LENGTH},crop={W}:{H}:'mod(t*60,320)':90"),
            {"accept"},
        ),
        _clip(
            "clean_exact",
            set(),
            _video(),
            {"accept"},
            expect=_expect(duration_s=2.0, duration_grid=None),
        ),
        _clip("black_head_0.25", {"black_head"}, _video(_black("lt(t,0.25)")), {"repair"}),
        _clip("black_head_0.5", {"black_head"}, _video(_black("lt(t,0.5)")), {"repair"}),
        _clip("black_head_1.0", {"black_head"}, _video(_black("lt(t,1.0)")), {"retry"}),
        _clip("black_tail_0.25", {"black_tail"}, _video(_black("gte(t,1.75)")), {"repair"}),
        _clip("black_tail_0.5", {"black_tail"}, _video(_black("gte(t,1.5)")), {"repair"}),
        _clip(
            "black_middle_0.1", {"black_middle"}, _video(_black("between(t,0.9,0.99)")), {"retry"}
        ),
        _clip(
            "black_middle_0.5", {"black_middle"}, _video(_black("between(t,0.75,1.24)")), {"retry"}
        ),
        _clip("freeze_tail_0.5", {"freeze_tail"}, _frozen(last - 10, last), {"repair"}),
        _clip("freeze_middle_0.75", {"freeze"}, _frozen(18, 35), {"retry"}),
        _clip(
            "wrong_size",
            {"wrong_aspect", "wrong_size"},
            _video(src=f"testsrc2=s=320x240:r={FPS}:d={LENGTH}"),
            {"escalate"},
        ),
        _clip(
            "short_duration",
            {"short_duration"},
            _video(
                src=f"testsrc2=s={W}x{H}:r={FPS}:d=1.2", audio="sine=f=440:sample_rate=48000:d=1.2"
            ),
            {"escalate"},
        ),
        _clip("missing_audio", {"missing_audio"}, _video(audio=None), {"escalate"}),
        _clip("silent_audio", {"silent_audio"}, _video(af="volume=0"), {"retry"}),
        _clip(
            "audio_dropout",
            {"audio_dropout"},
            _video(af="volume=enable='between(t,0.8,1.3)':volume=0"),
            {"retry"},
        ),
        _clip(
            "letterbox",
            {"letterbox"},
            _video(f"scale={W}:136,pad={W}:{H}:0:22:black,setsar=1"),
            {"escalate"},
        ),
        _clip(
            "pillarbox",
            {"pillarbox"},
            _video(f"scale=240:{H},pad={W}:{H}:40:0:black,setsar=1"),
            {"escalate"},
        ),
        _clip(
            "blur_middle", {"blur"}, _video("gblur=sigma=5:enable='between(t,0.6,1.2)'"), {"retry"}
        ),
        _clip(
            "cut_inside", {"cut"}, ("-f", "lavfi", "-i", cut, "-f", "lavfi", "-i", TONE), {"retry"}
        ),
        _clip(
            "flicker",
            {"flicker"},
            _video("eq=brightness='0.12*(2*mod(n,2)-1)':eval=frame"),
            {"retry"},
        ),
        _clip("corrupt_tail", {"truncated"}, _video(), {"repair", "retry"}, truncate=0.6),
    ]


def build(clip: CorpusClip, directory: Path) -> Path:
    out = directory / f"{clip.name}.mp4"
    if not out.exists():
        run_ffmpeg([*clip.args, *ENCODE, str(out)])
        if clip.truncate is not None:
            data = out.read_bytes()
            out.write_bytes(data[: int(len(data) * clip.truncate)])
    return out
