"""What ``--providers`` may be (``router.provider_availability`` says what each enables): a module
of its own, so that the CLI names the choices without loading the settings' stack."""

from __future__ import annotations

from typing import Literal, get_args

ProviderChoice = Literal["local", "emulated", "live", "auto"]
PROVIDER_CHOICES: tuple[str, ...] = get_args(ProviderChoice)
