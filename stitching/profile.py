"""The output profile every segment is normalised to, and frame/sample arithmetic at its rate."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import Field

from foundation.limits import MAX_LOUDNESS_LUFS, MAX_SIDE, MIN_LOUDNESS_LUFS
from foundation.storyboard import OutputSpec, Transition
from foundation.timeline import exact_rate, frames_for, transition_frames

X264Preset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]


@dataclass(frozen=True)
class OutputProfile:
    """What the deliverable looks like; every normalised segment shares it exactly.

    ``fps`` accepts a float or a ``Fraction`` and is stored as an exact ``Fraction``. The
    annotations' bounds are what a stored plan may hold (``plan.EditPlan.from_json``): the
    values the stitcher was measured with: x264 (with an alpha overlay format for ``yuv420p``
    only), 48 kHz sound (the loudness meter's and the AAC grid's), FFmpeg's stable AAC coders.
    """

    width: Annotated[int, Field(ge=16, le=MAX_SIDE)]
    height: Annotated[int, Field(ge=16, le=MAX_SIDE)]
    fps: Fraction | float
    loudness_lufs: Annotated[float, Field(ge=MIN_LOUDNESS_LUFS, le=MAX_LOUDNESS_LUFS)] = -16.0
    true_peak_db: Annotated[float, Field(ge=-9.0, le=0.0)] = -1.0
    sample_rate: Literal[48000] = 48000
    video_codec: Literal["libx264"] = "libx264"
    preset: X264Preset = "veryfast"
    crf: Annotated[int, Field(ge=0, le=51)] = 20
    pix_fmt: Literal["yuv420p"] = "yuv420p"
    gop_seconds: Annotated[float, Field(gt=0.0, le=60.0)] = 2.0
    audio_bitrate: Annotated[int, Field(ge=32_000, le=512_000)] = 192_000
    aac_coder: Literal["fast", "twoloop"] = "fast"
    max_hold_frames: Annotated[int, Field(ge=0, le=1000)] = 3
    max_shot_gain_db: Annotated[float, Field(ge=0.0, le=60.0)] = 12.0
    channels: int = field(default=2, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fps", exact_rate(self.fps))
        if self.width < 16 or self.height < 16 or self.width % 2 or self.height % 2:
            raise ValueError(f"size {self.width}x{self.height} needs even sides of at least 16")

    @property
    def rate(self) -> Fraction:
        return Fraction(self.fps)

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def gop_frames(self) -> int:
        return max(1, round(self.gop_seconds * self.rate))

    @property
    def verify_margin(self) -> int:
        """Frames either side of a join that the verifier decodes (an eighth of a second)."""
        return max(3, round(self.rate / 8))

    @property
    def timescale(self) -> int:
        """MP4 video track timescale in which one frame lasts a whole number of ticks, at least
        10000: FFmpeg's mov muxer doubles a smaller one until it is (``movenc.c``, without
        ``video_track_timescale``), so the file's timestamps would not be the ones written (at
        13.37 fps, ``1337/100``: every packet differed and the verified stitch failed)."""
        num = self.rate.numerator
        if num < 1000:
            return num * 1000 // self.rate.denominator * self.rate.denominator
        scale = num
        while scale < 10_000:
            scale *= 2
        return scale

    @property
    def frame_ticks(self) -> int:
        return int(self.timescale / self.rate)

    def frames_for(self, seconds: float) -> int:
        return frames_for(seconds, self.rate)

    def samples_for(self, frames: int) -> int:
        """Audio samples spanning ``frames`` video frames (exact rational, then rounded)."""
        return round(Fraction(frames * self.sample_rate) / self.rate)

    def seconds(self, frames: int) -> float:
        return float(frames / self.rate)

    def transition_frames(self, transition: Transition) -> int:
        return transition_frames(transition.kind, transition.seconds, self.rate)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fps"] = str(self.rate)
        data.pop("channels")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutputProfile:
        return cls(**{**data, "fps": exact_rate(str(data["fps"]))})

    @classmethod
    def from_output_spec(cls, spec: OutputSpec) -> OutputProfile:
        """The stitcher's profile of a checked ``output`` (a storyboard's, or ``stitch``'s)."""
        return cls(spec.width, spec.height, spec.fps, loudness_lufs=spec.loudness_lufs)
