"""Shared fixtures: every test gets its own data directory, and services are required or skipped."""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from foundation.settings import get_settings

if TYPE_CHECKING:
    from tests.relay import CuttableLink
    from tests.s3 import Bucket


#: the day the suite evaluates lifecycles and prices on (``foundation.clock``), unless the run
#: sets ``SHOTLINE_TODAY`` itself: the registry's announced shutdowns (gpt-5-mini on 2026-12-11,
#: OpenAI's speech models on 2027-01-06...) would otherwise change what a later checkout's tests
#: route. Tests of a lifecycle name their own day.
SUITE_DAY = "2026-12-07"
os.environ.setdefault("SHOTLINE_TODAY", SUITE_DAY)


if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    # a suite started in the background of a script (``make test &``) inherits SIGINT ignored and
    # passes that on to every process it starts, which rightly leave an ignored signal ignored:
    # the Ctrl-C tests need the disposition a terminal gives
    signal.signal(signal.SIGINT, signal.default_int_handler)


_RESOLVE = socket.getaddrinfo
_HERE = {"localhost", "", socket.gethostname()}


def _loopback_only(host: object, *args: object, **kwargs: object) -> object:
    """``socket.getaddrinfo`` for this process's tests: loopback names and literal addresses
    resolve; any other name is refused as a machine without DNS refuses it, so no test reaches a
    real provider, even one whose fixture falls back to a provider's default URL."""
    name = host.decode() if isinstance(host, bytes) else host
    if name is None or not isinstance(name, str) or name in _HERE or name.endswith(".localhost"):
        return _RESOLVE(host, *args, **kwargs)  # type: ignore[arg-type]
    try:
        ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        raise socket.gaierror(
            socket.EAI_NONAME, f"tests never resolve {name!r}: no test reaches a real provider"
        ) from None
    return _RESOLVE(host, *args, **kwargs)  # type: ignore[arg-type]


socket.getaddrinfo = _loopback_only  # type: ignore[assignment]


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty embedded database that ``store.db.migrate`` brought to the newest revision, made
    once per worker: copying it costs a millisecond, running the migrations about 100 ms."""
    from store.db import get_engine

    path = tmp_path_factory.mktemp("migrated") / "shotline.db"
    get_engine(f"sqlite:///{path}").dispose()  # migrates, then closes: no WAL file is left
    return path


@pytest.fixture(autouse=True)
def isolated_data_dir(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point SHOTLINE_DATA_DIR at a fresh directory so tests never share state. Its database is
    a copy of ``migrated_database`` (``migrate`` still runs on first use and finds it at the newest
    revision), unless the test is marked ``empty_data_dir``: there it does not exist until something makes it."""
    data = tmp_path / "shotline-data"
    if not request.node.get_closest_marker("empty_data_dir"):
        data.mkdir()
        shutil.copyfile(request.getfixturevalue("migrated_database"), data / "shotline.db")
    monkeypatch.setenv("SHOTLINE_DATA_DIR", str(data))
    for name in list(os.environ):
        if name.startswith("SHOTLINE_") and name.endswith(("_API_KEY", "_KEY", "_TOKEN")):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def databases_from_template(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQLite file a test's code opens outside its data directory (a ``RunContext`` on
    ``tmp_path``, a second tenant's database) starts as a copy of ``migrated_database`` too, where
    it does not exist yet: ``get_engine`` then finds it at the newest revision. Tests of the
    migrations call ``store.db.migrate`` by their own name and are untouched, as are tests marked
    ``empty_data_dir`` and every other process."""
    if request.node.get_closest_marker("empty_data_dir"):
        return
    from store import db

    template = request.getfixturevalue("migrated_database")
    migrate = db.migrate

    def from_template(url: str) -> None:
        path = Path(url.removeprefix("sqlite:///"))
        if url.startswith("sqlite:///") and "?" not in url and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, path)
        migrate(url)

    monkeypatch.setattr(db, "migrate", from_template)


SMALL_MEDIA_SIDE = 160


@pytest.fixture(autouse=True)
def small_emulator_media(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """An emulator started in the test process without a scenario renders clips at most 160 px a
    side (its ``media.max_side``) instead of the model's resolution: the same responses, a tenth of
    the pixels. Tests whose clips must have the provider's resolution (final renders, which the gate
    checks for it) are marked ``provider_resolution``. A scenario file, and emulators in other
    processes, keep their own setting."""
    if request.node.get_closest_marker("provider_resolution"):
        return
    from emulators import _server
    from emulators.scenario import Scenario, load_scenario

    def small_when_unset(path: Path | None) -> Scenario:
        if path is not None:
            return load_scenario(path)
        return Scenario.model_validate({"media": {"max_side": SMALL_MEDIA_SIDE}})

    monkeypatch.setattr(_server, "load_scenario", small_when_unset)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``serial`` (many processes each, timing-sensitive) share one xdist worker per
    group (``serial("cluster")`` names another group), so at most one test of a group runs at a
    time while the other workers take the independent tests.

    The tests of a module that share a module- or class-scoped fixture (a render made once, then
    measured by each test) go to one worker too: spread over four, each worker made the render
    again (``tests/e2e/test_native_variants.py``'s three tests paid 3.5-3.9 s of setup each).

    Tests marked ``slow`` or ``serial`` are handed out first: started last, the minute-long ones
    left the other workers idle at the end of the run (xdist hands units out in collection order).

    ``tryfirst``: xdist's worker turns the marks into node ids in its own hook, which ran first and
    found none; and pytest 9.2's node ids ignore that rename (pytest-dev/pytest-xdist#1386), so the
    lock holds pytest 9.1. ``tests/test_xdist_groups.py`` fails when the groups are lost again.
    """
    for item in items:
        marker = item.get_closest_marker("serial")
        if marker is not None:
            group = marker.args[0] if marker.args else "serial"
            item.add_marker(pytest.mark.xdist_group(group))
        elif _shares_a_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    items.sort(
        key=lambda item: not (item.get_closest_marker("slow") or item.get_closest_marker("serial"))
    )


def _shares_a_module_fixture(item: pytest.Item) -> bool:
    """Whether ``item`` uses a fixture made once per module or class of its own module."""
    info = getattr(item, "_fixtureinfo", None)  # pytest's, on every test function
    if info is None:
        return False
    module = item.nodeid.split("::")[0]
    return any(
        definition.scope in ("module", "class") and definition.baseid.startswith(module)
        for definitions in info.name2fixturedefs.values()
        for definition in definitions[-1:]
    )


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a service is absent, unless SHOTLINE_REQUIRE_SERVICES=1 (CI), where it fails."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return
    except OSError as exc:
        message = f"{name} is not reachable at {host}:{port} ({exc})"
        if os.environ.get("SHOTLINE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message}, and SHOTLINE_REQUIRE_SERVICES=1 requires it")
        pytest.skip(message)


@pytest.fixture
def postgres_url() -> str:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return os.environ.get(
        "SHOTLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )


def redis_test_url() -> str:
    """The Redis database the tests use (``SHOTLINE_TEST_REDIS_URL``, else db 15 on loopback)."""
    return os.environ.get("SHOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    return redis_test_url()


@pytest.fixture
def link(postgres_url: str) -> Iterator[CuttableLink]:
    """A relay to the test PostgreSQL that the test can cut and mend (``tests/relay.py``)."""
    from tests.relay import CuttableLink

    relay = CuttableLink()
    relay.mend()
    yield relay
    relay.cut()


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine, text

    name = f"shotline_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    from store.db import get_engine

    get_engine(url).dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible server (moto's) on loopback, one per test process."""
    from tests.s3 import moto_server

    with moto_server() as server:
        yield server.endpoint


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    """A fresh bucket, and the settings (``SHOTLINE_ASSET_STORE``...) that make it the store."""
    from tests.s3 import new_bucket

    bucket = new_bucket(s3_endpoint)
    for name, value in bucket.env().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return bucket
