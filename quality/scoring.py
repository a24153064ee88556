"""AI/technical scores. ``TechnicalScorer`` is the weight-free default built from the detectors;
``JudgeScorer`` asks a vision-LLM judge and degrades to the technical score when it cannot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from adapters.errors import ProviderError
from adapters.judges import GeminiJudge, JudgeClient, JudgeFrame, JudgeRequest
from foundation.settings import Settings
from quality.analysis import ClipAnalysis
from quality.events import Finding
from quality.expectation import ClipExpectation
from quality.openai_judge import DatedOpenAIJudge
from registry import Registry, load_registry

SEVERITY_WEIGHT = {"error": 0.5, "warning": 0.12, "info": 0.0}


@dataclass(frozen=True)
class ScoreResult:
    """``score`` in [0, 1]. ``available`` is False when a judge could not run (the caller then
    keeps the technical score and records ``notes``)."""

    score: float
    source: str
    components: dict[str, float] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    cost_usd: float = 0.0
    notes: tuple[str, ...] = ()
    available: bool = True


class Scorer(Protocol):
    """Scores one analysed clip. ``needs_frames`` asks the decode pass to keep RGB thumbnails."""

    name: str
    needs_frames: bool

    def score(
        self, clip: ClipAnalysis, expect: ClipExpectation, findings: Sequence[Finding]
    ) -> ScoreResult: ...


class TechnicalScorer:
    """Product over findings of ``1 - w(severity) * (0.5 + 0.5 * coverage)``, where coverage is the
    share of the clip an interval finding spans (whole-clip findings count as 1)."""

    name = "technical"
    needs_frames = False

    def score(
        self, clip: ClipAnalysis, expect: ClipExpectation, findings: Sequence[Finding]
    ) -> ScoreResult:
        if clip.video is None:
            return ScoreResult(0.0, self.name, {"integrity": 0.0})
        length = max(clip.video.end_s, 1e-6)
        score = 1.0
        for finding in findings:
            coverage = 1.0 if finding.start is None else min(1.0, finding.duration / length)
            score *= 1.0 - SEVERITY_WEIGHT[finding.severity] * (0.5 + 0.5 * coverage)
        components = {"defects": score}
        motion = clip.video.motion[np.isfinite(clip.video.motion)]
        if motion.size:
            components["motion_px"] = float(np.median(motion))
        sharp = clip.video.sharpness
        if sharp.size:
            components["sharpness"] = float(np.median(sharp))
        return ScoreResult(max(0.0, min(1.0, score)), self.name, components)


def jpeg_frames(clip: ClipAnalysis, limit: int) -> tuple[JudgeFrame, ...]:
    thumbs = clip.thumbs
    if len(thumbs) > limit:
        picks = np.linspace(0, len(thumbs) - 1, limit).round().astype(int)
        thumbs = [thumbs[i] for i in picks]
    frames = []
    for thumb in thumbs:
        ok, data = cv2.imencode(
            ".jpg", cv2.cvtColor(thumb.rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]
        )
        if ok:
            frames.append(JudgeFrame(thumb.time_s, data.tobytes()))
    return tuple(frames)


class JudgeScorer:
    """A VLM judge (``adapters.judges``) scoring prompt adherence, visual quality, temporal
    coherence and anatomy. Never raises: failures come back with ``available=False``."""

    name = "judge"
    needs_frames = True

    def __init__(self, client: JudgeClient, max_frames: int = 8, send_video: bool = False) -> None:
        self.client = client
        self.max_frames = max_frames
        self.send_video = send_video

    def score(
        self, clip: ClipAnalysis, expect: ClipExpectation, findings: Sequence[Finding]
    ) -> ScoreResult:
        duration = clip.video.end_s if clip.video is not None else 0.0
        video = Path(clip.info.path).read_bytes() if self.send_video else None
        request = JudgeRequest(expect.prompt, duration, jpeg_frames(clip, self.max_frames), video)
        try:
            result = self.client.judge(request)
        except ProviderError as exc:
            note = f"judge {self.client.name} unavailable ({exc.kind}: {exc}); local score used"
            return ScoreResult(0.0, self.client.name, notes=(note,), available=False)
        issues = tuple(
            Finding(
                "judge_issue",
                f"{i.category}: {i.description}",
                max(0.0, i.start_s),
                max(i.start_s, i.end_s),
                "warning",
                None,
            )
            for i in result.issues
        )
        components = {f"judge_{k}": v for k, v in result.scores.items()}
        note = (
            f"judge {result.provider}/{result.model}: {result.overall:.2f} (${result.cost_usd:.5f})"
        )
        return ScoreResult(
            result.overall, result.provider, components, issues, result.cost_usd, (note,)
        )


def judge_from_settings(
    settings: Settings, base_url: str | None = None, registry: Registry | None = None
) -> JudgeScorer | None:
    """A Gemini judge when ``SHOTLINE_GEMINI_API_KEY`` is set, else an OpenAI-compatible one when
    ``SHOTLINE_OPENAI_API_KEY`` is set, on the model of ``registry`` (default: the settings' own)
    for the day of each call (``DatedOpenAIJudge``), else None (the gate then uses the technical
    score)."""
    if settings.gemini_api_key is not None:
        key = settings.gemini_api_key.get_secret_value()
        gemini = GeminiJudge(key, base_url=base_url) if base_url else GeminiJudge(key)
        return JudgeScorer(gemini)
    if settings.openai_api_key is not None:
        key = settings.openai_api_key.get_secret_value()
        url = base_url or "https://api.openai.com/v1"
        catalog = registry if registry is not None else load_registry(settings.registry)
        return JudgeScorer(DatedOpenAIJudge(key, url, catalog))
    return None
