"""Shared by the strict-emulator tests: a tiny PNG and a scenario whose jobs never finish rendering,
so refusal tests submit cheaply. The registry x capability grid is
``tests/emulators/test_registry_contract.py``.
"""

from __future__ import annotations

import base64

from emulators import Scenario

# a 1x1 PNG, enough for an emulator that checks encodings, not pictures
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def quiet_scenario(provider: str) -> Scenario:
    """Jobs are accepted but never start rendering beyond the first one."""
    profile = {"concurrency": 1, "latency": {"seconds": 3600.0}}
    return Scenario.model_validate({"providers": {provider: profile}, "media": {"max_side": 32}})
