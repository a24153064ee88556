"""A database a process cannot open ends the command naming the database and why, and leaves it as
it was. Before, each of these came out of the first command that opened the database as a
traceback: a file that is not SQLite (``sqlite3.DatabaseError``), a PostgreSQL server that refuses
or lacks the database (``OperationalError``), a database a newer shotline upgraded past every
revision this one knows (alembic's ``CommandError``), a driver shotline does not install
(``ModuleNotFoundError``), an in-memory SQLite (``TypeError``); and a worker started on such a
database ran, failing every step it was sent."""

from __future__ import annotations

import json
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from foundation.settings import get_settings
from shotline.cli import app
from shotline.commands import doctor
from store import db
from store.db import alembic_config
from tests.api.conftest import free_port

EXAMPLE = Path(__file__).parents[2] / "examples" / "one-shot.yaml"


@pytest.fixture
def database_url(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Point SHOTLINE_DATABASE_URL at ``url`` for the commands the test runs."""

    def use(url: str) -> str:
        monkeypatch.setenv("SHOTLINE_DATABASE_URL", url)
        get_settings.cache_clear()
        return url

    return use


def _newer_database(template: Path, target: Path) -> Path:
    """A copy of the migrated template whose newest revision is one this shotline lacks."""
    shutil.copyfile(template, target)
    engine = create_engine(f"sqlite:///{target}")
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE alembic_version SET version_num = '0099_from_the_future' "
                 "WHERE version_num = '0007_attempt_stage'")
        )  # fmt: skip
    engine.dispose()
    return target


def _refused(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return " ".join(result.output.split())


@pytest.mark.parametrize("args", [["jobs", "list"], ["costs"], ["budget", "show"]])
def test_a_database_a_newer_shotline_upgraded_is_named_and_left_alone(
    database_url, migrated_database: Path, tmp_path: Path, args: list[str]
) -> None:
    newer = _newer_database(migrated_database, tmp_path / "newer.db")
    before = newer.read_bytes()
    database_url(f"sqlite:///{newer}")
    said = _refused(args)
    assert said.startswith(f"error: the database sqlite:///{newer} was upgraded by a newer")
    assert "its revision 0099_from_the_future is unknown to this one" in said
    assert "0007_attempt_stage" in said, "this shotline's newest revisions are named"
    assert newer.read_bytes() == before


def test_a_render_on_a_file_that_is_not_a_database_makes_nothing(
    database_url, tmp_path: Path
) -> None:
    garbage = tmp_path / "notes.db"
    garbage.write_bytes(b"these are notes, not a database\n" * 64)
    database_url(f"sqlite:///{garbage}")
    out = tmp_path / "out.mp4"
    said = _refused(["render", str(EXAMPLE), "-o", str(out), "--providers", "local"])
    assert said == f"error: the database sqlite:///{garbage} cannot be used: file is not a database"
    assert not out.exists()
    assert garbage.read_bytes() == b"these are notes, not a database\n" * 64


def test_a_postgresql_server_that_refuses_is_named_without_its_password(database_url) -> None:
    port = free_port()
    database_url(f"postgresql+psycopg://shot:hunter2@127.0.0.1:{port}/shotline")
    said = _refused(["jobs", "list", "--json"])
    assert '"error": "DatabaseUnusableError"' in said
    assert f"postgresql+psycopg://shot:***@127.0.0.1:{port}/shotline cannot be used" in said
    assert "Connection refused" in said
    assert "hunter2" not in said


def test_a_missing_postgresql_database_is_named(database_url, postgres_url: str) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/shotline_never_made"
    database_url(missing)
    said = _refused(["plan", str(EXAMPLE), "--providers", "local"])
    assert 'database "shotline_never_made" does not exist' in said


@pytest.mark.timeout(60)
def test_a_worker_on_a_database_it_cannot_open_does_not_start(database_url, tmp_path: Path) -> None:
    garbage = tmp_path / "notes.db"
    garbage.write_bytes(b"not sqlite" * 100)
    database_url(f"sqlite:///{garbage}")
    said = _refused(["worker", "--queues", "io"])
    assert said.endswith("cannot be used: file is not a database")


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://shot@127.0.0.1/shotline", "not 'mysql'"),
        ("postgresql+psycopg2://shot@127.0.0.1/shotline", "not 'postgresql+psycopg2'"),
        ("sqlite://", "an embedded database is a file"),
        ("sqlite:///:memory:", "an embedded database is a file"),
    ],
)
def test_a_database_shotline_cannot_run_on_is_refused_at_its_variable(
    database_url, url: str, said: str
) -> None:
    database_url(url)
    result = CliRunner().invoke(app, ["jobs", "list"])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[1].startswith("  SHOTLINE_DATABASE_URL: ")
    assert said in result.output


def _doctor() -> dict[str, Any]:
    result = CliRunner().invoke(app, ["doctor", "--providers", "local", "--json"])
    report: dict[str, Any] = json.loads(result.output)
    assert result.exit_code == (0 if report["ok"] else 1)
    return report


def test_doctor_reads_the_database_without_changing_it(
    database_url, migrated_database: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "later" / "shotline.db"
    database_url(f"sqlite:///{missing}")
    assert _doctor()["database"]["revision"].startswith("not made yet")
    assert not missing.parent.exists(), "doctor makes no database"

    newest = tmp_path / "newest.db"
    shutil.copyfile(migrated_database, newest)
    database_url(f"sqlite:///{newest}")
    assert _doctor()["database"]["revision"] == "at the newest revision"

    command.downgrade(alembic_config(f"sqlite:///{newest}"), "0006_draft_cost")
    report = _doctor()
    assert (report["ok"], report["database"]["revision"]) == (
        True, "at an older revision: upgraded on first use"
    )  # fmt: skip

    database_url(f"sqlite:///{_newer_database(migrated_database, tmp_path / 'newer.db')}")
    report = _doctor()["database"]
    assert not report["ok"]
    assert "0099_from_the_future, which a newer shotline wrote" in report["error"]

    database_url(f"postgresql+psycopg://shot:hunter2@127.0.0.1:{free_port()}/x")
    report = _doctor()["database"]
    assert not report["ok"]
    assert "Connection refused" in report["error"]
    assert "hunter2" not in str(report)


def test_doctor_asks_the_bucket(s3_bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _doctor()["asset_store"]
    assert store["ok"]
    assert store["kind"] == "S3-compatible bucket, answering"

    monkeypatch.setenv("SHOTLINE_ASSET_STORE", f"s3://{s3_bucket.name}-never-made")
    get_settings.cache_clear()
    store = _doctor()["asset_store"]
    assert not store["ok"]
    assert "-never-made answers" in store["error"]


@pytest.mark.timeout(60)
def test_a_server_that_never_answers_is_given_up_on(
    database_url: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port that accepts and then says nothing (a half-open proxy, another service) held every
    command for psycopg's own 130 s; shotline gives a connection ``CONNECT_TIMEOUT_S``."""
    monkeypatch.setattr(db, "CONNECT_TIMEOUT_S", 1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        database_url(f"postgresql+psycopg://shot@127.0.0.1:{port}/shotline")
        started = time.monotonic()
        said = _refused(["jobs", "list"])
        waited = time.monotonic() - started
    assert "cannot be used" in said
    assert "timeout expired" in said
    assert waited < 10, f"gave up after {waited:.1f} s"


def test_doctor_tells_the_free_space_where_shotline_writes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A render stops when its disk fills (``tests/e2e/test_disk_full.py``): doctor says how much
    is free under the data and asset folders, and warns below ``LOW_DISK_BYTES``."""
    monkeypatch.setenv("SHOTLINE_ASSET_DIR", str(tmp_path / "not" / "made" / "yet"))
    get_settings.cache_clear()
    disk = _doctor()["disk"]
    settings = get_settings()
    for folder in (settings.data_dir.resolve(), settings.assets):
        amount, unit, free = disk[str(folder)].split()
        assert (float(amount) > 0, unit in ("GiB", "MiB"), free) == (True, True, "free")
    assert not (tmp_path / "not").exists(), "doctor makes no folder"
    monkeypatch.setattr(doctor, "LOW_DISK_BYTES", 1 << 60)
    note = _doctor()["disk"]["note"]
    assert note.startswith("under ")
    assert note.endswith(": a render stops when its disk fills")
    assert str(settings.assets) in note
