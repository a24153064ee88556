"""Per-frame measurements taken during the single decode. Each ``add`` does a bounded amount of
NumPy/OpenCV work on a small proxy so the pass stays close to the cost of decoding alone."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import av
import cv2
import numpy as np
import numpy.typing as npt

from media.colour import full_range as colour_full_range
from media.colour import to_rgb
from quality.policy import DetectorConfig

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Gray = npt.NDArray[np.uint8]
EIGHT_BIT_LUMA = {
    "yuv420p",
    "yuvj420p",
    "yuv422p",
    "yuvj422p",
    "yuv444p",
    "yuvj444p",
    "yuv440p",
    "yuvj440p",
    "yuv411p",
    "yuv410p",
    "nv12",
    "nv21",
    "nv16",
    "gray",
    "yuva420p",
}
PLANAR_YUV = EIGHT_BIT_LUMA - {"nv12", "nv21", "nv16", "gray"}
HIST_BINS = 32
LEVELS = np.arange(256, dtype=np.float64)
LIMITED_LUMA = np.round(16 + LEVELS * 219 / 255).astype(np.uint8)  # full-range value -> limited
LIMITED_CHROMA = np.round(128 + (LEVELS - 128) * 224 / 255).astype(np.uint8)
COLOUR_BINS = 16
MIN_FLOW_SIDE = 32
"""Optical flow runs only on a proxy at least this many pixels a side: OpenCV 5.1's DIS flow
raises on smaller pictures and kills the process (SIGSEGV) on ones under 32 rows and wider than
tall (measured: 24x100 and 31x100 crash, 32x100 and 32x4000 do not)."""


@dataclass(frozen=True)
class ColourSample:
    """Colour statistics of one frame: mean Y/U/V, per-plane histograms, luma mean and spread."""

    time_s: float
    mean_yuv: tuple[float, float, float]
    hist: F32  # shape (3, COLOUR_BINS) for Y, U, V; each row sums to 1
    luma_mean: float
    luma_std: float


@dataclass(frozen=True)
class VideoSeries:
    """Per-frame arrays (one entry per decoded frame) plus sampled sharpness and motion."""

    times: F64
    frame_s: float
    end_s: float
    mean: F32
    mad: F32  # mean absolute luma difference to the previous frame; +inf for the first frame
    held: F32  # the same to the frame ``held_from`` (``freeze_lag_s`` earlier); +inf without one
    held_from: npt.NDArray[np.int64]
    hist_delta: F32  # half L1 distance of luma histograms to the previous frame, in [0, 1]
    black: npt.NDArray[np.bool_]
    crushed: F32  # share of proxy pixels at or under dark_level
    blown: F32  # share of proxy pixels at or over bright_level
    sample_index: npt.NDArray[np.int64]
    sharpness: F32  # 100 x var(Laplacian) / var(luma) at the fixed analysis size (contrast-free)
    motion: F32  # top-5% optical-flow magnitude between consecutive samples (px at short side 256)
    row_max: F32  # brightest proxy value per row over non-black frames (stored orientation)
    col_max: F32
    width: int
    height: int
    rotation: int = 0


class VideoAccumulator:
    def __init__(self, cfg: DetectorConfig, fps: float, keep_thumbs: bool) -> None:
        self.cfg = cfg
        self.fps = fps
        self.keep_thumbs = keep_thumbs
        self.sample_every = max(1, round(fps / cfg.sample_fps))
        self.colour_every = max(1, round(fps / cfg.colour_fps))
        self.thumb_every = max(1, round(fps / cfg.thumb_fps))
        self.rows: list[tuple[float, float, float, float, bool, float, float, float, int]] = []
        self.earlier: deque[tuple[int, float, Gray]] = deque()
        self.hists: npt.NDArray[np.float64] | None = None
        self.prev: npt.NDArray[np.uint8] | None = None
        self.prev_sample: npt.NDArray[np.uint8] | None = None
        self.samples: list[tuple[int, float, float]] = []
        self.row_max: npt.NDArray[np.uint8] | None = None
        self.col_max: npt.NDArray[np.uint8] | None = None
        self.colour: list[ColourSample] = []
        self.thumbs: list[tuple[float, npt.NDArray[np.uint8]]] = []
        self.last_frame: av.VideoFrame | None = None
        self.t0: float | None = None
        self.size = (0, 0)
        self.rotation = 0
        self.flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)

    def add(self, frame: av.VideoFrame) -> None:
        index = len(self.rows)
        t = frame.time if frame.time is not None else index / self.fps
        if self.t0 is None:
            self.t0 = t
            self.rotation = round(float(frame.rotation)) % 360
        t -= self.t0
        luma = luma_plane(frame)
        self.size = (frame.width, frame.height)
        proxy = limited_proxy(frame, luma, self.cfg.proxy_short_side)
        self._frame_stats(index, t, proxy)
        if index % self.sample_every == 0:
            self._sample(index, luma, proxy)
        if index % self.colour_every == 0:
            self.colour.append(colour_sample(frame, t, proxy))
        if self.keep_thumbs and index % self.thumb_every == 0:
            self.thumbs.append((t, thumb(frame, self.cfg.thumb_width)))
        self.last_frame = frame
        self.prev = proxy

    def _frame_stats(self, index: int, t: float, proxy: npt.NDArray[np.uint8]) -> None:
        cfg = self.cfg
        n = proxy.size
        full = np.asarray(cv2.calcHist([proxy], [0], None, [256], [0, 256]), np.float64).ravel() / n
        cumulative = np.cumsum(full)
        hist = full.reshape(HIST_BINS, -1).sum(axis=1)
        black = cumulative[cfg.black_pixel_level] >= cfg.black_share
        if self.prev is None or self.prev.shape != proxy.shape or self.hists is None:
            mad, delta = float("inf"), 1.0
        else:
            mad = cv2.norm(proxy, self.prev, cv2.NORM_L1) / n
            delta = 0.5 * float(np.abs(hist - self.hists).sum())
        crushed = float(cumulative[cfg.dark_level])
        blown = float(1.0 - cumulative[cfg.bright_level - 1])
        mean = float(full @ LEVELS)
        held, held_from = self._held(index, t, proxy)
        self.rows.append((t, mean, mad, delta, bool(black), crushed, blown, held, held_from))
        self.hists = hist
        if not black:
            rows, cols = proxy.max(axis=1), proxy.max(axis=0)
            if self.row_max is None or self.col_max is None or self.row_max.shape != rows.shape:
                self.row_max, self.col_max = rows, cols
            else:
                np.maximum(self.row_max, rows, out=self.row_max)
                np.maximum(self.col_max, cols, out=self.col_max)

    def _held(self, index: int, t: float, proxy: Gray) -> tuple[float, int]:
        """Mean absolute difference of ``proxy`` to the latest frame ``freeze_lag_s`` or more
        earlier (the previous one at 30 fps or less), and that frame's index (+inf and ``index``
        without one). One frame an eighth of the lag is kept: nine proxies at most at any rate."""
        lag = self.cfg.freeze_lag_s * 0.99  # a 30 fps step of 1/30 s, read from PTS, is one lag
        earlier = self.earlier
        while len(earlier) > 1 and earlier[1][1] <= t - lag:
            earlier.popleft()
        if not earlier or earlier[-1][1] <= t - lag / 8:
            earlier.append((index, t, proxy))
        ref_index, ref_t, ref = earlier[0]
        if ref_t > t - lag or ref.shape != proxy.shape:
            return float("inf"), index
        return cv2.norm(proxy, ref, cv2.NORM_L1) / proxy.size, ref_index

    def _sample(
        self, index: int, luma: npt.NDArray[np.uint8], proxy: npt.NDArray[np.uint8]
    ) -> None:
        short = self.cfg.blur_short_side
        h, w = luma.shape
        size = (max(1, round(w * short / min(h, w))), max(1, round(h * short / min(h, w))))
        pre = max(1, min(h, w) // (2 * short))
        small = cv2.resize(luma[::pre, ::pre], size, interpolation=cv2.INTER_AREA)
        _, lap_std = cv2.meanStdDev(cv2.Laplacian(small, cv2.CV_16S))
        _, std = cv2.meanStdDev(small)
        sharp = 100.0 * (float(lap_std[0][0]) / max(float(std[0][0]), 1.0)) ** 2
        motion = float("nan")
        # min-max stretch so fades and exposure drift do not read as motion
        stretched = np.asarray(
            cv2.normalize(proxy, None, 0, 255, cv2.NORM_MINMAX),
            np.uint8,
        )
        if (
            self.prev_sample is not None
            and self.prev_sample.shape == proxy.shape
            and min(proxy.shape) >= MIN_FLOW_SIDE
        ):
            flow = np.asarray(self.flow.calc(self.prev_sample, stretched, None))  # type: ignore[call-overload]
            # flow is only trusted on textured pixels that actually changed (aperture problem)
            changed = cv2.absdiff(self.prev_sample, stretched) > 4
            textured = _textured(stretched)
            mag = np.sqrt(flow[..., 0] ** 2 + flow[..., 1] ** 2) * changed
            mag = mag[textured] if textured.any() else mag.ravel()
            top = np.partition(mag, int(mag.size * 0.95))[int(mag.size * 0.95) :]
            motion = float(top.mean()) * 256.0 / min(proxy.shape)
        self.samples.append((index, sharp, motion))
        self.prev_sample = stretched

    def finish(self) -> VideoSeries | None:
        if not self.rows:
            return None
        if self.last_frame is not None and self.colour and len(self.rows) > 1:
            t = self.rows[-1][0]
            if self.colour[-1].time_s < t and self.prev is not None:
                self.colour.append(colour_sample(self.last_frame, t, self.prev))
        if (
            self.keep_thumbs
            and self.last_frame is not None
            and self.thumbs[-1][0] < self.rows[-1][0]
        ):
            self.thumbs.append((self.rows[-1][0], thumb(self.last_frame, self.cfg.thumb_width)))
        cols = list(zip(*self.rows, strict=True))
        times = np.asarray(cols[0], np.float64)
        frame_s = float(np.median(np.diff(times))) if times.size > 1 else 1.0 / self.fps
        samples = list(zip(*self.samples, strict=True)) if self.samples else [(), (), ()]
        empty = np.zeros(0, np.uint8)
        return VideoSeries(
            times=times,
            frame_s=frame_s,
            end_s=float(times[-1]) + frame_s,
            mean=np.asarray(cols[1], np.float32),
            mad=np.asarray(cols[2], np.float32),
            hist_delta=np.asarray(cols[3], np.float32),
            black=np.asarray(cols[4], bool),
            crushed=np.asarray(cols[5], np.float32),
            blown=np.asarray(cols[6], np.float32),
            held=np.asarray(cols[7], np.float32),
            held_from=np.asarray(cols[8], np.int64),
            sample_index=np.asarray(samples[0], np.int64),
            sharpness=np.asarray(samples[1], np.float32),
            motion=np.asarray(samples[2], np.float32),
            row_max=(self.row_max if self.row_max is not None else empty).astype(np.float32),
            col_max=(self.col_max if self.col_max is not None else empty).astype(np.float32),
            width=self.size[0],
            height=self.size[1],
            rotation=self.rotation,
        )


def _textured(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Pixels with a clear gradient: optical flow is only defined there."""
    gx = cv2.Sobel(image, cv2.CV_16S, 1, 0, ksize=3)
    gy = cv2.Sobel(image, cv2.CV_16S, 0, 1, ksize=3)
    return np.asarray((np.abs(gx) + np.abs(gy)) > 96)


def luma_plane(frame: av.VideoFrame) -> npt.NDArray[np.uint8]:
    """The frame's 8-bit luma, read from its plane without conversion where it has one (as
    stored: ``luma_full_range`` says on which scale)."""
    if frame.format.name not in EIGHT_BIT_LUMA:
        frame = frame.reformat(format="gray")
    return _plane(frame, 0, 1)


def limited_proxy(frame: av.VideoFrame, luma: npt.NDArray[np.uint8], short_side: int) -> Gray:
    """``luma_proxy`` of the frame's ``luma_plane`` on the limited-range scale (black 16, white
    235) most clips are stored in: a full-range or deeper clip's is mapped onto it, so the same
    picture measures the same whatever its range or bit depth."""
    proxy = luma_proxy(luma, short_side)
    return np.take(LIMITED_LUMA, proxy) if luma_full_range(frame) else proxy


def luma_full_range(frame: av.VideoFrame) -> bool:
    """Whether ``luma_plane`` of ``frame`` uses the full 0-255 range (``gray``, to which deeper
    formats are converted, ``yuvj*``, ``color_range`` JPEG) rather than the limited one."""
    return frame.format.name not in EIGHT_BIT_LUMA or full_range(frame)


def full_range(frame: av.VideoFrame) -> bool:
    """Whether ``frame``'s own planes use the full 0-255 range rather than the limited one."""
    name = frame.format.name
    return name == "gray" or colour_full_range(name, int(frame.color_range))


def luma_proxy(luma: npt.NDArray[np.uint8], short_side: int) -> npt.NDArray[np.uint8]:
    """Every n-th pixel of ``luma`` in both directions, n bringing its short side near
    ``short_side`` (the gate's proxy; the colour samples' luma statistics come from it)."""
    step = max(1, round(min(luma.shape) / short_side))
    return np.ascontiguousarray(luma[::step, ::step])


def _plane(frame: av.VideoFrame, index: int, step: int) -> npt.NDArray[np.uint8]:
    plane = frame.planes[index]
    data: npt.NDArray[np.uint8] = np.frombuffer(memoryview(plane), np.uint8)
    rows = data.reshape(-1, plane.line_size)
    return rows[: plane.height, : plane.width][::step, ::step]


def colour_sample(frame: av.VideoFrame, t: float, proxy: npt.NDArray[np.uint8]) -> ColourSample:
    """Y, U and V statistics read straight from the planes (no colour conversion), chroma on the
    limited scale like ``proxy`` (``limited_proxy``)."""
    full = full_range(frame)
    if frame.format.name not in PLANAR_YUV:
        frame = frame.reformat(format="yuv420p")
    step = max(1, round(min(frame.planes[1].height, frame.planes[1].width) / 36))
    chroma = [_plane(frame, 1, step), _plane(frame, 2, step)]
    if full:
        chroma = [np.take(LIMITED_CHROMA, c) for c in chroma]
    channels = [proxy, *chroma]
    hist = np.stack(
        [np.bincount((c >> 4).ravel(), minlength=COLOUR_BINS) / c.size for c in channels]
    ).astype(np.float32)
    return ColourSample(
        time_s=t,
        mean_yuv=(float(proxy.mean()), float(channels[1].mean()), float(channels[2].mean())),
        hist=hist,
        luma_mean=float(proxy.mean()),
        luma_std=float(proxy.std()),
    )


def thumb(frame: av.VideoFrame, width: int) -> npt.NDArray[np.uint8]:
    """The frame as RGB ``width`` wide, its Y'CbCr read as players do (``media.colour.to_rgb``)."""
    height = max(2, round(frame.height * width / max(1, frame.width) / 2) * 2)
    return to_rgb(frame, "rgb24", width, height)


SPEECH_RATE = 16_000
AUDIO_GAP_S = 0.05  # one audio level block (``quality.audio.BLOCK_S``)
MAX_AUDIO_GAP_S = 10.0  # a garbage timestamp jump fills no more than this


SAMPLE_DTYPES = {"u8": "u1", "s16": "<i2", "s32": "<i4", "s64": "<i8", "flt": "<f4", "dbl": "<f8"}


def samples_of(frame: av.AudioFrame) -> npt.NDArray[np.generic]:
    """The frame's samples as (channels, samples), read from one plane per channel: PyAV 18's
    ``to_ndarray`` reads one plane past the last of eight or more planar channels (7.1) and
    crashes the process."""
    channels, count = len(frame.layout.channels), frame.samples
    dtype = np.dtype(SAMPLE_DTYPES[frame.format.name.rstrip("p")])
    if not frame.format.is_planar:
        packed = np.frombuffer(memoryview(frame.planes[0]), dtype)[: count * channels]
        return packed.reshape(-1, channels).T
    planes = frame.planes
    return np.stack([np.frombuffer(memoryview(planes[i]), dtype)[:count] for i in range(channels)])


class AudioAccumulator:
    """Collects decoded audio as float32 (channels, samples) in [-1, 1]; with ``keep_speech``, also
    a 16 kHz mono 16-bit copy (what voice activity detection reads), resampled by FFmpeg as the
    frames arrive."""

    def __init__(self, keep_speech: bool = False) -> None:
        self.chunks: list[npt.NDArray[np.float32]] = []
        self.rate = 0
        self.resampler = (
            av.AudioResampler(format="s16", layout="mono", rate=SPEECH_RATE)
            if keep_speech
            else None
        )
        self.speech: list[npt.NDArray[np.int16]] = []
        self.next_s: float | None = None

    def add(self, frame: av.AudioFrame) -> None:
        self.rate = frame.sample_rate
        gap = self._gap(frame)
        if self.resampler is not None:
            frame.pts = None  # resample by sample count; gaps are the dropout check's business
            for mono in self.resampler.resample(frame):
                self.speech.append(mono.to_ndarray().reshape(-1).astype(np.int16, copy=False))
        data = samples_of(frame)
        if data.dtype.kind == "i":
            scale = float(np.iinfo(data.dtype.type).max) + 1.0  # type: ignore[type-var]
            chunk = (data.astype(np.float32) / scale).astype(np.float32)
        elif data.dtype.kind == "u":
            chunk = ((data.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
        else:
            chunk = data.astype(np.float32, copy=False)
        if gap:
            self.chunks.append(np.zeros((chunk.shape[0], gap), np.float32))
        self.chunks.append(chunk)

    def _gap(self, frame: av.AudioFrame) -> int:
        """Samples missing before ``frame`` by its timestamp (packets lost, a timestamp jump),
        so a gap reads as the silence it plays as; jitter under ``AUDIO_GAP_S`` is ignored."""
        start, expected = frame.time, self.next_s
        self.next_s = (start if start is not None else expected or 0.0) + frame.samples / self.rate
        if start is None or expected is None or start - expected < AUDIO_GAP_S:
            return 0
        return round(min(start - expected, MAX_AUDIO_GAP_S) * self.rate)

    def speech_pcm(self) -> npt.NDArray[np.int16] | None:
        """The 16 kHz mono track, or None when it was not asked for."""
        if self.resampler is None:
            return None
        for mono in self.resampler.resample(None):
            self.speech.append(mono.to_ndarray().reshape(-1).astype(np.int16, copy=False))
        return np.concatenate(self.speech) if self.speech else np.zeros(0, np.int16)

    def finish(self) -> tuple[npt.NDArray[np.float32], int] | None:
        if not self.chunks:
            return np.zeros((1, 0), np.float32), self.rate
        channels = min(c.shape[0] for c in self.chunks)
        return np.concatenate([c[:channels] for c in self.chunks], axis=1), self.rate
