"""A strict emulator for the chat drafts: gpt-4.1-mini answers its first draft of a conversation
invalidly, gpt-5-mini its first three (more than the two repair rounds allow)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulators import EmulatorHandle, start_emulator
from emulators.scenario import Scenario


@pytest.fixture(scope="package")
def emulator() -> Iterator[EmulatorHandle]:
    scenario = Scenario.model_validate(
        {"seed": 1, "models": {"gpt-5-mini": {"draft_invalid_rounds": 3}}}
    )
    with start_emulator(scenario) as handle:
        yield handle


@pytest.fixture(scope="package")
def repairing_emulator() -> Iterator[EmulatorHandle]:
    scenario = Scenario.model_validate(
        {"seed": 1, "models": {"gpt-4.1-mini": {"draft_invalid_rounds": 1}}}
    )
    with start_emulator(scenario) as handle:
        yield handle
