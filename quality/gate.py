"""The quality gate: probe, one decode, detectors, checks against the request, a score, a verdict.

``evaluate`` is what the pipeline calls for every attempt. It never raises for a bad file: an
undecodable or truncated file is a finding like any other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from foundation.limits import MAX_PIXELS
from foundation.spoken import quoted_texts
from media.colour import hdr_transfer
from media.probe import MediaInfo, probe
from quality.analysis import ClipAnalysis, analyse
from quality.checks import check_audio, check_integrity, check_request, expected_duration
from quality.consistency import plane_matrix, profile_from
from quality.detectors import detect_video
from quality.events import Finding
from quality.expectation import ClipExpectation
from quality.frame_checks import UPSCALED_SIDE, FrameSignals, check_safety, measure_quality
from quality.image_safety import FrameSafety
from quality.local_score import default_model, signals
from quality.onscreen_text import check_text, shared_reader
from quality.policy import GatePolicy, default_policy
from quality.scoring import Scorer, ScoreResult, TechnicalScorer
from quality.speech import check_speech
from quality.verdict import apply_tier, decide

VerdictAction = Literal["accept", "repair", "retry", "escalate", "give_up"]


@dataclass(frozen=True)
class Verdict:
    """The gate's answer. ``drivers`` are the findings behind ``action``; ``repair`` is the
    keep-range (seconds) to trim to when ``action == "repair"``."""

    action: VerdictAction
    findings: list[Finding]
    drivers: list[Finding]
    score: float
    repair: tuple[float, float] | None = None
    notes: list[str] = field(default_factory=list)
    judge_cost_usd: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    colour: dict[str, Any] | None = None  # the kept clip's ``ColourProfile.to_json()``

    @property
    def ok(self) -> bool:
        return self.action in ("accept", "repair")

    @property
    def local_score(self) -> float:
        return self.scores.get("local", self.score)

    @property
    def judge_score(self) -> float | None:
        return self.scores.get("judge")

    def to_dict(self) -> dict[str, Any]:
        judge = self.judge_score
        return {
            "action": self.action,
            "score": round(self.score, 4),
            "local_score": round(self.local_score, 4),
            "judge_score": None if judge is None else round(judge, 4),
            "repair": list(self.repair) if self.repair else None,
            "drivers": [f.to_dict() for f in self.drivers],
            "findings": [f.to_dict() for f in self.findings],
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
            "metrics": {k: round(v, 4) for k, v in self.metrics.items()},
            "colour": self.colour,
            "notes": list(self.notes),
            "judge_cost_usd": round(self.judge_cost_usd, 6),
        }


def measure(clip: ClipAnalysis, expect: ClipExpectation, policy: GatePolicy) -> list[Finding]:
    """Every finding for an analysed clip, before the tier is applied."""
    cfg = policy.detectors
    findings = check_integrity(clip, cfg)
    if clip.video is None:
        return findings
    findings += detect_video(clip.video, cfg, clip.info.rotation)
    request = check_request(clip, expect, cfg)
    if any(f.code == "truncated" for f in findings):
        request = [f for f in request if f.code != "short_duration"]
    findings += request
    findings += check_audio(clip, expect, cfg)
    findings += check_speech(clip.speech_pcm, expect, cfg)
    if _reads_text(expect, policy):
        source_width = max(clip.video.width, clip.video.height)  # rotated: either side is wide
        findings += check_text(expect.prompt, clip.thumbs, cfg, source_width=source_width)
    return sorted(findings, key=lambda f: (f.start if f.start is not None else -1.0, f.code))


def _reads_text(expect: ClipExpectation, policy: GatePolicy) -> bool:
    """OCR runs when the prompt quotes text, or on every prompt when the tier watches for text."""
    if expect.prompt is None or policy.detectors.ocr_frames <= 0:
        return False
    return bool(quoted_texts(expect.prompt)) or policy.tier(expect.tier).watch_text


def _sharpness(clip: ClipAnalysis, components: dict[str, float]) -> dict[str, float]:
    """The sharpness the local score reads, of a source at least ``UPSCALED_SIDE`` on its shorter
    side: it is measured with the short side scaled to 270 px, so a smaller source's measures its
    upscaling (a 32x256 animatic: 2.9, under the corpus's least good clip; its verdict escalated
    to nowhere in a free preview)."""
    video = clip.video
    if "sharpness" not in components or video is None:
        return {}
    if min(video.width, video.height) < UPSCALED_SIDE:
        return {}
    return {"sharpness": components["sharpness"]}


def frame_signals(
    clip: ClipAnalysis, policy: GatePolicy, safety: FrameSafety | None
) -> FrameSignals:
    """Image safety and image quality on the decode's thumbnails."""
    out = FrameSignals()
    if clip.video is None:
        return out
    for part in (
        check_safety(clip.thumbs, safety, policy.detectors) if safety is not None else None,
        measure_quality(clip.thumbs, policy.detectors, min(clip.video.width, clip.video.height)),
    ):
        if part is not None:
            out.findings += part.findings
            out.values |= part.values
    return out


def _metrics(clip: ClipAnalysis) -> dict[str, float]:
    out: dict[str, float] = {"analysis_s": clip.elapsed_s}
    if clip.video is not None:
        out |= {"video_s": clip.video.end_s, "frames": float(clip.video.times.size)}
    if clip.audio is not None:
        out |= {"audio_s": clip.audio.duration_s, "audio_peak": clip.audio.peak}
        if clip.audio.loudness_lufs > float("-inf"):
            out["loudness_lufs"] = clip.audio.loudness_lufs
    return out


def reads_text(tiers: set[str], prompts: list[str], policy: GatePolicy | None = None) -> bool:
    """Whether gates of these tiers on clips of these prompts run OCR (``_reads_text``'s rule for
    a whole job, before its clips exist)."""
    policy = policy or default_policy()
    if policy.detectors.ocr_frames <= 0:
        return False
    if any(policy.tier(tier).watch_text for tier in tiers):
        return True
    return any(quoted_texts(prompt) for prompt in prompts)


def warm(
    safety: FrameSafety | None,
    readers: int = 1,
    policy: GatePolicy | None = None,
    *,
    text: bool = True,
) -> None:
    """Load the models the gate will run now: the OCR engines (``readers``, one per gate that
    may run at once; only when ``text``) and the image safety classifier (about 1.5 s of CPU),
    so a process that warms them while its first renders are out does not make its first
    verdicts wait."""
    policy = policy or default_policy()
    reads_text = text and policy.detectors.ocr_frames > 0
    if reads_text:
        shared_reader().warm(1)
    if safety is not None:
        safety.classifier.warm()
    if reads_text and readers > 1:
        shared_reader().warm(readers)


def evaluate(
    path: Path,
    expect: ClipExpectation,
    *,
    policy: GatePolicy | None = None,
    scorer: Scorer | None = None,
    attempt: int = 1,
    can_escalate: bool = True,
    safety: FrameSafety | None = None,
) -> Verdict:
    """Run the gate on one file. ``attempt`` (1-based, on the current model) and ``can_escalate``
    (a next model exists) let the policy turn repeated random defects into escalation or give-up.
    ``safety`` screens sampled frames (``image_safety.frame_safety_from(settings)``; None: off)."""
    policy = policy or default_policy()
    clip = _analysed(Path(path), expect, policy, scorer, safety)
    started = time.perf_counter()
    scored = _score(clip, expect, policy, scorer, safety)
    checks_s = time.perf_counter() - started
    decision = decide(
        scored.findings,
        policy,
        expect.tier,
        end_s=clip.video.end_s if clip.video is not None else 0.0,
        needed_s=expect.duration_s,
        frame_s=clip.video.frame_s if clip.video is not None else 1.0 / max(expect.fps, 1.0),
        attempt=attempt,
        can_escalate=can_escalate,
    )
    return Verdict(
        cast(VerdictAction, decision.action),
        scored.findings,
        decision.drivers,
        scored.score,
        decision.repair,
        scored.notes + decision.notes,
        scored.cost,
        scored.scores,
        _metrics(clip) | scored.measured | {"checks_s": checks_s},
        _colour(path, clip, decision.repair),
    )


# A provider's answer is decoded up to this many times the duration it was asked for, plus this
# many seconds (a longer render to be trimmed fits well inside; an extension's answer is cut to its
# new tail before the gate): an hour of still 1080p frames is a few MB, which the download limit
# lets through, and minutes of decoding.
DECODED_FACTOR, DECODED_EXTRA_S = 4.0, 60.0


def longest_decoded(expect: ClipExpectation) -> float:
    """How many seconds of a clip the gate decodes at most (``DECODED_FACTOR``)."""
    return expected_duration(expect) * DECODED_FACTOR + DECODED_EXTRA_S


def too_much(info: MediaInfo, expect: ClipExpectation) -> str | None:
    """Why a clip is garbage from its header alone: longer than ``longest_decoded``, or more pixels
    a frame than any output shotline makes (None: it is worth decoding)."""
    declared = max(info.duration_s, info.video_duration_s or 0.0)
    if declared > longest_decoded(expect):
        return (
            f"it declares {declared:.1f} s for {expected_duration(expect):g} s asked (not decoded)"
        )
    width, height = info.display_size
    if width * height > MAX_PIXELS:
        return f"it declares {width}x{height} pixels a frame, over {MAX_PIXELS:,} (not decoded)"
    return None


def _analysed(
    path: Path,
    expect: ClipExpectation,
    policy: GatePolicy,
    scorer: Scorer | None,
    safety: FrameSafety | None,
) -> ClipAnalysis:
    """The clip's one decode, keeping the thumbnails and speech only when a check reads them;
    none at all for a clip declaring far more than was asked (``too_much``)."""
    info = probe(path, read_rotation=False)
    if not info.error and (excess := too_much(info, expect)) is not None:
        return ClipAnalysis(info, None, None, error=excess)
    judge_frames = scorer is not None and scorer.needs_frames and policy.tier(expect.tier).judge
    frame_checks = safety is not None or policy.detectors.iqa_frames > 0
    clip = analyse(
        path,
        info,
        policy.detectors,
        keep_thumbs=judge_frames or frame_checks or _reads_text(expect, policy),
        keep_speech=expect.speech != "any",
        stop_s=longest_decoded(expect),
    )
    if clip.video is not None:
        clip = replace(clip, info=replace(info, rotation=clip.video.rotation))
    return clip


def _colour(
    path: Path, clip: ClipAnalysis, keep: tuple[float, float] | None
) -> dict[str, Any] | None:
    """The colour profile of the clip the shot keeps (the repair's range when it is trimmed),
    from the samples of the gate's own decode, so the consistency check decodes nothing."""
    samples = clip.colour
    if keep is not None:
        samples = [
            replace(s, time_s=s.time_s - keep[0]) for s in samples if keep[0] <= s.time_s <= keep[1]
        ]
    if clip.video is None or not samples:
        return None
    hdr, matrix = hdr_transfer(clip.info.transfer_tag), plane_matrix(clip.info.colour)
    return profile_from(Path(path), samples, hdr, matrix).to_json()


@dataclass
class _Scored:
    findings: list[Finding]
    score: float
    scores: dict[str, float]
    notes: list[str]
    cost: float = 0.0
    measured: dict[str, float] = field(default_factory=dict)


def _score(
    clip: ClipAnalysis,
    expect: ClipExpectation,
    policy: GatePolicy,
    scorer: Scorer | None,
    safety: FrameSafety | None,
) -> _Scored:
    """Findings (tier applied), the technical and local scores, and the judge's when it ran."""
    tier = policy.tier(expect.tier)
    frames = frame_signals(clip, policy, safety)
    found = sorted(
        measure(clip, expect, policy) + frames.findings,
        key=lambda f: (f.start if f.start is not None else -1.0, f.code),
    )
    findings = apply_tier(found, policy, expect.tier)
    technical = TechnicalScorer().score(clip, expect, findings)
    measured = frames.values | _sharpness(clip, technical.components)
    local = _local(clip, findings, measured)
    out = _Scored(
        findings,
        local,
        {"local": local, "technical": technical.score, **technical.components},
        [],
        measured=measured,
    )
    if expect.tier not in policy.tiers:
        out.notes.append(f"unknown tier {expect.tier!r}: used {policy.default_tier!r}")
    result = _judge(clip, expect, findings, scorer, tier.judge)
    if result is not None:
        out.notes += result.notes
        out.cost = result.cost_usd
        if result.available:
            out.scores |= {"judge": result.score, **result.components}
            out.score = tier.judge_weight * result.score + (1 - tier.judge_weight) * local
            out.findings += apply_tier(result.findings, policy, expect.tier)
    if not any(f.severity == "error" for f in out.findings):
        low = _low_score(out.score, result, tier.min_score, tier.judge_min_score)
        out.findings += apply_tier(low, policy, expect.tier)
    return out


def _local(clip: ClipAnalysis, findings: list[Finding], measured: dict[str, float]) -> float:
    if clip.video is None:
        return 0.0
    model = default_model()
    return model.score(signals(findings, measured, clip.video.end_s, model))


def _judge(
    clip: ClipAnalysis,
    expect: ClipExpectation,
    findings: list[Finding],
    scorer: Scorer | None,
    enabled: bool,
) -> ScoreResult | None:
    """Run the judge only when the tier wants one and every cheap check passed."""
    if scorer is None or isinstance(scorer, TechnicalScorer) or not enabled:
        return None
    if any(f.severity == "error" for f in findings):
        return ScoreResult(
            0.0, scorer.name, notes=("judge skipped: cheap checks failed",), available=False
        )
    return scorer.score(clip, expect, findings)


def _low_score(
    score: float, judge: ScoreResult | None, minimum: float, judge_min: float
) -> list[Finding]:
    out = []
    if score < minimum:
        out.append(
            Finding(
                "low_score", f"score {score:.2f} under the tier minimum {minimum:.2f}", value=score
            )
        )
    if judge is not None and judge.available and judge.score < judge_min:
        out.append(
            Finding(
                "low_score",
                f"judge score {judge.score:.2f} under {judge_min:.2f}",
                value=judge.score,
            )
        )
    return out


__all__ = ["Verdict", "evaluate", "expected_duration", "measure"]
