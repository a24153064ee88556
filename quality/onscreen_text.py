"""On-screen text read by OCR on a few of the decode's thumbnails, checked against the prompt.

Text in double quotes in the prompt (``a title card that reads "NEON HARBOUR"``) must be read on at
least one sampled frame; a prompt without quotes asks for no text, so text read with confidence is
flagged (captions, watermarks, garbage lettering). The reader is RapidOCR (``rapidocr``,
Apache-2.0) with the PP-OCRv6 small detection and recognition models shipped inside its wheel
(Apache-2.0, PaddleOCR), run by onnxruntime on the CPU: nothing is downloaded at run time.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from difflib import SequenceMatcher
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from foundation.spoken import quoted_texts
from quality.errors import QualityError
from quality.events import Finding
from quality.policy import DetectorConfig

if TYPE_CHECKING:
    from quality.analysis import Thumb

MODEL_NAME = "rapidocr PP-OCRv6 small"
_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")


@dataclass(frozen=True)
class TextLine:
    text: str
    confidence: float


class TextReader(Protocol):
    """Reads the lines of text on one RGB image, in reading order."""

    name: str

    def read(self, rgb: npt.NDArray[np.uint8]) -> list[TextLine]: ...


class RapidTextReader:
    """RapidOCR on the bundled models. A RapidOCR pipeline keeps per-call state, so each read
    borrows an engine of its own: gates on parallel threads read side by side instead of queueing
    behind one lock. Engines are built on first need (about 1 s each), at most ``engines`` of them
    (the CPU count by default), and kept for the next reads."""

    name = MODEL_NAME

    def __init__(self, threads: int = 1, engines: int | None = None) -> None:
        self._threads = threads
        self._most = max(1, engines or os.cpu_count() or 1)
        self._idle: list[Any] = []
        self._built = 0
        self._free = threading.Condition()

    def _build(self) -> Any:
        from rapidocr import RapidOCR

        models = resources.files("rapidocr").joinpath("models")
        try:
            return RapidOCR(
                params={
                    "Global.use_cls": False,
                    "Global.log_level": "error",
                    # the thumbnails are read at their own size (RapidOCR's default
                    # scales the short side up to 736 px: 4x the work)
                    "Det.limit_type": "max",
                    "Det.limit_side_len": 640,
                    "Det.model_path": str(models / "PP-OCRv6_det_small.onnx"),
                    "Rec.model_path": str(models / "PP-OCRv6_rec_small.onnx"),
                    "EngineConfig.onnxruntime.intra_op_num_threads": self._threads,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                }
            )
        except Exception as exc:  # onnxruntime's own errors, a damaged wheel
            raise QualityError(f"the OCR models could not load: {exc}") from exc

    def _build_counted(self) -> Any:
        """Build an engine already counted in ``_built`` (uncounted again if it fails)."""
        try:
            return self._build()
        except BaseException:
            with self._free:
                self._built -= 1
                self._free.notify()
            raise

    def _give_back(self, engine: Any) -> None:
        with self._free:
            self._idle.append(engine)
            self._free.notify()

    @contextmanager
    def _engine(self) -> Iterator[Any]:
        with self._free:
            while not self._idle and self._built >= self._most:
                self._free.wait()
            engine = self._idle.pop() if self._idle else None
            if engine is None:
                self._built += 1
        engine = engine if engine is not None else self._build_counted()
        try:
            yield engine
        finally:
            self._give_back(engine)

    def warm(self, engines: int = 1) -> None:
        """Build engines now, one at a time, until ``engines`` exist (at start-up, while renders
        are out), so the first gates that read text find them built. A read that comes meanwhile
        takes a built one or builds its own: nothing waits for the whole warm-up."""
        while True:
            with self._free:
                if self._built >= min(engines, self._most):
                    return
                self._built += 1
            self._give_back(self._build_counted())

    def read(self, rgb: npt.NDArray[np.uint8]) -> list[TextLine]:
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        with self._engine() as engine:
            result = engine(bgr, use_cls=False)
        texts, scores = result.txts or (), result.scores or ()
        return [TextLine(str(t), float(s)) for t, s in zip(texts, scores, strict=True)]


_shared: dict[str, RapidTextReader] = {}


def shared_reader() -> RapidTextReader:
    """One reader per process: its engines' ONNX sessions are loaded once, on first use."""
    return _shared.setdefault(MODEL_NAME, RapidTextReader())


def normalise(text: str) -> str:
    """Upper case, letters and digits only, single spaces: what OCR and a prompt agree on."""
    return _NOT_ALNUM.sub(" ", text.upper()).strip()


def similarity(wanted: str, read: str) -> float:
    """How well ``read`` contains ``wanted`` (0-1): the best match of ``wanted`` against any run of
    ``read``'s words, so a title read together with other lines still matches."""
    target, words = normalise(wanted), normalise(read).split()
    if not target or not words:
        return 0.0
    span = len(target.split())
    best = 0.0
    for size in range(max(1, span - 1), span + 2):
        for first in range(max(1, len(words) - size + 1)):
            piece = " ".join(words[first : first + size])
            best = max(best, SequenceMatcher(None, target, piece).ratio())
    return best


def sample_thumbs(thumbs: list[Thumb], count: int) -> list[Thumb]:
    """``count`` thumbnails spread over the clip, away from its first and last frame (fades)."""
    if count <= 0 or not thumbs:
        return []
    if len(thumbs) <= count:
        return list(thumbs)
    picks = np.linspace(0, len(thumbs) - 1, count + 2)[1:-1].round().astype(int)
    return [thumbs[i] for i in picks]


@dataclass(frozen=True)
class FrameText:
    time_s: float
    lines: list[TextLine]

    @property
    def joined(self) -> str:
        return " ".join(line.text for line in self.lines)


def read_frames(
    thumbs: list[Thumb], reader: TextReader, cfg: DetectorConfig, source_width: int = 0
) -> list[FrameText]:
    """The confident lines of at least ``text_min_chars`` letters or digits on each sampled frame,
    read at most at the clip's own width (an upscaled thumbnail holds no more text, and costs more)."""
    out = []
    for thumb in sample_thumbs(thumbs, cfg.ocr_frames):
        rgb = thumb.rgb
        if 0 < source_width < rgb.shape[1]:
            height = max(2, round(rgb.shape[0] * source_width / rgb.shape[1]))
            rgb = np.asarray(
                cv2.resize(rgb, (source_width, height), interpolation=cv2.INTER_AREA), np.uint8
            )
        lines = [
            line
            for line in reader.read(rgb)
            if line.confidence >= cfg.text_min_confidence
            and len(normalise(line.text).replace(" ", "")) >= cfg.text_min_chars
        ]
        out.append(FrameText(thumb.time_s, lines))
    return out


def check_text(
    prompt: str | None,
    thumbs: list[Thumb],
    cfg: DetectorConfig,
    reader: TextReader | None = None,
    source_width: int = 0,
) -> list[Finding]:
    """``onscreen_text`` (info) when each quoted text is read, ``wrong_text`` when something else
    is, ``missing_text`` when nothing is; ``unexpected_text`` when the prompt quotes none. A
    quoted text the comparison cannot see (another script, under ``text_min_chars``) is not
    checked: an ``onscreen_text`` info says so."""
    if prompt is None or cfg.ocr_frames <= 0 or not thumbs:
        return []
    frames = read_frames(thumbs, reader or shared_reader(), cfg, source_width)
    wanted = quoted_texts(prompt)
    if not wanted:
        return _unexpected(frames)
    return [_match(text, frames, cfg) for text in wanted]


def _match(wanted: str, frames: list[FrameText], cfg: DetectorConfig) -> Finding:
    if len(normalise(wanted).replace(" ", "")) < cfg.text_min_chars:
        # what no reading could match: the comparison sees Latin letters and digits only, and
        # lines shorter than text_min_chars are not kept (a sign reading "مرحبا" failed every take)
        at = frames[0].time_s
        message = (
            f'"{wanted}" is not checked: it has fewer than {cfg.text_min_chars} Latin letters or '
            "digits, all the on-screen text check compares"
        )
        return Finding("onscreen_text", message, at, at, "info", None)
    scored = [(similarity(wanted, frame.joined), frame) for frame in frames]
    score, frame = max(scored, key=lambda pair: pair[0])
    at = frame.time_s
    if score >= cfg.text_match:
        return Finding("onscreen_text", f'reads "{wanted}"', at, at, "info", score)
    if not any(f.lines for f in frames):
        message = f'the prompt asks for "{wanted}" but no text was read on {len(frames)} frames'
        return Finding("missing_text", message, frames[0].time_s, frames[-1].time_s, "error", 0.0)
    read = max((f for f in frames if f.lines), key=lambda f: similarity(wanted, f.joined))
    message = (
        f'the prompt asks for "{wanted}" but the frame reads "{_short(read.joined)}" '
        f"({similarity(wanted, read.joined):.0%} alike)"
    )
    return Finding("wrong_text", message, read.time_s, read.time_s, "error", score)


def _unexpected(frames: list[FrameText]) -> list[Finding]:
    texts = [f for f in frames if f.lines]
    if not texts:
        return []
    first, last = texts[0], texts[-1]
    message = f'text on screen the prompt does not ask for: "{_short(first.joined)}"'
    return [Finding("unexpected_text", message, first.time_s, last.time_s, "warning", len(texts))]


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
