"""The calibrated local score: a logistic model over the gate's own signals, so that a clip the gate
would ship scores near 1 and a defective one near 0, with no judge and no network.

Signals (``signals``): ``defects`` (the product over technical findings that ``TechnicalScorer``
computes, content findings and warnings about the request left out), ``sharpness`` (the log of the median contrast-free Laplacian
variance the blur detector measures, ``log1p``), ``niqe`` and ``noise`` (``quality.frame_checks``),
``text``
(how well the quoted text was read when the tier makes a miss an error, else 1), ``speech`` (0 when
the line was not heard, the length ratio's distance from 1 when it was too short or long, else 1),
``unsafe`` (1 when a sampled frame scored at or over ``SHOTLINE_IMAGE_SAFETY_THRESHOLD``: the
threshold stays the operator's decision, a score under it does not move the local score).

Each fitted signal is standardised with the corpus's mean and spread, and
``score = sigmoid(intercept + sum(weight * z) + sum(fixed weight * signal))``. The weights are
fitted on a labelled corpus by ``benchmarks/fit_local_score.py`` (L2-regularised logistic
regression, classes weighed equally, Newton steps; a weight whose sign would let a worse
measurement raise the score is held at 0) and stored with how they were fitted in
``quality/local_score.yaml``; weights under ``fixed`` are set by hand, not fitted (the corpus holds
no unsafe media).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from quality.events import Finding
from quality.scoring import SEVERITY_WEIGHT

MODEL = Path(__file__).with_name("local_score.yaml")
SIGNALS = ("defects", "sharpness", "niqe", "noise", "text", "speech", "unsafe")
# the sign each weight must have: a higher NIQE, noise or unsafe score never raises the score
SIGNS = {"defects": 1, "sharpness": 1, "niqe": -1, "noise": -1, "text": 1, "speech": 1,
         "unsafe": -1}  # fmt: skip
CONTENT_CODES = frozenset(
    {"onscreen_text", "wrong_text", "missing_text", "unexpected_text", "missing_speech",
     "speech_length", "unexpected_speech", "unsafe_content", "low_quality", "low_score"}
)  # fmt: skip
# a warning about the request, not the picture or sound (a larger frame than asked is scaled down)
NOT_QUALITY = frozenset({"wrong_size", "long_duration", "vfr", "rotated", "unexpected_audio"})
TEXT_VALUE = {"missing_text": 0.0}
F64 = npt.NDArray[np.float64]


def defects_product(findings: Sequence[Finding], length_s: float) -> float:
    """``TechnicalScorer``'s product over the technical findings only, less the warnings about the
    request rather than the clip's quality (``NOT_QUALITY``)."""
    score = 1.0
    for finding in findings:
        if finding.code in CONTENT_CODES:
            continue
        if finding.code in NOT_QUALITY and finding.severity != "error":
            continue
        coverage = 1.0 if finding.start is None else min(1.0, finding.duration / length_s)
        score *= 1.0 - SEVERITY_WEIGHT[finding.severity] * (0.5 + 0.5 * coverage)
    return max(0.0, score)


def _text(findings: Sequence[Finding]) -> float:
    values = [
        TEXT_VALUE.get(f.code, f.value if f.value is not None else 0.0)
        for f in findings
        if f.code in ("wrong_text", "missing_text") and f.severity == "error"
    ]
    return min(values) if values else 1.0


def _speech(findings: Sequence[Finding]) -> float:
    value = 1.0
    for finding in findings:
        if finding.severity != "error":  # a warning the tier tolerates does not lower the score
            continue
        if finding.code == "missing_speech":
            value = 0.0
        elif finding.code == "speech_length" and finding.value:
            ratio = float(finding.value)
            value = min(value, min(ratio, 1.0 / ratio))
    return value


def signals(
    findings: Sequence[Finding], measured: Mapping[str, float], length_s: float, neutral: Model
) -> dict[str, float]:
    """The model's inputs; a signal that was not measured takes the corpus's mean (no evidence)."""
    return {
        "defects": defects_product(findings, max(length_s, 1e-6)),
        "sharpness": math.log1p(measured.get("sharpness", math.expm1(neutral.mean["sharpness"]))),
        "niqe": measured.get("niqe", neutral.mean["niqe"]),
        "noise": measured.get("noise_sigma", neutral.mean["noise"]),
        "text": _text(findings),
        "speech": _speech(findings),
        "unsafe": float(
            any(f.code == "unsafe_content" and f.severity == "error" for f in findings)
        ),
    }


@dataclass(frozen=True)
class Model:
    intercept: float
    weights: dict[str, float]
    mean: dict[str, float]
    scale: dict[str, float]
    fixed: dict[str, float]
    fitted: dict[str, Any]

    def logit(self, x: Mapping[str, float]) -> float:
        z = self.intercept
        for name, weight in self.weights.items():
            z += weight * (x[name] - self.mean[name]) / self.scale[name]
        return z + sum(weight * x[name] for name, weight in self.fixed.items())

    def score(self, x: Mapping[str, float]) -> float:
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, self.logit(x)))))

    def to_dict(self) -> dict[str, Any]:
        rounded = {k: round(v, 6) for k, v in self.weights.items()}
        return {
            "intercept": round(self.intercept, 6),
            "weights": rounded,
            "mean": {k: round(v, 6) for k, v in self.mean.items()},
            "scale": {k: round(v, 6) for k, v in self.scale.items()},
            "fixed": self.fixed,
            "fitted": self.fitted,
        }


def load_model(path: Path = MODEL) -> Model:
    data = yaml.safe_load(path.read_text())
    return Model(
        float(data["intercept"]),
        {k: float(v) for k, v in data["weights"].items()},
        {k: float(v) for k, v in data["mean"].items()},
        {k: float(v) for k, v in data["scale"].items()},
        {k: float(v) for k, v in (data.get("fixed") or {}).items()},
        dict(data.get("fitted") or {}),
    )


@cache
def default_model() -> Model:
    return load_model(MODEL)


def fit(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[int],
    fixed: Mapping[str, float],
    l2: float = 1.0,
) -> tuple[float, dict[str, float], dict[str, float], dict[str, float]]:
    """L2-regularised logistic regression over the standardised signals not in ``fixed``, by
    Newton steps; a weight of the wrong sign (``SIGNS``) is held at 0 and the rest refitted."""
    names = [n for n in SIGNALS if n not in fixed]
    raw = np.array([[row[n] for n in names] for row in rows], np.float64)
    y = np.asarray(labels, np.float64)
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    scale[scale < 1e-9] = 1.0
    offset = np.array([sum(w * row[n] for n, w in fixed.items()) for row in rows])
    # each class weighs as much as the other, so 0.5 is the boundary whatever the corpus's mix
    weight = np.where(y > 0, 0.5 / max(y.sum(), 1.0), 0.5 / max((1 - y).sum(), 1.0)) * len(y)
    active = list(range(len(names)))
    while True:
        x = (raw[:, active] - mean[active]) / scale[active]
        beta = _newton(np.hstack([np.ones((len(y), 1)), x]), y, offset, weight, l2)
        wrong = [i for i, w in zip(active, beta[1:], strict=True) if w * SIGNS[names[i]] < 0]
        if not wrong:
            break
        active = [i for i in active if i not in wrong]
    weights = dict.fromkeys(names, 0.0) | {
        names[i]: float(w) for i, w in zip(active, beta[1:], strict=True)
    }
    return (
        float(beta[0]),
        weights,
        {n: float(m) for n, m in zip(names, mean, strict=True)},
        {n: float(s) for n, s in zip(names, scale, strict=True)},
    )


def _newton(x: F64, y: F64, offset: F64, weight: F64, l2: float, steps: int = 50) -> F64:
    beta = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1]) * l2
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta + offset, -50, 50)))
        gradient = x.T @ (weight * (p - y)) + penalty @ beta
        hessian = (x.T * (weight * p * (1 - p))) @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return beta


def auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """The probability that a good clip outscores a defective one (ties count half)."""
    good = [s for s, label in zip(scores, labels, strict=True) if label]
    bad = [s for s, label in zip(scores, labels, strict=True) if not label]
    if not good or not bad:
        return float("nan")
    wins = sum((g > b) + 0.5 * (g == b) for g in good for b in bad)
    return wins / (len(good) * len(bad))
