"""The job report: one JSON-serialisable summary that the CLI prints and the API returns.

A shot's ``cost_usd`` is ``ledger.figures.spent`` of its attempts (provider charges plus judge
fees), and the job's ``cost_usd`` is the exact sum of its shots' costs (and the music bed's); its
``settled_usd`` is ``figures.settled``, the provider charges alone, as ``GET /v1/costs`` counts them.
Money is in JSON numbers of at most six decimals (``foundation.money``)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import stitching
from foundation import money
from foundation.states import JobStatus, ShotStatus, Stage
from ledger import figures
from store import jobs
from store.db import session_scope
from store.models import Attempt, AttemptCost, Event, Job, Shot


def _attempt_row(attempt: Attempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "number": attempt.number,
        "model": attempt.model_id,
        "provider": attempt.provider,
        "status": attempt.status,
        "provider_job_id": attempt.provider_job_id,
        "seed": (attempt.request or {}).get("seed"),
        "quoted_usd": money.to_json(attempt.quoted_usd),
        "settled_usd": money.to_json(attempt.settled_usd),
        "error_kind": attempt.error_kind,
        "error": attempt.error,
        "verdict": attempt.verdict and {k: v for k, v in attempt.verdict.items() if k != "colour"},
        "render_seconds": attempt.render_seconds,
    }


def _outcome(attempt: Attempt) -> str:
    stage = "" if attempt.stage == Stage.VIDEO else f"{attempt.stage} "
    if attempt.error_kind:
        return f"{stage}{attempt.model_id}: {attempt.error_kind}"
    if stage:
        reused = " (reused)" if (attempt.request or {}).get("reused_from") else ""
        return f"{stage}{attempt.model_id}: {attempt.status}{reused}"
    verdict = attempt.verdict or {}
    drivers = ",".join(
        str(d.get("code")) for d in verdict.get("drivers", []) if isinstance(d, dict)
    )
    action = verdict.get("action", attempt.status)
    return f"{attempt.model_id}: {action}" + (f" ({drivers})" if drivers else "")


def _spend(
    attempts: list[Attempt],
    records: dict[int, AttemptCost],
    of: Callable[[AttemptCost], Decimal] = figures.spend_of,
) -> Decimal:
    """What the attempts cost in all (``of`` each cost record: ``figures.spend_of``, or
    ``figures.settled_of`` for the provider charges alone)."""
    return money.total(
        of(records[a.id]) if a.id in records else money.usd(a.settled_usd) for a in attempts
    )


def _pre_stage(tries: list[Attempt], stage: str = "tts") -> dict[str, Any] | None:
    """A shot's stage before its video (``tts``, ``keyframe``), or the job's ``music`` stage, in
    the report: its last try's model and status, and every try."""
    if not tries:
        return None
    last = tries[-1]
    return {
        "stage": stage,
        "model": last.model_id,
        "status": last.status,
        "tries": len(tries),
        "reused": bool((last.request or {}).get("reused_from")),
        "saved_usd": money.to_json((last.request or {}).get("saved_usd") or 0.0),
        "asset": last.asset_path if last.status == "accepted" else None,
        # how the speech was made: the provider, or the local voice (espeak-ng or its marked
        # placeholder, ``placeholder-voice``)
        "note": (last.request or {}).get("note"),
        "cost_usd": money.to_json(money.total(money.usd(a.settled_usd) for a in tries)),
        "placement": {k: v for k, v in (last.verdict or {}).items() if k != "stage"}
        if last.status == "accepted"
        else None,
    }


def _shot_row(shot: Shot, tried: list[Attempt], planned: float, cost: Decimal) -> dict[str, Any]:
    voiced = sorted((a for a in tried if a.stage == Stage.TTS), key=lambda a: -a.number)
    drawn = sorted((a for a in tried if a.stage == Stage.KEYFRAME), key=lambda a: -a.number)
    sheeted = sorted((a for a in tried if a.stage == Stage.SHEET), key=lambda a: -a.number)
    stages = {
        "tts": _pre_stage(voiced),
        "sheet": _pre_stage(sheeted, "sheet"),
        "keyframe": _pre_stage(drawn, "keyframe"),
    }
    attempts = [a for a in tried if a.stage == Stage.VIDEO]
    verdict = shot.verdict or (attempts[-1].verdict if attempts else None) or {}
    natives = [a for a in tried if a.stage == Stage.NATIVE]
    history = [_outcome(a) for a in voiced + sheeted + drawn]
    history += (
        [_outcome(a) for a in attempts[:-1]]
        if shot.status != ShotStatus.FAILED
        else [_outcome(a) for a in attempts]
    )
    return {
        "id": shot.key,
        "scene": shot.scene_id,
        "status": shot.status,
        "model": shot.model_id,
        "attempts": len(attempts),
        "fallbacks": len({a.model_id for a in attempts}) - 1 if attempts else 0,
        "verdict": verdict.get("action", shot.status),
        # the gate's local score and the VLM judge's (None when no judge ran), side by side
        "score": verdict.get("score"),
        "local_score": verdict.get("local_score"),
        "judge_score": verdict.get("judge_score"),
        "seconds": planned,
        "cost_usd": money.to_json(cost),
        "error": shot.error,
        "history": history,
        "stages": {name: stage for name, stage in stages.items() if stage},
        "variants": native_rows(shot, natives),
        "route": shot.route,
        "attempt_log": [
            _attempt_row(a) for a in sorted(voiced + sheeted + drawn, key=lambda a: -a.number)
        ]
        + [_attempt_row(a) for a in attempts]
        + [_attempt_row(a) | {"stage": "native"} for a in natives],
    }


def sheets_of(shots: list[Shot], attempts: dict[int, list[Attempt]]) -> list[dict[str, Any]]:
    """Each character sheet the job used (its last try per character, in the order drawn): the
    character, the shot that owns its tries, the model, whether it was reused from the tenant's
    cache, what it cost and what reusing it saved (the quote not spent)."""
    latest: dict[str, tuple[Shot, Attempt]] = {}
    for shot in shots:
        for attempt in attempts.get(shot.id, []):
            if attempt.stage == Stage.SHEET:
                latest[str((attempt.request or {}).get("character"))] = (shot, attempt)
    rows = []
    for character, (shot, attempt) in sorted(latest.items(), key=lambda kv: kv[1][1].id):
        request = attempt.request or {}
        rows.append(
            {
                "character": character, "shot": shot.key, "model": attempt.model_id,
                "status": attempt.status, "reused": bool(request.get("reused_from")),
                "cost_usd": money.to_json(attempt.settled_usd),
                "saved_usd": money.to_json(request.get("saved_usd") or 0.0),
                "asset": attempt.asset_path if attempt.status == "accepted" else None,
            }
        )  # fmt: skip
    return rows


def reused_of(
    rows: list[dict[str, Any]],
    sheets: list[dict[str, Any]],
    videos: list[str],
    saved_videos: Decimal,
    bed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the job reused from the tenant's cache instead of paying again: the characters whose
    sheet, the shots whose keyframe, tts stage or video was reused, whether its music ``bed`` (the
    report's ``music``) was, and the money saved (each reused output's quote; a cached video's
    ``shot.cached`` saving)."""
    reused_sheets = [sheet for sheet in sheets if sheet["reused"]]
    saved = [saved_videos, *(money.usd(sheet["saved_usd"]) for sheet in reused_sheets)]
    if bed is not None and bed["reused"]:
        saved.append(money.usd(bed["saved_usd"]))
    found: dict[str, Any] = {"sheets": [sheet["character"] for sheet in reused_sheets]}
    for name, key in (("keyframe", "keyframes"), ("tts", "tts")):
        stages = [(r["id"], r["stages"].get(name) or {}) for r in rows]
        reused = [(shot, stage) for shot, stage in stages if stage.get("reused")]
        found[key] = [shot for shot, _ in reused]
        saved += [money.usd(stage["saved_usd"]) for _, stage in reused]
    found["videos"] = videos
    found["music"] = bool(bed and bed["reused"])
    found["saved_usd"] = money.to_json(money.total(saved))
    return found


def native_rows(shot: Shot, natives: list[Attempt]) -> dict[str, dict[str, Any]]:
    """How the shot got each variant: as planned (``reframe`` at $0, or ``native`` at its extra
    quote, with the reason: ``router.VariantChoice``) and as done: ``native`` when a native try
    was accepted, else ``reframe`` (every model failed or was refused, or none was planned), with
    the native tries, model and cost."""
    rows = {}
    planned = ((shot.route or {}).get("explanation") or {}).get("variants") or []
    for choice in planned:
        label = choice["variant"]
        mine = [
            a for a in natives if ((a.request or {}).get("extra") or {}).get("variant") == label
        ]
        kept = next((a for a in mine if a.status in ("accepted", "repaired")), None)
        rows[label] = {
            "planned": choice["render"],
            "reason": choice["reason"],
            "quoted_usd": choice["extra_usd"],
            "render": "native" if kept else "reframe",
            "model": kept.model_id if kept else None,
            "tries": [_outcome(a) for a in mine],
            "cost_usd": money.to_json(money.total(money.usd(a.settled_usd) for a in mine)),
            "clip": kept.asset_path if kept else None,
        }
    return rows


def variant_labels(verification: dict[str, Any] | None) -> list[str]:
    """The variants delivered with the output (``OUT.<label>.mp4``), as its verification lists."""
    return list((verification or {}).get("variants", {}))


def delivered_files(output: str | None, variants: list[str] | None = None) -> dict[str, str]:
    """The delivered output, its sidecars and its ``variants`` (``variant_<label>``) still on
    disk, by name (``stitching.output_files``, ``stitching.variant_path``)."""
    if not output:
        return {}
    files = stitching.output_files(Path(output))
    for label in variants or []:
        files[f"variant_{label}"] = stitching.variant_path(Path(output), label)
    return {name: str(path) for name, path in files.items() if path.is_file()}


def job_report(db_url: str, job_id: str) -> dict[str, Any]:
    with session_scope(db_url) as session:
        return report_of(session, session.get_one(Job, job_id))


def report_of(session: Session, job: Job) -> dict[str, Any]:
    """The job's report, read in the caller's session (one transaction, the job row already
    loaded)."""
    job_id = job.id
    shots = jobs.shots_of(session, job_id)
    durations = {
        spec["id"]: float(spec["duration"])
        for scene in job.storyboard["scenes"]
        for spec in scene["shots"]
    }
    cached = list(
        session.scalars(select(Event).where(Event.job_id == job_id, Event.kind == "shot.cached"))
    )
    records = _records(session, job_id)
    bed, attempts = _bed_apart(jobs.attempts_by_shot(session, job_id))
    rows, costs = [], [_spend(bed, records)]
    for shot in shots:
        tried = attempts.get(shot.id, [])
        costs.append(_spend(tried, records))
        rows.append(_shot_row(shot, tried, durations[shot.key], costs[-1]))
    saved_videos = money.total(float(e.data.get("saved_usd", 0.0)) for e in cached)
    sheets = sheets_of(shots, attempts)
    music = _pre_stage(bed, "music")
    reused = reused_of(rows, sheets, [e.shot_key or "" for e in cached], saved_videos, music)
    return _job_fields(job) | {
        "cost_usd": money.to_json(money.total(costs)),
        "settled_usd": money.to_json(
            _spend(
                [a for tried in (bed, *attempts.values()) for a in tried],
                records,
                figures.settled_of,
            )
        ),
        "cached_shots": [e.shot_key for e in cached],
        # what reusing stored outputs saved in all: videos, sheets, keyframes, tts lines, the bed
        "saved_usd": reused["saved_usd"],
        "sheets": sheets,
        "reused": reused,
        "music": music,
        "shots": rows,
    }


def costs_of(report: dict[str, Any], quoted: Any, reserved: Any) -> dict[str, Any]:
    """A job's ``costs`` block, as ``GET /v1/jobs/{id}`` and ``jobs show --json`` give it:
    ``spent_usd`` and ``settled_usd`` as ``GET /v1/costs`` defines them (``ledger.figures``)."""
    return {
        "budget_usd": report["budget_usd"],
        "quoted_usd": money.to_json(quoted),
        "reserved_usd": money.to_json(reserved),
        "settled_usd": report["settled_usd"],
        "spent_usd": report["cost_usd"],
    }


MUSIC_KEY = "(music)"


def spend_so_far(db_url: str, job_id: str) -> dict[str, float]:
    """What each of the job's shots (by key) and its music bed (``MUSIC_KEY``) cost so far,
    counted as the closing report counts them: the live progress's costs, which added up only
    the videos fetched in this process (no voice, keyframe, sheet or bed; nothing before a
    resume)."""
    with session_scope(db_url) as session:
        records = _records(session, job_id)
        bed, attempts = _bed_apart(jobs.attempts_by_shot(session, job_id))
        spend = {
            shot.key: float(_spend(attempts.get(shot.id, []), records))
            for shot in jobs.shots_of(session, job_id)
        }
    return spend | {MUSIC_KEY: float(_spend(bed, records))}


def _records(session: Session, job_id: str) -> dict[int, AttemptCost]:
    query = select(AttemptCost).where(AttemptCost.job_id == job_id)
    return {r.attempt_id: r for r in session.scalars(query)}


def _bed_apart(
    attempts: dict[int, list[Attempt]],
) -> tuple[list[Attempt], dict[int, list[Attempt]]]:
    """The job's music tries, newest first, and every shot's other attempts: the bed's tries are
    kept on the job's first shot (``pipeline.music_stage``) and reported apart."""
    bed = sorted(
        (a for tried in attempts.values() for a in tried if a.stage == Stage.MUSIC),
        key=lambda a: -a.number,
    )
    return bed, {pk: [a for a in tried if a.stage != Stage.MUSIC] for pk, tried in attempts.items()}


def _job_fields(job: Job) -> dict[str, Any]:
    """The report's fields read from the job row alone."""
    output = job.output_path if job.status == JobStatus.DELIVERED else None
    return {
        "job": job.id,
        "title": job.title,
        "status": job.status,
        "stage": job.stage,
        "mode": job.mode,
        "providers": job.providers,
        "emulated": job.providers == "emulated",
        "money_spent": job.providers in ("live", "auto") and job.spent_usd > 0,
        "error": job.error,
        "error_shot": job.error_shot,
        "output": output,
        "files": delivered_files(output, variant_labels(job.verification)),
        "verification": job.verification,
        "budget_usd": money.to_json(job.budget_usd),
        "spent_usd": money.to_json(job.spent_usd),
    }
