"""Migration 0005_money: the cost records of jobs that ran on emulated providers are marked
emulated on upgrade (they were booked as spend before), and the commit's ``rejected`` appears."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from store.db import alembic_config, session_scope
from store.models import Job
from tests.ledger.conftest import seed_attempt


def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    seed_attempt(url, job="emu", settled_usd=1.0, verdict="accepted")
    seed_attempt(url, job="real", settled_usd=2.0, verdict="accepted")
    with session_scope(url) as session:
        session.get_one(Job, "emu").providers = "emulated"
    config = alembic_config(url)
    command.downgrade(config, "0004_billing")
    assert "emulated" not in _columns(url, "attempt_cost")
    assert "rejected" not in _columns(url, "job_commit")
    command.upgrade(config, "heads")
    assert "rejected" in _columns(url, "job_commit")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT job_id, emulated FROM attempt_cost")).all()
    finally:
        engine.dispose()
    assert {job: bool(flag) for job, flag in rows} == {"emu": True, "real": False}


def test_sqlite_round_trip_marks_emulated_records(tmp_path):
    _round_trip(f"sqlite:///{tmp_path / 'money.db'}")


@pytest.mark.services
def test_postgres_round_trip_marks_emulated_records(fresh_postgres_url):
    _round_trip(fresh_postgres_url)
