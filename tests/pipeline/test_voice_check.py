"""A character's named ElevenLabs voice (``elevenlabs:<voice_id>``) is looked up at planning
(``pipeline.voice_check``): an id the account lacks is refused at the character's ``voice``
before anything is reserved or sent; before, it failed at the tts stage, after other shots'
providers were paid. Answers are kept per tenant and account; an unanswered lookup leaves the
voice to the tts stage."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import date

import pytest
from sqlalchemy import func, select

from adapters.errors import TransientError
from adapters.voice_lookup import VoiceAnswer
from foundation import clock
from foundation.errors import InvalidInputError
from foundation.settings import Settings
from pipeline import voice_check, voices
from pipeline.context import RunContext
from pipeline.planning import create_job
from store.db import session_scope
from store.models import Job
from tests import web
from tests.contexts import emulated_context
from tests.pipeline.conftest import shot, tiny_board

ADAM = "pNInz6obpgDQGcFmaJgB"
MARA = {"id": "mara", "description": "woman, red raincoat"}


@pytest.fixture(autouse=True)
def _openai_speech_still_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "today", lambda: date(2026, 12, 5))


@pytest.fixture(autouse=True)
def _fresh_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(voice_check, "LOOKUPS", voice_check.VoiceLookups())


def voiced(voice: str):
    spoken = shot(
        "a", duration=3, characters=["mara"], dialogue="We leave at dawn.", speaker="mara"
    )
    return tiny_board(shot("b"), spoken, characters=[MARA | {"voice": voice}])


def jobs_in(ctx: RunContext) -> int:
    with session_scope(ctx.db_url) as session:
        return int(session.scalar(select(func.count()).select_from(Job)) or 0)


def submissions(ctx: RunContext) -> dict[str, int]:
    stats = web.get(ctx.base_urls["elevenlabs"].rsplit("/", 1)[0] + "/_emulator/stats").json()
    return dict(stats["submissions"])


def test_an_unknown_elevenlabs_voice_is_refused_at_planning_and_nothing_is_spent(tmp_path):
    with ExitStack() as stack:
        ctx = emulated_context(tmp_path, stack)
        with pytest.raises(InvalidInputError) as info:
            create_job(ctx, voiced("elevenlabs:abc123"), output=tmp_path / "out.mp4")
        assert submissions(ctx) == {}  # no tts, no video: nothing was sent to be paid for
    (problem,) = info.value.problems
    assert problem.path == "characters[0].voice"
    assert "ElevenLabs has no voice 'abc123'" in problem.message
    assert "A voice for the voice_id abc123 was not found." in problem.message
    assert "nothing was reserved" in info.value.message
    assert jobs_in(ctx) == 0


def test_a_known_elevenlabs_voice_plans(tmp_path):
    with ExitStack() as stack:
        ctx = emulated_context(tmp_path, stack)
        create_job(ctx, voiced(f"elevenlabs:{ADAM}"), output=tmp_path / "out.mp4")
    assert jobs_in(ctx) == 1


class Counting:
    """A lookup that answers ``known`` and counts its calls."""

    def __init__(self, known: bool = True, fail: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.known, self.fail = known, fail

    def __call__(self, voice_id: str, api_key: str, base_url: str, **_: object) -> VoiceAnswer:
        self.calls.append((voice_id, api_key))
        if self.fail:
            raise TransientError("connection failed: refused", "elevenlabs")
        return VoiceAnswer(voice_id, self.known, "" if self.known else "not found")


def test_answers_are_kept_per_tenant_and_account_for_their_ttl():
    now = [0.0]
    lookup = Counting(known=False)
    lookups = voice_check.VoiceLookups(lookup, now=lambda: now[0])
    acme = voice_check.Account("https://api.elevenlabs.io", "key-a")
    for _ in range(3):
        assert not lookups.answer("acme", acme, "abc").known  # type: ignore[union-attr]
    assert len(lookup.calls) == 1
    lookups.answer("globex", acme, "abc")  # tenants never meet, even on one key
    lookups.answer("acme", voice_check.Account("https://api.elevenlabs.io", "key-b"), "abc")
    assert len(lookup.calls) == 3
    now[0] = voice_check.MISSING_TTL_S + 1  # a voice just added to the account is seen
    lookups.answer("acme", acme, "abc")
    assert len(lookup.calls) == 4


def test_an_unanswered_lookup_leaves_the_voice_to_the_tts_stage(tmp_path, caplog):
    """A transport failure says nothing about the voice: the job is planned, with a warning."""
    lookup = Counting(fail=True)
    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    ctx.base_urls = {"elevenlabs": "http://127.0.0.1:9/elevenlabs"}
    lookups = voice_check.VoiceLookups(lookup)
    board = voiced("elevenlabs:abc123")
    decisions = voices.plan_voices(ctx, board, "preview")
    with caplog.at_level("WARNING"):
        voice_check.refuse_unknown_voices(ctx, board, decisions, "acme", lookups)
        voice_check.refuse_unknown_voices(ctx, board, decisions, "acme", lookups)
    assert lookup.calls == [("abc123", "emulated")]  # asked once, then kept for a while
    assert "left to the tts stage" in caplog.text


def test_a_dead_endpoint_is_a_transport_failure_not_a_refusal(tmp_path):
    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    ctx.base_urls = {"elevenlabs": "http://127.0.0.1:9/elevenlabs"}  # nothing listens on port 9
    board = voiced("elevenlabs:abc123")
    decisions = voices.plan_voices(ctx, board, "preview")
    voice_check.refuse_unknown_voices(ctx, board, decisions, "acme")  # no refusal
    kept = voice_check.LOOKUPS.answer(
        "acme", voice_check.Account(ctx.base_urls["elevenlabs"], "emulated"), "abc123"
    )
    assert isinstance(kept, str)
    assert kept.startswith("transient")


def test_a_line_not_routed_to_elevenlabs_is_not_looked_up(tmp_path):
    lookup = Counting(known=False)
    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    ctx.base_urls = {"elevenlabs": "http://127.0.0.1:9/elevenlabs"}
    board = voiced("calm, low")
    decisions = voices.plan_voices(ctx, board, "preview")
    voice_check.refuse_unknown_voices(
        ctx, board, decisions, "acme", voice_check.VoiceLookups(lookup)
    )
    assert lookup.calls == []


def test_a_live_lookup_goes_to_elevenlabs_with_the_configured_key_only(tmp_path):
    keyed = Settings(data_dir=tmp_path / "data", elevenlabs_api_key="xi-secret")
    account = voice_check.account_of(RunContext.create("live", keyed))
    assert account is not None
    assert (account.base_url, account.api_key) == ("https://api.elevenlabs.io", "xi-secret")
    assert "https://api.elevenlabs.io" in account.api_origins
    assert voice_check.account_of(RunContext.create("live", Settings(data_dir=tmp_path))) is None


@pytest.mark.parametrize(
    ("day", "looked_up"), [(date(2026, 12, 5), []), (date(2027, 1, 10), [ADAM])]
)
def test_a_described_voice_elevenlabs_alone_would_speak_is_looked_up(
    tmp_path, monkeypatch, day, looked_up
):
    """From 2027-01-06 (OpenAI's speech models shut down) a described voice goes to the
    ElevenLabs stock voice it maps to, which ElevenLabs is retiring from accounts (UNCERTAIN):
    it is looked up, and refused at planning when the account lacks it. While another model
    could speak the line, a missing voice only moves the chain on: no lookup."""
    monkeypatch.setattr(clock, "today", lambda: day)
    lookup = Counting(known=False)
    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    ctx.base_urls = {"elevenlabs": "http://127.0.0.1:9/elevenlabs"}
    board = voiced("low, deep")
    decisions = voices.plan_voices(ctx, board, "final")
    check = voice_check.VoiceLookups(lookup)
    if not looked_up:
        voice_check.refuse_unknown_voices(ctx, board, decisions, "acme", check)
    else:
        with pytest.raises(InvalidInputError) as info:
            voice_check.refuse_unknown_voices(ctx, board, decisions, "acme", check)
        (problem,) = info.value.problems
        assert problem.path == "characters[0].voice"
        assert f"no voice '{ADAM}' on this account, the stock voice for 'low, deep', (it" in (
            problem.message
        )
        assert "'elevenlabs:<voice_id>'" in problem.message
    assert [voice for voice, _ in lookup.calls] == looked_up
