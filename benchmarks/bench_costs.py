"""Preview-then-commit against always-final on the premium tier, on emulated providers.

Workload: a fixed mix of three storyboards (15 shots, 4-6 s, mixed audio, no pinned models, so
final-mode routing puts them on premium models), one emulator scenario whose defects hit given
shots (so a shot rendered at final needs the same retake in every arm), and a fixed reviewer who
rejects a fixed share of the workload's shots: the same shots (chosen by a hash of title and shot
id) in every arm, because the reviewer judges content, not resolution.

- anchor, always-final: every shot rendered at final; the reviewer then rejects its share, which
  was paid for at premium prices.
- preview-then-commit (paid): every shot previewed on the cheapest fit models; the reviewer
  rejects its share of previews; only the approved shots are committed to final.
- preview-then-commit (free): the same with ``preview: {free: true}`` (local animatic previews).
- preview-then-commit (keyframes): the same with ``preview: {kind: keyframes}``: every shot's
  keyframe drawn by an image model and held as its clip (no video paid); the approved shots are
  committed to final, each animated from its approved keyframe (image-to-video models only), the
  keyframe reused for nothing. Its goal is 50% lower (``KEYFRAMES_GOAL``).

Measured per arm from the ledger: spend (everything settled, retakes, waste and judge fees
included), seconds of final deliverables the reviewer accepts, cost per accepted second, and the
final acceptance rate (reviewer-accepted final shots / shots rendered at final). Each arm runs on
its own fresh database so no accepted-shot cache crosses arms.

Run: ``.venv/bin/python benchmarks/bench_costs.py [--shares 0.2,0.3333,0.5]
[--arms paid,free,keyframes]`` (default: 1/3, every arm)
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from emulators import Scenario, start_emulator
from foundation.settings import get_settings
from foundation.storyboard import Mode, Storyboard, parse_storyboard
from ledger import aggregates, figures, previews
from pipeline import commit
from pipeline.commit_versions import refresh_agreements
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from store.db import session_scope
from store.models import Job, Shot

GOAL = 0.30
KEYFRAMES_GOAL = 0.50
ARMS = {"paid": "video", "free": "free", "keyframes": "keyframes"}  # arm -> preview.kind
SCENARIO = Scenario.model_validate(
    {
        "seed": 2026,
        "models": {  # defects hit content, so every arm that renders these shots pays the retake
            "veo-3.1-generate-preview": {
                "defects": [
                    {"kind": "frozen", "match": "ferry", "times": 1, "fraction": 0.6},
                    {"kind": "black_middle", "match": "tram", "times": 1, "seconds": 1.0},
                ]
            },
            "veo-3.1-lite-generate-preview": {
                "defects": [{"kind": "frozen", "match": "compass", "times": 1, "fraction": 0.6}]
            },
        },
    }
)
SHOTS = {
    "Harbour teaser": [
        ("establishing", "Wide aerial of a harbour city at dusk, slow push in", 4, "ambient"),
        ("broll", "A ferry glides past glowing signs, reflections on the sea", 4, "ambient"),
        ("dialogue", "Close-up of a captain in a rain coat under a lamp", 6, "dialogue"),
        ("action", "Handheld run through a crowded night market", 4, "ambient"),
        ("broll", "Sunrise over the rooftops, mist clearing", 6, "ambient"),
    ],
    "Product launch": [
        ("product", "Macro shot of a brass compass turning on a pedestal", 4, "ambient"),
        ("product", "A watch face catching light, shallow depth of field", 4, "ambient"),
        ("establishing", "A bright studio, a display stand turning in window light", 4, "ambient"),
        ("dialogue", "A designer explains the dial to the camera", 6, "dialogue"),
        ("broll", "Hands wrapping a gift box in linen paper", 4, "ambient"),
    ],
    "Travel diary": [
        ("establishing", "Terraced rice fields in morning fog", 6, "ambient"),
        ("broll", "A red tram climbs a narrow street in rain", 4, "ambient"),
        ("action", "A cyclist rides along a coastal road at speed", 4, "ambient"),
        ("dialogue", "A traveller tells the camera about the last train", 6, "dialogue"),
        ("broll", "Lanterns drift on a river at night", 4, "ambient"),
    ],
}
DIALOGUE = "We made the last train with a minute to spare."


def boards(kind: str = "video") -> list[Storyboard]:
    out = []
    for title, shots in SHOTS.items():
        specs = [
            {"id": f"s{i + 1}", "type": kind, "prompt": prompt, "duration": seconds, "audio": audio}
            | ({"dialogue": DIALOGUE} if audio == "dialogue" else {})
            for i, (kind, prompt, seconds, audio) in enumerate(shots)
        ]
        data = {
            "title": title,
            "output": {"size": "640x360"},
            "preview": {"kind": kind},
            "scenes": [{"id": "main", "shots": specs}],
        }
        out.append(parse_storyboard(data))
    return out


def rejected_by_reviewer(share: float) -> set[tuple[str, str]]:
    """The fixed reviewer: rejects round(share * all shots) of the workload's shots, always the
    same ones (ordered by a hash of title and shot id), whatever they were rendered with."""
    every = [(title, f"s{i + 1}") for title, shots in SHOTS.items() for i in range(len(shots))]
    every.sort(key=lambda pair: hashlib.sha256("/".join(pair).encode()).hexdigest())
    return set(every[: math.floor(share * len(every) + 0.5)])


def approved_of(board: Storyboard, share: float) -> set[str]:
    rejected = rejected_by_reviewer(share)
    return {s.id for _, s in board.shots() if (board.title, s.id) not in rejected}


@dataclass
class Outcome:
    spend_usd: float = 0.0
    accepted_s: float = 0.0
    final_shots: int = 0
    reviewer_accepted: int = 0
    premium_shots: int = 0
    approved_usd: float = 0.0  # always-final: what the shots the reviewer approves cost
    avoided_usd: float = 0.0
    agreement: float | None = None

    @property
    def cpas(self) -> float:
        return self.spend_usd / self.accepted_s if self.accepted_s else float("inf")

    @property
    def acceptance(self) -> float:
        return self.reviewer_accepted / self.final_shots if self.final_shots else 0.0


def fresh_context(base_urls: dict[str, str], judges: dict[str, str]) -> RunContext:
    os.environ["SHOTLINE_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-costs-")
    get_settings.cache_clear()
    ctx = RunContext.create("emulated")
    ctx.settings.poll_interval_s = 0.02
    ctx.settings.backoff_base_s = 0.05
    ctx.base_urls, ctx.judge_base_urls = dict(base_urls), dict(judges)
    return ctx


def _final_shots(ctx: RunContext, job_id: str) -> dict[str, tuple[str, str | None]]:
    with session_scope(ctx.db_url) as session:
        rows = session.scalars(select(Shot).where(Shot.job_id == job_id))
        return {s.key: (s.status, s.model_id) for s in rows}


def _tally(
    ctx: RunContext,
    board: Storyboard,
    job_id: str,
    rendered: set[str],
    approved: set[str],
    out: Outcome,
) -> None:
    """Count the final renders of ``rendered`` in ``job_id``; the reviewer accepts ``approved``."""
    seconds = {s.id: s.duration for _, s in board.shots()}
    for key, (status, model) in _final_shots(ctx, job_id).items():
        if key not in rendered:
            continue
        out.final_shots += 1
        tier = ctx.registry.get(model).tier if model and model in ctx.registry else None
        out.premium_shots += tier == "premium"
        if status == "normalised" and key in approved:
            out.reviewer_accepted += 1
            out.accepted_s += seconds[key]


def spend(ctx: RunContext, shots: set[tuple[str, str]] | None = None) -> float:
    """Every attempt's spend (the runs are emulated: the ledger books it as emulated spend), or
    only that of ``shots`` (storyboard title, shot id)."""
    with session_scope(ctx.db_url) as session:
        rows = aggregates.load(session, aggregates.CostFilter())
        if shots is not None:
            titles = {job: title for job, title in session.execute(select(Job.id, Job.title))}
            rows = [r for r in rows if (titles.get(r.job_id), r.shot_key) in shots]
        return float(figures.spent(rows))


def always_final(
    urls: tuple[dict[str, str], dict[str, str]], shares: list[float]
) -> dict[float, Outcome]:
    """One always-final run; the reviewer's verdicts (per share) come after the renders."""
    ctx, outs = fresh_context(*urls), {share: Outcome() for share in shares}
    for board in boards():
        job_id = create_job(ctx, board, mode=Mode.FINAL)
        EmbeddedEngine(ctx).run(job_id)
        every = {s.id for _, s in board.shots()}
        for share, out in outs.items():
            _tally(ctx, board, job_id, every, approved_of(board, share), out)
    total = spend(ctx)
    for share, out in outs.items():
        out.spend_usd = total
        out.approved_usd = spend(
            ctx, {(b.title, key) for b in boards() for key in approved_of(b, share)}
        )
    return outs


def preview_then_commit(
    urls: tuple[dict[str, str], dict[str, str]], share: float, *, kind: str
) -> Outcome:
    ctx, out = fresh_context(*urls), Outcome()
    for board in boards(kind):
        approved = approved_of(board, share)
        preview_id = commit.start_preview(ctx, board)
        if EmbeddedEngine(ctx).run(preview_id) != "delivered":
            raise SystemExit(f"preview of {board.title} was not delivered")
        order = [s.id for _, s in board.shots() if s.id in approved]
        if not order:
            continue
        declined = [s.id for _, s in board.shots() if s.id not in approved]  # reviewed: all
        result = commit.commit(ctx, preview_id, order, rejected=declined)
        EmbeddedEngine(ctx).run(result.final_job_id)
        _tally(ctx, board, result.final_job_id, approved, approved, out)
    out.spend_usd = spend(ctx)
    refresh_agreements(ctx.db_url)
    with session_scope(ctx.db_url) as session:
        stats = previews.preview_stats(session, aggregates.CostFilter(), emulated=True)
        out.avoided_usd, out.agreement = float(stats.cost_avoided_usd), stats.agreement_mean
        assert session.scalar(select(Job).where(Job.mode == "preview")) is not None
    return out


def row(name: str, share: float, result: Outcome, anchor: Outcome) -> str:
    ratio = result.cpas / anchor.cpas
    agreement = "-" if result.agreement is None else f"{result.agreement:.2f}"
    return (
        f"| {share:.0%} | {name} | {result.spend_usd:.2f} | {result.accepted_s:.0f} | "
        f"{result.cpas:.4f} | {ratio:.3f} ({1 - ratio:+.1%} lower) | {result.acceptance:.1%} | "
        f"{result.premium_shots}/{result.final_shots} | {result.avoided_usd:.2f} | {agreement} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shares", default="0.3333", help="reviewer rejection shares, e.g. 0.2,0.3333,0.5"
    )
    parser.add_argument("--arms", default=",".join(ARMS), help="of paid,free,keyframes")
    args = parser.parse_args()
    shares = [float(s) for s in args.shares.split(",")]
    arms = [arm for arm in args.arms.split(",") if arm]
    logging.disable(logging.WARNING)
    started = time.monotonic()
    print(
        "| reviewer rejects | arm | spend $ | accepted s | $ / accepted s | vs always-final "
        "| final acceptance | premium finals | cost avoided $ | preview/final agreement |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    verdicts = []
    with start_emulator(SCENARIO) as emu:
        urls = (dict(emu.base_urls), dict(emu.judge_base_urls))
        anchors = always_final(urls, shares)
        for share in shares:
            anchor = anchors[share]
            print(row("always-final (anchor)", share, anchor, anchor))
            ceiling = 1 - anchor.approved_usd / anchor.spend_usd
            verdicts.append(
                f"{share:.0%} ceiling: always-final paid ${anchor.approved_usd:.2f} of its "
                f"${anchor.spend_usd:.2f} for the shots the reviewer approves; an arm whose finals "
                f"cost the same is at most {ceiling:.1%} lower, however cheap its preview"
            )
            for arm in arms:
                result = preview_then_commit(urls, share, kind=ARMS[arm])
                print(row(f"preview-then-commit, {arm} preview", share, result, anchor))
                goal = KEYFRAMES_GOAL if arm == "keyframes" else GOAL
                lower = 1 - result.cpas / anchor.cpas
                ok = lower >= goal and result.acceptance >= anchor.acceptance
                verdicts.append(
                    f"{share:.0%} {arm}: {lower:.1%} lower (goal {goal:.0%}), "
                    f"{'met' if ok else 'NOT met'}"
                )
    print()
    print("goal: the arm's share lower cost per accepted second at equal or better acceptance")
    for line in verdicts:
        print(f"- {line}")
    print(f"({time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
