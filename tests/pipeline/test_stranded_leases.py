"""A step that ends while the database is away cannot give its lease back; once the database answers
again, this process gives it back before its next claim, so the step's own retry runs it.

Before, the lease stayed until it expired (a normalise's: 30 minutes), and no claim could take the
step meanwhile, this process's retry included: a render on PostgreSQL whose server was away for
20 s while two shots normalised waited on them with no end (seen through ``tests/relay.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from foundation.settings import Settings
from pipeline import flow
from pipeline import steps as cursors
from pipeline.context import RunContext
from pipeline.steps import ABSENT, Cursor, Move, shot_key
from store.db import connection_scope, session_scope
from store.models import Attempt
from tests.ledger.conftest import seed_attempt
from tests.relay import CuttableLink

HOLDER = "embedded@test|1"
LEASE_S = 1800.0


def test_a_lease_the_database_could_not_take_back_is_given_back_when_it_answers(
    fresh_postgres_url: str, link: CuttableLink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    relayed = fresh_postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{link.port}")
    ctx = RunContext.create("local", Settings(data_dir=tmp_path / "data", database_url=relayed))
    attempt = seed_attempt(ctx.db_url, job="j1", shot="a")
    with session_scope(ctx.db_url) as session:
        shot_pk = session.get_one(Attempt, attempt).shot_id
    (message,) = cursors.apply(
        ctx.db_url,
        None,
        [Move(shot_key(shot_pk), "j1", "gate", str(attempt), when=frozenset({ABSENT}))],
        60.0,
    )

    def database_goes_away(_ctx: RunContext, _cur: Cursor) -> list[Move]:
        link.cut()  # the step's own work meets the outage, and so does the release after it
        with connection_scope(ctx.db_url) as conn:
            conn.execute(text("SELECT 1"))
        return []

    ran: list[int] = []

    def gate_once_back(_ctx: RunContext, cur: Cursor) -> list[Move]:
        ran.append(cur.version)
        return []

    monkeypatch.setitem(flow.STEPS, "gate", database_goes_away)
    with pytest.raises(OperationalError):
        flow.run_step(ctx, "gate", message.ref, message.version, HOLDER, LEASE_S)

    link.mend()
    monkeypatch.setitem(flow.STEPS, "gate", gate_once_back)
    flow.run_step(ctx, "gate", message.ref, message.version, HOLDER, LEASE_S)
    assert ran == [message.version], "the retry claimed the step this process had held"
    assert (ctx.db_url, shot_key(shot_pk)) not in flow._stranded
