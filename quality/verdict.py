"""Turning findings into one action, following the tier's policy. Pure functions, no media."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from quality.events import Finding
from quality.policy import Action, GatePolicy

HEAD_TAIL = ("head", "tail")


@dataclass(frozen=True)
class Decision:
    action: str
    drivers: list[Finding]
    repair: tuple[float, float] | None
    notes: list[str]


def apply_tier(findings: Sequence[Finding], policy: GatePolicy, tier: str) -> list[Finding]:
    """Findings with the tier's severity overrides applied; codes the policy ignores drop to info."""
    overrides = policy.tier(tier).severity
    out = []
    for finding in findings:
        severity = overrides.get(finding.code, finding.severity)
        if policy.action_for(finding.code, tier) == "ignore" and severity == "error":
            severity = "info"
        out.append(replace(finding, severity=severity) if severity != finding.severity else finding)
    return out


def _side(finding: Finding, end_s: float, eps: float) -> str | None:
    if finding.start is None or finding.end is None:
        return None
    if finding.start <= eps and finding.end < end_s - eps:
        return "head"
    if finding.end >= end_s - eps and finding.start > eps:
        return "tail"
    return None


def keep_range(
    repairs: Sequence[Finding], end_s: float, needed_s: float, eps: float
) -> tuple[tuple[float, float] | None, str]:
    """The range left after trimming every head/tail defect, if it still covers ``needed_s``."""
    start, stop = 0.0, end_s
    for finding in repairs:
        side = _side(finding, end_s, eps)
        if side is None:
            return None, f"{finding.code} is not at the head or tail"
        if side == "head":
            start = max(start, finding.end or 0.0)
        else:
            stop = min(stop, finding.start or end_s)
    if stop - start < needed_s - eps:
        return None, f"trimming leaves {max(0.0, stop - start):.2f}s, shot needs {needed_s:.2f}s"
    return (round(start, 6), round(stop, 6)), ""


def decide(
    findings: Sequence[Finding],
    policy: GatePolicy,
    tier: str,
    *,
    end_s: float,
    needed_s: float,
    frame_s: float,
    attempt: int = 1,
    can_escalate: bool = True,
) -> Decision:
    """``findings`` already tier-adjusted. Only errors drive; give_up > escalate > retry > repair."""
    errors = [f for f in findings if f.severity == "error"]
    if not errors:
        return Decision("accept", [], None, [])
    notes: list[str] = []
    by_action: dict[Action, list[Finding]] = {}
    for finding in errors:
        by_action.setdefault(policy.action_for(finding.code, tier), []).append(finding)
    repairs = by_action.pop("repair", [])
    if repairs and not by_action:
        keep, why = keep_range(repairs, end_s, needed_s, eps=frame_s * 0.5)
        if keep is not None:
            return Decision("repair", repairs, keep, notes)
        notes.append(f"repair impossible: {why}")
    if repairs:
        by_action.setdefault("retry", []).extend(repairs)
    if "give_up" in by_action:
        return Decision("give_up", by_action["give_up"], None, notes)
    if "escalate" in by_action:
        return _escalate(by_action["escalate"], can_escalate, notes)
    retries = by_action.get("retry", [])
    max_retries = policy.tier(tier).max_retries
    if attempt > max_retries:
        notes.append(f"attempt {attempt} exceeds {max_retries} retries on the same model")
        return _escalate(retries, can_escalate, notes)
    return Decision("retry", retries, None, notes)


def _escalate(drivers: list[Finding], can_escalate: bool, notes: list[str]) -> Decision:
    if can_escalate:
        return Decision("escalate", drivers, None, notes)
    notes.append("no further model in the chain")
    return Decision("give_up", drivers, None, notes)
