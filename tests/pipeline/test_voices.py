"""Issue 18's voices: a character's ``voice`` is accepted, a voiced line gets a tts stage routed
among ``kind: tts`` models (the local voice when local), mapped to a provider voice the same way
every time, and a line or voice no model can take is refused at planning with its path."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.voices import choose_voice
from foundation import clock
from foundation.errors import InvalidInputError
from foundation.settings import Settings, get_settings
from foundation.storyboard import StoryboardError
from pipeline import voice_stage, voices
from pipeline.context import RunContext
from pipeline.planning import create_job, route
from router import BreakerState
from shotline.emulated import use_emulator
from store.db import session_scope
from store.models import Attempt, Shot
from tests.pipeline.conftest import shot, tiny_board

MARA = {"id": "mara", "description": "woman, red raincoat", "voice": "calm, low"}
# OpenAI's speech models, which these tests route to, shut down on 2027-01-06 (registry): the
# registry is read as on a day they still speak
BEFORE_OPENAI_SPEECH_SHUTDOWN = date(2026, 12, 5)


@pytest.fixture(autouse=True)
def _openai_speech_still_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "today", lambda: BEFORE_OPENAI_SPEECH_SHUTDOWN)


def voiced(
    line: str = "We leave at dawn.", voice: str = "calm, low", duration: float = 3, **top: object
):
    spoken = shot("a", duration=duration, characters=["mara"], dialogue=line, speaker="mara")
    return tiny_board(spoken, shot("b"), characters=[MARA | {"voice": voice}], **top)


def context(providers: str) -> RunContext:
    return RunContext.create(providers, get_settings())


def test_a_voice_is_accepted_and_an_empty_one_refused_with_its_path():
    board = voiced()
    assert board.characters[0].voice == "calm, low"
    assert [line.shot_id for line in voices.lines_of(board)] == ["a"]
    with pytest.raises(StoryboardError) as info:
        tiny_board(shot("a"), characters=[MARA | {"voice": "  "}])
    (problem,) = info.value.problems
    assert problem.path == "characters[0].voice"


@pytest.mark.parametrize(
    "voice",
    ["elevenlabs:../../v1/user/subscription", "elevenlabs:abc?x=1", "openai:onyx#", "local:a/b"],
)
def test_a_named_voice_id_that_is_not_an_id_is_refused_with_its_path(voice):
    """The id goes into the provider's URL path (``/v1/text-to-speech/{voice_id}``): before,
    ``../..`` sent the line, with the operator's key, to any endpoint of that provider."""
    with pytest.raises(StoryboardError) as info:
        voiced(voice=voice)
    (problem,) = info.value.problems
    assert problem.path == "characters[0].voice"
    assert "letters, digits" in problem.message


def test_a_voiced_line_is_not_sent_to_the_video_model():
    plan = route(context("emulated"), voiced(), voiced().mode)
    need = plan.decisions["a"].need
    assert need.dialogue is None
    assert str(need.audio) == "none"  # the shot asked for no sound of its own


def test_the_description_maps_to_the_same_voice_every_time():
    openai = ["alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer"]
    picks = {choose_voice("openai", openai, "calm, low", True) for _ in range(3)}
    (pick,) = picks
    assert pick is not None
    assert pick.voice == "onyx"
    assert pick.instructions == "Speak in a calm, low voice."
    assert choose_voice("openai", openai, "calm, low", False).instructions is None  # type: ignore[union-attr]
    assert choose_voice("openai", openai, "openai:nova", True).voice == "nova"  # type: ignore[union-attr]
    assert choose_voice("openai", openai, "elevenlabs:abc", True) is None
    assert choose_voice("elevenlabs", [], "elevenlabs:abc", False).voice == "abc"  # type: ignore[union-attr]


def test_emulated_routing_ranks_by_cost_and_keeps_a_fallback_chain():
    ctx = context("emulated")
    (decision,) = voices.plan_voices(ctx, voiced(), "preview").values()
    chain = [c.model_id for c in decision.chain]
    assert chain[0] == "openai/tts-1"  # $15/1M characters: the cheapest hosted voice
    assert chain[-1] == "local/voice"  # a preview's stand-in when every hosted voice fails
    assert len(chain) == 4
    (final,) = voices.plan_voices(ctx, voiced(), "final").values()
    assert "local/voice" not in [c.model_id for c in final.chain]


def test_an_open_breaker_moves_the_model_down_the_chain():
    ctx = context("emulated")
    ctx.health.state = lambda model_id: (  # type: ignore[method-assign]
        BreakerState.OPEN if model_id == "openai/tts-1" else BreakerState.CLOSED
    )
    (decision,) = voices.plan_voices(ctx, voiced(), "preview").values()
    assert decision.chain[0].model_id != "openai/tts-1"


def test_local_runs_speak_with_the_free_local_voice():
    (decision,) = voices.plan_voices(context("local"), voiced(), "preview").values()
    assert [c.model_id for c in decision.chain] == ["local/voice"]
    assert decision.chain[0].estimate_usd == 0.0


def test_a_voice_no_enabled_model_honours_is_refused_at_the_characters_voice():
    ctx = replace(context("local"))
    with pytest.raises(InvalidInputError) as info:
        voices.plan_voices(ctx, voiced(voice="elevenlabs:pNInz6obpgDQGcFmaJgB"), "preview")
    (problem,) = info.value.problems
    assert problem.path == "characters[0].voice"
    assert "cannot speak the voice" in problem.message
    # the local voice is enabled on a local run: its reason is the voice, not the provider
    assert "local/voice: cannot speak the voice" in problem.message
    assert "provider local is not enabled" not in problem.message


def test_a_line_longer_than_every_tts_model_takes_is_refused_at_its_dialogue():
    line = "word " * 9000  # 45,000 characters: over ElevenLabs Flash's 40,000
    with pytest.raises(InvalidInputError) as info:
        voices.plan_voices(context("emulated"), voiced(line=line.strip()), "preview")
    (problem,) = info.value.problems
    assert problem.path == "scenes[0].shots[0].dialogue"
    assert "40000" in problem.message


def test_planning_refuses_before_any_spend():
    with pytest.raises(InvalidInputError):
        route(context("local"), voiced(voice="openai:onyx"), voiced().mode)


def test_usage_is_priced_on_each_models_own_meters():
    ctx = context("emulated")
    tokens = voices.usage_for(ctx.registry.get("openai/gpt-4o-mini-tts"), "abcdefgh", 3.0)
    assert tokens == {"input_tokens": 2, "output_tokens": 63}
    assert voices.usage_for(ctx.registry.get("openai/tts-1"), "abcdefgh", 3.0) == {"characters": 8}


def voiced_shot(ctx: RunContext, tmp_path: Path, line: str = "Go now.") -> int:
    """A new job of ``voiced(line)``; the pk of its voiced shot."""
    job_id = create_job(ctx, voiced(line=line), output=tmp_path / "out.mp4")
    with session_scope(ctx.db_url) as session:
        return session.scalars(select(Shot.id).where(Shot.job_id == job_id, Shot.key == "a")).one()


def tries_of(ctx: RunContext, shot_pk: int) -> list[Attempt]:
    with session_scope(ctx.db_url) as session:
        found = list(session.scalars(select(Attempt).where(Attempt.shot_id == shot_pk)))
        session.expunge_all()
        return found


def test_an_unchanged_line_is_reused_for_nothing(tmp_path):
    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    with ExitStack() as stack:
        use_emulator(ctx, stack, None)
        first = voiced_shot(ctx, tmp_path)
        assert voice_stage.speak(ctx, first) == 0.0
        again = voiced_shot(ctx, tmp_path)
        assert voice_stage.speak(ctx, again) == 0.0
        changed = voiced_shot(ctx, tmp_path, "Go now, Mara.")
        assert voice_stage.speak(ctx, changed) == 0.0
    ((paid,), (reused,), (new,)) = (tries_of(ctx, pk) for pk in (first, again, changed))
    assert (paid.model_id, paid.status, paid.settled_usd) == (
        "openai/tts-1",
        "accepted",
        7 * 15 / 1e6,
    )
    assert (reused.status, reused.settled_usd, reused.quoted_usd) == ("accepted", 0.0, 0.0)
    assert (reused.request or {})["reused_from"] == paid.id
    assert new.settled_usd == pytest.approx(13 * 15 / 1e6)  # a new line is spoken, and paid


def test_a_try_waits_reserved_for_its_models_slot_then_speaks(tmp_path):
    ctx = RunContext.create("local", Settings(data_dir=tmp_path / "data"))
    shot_pk = voiced_shot(ctx, tmp_path)
    limit = ctx.registry.get("local/voice").limits.concurrency
    for n in range(limit):  # every slot of the local voice is held by someone else
        assert ctx.limits.try_acquire("local/voice", f"other:{n}", limit, 60.0)
    assert voice_stage.speak(ctx, shot_pk) > 0
    with session_scope(ctx.db_url) as session:
        (waiting,) = session.scalars(select(Attempt).where(Attempt.shot_id == shot_pk)).all()
        assert (waiting.number, waiting.status) == (-1, "reserved")
    ctx.limits.release("local/voice", "other:0")
    assert voice_stage.speak(ctx, shot_pk) == 0.0
    with session_scope(ctx.db_url) as session:
        (spoken,) = session.scalars(select(Attempt).where(Attempt.shot_id == shot_pk)).all()
        assert (spoken.number, spoken.status, spoken.settled_usd) == (-1, "accepted", 0.0)
        assert spoken.verdict is not None
        assert spoken.verdict["offset_s"] == 0.25
        assert (spoken.request or {}).get("note") in ("espeak-ng", "placeholder-voice")


def _tries_when_tts_1_answers(tmp_path, monkeypatch, answer) -> list[Attempt]:
    """The voiced shot's tries, first first, when OpenAI's ``tts-1`` answers ``answer(request)``
    (it may raise) and every other model speaks as emulated."""
    from adapters.speech import SpeechClient

    real = SpeechClient.speak

    def speak(self, request):
        return answer(request) if request.provider_model == "tts-1" else real(self, request)

    monkeypatch.setattr(SpeechClient, "speak", speak)
    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    with ExitStack() as stack:
        use_emulator(ctx, stack, None)
        shot_pk = voiced_shot(ctx, tmp_path)
        assert voice_stage.speak(ctx, shot_pk) == 0.0
    return sorted(tries_of(ctx, shot_pk), key=lambda a: -a.number)


def test_a_refusal_moves_to_the_next_model_and_costs_nothing(tmp_path, monkeypatch):
    from adapters.errors import RejectedInputError

    def refuse(request):
        raise RejectedInputError("HTTP 400: refused", "openai")

    refused, spoken = _tries_when_tts_1_answers(tmp_path, monkeypatch, refuse)
    assert (refused.number, refused.model_id, refused.status) == (-1, "openai/tts-1", "failed")
    assert (refused.error_kind, refused.settled_usd) == ("rejected_input", 0.0)
    assert (spoken.number, spoken.model_id, spoken.status) == (
        -2,
        "openai/gpt-4o-mini-tts",
        "accepted",
    )
    assert (spoken.request or {})["instructions"] == "Speak in a calm, low voice."


def test_an_answer_running_far_past_its_shot_is_refused_undecoded(tmp_path, monkeypatch):
    """80 s of audio for a line in a 3 s shot: decoded no further than 72 s (``longest_heard``),
    refused with the reason, and the next model speaks the line."""
    import io
    import wave

    from adapters.speech import Speech

    endless = io.BytesIO()
    with wave.open(endless, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 8000 * 80)

    rambling, spoken = _tries_when_tts_1_answers(
        tmp_path, monkeypatch, lambda request: Speech(endless.getvalue(), "openai")
    )
    assert (rambling.model_id, rambling.status) == ("openai/tts-1", "rejected")
    assert "runs over 72 s for a 3 s shot (not decoded further)" in (rambling.error or "")
    assert (spoken.model_id, spoken.status) == ("openai/gpt-4o-mini-tts", "accepted")


@pytest.mark.parametrize(
    ("line", "seconds"),
    [("Hello.", 0.3), ("Hello.", 0.4), ("We leave at dawn and we do not come back.", 1.0)],
)
def test_a_line_no_voice_can_fit_in_its_shot_is_refused_at_its_dialogue(line, seconds):
    """A 0.3 s shot holds no speech (0.25 s lead-in, 0.15 s tail): its tts stage was paid for and
    then failed ("it would have to be infx faster"), with the other shots' videos paid for too
    (found by benchmarks/explore_boards.py). So is a line whose words overrun the shot's room
    even at 5 words a second sped up 1.25x."""
    with pytest.raises(InvalidInputError) as info:
        voices.plan_voices(context("emulated"), voiced(line=line, duration=seconds), "preview")
    (problem,) = info.value.problems
    assert problem.path == "scenes[0].shots[0].dialogue"
    assert f"the {seconds:g}s shot holds" in problem.message


def test_a_short_line_that_may_fit_is_routed():
    """Three words in a 1 s shot (0.6 s of room) may fit a fast voice: its tts stage decides."""
    (decision,) = voices.plan_voices(
        context("emulated"), voiced("We leave now.", duration=1.0), "preview"
    ).values()
    assert decision.chain


def test_a_preview_whose_hosted_voices_all_fail_speaks_with_the_local_voice(tmp_path, monkeypatch):
    """In a preview the local voice ends the hosted chain: every hosted voice failing a line
    costs the preview its hosted voice, not the shot; a final render's shot fails instead."""
    from adapters.errors import ProviderFailureError
    from adapters.speech import SpeechClient

    real = SpeechClient.speak

    def speak(self, request):
        if self.provider == "local":
            return real(self, request)
        raise ProviderFailureError("HTTP 500: synthesis failed", self.provider)

    monkeypatch.setattr(SpeechClient, "speak", speak)
    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    spoken = {}
    with ExitStack() as stack:
        use_emulator(ctx, stack, None)
        for mode in ("preview", "final"):
            job_id = create_job(ctx, voiced(mode=mode), output=tmp_path / f"{mode}.mp4")
            with session_scope(ctx.db_url) as session:
                query = select(Shot.id).where(Shot.job_id == job_id, Shot.key == "a")
                spoken[mode] = session.scalars(query).one()
            for _ in range(20):
                if voice_stage.speak(ctx, spoken[mode]) == 0.0:
                    break
    previewed = sorted(tries_of(ctx, spoken["preview"]), key=lambda a: -a.number)
    hosted = [c.model_id for c in voices.plan_voices(ctx, voiced(), "final")["a"].chain]
    assert [(a.model_id, a.status) for a in previewed] == [
        *((model, "failed") for model in hosted for _ in range(3)),  # each tried three times
        ("local/voice", "accepted"),
    ]
    finals = tries_of(ctx, spoken["final"])
    assert {a.status for a in finals} == {"failed"}
    assert "local/voice" not in {a.model_id for a in finals}
    with session_scope(ctx.db_url) as session:
        assert session.get_one(Shot, spoken["final"]).status == "failed"
