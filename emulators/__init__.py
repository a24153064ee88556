"""Faithful local emulations of the hosted video providers and the two judge APIs.

``start_emulator`` runs one server in a background thread; ``EmulatorHandle.base_urls`` maps each
provider id to the base URL to give ``adapters.factory.build_adapter``.
"""

from emulators._server import EmulatorHandle, create_app, start_emulator, urls_for
from emulators.scenario import Scenario, load_scenario

__all__ = [
    "EmulatorHandle",
    "Scenario",
    "create_app",
    "load_scenario",
    "start_emulator",
    "urls_for",
]
