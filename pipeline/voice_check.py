"""A line's ElevenLabs voice, checked at planning before any spend: a named one
(``elevenlabs:<voice_id>``), and the stock voice a description maps to when ElevenLabs is the only
model that could speak the line.

Which voice ids an ElevenLabs account has is known only to ElevenLabs (custom and library voices
belong to one account), so a plan that routes a line to ElevenLabs asks its free voice lookup
(``adapters.voice_lookup``) for the character's voice id. An id the provider says it does not have
is refused at the character's ``voice``, before anything is reserved or sent; before this check
it failed at the shot's tts stage, after other shots' providers had been paid.

Answers are kept per tenant, per account (a hash of base URL and key) and per voice id: a known
voice for ``KNOWN_TTL_S``, a missing one for ``MISSING_TTL_S`` (a voice just added to the account
is seen a minute later). A lookup that is not answered (transport failure, timeout, 5xx, 429, a
refused key) says nothing about the voice: planning goes on, with a warning in the log, and the
tts stage finds out at run time as it did before (its fallback chain, then the shot fails); the
non-answer is kept ``UNANSWERED_TTL_S`` so that one plan asks once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from adapters.errors import ProviderError
from adapters.voice_lookup import BASE_URL, VoiceAnswer, lookup_elevenlabs_voice
from adapters.voices import named_voice
from foundation.errors import InvalidInputError, Problem
from foundation.storyboard import Storyboard
from pipeline.context import RunContext
from pipeline.voices import lines_of, voice_of
from router import StageDecision

log = logging.getLogger(__name__)

KNOWN_TTL_S = 600.0
MISSING_TTL_S = 60.0
UNANSWERED_TTL_S = 30.0
PROVIDER = "elevenlabs"
Lookup = Callable[..., VoiceAnswer]


@dataclass(frozen=True)
class Account:
    """Where a tenant's voice lookups go: the API's base URL, the key, the key's origins."""

    base_url: str
    api_key: str
    api_origins: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.base_url}\n{self.api_key}".encode()).hexdigest()[:32]


class VoiceLookups:
    """Voice lookup answers kept for a while, per tenant, account and voice id (the module
    docstring); an unanswered lookup is kept as its reason (a string)."""

    def __init__(
        self, lookup: Lookup = lookup_elevenlabs_voice, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._lookup, self._now = lookup, now
        self._kept: dict[tuple[str, str, str], tuple[float, VoiceAnswer | str]] = {}
        self._lock = threading.Lock()

    def answer(self, tenant: str, account: Account, voice_id: str) -> VoiceAnswer | str:
        key = (tenant, account.fingerprint(), voice_id)
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and kept[0] > self._now():
            return kept[1]
        found = self._ask(account, voice_id)
        ttl = UNANSWERED_TTL_S
        if isinstance(found, VoiceAnswer):
            ttl = KNOWN_TTL_S if found.known else MISSING_TTL_S
        with self._lock:
            self._kept[key] = (self._now() + ttl, found)
        return found

    def _ask(self, account: Account, voice_id: str) -> VoiceAnswer | str:
        try:
            return self._lookup(
                voice_id, account.api_key, account.base_url, api_origins=account.api_origins
            )
        except ProviderError as exc:
            log.warning(
                "ElevenLabs voice %s could not be looked up (%s: %s); left to the tts stage",
                voice_id, exc.kind, exc,
            )  # fmt: skip
            return f"{exc.kind}: {exc}"


LOOKUPS = VoiceLookups()


def account_of(ctx: RunContext) -> Account | None:
    """The ElevenLabs account ``ctx`` speaks with: the emulator's when emulated (None when no
    emulator is running: a bare plan), else the configured key's (None without one)."""
    if ctx.emulated:
        url = ctx.base_urls.get(PROVIDER)
        return Account(url, "emulated") if url else None
    secret = ctx.settings.elevenlabs_api_key
    if secret is None or not secret.get_secret_value():
        return None
    origins = tuple(ctx.registry.api_origins(PROVIDER))
    return Account(BASE_URL, secret.get_secret_value(), origins)


def refuse_unknown_voices(
    ctx: RunContext,
    board: Storyboard,
    decisions: Mapping[str, StageDecision],
    tenant: str,
    lookups: VoiceLookups | None = None,
    kept: Collection[str] = (),
) -> None:
    """Raise ``InvalidInputError`` naming each character's ``voice`` whose ElevenLabs voice id the
    account does not have, when the plan routes one of its lines to ElevenLabs (``kept``: a
    commit's kept shots, said in their preview's stored speech, are not looked up)."""
    account, lookups = account_of(ctx), lookups or LOOKUPS  # LOOKUPS as it is when called
    if account is None:
        return
    problems: dict[str, Problem] = {}
    for line in lines_of(board):
        if line.shot_id in kept or line.voice_path in problems:
            continue
        voice_id = _voice_to_check(ctx, line.voice, decisions.get(line.shot_id))
        if voice_id is None:
            continue
        found = lookups.answer(tenant, account, voice_id)
        if isinstance(found, VoiceAnswer) and not found.known:
            mapped = "" if named_voice(line.voice) else f", the stock voice for {line.voice!r},"
            message = (
                f"ElevenLabs has no voice {voice_id!r} on this account{mapped} (it answered: "
                f"{found.message}); shot {line.shot_id} would be voiced by it"
                + ("" if not mapped else "; name one of the account's voices as "
                   "'elevenlabs:<voice_id>'")
            )  # fmt: skip
            problems[line.voice_path] = Problem(line.voice_path, message)
    if problems:
        raise InvalidInputError(
            "some voices do not exist; nothing was reserved or sent to a provider",
            list(problems.values()),
        )


def _voice_to_check(
    ctx: RunContext, description: str, decision: StageDecision | None
) -> str | None:
    """The ElevenLabs voice id a line's chain would end on: a named ``elevenlabs:<voice_id>``
    when ElevenLabs is in the chain, or the stock voice a description maps to when ElevenLabs is
    the chain's only voice (no other model would speak it when the account lacks that voice:
    ElevenLabs retires its legacy premade voices, UNCERTAIN, so an account may have none)."""
    if decision is None or all(c.provider != PROVIDER for c in decision.chain):
        return None
    named = named_voice(description)
    if named is not None:
        return named[1] if named[0] == PROVIDER else None
    if any(c.provider != PROVIDER for c in decision.chain):
        return None
    choice = voice_of(ctx.registry.get(decision.chain[0].model_id), description)
    return choice.voice if choice is not None else None
