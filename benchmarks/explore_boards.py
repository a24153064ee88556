"""Property-based explorer of "refuse before spending": storyboards drawn across the schema's
space (``board_strategies``) are validated and planned (the calls ``shotline plan`` and
``create_job`` make); a refused one must name a path and a reason, an accepted one is rendered
under emulated providers (tiny clips; final renders at the models' resolution) and must be
delivered or end in a documented way (budget stop, a voiced line too long for its shot). Every
ended job must also balance: its spend equal to its attempts' costs, within its budget, nothing
left reserved, no attempt left open, and a failure must say why.

With ``--faults RATE`` the emulators fail each call with every injected fault kind and write
every media defect at that seeded probability (``emulators.scenario``): the retries, fallbacks
and the gate then run on random boards, and a job given up on is an outcome to read, not a defect.

    .venv/bin/python benchmarks/explore_boards.py --minutes 10 [--seed N] [--out DIR] [--faults R]
    .venv/bin/python benchmarks/explore_boards.py --board FILE.yaml ...   # replay boards

Not a benchmark and not part of the suite (its validation half is, as properties:
``tests/foundation/test_storyboard_properties.py``): it prints a tally of outcomes and writes the
storyboard (YAML) and report of every new failure signature under ``--out``. One process; it
renders, so it is CPU-heavy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from board_strategies import boards, make_assets
from explore_commit import commit_and_render

# --- running one board ---------------------------------------------------------------------------

_DIGITS = re.compile(r"[0-9a-f]{32}|/tmp/\S+|\d+(\.\d+)?")


def signature(text: str) -> str:
    """A failure's message with numbers, ids and paths blanked: one signature per kind."""
    return _DIGITS.sub("#", text)[:160]


def refusal_defects(exc: Exception) -> list[str]:
    """What a refusal lacks: every problem must have a path and a reason."""
    from foundation.errors import BudgetExceededError, InvalidInputError

    if isinstance(exc, BudgetExceededError):
        return [] if "budget" in str(exc).lower() else ["budget refusal without 'budget'"]
    if not isinstance(exc, InvalidInputError):
        return [f"refused with {type(exc).__name__}, not an input error"]
    missing = [str(p) for p in exc.problems if not p.path.strip() or not p.message.strip()]
    return [f"problem without path or reason: {m[:120]}" for m in missing]


FAULT_KINDS = (
    "rate_limit", "server_error", "bad_request", "malformed_json", "truncated_json",
    "safety_refusal", "job_failure", "result_error", "expired_url", "lost_job",
)  # fmt: skip
POLL_FAULTS = ("rate_limit", "server_error", "malformed_json", "truncated_json")


def fault_scenario(rate: float, max_side: int | None) -> Any:
    """Every fault kind (HTTP ones at submit and at the first poll) and every media defect, each at
    ``rate``; rate limits ask for a short wait."""
    from typing import get_args

    from emulators.scenario import DefectKind, Scenario

    faults = [{"kind": kind, "rate": rate, "retry_after_s": 0.05} for kind in FAULT_KINDS]
    faults += [
        {"kind": k, "rate": rate, "stage": "poll", "retry_after_s": 0.05} for k in POLL_FAULTS
    ]
    defects = [{"kind": kind, "rate": rate} for kind in get_args(DefectKind)]
    return Scenario.model_validate(
        {
            "seed": 1,
            "defaults": {"faults": faults, "defects": defects},
            "media": {"max_side": max_side},
        }
    )


class Explorer:
    def __init__(self, out: Path, timeout_s: float, faults: float = 0.0) -> None:
        from emulators import start_emulator
        from emulators.scenario import Scenario

        self.out = out
        self.timeout_s = timeout_s
        self.faults = faults
        self.tally: dict[str, int] = {}
        self.seen: dict[str, int] = {}
        self.tried = 0
        self.scratch = Path(tempfile.mkdtemp(prefix="explore-"))
        self.assets = make_assets(self.scratch / "assets")
        small = Scenario.model_validate({"media": {"max_side": 160}})
        full = None  # final renders: the gate checks the model's resolution
        if faults:
            small, full = fault_scenario(faults, 160), fault_scenario(faults, None)
        self.emulator = start_emulator(small)
        self.full = start_emulator(full)
        self.template = self._migrated()

    def stop(self) -> None:
        self.emulator.stop()
        self.full.stop()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def _migrated(self) -> Path:
        from store.db import get_engine

        path = self.scratch / "template.db"
        get_engine(f"sqlite:///{path}").dispose()
        return path

    def _context(self, index: int, final: bool = False) -> Any:
        from foundation.settings import get_settings
        from pipeline.context import RunContext

        data = self.scratch / f"d{index}"
        data.mkdir()
        shutil.copyfile(self.template, data / "shotline.db")
        os.environ["SHOTLINE_DATA_DIR"] = str(data)
        get_settings.cache_clear()
        ctx = RunContext.create("emulated", get_settings())
        emulator = self.full if final else self.emulator
        ctx.base_urls = dict(emulator.base_urls)
        ctx.judge_base_urls = dict(emulator.judge_base_urls)
        ctx.settings.poll_interval_s = 0.05
        ctx.settings.backoff_base_s = 0.05
        ctx.settings.cpu_workers = 1
        return ctx

    def record(self, outcome: str, detail: str, board: dict[str, Any], report: Any = None) -> None:
        self.tally[outcome] = self.tally.get(outcome, 0) + 1
        key = f"{outcome}: {signature(detail)}"
        self.seen[key] = self.seen.get(key, 0) + 1
        if self.seen[key] == 1 and ("DEFECT" in outcome or "review" in outcome):
            name = f"{len(self.seen):04d}-{re.sub(r'[^a-z]+', '_', outcome.split(' ')[0])}"
            (self.out / f"{name}.yaml").write_text(
                "# "
                + key.replace("\n", "\n# ")
                + "\n"
                + yaml.safe_dump(board, allow_unicode=True, sort_keys=False)
            )
            if report is not None:
                (self.out / f"{name}.json").write_text(json.dumps(report, indent=1, default=str))
            print(f"  new {key}", flush=True)

    def run(self, board: dict[str, Any]) -> None:
        from foundation.errors import ShotlineError
        from foundation.storyboard import parse_storyboard

        self.tried += 1
        index = self.tried
        try:
            parsed = parse_storyboard(json.loads(json.dumps(board)))
        except ShotlineError as exc:
            self._refused(board, exc, "validate")
            return
        except Exception as exc:
            self.record("DEFECT crash in validation", repr(exc), board)
            return
        ctx = self._context(index, final=str(parsed.mode) == "final")
        try:
            self._plan_as_cli(ctx, parsed)
            job_id = self._create(ctx, parsed, board)
            if job_id is None:
                return
            status = self.render_job(ctx, job_id, parsed, board)
            if status == "delivered" and str(parsed.mode) == "preview":
                commit_and_render(self, ctx, job_id, parsed, board)
        finally:
            shutil.rmtree(self.scratch / f"d{index}", ignore_errors=True)

    def _plan_as_cli(self, ctx: Any, parsed: Any) -> None:
        """What ``shotline plan`` computes must not crash on an accepted board."""
        from foundation.errors import ShotlineError
        from pipeline import planning, previews
        from pipeline.variant_plan import variants_of

        try:
            plan = planning.route(ctx, parsed, parsed.mode)
            keyed = previews.keyframed_board(parsed, parsed.mode)
            stage_ctx = planning.stage_context(ctx, parsed, parsed.mode)
            planning.plan_stages(stage_ctx, keyed, parsed.mode)
            variants_of(keyed, plan)
        except ShotlineError:
            pass  # create_job reports it
        except Exception as exc:
            self.record(
                "DEFECT crash in plan",
                f"{type(exc).__name__}: {exc}",
                parsed.model_dump(mode="json"),
            )

    def _refused(self, board: dict[str, Any], exc: Exception, where: str) -> None:
        lacks = refusal_defects(exc)
        if lacks:
            self.record(f"DEFECT refusal at {where}", lacks[0], board)
        else:
            problems = getattr(exc, "problems", None) or [exc]
            first = str(problems[0])
            field = re.sub(r"\[\d+\]", "[]", first.split(":")[0])
            self.record(f"refused at {where}", f"{type(exc).__name__} {field}", board)

    def _create(self, ctx: Any, parsed: Any, board: dict[str, Any]) -> str | None:
        from foundation.errors import ShotlineError
        from pipeline.planning import create_job

        try:
            return create_job(ctx, parsed, output=ctx.settings.data_dir / "out" / "film.mp4")
        except ShotlineError as exc:
            self._refused(board, exc, "plan")
        except Exception as exc:
            self.record("DEFECT crash in create_job", f"{type(exc).__name__}: {exc}", board)
            traceback.print_exc()
        return None

    def render_job(
        self, ctx: Any, job_id: str, parsed: Any, board: dict[str, Any], prefix: str = ""
    ) -> str:
        """Render the job and record its outcome (``prefix``: a commit's final job); its status."""
        from concurrent.futures import TimeoutError as FutureTimeout

        from pipeline.engine import EmbeddedEngine
        from pipeline.report import job_report

        engine = EmbeddedEngine(ctx)
        limit = self.timeout_s + 4 * sum(s.duration for _, s in parsed.shots())
        try:
            status = engine.start(job_id).result(timeout=limit)
        except FutureTimeout:
            engine.cancel(job_id)
            self.record(f"{prefix}DEFECT hang", f"no end after {limit:.0f}s", board)
            return "hang"
        except Exception as exc:
            self.record(f"{prefix}DEFECT crash in render", f"{type(exc).__name__}: {exc}", board)
            traceback.print_exc()
            return "crash"
        report = job_report(ctx.db_url, job_id)
        unbalanced = ledger_problem(ctx.db_url, job_id, report)
        if unbalanced:
            self.record(f"{prefix}DEFECT ledger", unbalanced, board, report)
            return "unbalanced"
        if status == "delivered":
            problem = check_output(report, parsed)
            if problem:
                self.record(f"{prefix}DEFECT delivered wrong", problem, board, report)
                return "wrong"
            self.record(f"{prefix}delivered", "", board)
            return status
        self._failed(report, board, prefix)
        return str(status)

    def _failed(self, report: dict[str, Any], board: dict[str, Any], prefix: str) -> None:
        attempts = [a for s in report["shots"] for a in s["attempt_log"]]
        kinds = {a.get("error_kind") for a in attempts} - {None}
        error = str(report.get("error") or "")
        codes = sorted(
            {
                driver.get("code", "?")
                for a in attempts
                for driver in ((a.get("verdict") or {}).get("drivers") or [])
            }
        )
        shot_errors = sorted({str(s.get("error")) for s in report["shots"] if s.get("error")})
        detail = f"[{report.get('stage')}] {error[:200]} | {'; '.join(shot_errors)[:200]} | gate: {codes}"
        spent = float(report.get("spent_usd") or 0)
        if "over_budget" in kinds or "over the budget" in error.lower():
            self.record(prefix + "budget stop", detail, board)
        elif "1.25x allowed" in detail:  # a voiced line too long for its shot (tts stage, README)
            self.record(prefix + "tts line too long", detail, board)
        elif report["status"] not in ("delivered", "failed", "cancelled"):
            self.record(prefix + "waits for an operator", detail, board)
        elif not error.strip():
            self.record(prefix + "DEFECT failed without a reason", detail, board, report)
        elif self.faults:
            self.record(prefix + "review: given up under faults", detail, board, report)
        else:
            self.record(
                prefix + "review failed" + (" after spend" if spent else ""), detail, board, report
            )


OPEN_ATTEMPTS = ("reserved", "submitting", "submitted", "rendering", "fetched", "gating")


def ledger_problem(db_url: str, job_id: str, report: dict[str, Any]) -> str | None:
    """An ended job's money and attempts balance: spent = its attempts' costs, within its budget,
    nothing reserved but for creates waiting on an operator (``submission_unknown``), none open."""
    from store.db import session_scope
    from store.models import Job

    with session_scope(db_url) as session:
        reserved = session.get_one(Job, job_id).reserved_usd
    attempts = [a for s in report["shots"] for a in s["attempt_log"]]
    held = any(a["status"] == "submission_unknown" for a in attempts)
    spent, costs = float(report["spent_usd"] or 0), float(report["cost_usd"] or 0)
    budget = report.get("budget_usd")
    if abs(spent - costs) > 0.005:
        return f"spent {spent:.4f} but the attempts cost {costs:.4f}"
    if budget is not None and spent > float(budget) + 0.005:
        return f"spent {spent:.4f} over the budget of {float(budget):.4f}"
    if reserved > 0.005 and not held:
        return f"{reserved:.4f} still reserved after the job ended ({report['status']})"
    still = sorted({a["status"] for a in attempts if a["status"] in OPEN_ATTEMPTS})
    if report["status"] in ("delivered", "failed", "cancelled") and still:
        return f"attempts left {', '.join(still)} after the job ended ({report['status']})"
    return None


def check_output(report: dict[str, Any], parsed: Any) -> str | None:
    """An independent look at a delivered file: it exists and lasts the planned length."""
    import av

    path = Path(str(report.get("output")))
    if not path.is_file():
        return f"no output file at {path}"
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for packet in container.demux(video) if packet.size)
        rate = float(video.average_rate or 0)
    if not rate:
        return "no frame rate"
    planned = parsed.planned_seconds()
    if abs(frames / rate - planned) > 2.5 / rate:
        return f"{frames} frames at {rate:g} fps is {frames / rate:.3f}s, planned {planned:.3f}s"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument("--out", type=Path, default=Path("explore-out"))
    parser.add_argument("--board", type=Path, nargs="*", help="run these boards (YAML) only")
    parser.add_argument("--faults", type=float, default=0.0, help="each fault's probability")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    explorer = Explorer(args.out, args.timeout, args.faults)
    if args.board:
        for path in args.board:
            explorer.run(yaml.safe_load(path.read_text()))
            print(path, explorer.seen, flush=True)
            explorer.seen.clear()
        explorer.stop()
        return
    from foundation.settings import get_settings
    from registry import load_registry

    catalog = load_registry(get_settings().registry)
    models = [*sorted(m.id for m in catalog.models if m.kind == "video"), "nope/none"]
    deadline = time.monotonic() + args.minutes * 60
    started = time.monotonic()

    class Done(Exception):
        """The time budget ran out: ends hypothesis's search."""

    @seed(args.seed)
    @settings(max_examples=10**6, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(boards(explorer.assets, models))
    def explore(board: dict[str, Any]) -> None:
        if time.monotonic() > deadline:
            raise Done
        explorer.run(board)
        if explorer.tried % 25 == 0:
            print(
                f"{explorer.tried} boards, {time.monotonic() - started:.0f}s: {explorer.tally}",
                flush=True,
            )

    try:
        with contextlib.suppress(Done):
            explore()
    finally:
        explorer.stop()
    elapsed = time.monotonic() - started
    print(f"\n{explorer.tried} boards in {elapsed:.0f}s")
    for key, count in sorted(explorer.seen.items(), key=lambda kv: -kv[1]):
        print(f"{count:5d}  {key}")


if __name__ == "__main__":
    main()
