"""Migration 0007_attempt_stage: an attempt says which stage of its shot it tries; the tts tries
made before the column existed (numbered below zero) are marked ``tts`` on upgrade."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from store.db import alembic_config, migrate
from tests.ledger.conftest import seed_attempt


def _stages(url: str) -> dict[int, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT number, stage FROM attempt")).all()
    finally:
        engine.dispose()
    return {number: stage for number, stage in rows}


def _round_trip(url: str) -> None:
    migrate(url)
    for _ in range(2):
        seed_attempt(url, settled_usd=0.0, verdict="accepted")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:  # a tts try as the tts stage numbered it before 0007
            connection.execute(text("UPDATE attempt SET number = -1 WHERE number = 2"))
    finally:
        engine.dispose()
    config = alembic_config(url)
    command.downgrade(config, "0006_draft_cost")
    command.upgrade(config, "heads")
    assert _stages(url) == {1: "video", -1: "tts"}


def test_sqlite_round_trip_marks_the_tts_tries(tmp_path):
    _round_trip(f"sqlite:///{tmp_path / 'stage.db'}")


@pytest.mark.services
def test_postgres_round_trip_marks_the_tts_tries(fresh_postgres_url):
    _round_trip(fresh_postgres_url)
