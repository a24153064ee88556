"""The conftest's grouping reaches pytest-xdist: under ``--dist loadgroup`` a grouped test's node id
carries its group (xdist's worker appends ``@group`` in its own ``pytest_collection_modifyitems``,
which ran before the conftest's until the conftest's hook was made ``tryfirst``: no test was
grouped, the crash tests ran beside each other and each module fixture was made once per worker)."""

from __future__ import annotations

import pytest

MODULE = "tests/test_xdist_groups.py"


def loadgroup(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "loadgroup", False)) and hasattr(config, "workerinput")


@pytest.fixture(scope="module")
def made_once() -> list[str]:
    return []


@pytest.mark.serial("xdist-groups-check")
def test_a_serial_test_carries_its_group(request: pytest.FixtureRequest) -> None:
    if not loadgroup(request.config):
        pytest.skip("not run by an xdist worker with --dist loadgroup")
    assert request.node.nodeid.endswith("@xdist-groups-check")


@pytest.mark.parametrize("index", [1, 2])
def test_tests_sharing_a_module_fixture_carry_their_module(
    request: pytest.FixtureRequest, made_once: list[str], index: int
) -> None:
    if not loadgroup(request.config):
        pytest.skip("not run by an xdist worker with --dist loadgroup")
    assert request.node.nodeid.endswith(f"@{MODULE}")
