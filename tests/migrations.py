"""Alembic round trips shared by the migration tests: upgrade to every head, downgrade below one
migration, upgrade again, checking which tables exist at each step."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect

from store.db import alembic_config


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def round_trip(url: str, added: set[str], down_to: str, kept: str) -> None:
    """``added`` appear at the heads, vanish at ``down_to`` (where ``kept`` stays), then return."""
    config = alembic_config(url)
    command.upgrade(config, "heads")
    assert tables(url) >= added
    command.downgrade(config, down_to)
    assert not added & tables(url)
    assert kept in tables(url)
    command.upgrade(config, "heads")
    assert tables(url) >= added
