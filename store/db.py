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
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from foundation.settings import make_folder
from store.errors import DatabaseUnusableError

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
        try:
            command.upgrade(alembic_config(url), "heads")
        except DBAPIError as exc:
            raise unusable(url, exc) from None
        except CommandError:
            unknown = revisions(url)[0] - known_revisions()
            if not unknown:
                raise
            raise DatabaseUnusableError(
                f"the database {shown(url)} was upgraded by a newer shotline: its revision "
                f"{', '.join(sorted(unknown))} is unknown to this one (newest: "
                f"{', '.join(sorted(head_revisions()))}); run that version, or point "
                "SHOTLINE_DATABASE_URL (or SHOTLINE_DATA_DIR) at another database"
            ) from None
        _migrated.add(url)


def shown(url: str) -> str:
    """``url`` as it may be printed: its password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def unusable(url: str, exc: DBAPIError) -> DatabaseUnusableError:
    """The error naming the database and the driver's own words (psycopg's span several lines,
    here joined on one)."""
    said = " ".join(line.strip() for line in str(exc.orig).splitlines() if line.strip())
    return DatabaseUnusableError(f"the database {shown(url)} cannot be used: {said}")


@cache
def _scripts() -> ScriptDirectory:
    """This shotline's migrations, read once per process."""
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def known_revisions() -> set[str]:
    """Every revision of this shotline's migrations."""
    return {revision.revision for revision in _scripts().walk_revisions()}


def head_revisions() -> set[str]:
    return set(_scripts().get_heads())


def revisions(url: str) -> tuple[set[str], bool]:
    """The revisions the database at ``url`` carries, and whether it exists yet (an embedded
    database's file that is missing is not made here). ``DatabaseUnusableError`` when it cannot
    be read."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return set(), False
    engine = create_engine(url, poolclass=NullPool, connect_args=connect_args(url))
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads()), True
    except DBAPIError as exc:
        raise unusable(url, exc) from None
    finally:
        engine.dispose()


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
        url,
        connect_args=connect_args(url),
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        json_serializer=_json_dumps,
    )


CONNECT_TIMEOUT_S = 10
"""How long a PostgreSQL connection may take to be made, unless the URL says
(``?connect_timeout=``): psycopg's own default is 130 s (``psycopg/conninfo.py`` 3.3,
``_DEFAULT_CONNECT_TIMEOUT``), which a server that accepts but never answers held every command
for, silently."""


def connect_args(url: str) -> dict[str, Any]:
    """The driver's connection arguments for ``url``: SQLite's busy wait, PostgreSQL's timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {"timeout": 30}
    return {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT_S}


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
