"""Two commits of one preview at the same moment share its budget: the second sees the first's
final (as ``ledger.reserve`` sees a concurrent reservation), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from foundation import money
from foundation.errors import BudgetExceededError, ConflictError
from foundation.settings import get_settings
from foundation.states import JobStatus
from pipeline import commit
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from store.db import session_scope
from store.models import Job, JobCommit
from tests.ledger.conftest import emulated_context, small_board

BUDGET = 20.0


@pytest.fixture
def on_postgres(fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunContext]:
    monkeypatch.setenv("SHOTLINE_DATABASE_URL", fresh_postgres_url)
    get_settings.cache_clear()
    with emulated_context() as ctx:
        yield ctx


def _race(ctx: RunContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both commits quote before either writes its final; then both try to write."""
    preview_id = commit.start_preview(ctx, small_board(2, budget=BUDGET))
    assert EmbeddedEngine(ctx).run(preview_id) == "delivered"
    both_quoted = threading.Barrier(2, timeout=60)
    quote = commit._quote

    def quote_then_wait(*args, **kwargs):
        found = quote(*args, **kwargs)
        both_quoted.wait()
        return found

    monkeypatch.setattr(commit, "_quote", quote_then_wait)

    def one(key: str) -> str:
        try:
            return commit.commit(ctx, preview_id, [key]).final_job_id
        except BudgetExceededError:
            return "refused"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(one, ["k0", "k1"]))
    with session_scope(ctx.db_url) as session:
        finals = session.scalars(select(Job).where(Job.mode == "final")).all()
        commits = session.scalars(select(JobCommit)).all()
        given = sum(money.usd(final.budget_usd) for final in finals)
    assert outcomes.count("refused") == 1, "the second commit sees the first's final"
    assert len(finals) == len(commits) == 1
    assert given <= money.usd(BUDGET)


class TestCommitsOfOnePreviewShareItsBudget:
    def test_sqlite(self, emulated, monkeypatch):
        _race(emulated, monkeypatch)

    @pytest.mark.services
    def test_postgres(self, on_postgres, monkeypatch):
        _race(on_postgres, monkeypatch)


def test_a_commit_run_again_while_its_final_is_unfinished_is_refused(emulated):
    """A commit whose process was killed left its final ``planned`` or ``running``: committing
    the same shots again would pay for them twice; it names that final instead. Other shots may
    still be committed, and once the final is cancelled its shots may be committed again. (No
    budget: a budget is all given to the first final, and refuses the second as over it.)"""
    preview_id = commit.start_preview(emulated, small_board(2, budget=None))
    assert EmbeddedEngine(emulated).run(preview_id) == "delivered"
    first = commit.commit(emulated, preview_id, ["k0"]).final_job_id
    with pytest.raises(ConflictError) as refused:
        commit.commit(emulated, preview_id, ["k0", "k1"])
    message = str(refused.value)
    assert f"job {first}" in message
    assert "renders k0:" in message
    assert f"shotline jobs resume {first}" in message
    other = commit.commit(emulated, preview_id, ["k1"]).final_job_id
    with session_scope(emulated.db_url) as session:
        session.get_one(Job, first).status = JobStatus.CANCELLED
    again = commit.commit(emulated, preview_id, ["k0"]).final_job_id
    assert len({first, other, again}) == 3
