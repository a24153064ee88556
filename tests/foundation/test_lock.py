"""The lock gives every supported Python the same version of each package, so the suite (run on one
Python) tests what runs on the others: a fork in ``uv.lock`` once gave Python 3.12+ a PyAV release
without an argument the stitcher passes, and ``make demo`` failed there after rendering."""

from __future__ import annotations

import tomllib
from collections import defaultdict
from pathlib import Path

from packaging.markers import Marker

LOCK = Path(__file__).resolve().parents[2] / "uv.lock"
SUPPORTED = ("3.11.0", "3.12.0", "3.13.0", "3.14.0")
"""The Pythons the README promises (3.11+) that have every locked package's wheels; 3.15 takes
numpy 2.5, which 3.11 cannot install (``pyproject.toml``)."""


def _versions_by_python() -> dict[str, dict[str, set[str]]]:
    """For each locked package with more than one version: the versions each Python gets."""
    entries = defaultdict(list)
    for package in tomllib.loads(LOCK.read_text())["package"]:
        entries[package["name"]].append(package)
    found: dict[str, dict[str, set[str]]] = {}
    for name, versions in entries.items():
        if len(versions) < 2:
            continue
        found[name] = {
            python: {
                v["version"]
                for v in versions
                if any(
                    Marker(m).evaluate(
                        {"python_full_version": python, "python_version": python[:4]}
                    )
                    for m in v.get("resolution-markers", ["python_full_version >= '0'"])
                )
            }
            for python in SUPPORTED
        }
    return found


def test_every_supported_python_gets_one_and_the_same_version_of_each_package():
    for name, by_python in _versions_by_python().items():
        assert all(len(v) == 1 for v in by_python.values()), (name, by_python)
        assert len(set.union(*by_python.values())) == 1, (name, by_python)
