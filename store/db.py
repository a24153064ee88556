"""Engine and session factory. The schema is created and upgraded by Alembic on first use."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from foundation.settings import make_folder

MIGRATIONS = Path(__file__).parent / "migrations"
DATABASE_FOLDER = (
    "the embedded database's folder, from SHOTLINE_DATA_DIR or the path in SHOTLINE_DATABASE_URL"
)
_migrate_lock = threading.Lock()
_migrated: set[str] = set()


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Upgrade the database at ``url`` to the newest revision (idempotent, once per process)."""
    with _migrate_lock:
        if url in _migrated:
            return
        if url.startswith("sqlite:///"):
            folder = Path(url.removeprefix("sqlite:///")).parent
            make_folder(folder, "database", DATABASE_FOLDER)
        command.upgrade(alembic_config(url), "heads")
        _migrated.add(url)


@cache
def get_engine(url: str) -> Engine:
    migrate(url)
    if url.startswith("sqlite"):
        # enough pooled connections for the step threads, the API's and the scheduler's: overflow
        # connections are closed on return and reopened (with their pragmas) on the next step
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=16,
            max_overflow=32,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, json_serializer=_json_dumps
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _json_dumps(value: Any) -> str:
    """JSON for PostgreSQL, which rejects NaN and Infinity (e.g. the true peak of silence):
    those numbers are stored as null."""
    return json.dumps(_finite(value))


@cache
def _factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


def connection_scope(url: str) -> AbstractContextManager[Connection]:
    """One transaction of Core statements without an ORM session (committed on success): for hot
    paths such as the step cursors' claims, whose statements need no identity map."""
    return get_engine(url).begin()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error."""
    session = _factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
