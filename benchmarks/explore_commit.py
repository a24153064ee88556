"""The explorer's second half for previews (``explore_boards.py``): a delivered preview is
committed as a user would (every shot, every other shot, or the last one, chosen by the board's
hash; the rest keep their preview), and the final job is rendered and held to the same rules as
every job: delivered at the planned length or ended in a documented way, its money balanced. A
commit refused must name a path and a reason like any refusal.
"""

from __future__ import annotations

import json
import zlib
from typing import Any, Protocol


class Explorer(Protocol):
    """What the commit phase needs of ``explore_boards.Explorer``."""

    full: Any

    def record(
        self, outcome: str, detail: str, board: dict[str, Any], report: Any = None
    ) -> None: ...

    def render_job(
        self, ctx: Any, job_id: str, parsed: Any, board: dict[str, Any], prefix: str = ""
    ) -> str: ...


def approved_shots(parsed: Any, board: dict[str, Any]) -> list[str]:
    """Every shot, every other shot, or the last one, by the board's hash."""
    shots = [shot.id for _, shot in parsed.shots()]
    choice = zlib.crc32(json.dumps(board, sort_keys=True, default=str).encode()) % 3
    return shots if choice == 0 else shots[::2] if choice == 1 else shots[-1:]


def commit_and_render(
    explorer: Explorer, ctx: Any, preview_id: str, parsed: Any, board: dict[str, Any]
) -> None:
    """Commit the delivered preview ``preview_id`` and render its final job at the models'
    resolution (the explorer's full-size emulator)."""
    from foundation.errors import ShotlineError
    from foundation.storyboard import parse_storyboard
    from pipeline.commit import commit
    from pipeline.context import RunContext
    from store.db import session_scope
    from store.models import Job

    approved = approved_shots(parsed, board)
    try:
        result = commit(ctx, preview_id, approved)
    except ShotlineError as exc:
        problems = getattr(exc, "problems", None) or []
        if any(not p.path.strip() or not p.message.strip() for p in problems):
            explorer.record("DEFECT commit refusal without a path", str(exc), board)
        else:
            explorer.record("commit refused", f"{type(exc).__name__}: {exc}", board)
        return
    except Exception as exc:
        explorer.record("DEFECT crash in commit", f"{type(exc).__name__}: {exc}", board)
        return
    with session_scope(ctx.db_url) as session:
        final_board = parse_storyboard(session.get_one(Job, result.final_job_id).storyboard)
    final = RunContext.create("emulated", ctx.settings)  # adapters built for the full-size one
    final.base_urls = dict(explorer.full.base_urls)
    final.judge_base_urls = dict(explorer.full.judge_base_urls)
    explorer.render_job(final, result.final_job_id, final_board, board, "commit: ")
