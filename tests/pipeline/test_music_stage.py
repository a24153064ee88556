"""Issue 18's generated music bed: ``music: {prompt}`` gets one music stage per job, routed among
``kind: music`` models (hosted first, the local bed when local), asked for the programme's length
within the model's limits, refused at ``music.prompt`` before any spend when no model can compose
it, cached per tenant by (prompt, length, model), and failed with its reason when no model of the
chain delivers a bed."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.errors import RateLimitedError, RejectedInputError
from adapters.music import MusicClient
from foundation.errors import InvalidInputError
from foundation.settings import Settings, get_settings
from pipeline import music, music_stage, stage_tries, voice_stage
from pipeline.context import RunContext
from pipeline.planning import create_job, route
from shotline.emulated import use_emulator
from store.db import session_scope
from store.models import Attempt, Job, Shot
from tests.pipeline.conftest import shot, tiny_board

MARA = {"id": "mara", "description": "woman", "voice": "calm, low"}


def scored(prompt: str = "slow synth pulse", *shots: dict[str, object], mode: str = "final"):
    return tiny_board(*(shots or (shot("a"), shot("b"))), music={"prompt": prompt}, mode=mode)


def context(providers: str, tmp_path: Path | None = None) -> RunContext:
    settings = Settings(data_dir=tmp_path / "data") if tmp_path else get_settings()
    return RunContext.create(providers, settings)


def test_emulated_routes_the_hosted_model_for_the_programmes_length():
    decision = music.plan_music(context("emulated"), scored(), "final")
    assert decision is not None
    (head,) = decision.chain  # music-v2 is unverified; the local bed only when no hosted can
    assert head.model_id == "elevenlabs/music-v1"
    need = music.need_of(scored())
    assert need is not None
    assert need.programme_s == 2.0
    assert music.asked_seconds(head.caps, need) == 3.0  # the API's minimum: the bed is cut
    assert head.estimate_usd == pytest.approx(3 * 0.30 / 60)


def test_a_programme_longer_than_the_models_maximum_loops_its_bed():
    need = music.Need("pulse", 900.4)
    assert music.asked_seconds({"min_seconds": 3, "max_seconds": 600}, need) == 600.0
    assert music.asked_seconds({"min_seconds": 1, "max_seconds": 600}, music.Need("p", 7.2)) == 8


def test_local_runs_compose_with_the_free_local_bed():
    decision = music.plan_music(context("local"), scored(mode="preview"), "preview")
    assert decision is not None
    assert [c.model_id for c in decision.chain] == ["local/music"]
    assert decision.chain[0].estimate_usd == 0.0
    assert music.plan_music(context("local"), tiny_board(shot("a")), "preview") is None


def test_no_enabled_music_model_is_refused_at_the_prompt_before_any_spend(tmp_path):
    ctx = context("live", tmp_path)  # no ElevenLabs key: no hosted music model is enabled
    with pytest.raises(InvalidInputError) as info:
        route(ctx, scored(), scored().mode)
    (problem,) = info.value.problems
    assert problem.path == "music.prompt"
    assert "provider elevenlabs is not enabled" in problem.message
    with pytest.raises(InvalidInputError):
        create_job(ctx, scored(), output=tmp_path / "out.mp4")
    with session_scope(ctx.db_url) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_a_prompt_longer_than_every_model_takes_names_the_limit(tmp_path, monkeypatch):
    ctx = context("local", tmp_path)
    for spec in ctx.registry.models:
        if spec.kind == "music":
            monkeypatch.setitem(spec.caps, "max_prompt_chars", 10)
    with pytest.raises(InvalidInputError) as info:
        music.plan_music(ctx, scored("a slow synth pulse"), "preview")
    (problem,) = info.value.problems
    assert problem.path == "music.prompt"
    assert "the longest any music model takes is 10" in problem.message


def job_of(ctx: RunContext, tmp_path: Path, prompt: str = "slow synth pulse") -> str:
    return create_job(ctx, scored(prompt, mode="preview"), output=tmp_path / "out.mp4")


def tries_of(ctx: RunContext, job_id: str) -> list[Attempt]:
    with session_scope(ctx.db_url) as session:
        found = music_stage.music_attempts(session, job_id)
        session.expunge_all()
        return found


def test_an_unchanged_bed_is_reused_for_nothing_and_an_edited_one_composed(tmp_path):
    ctx = context("emulated", tmp_path)
    with ExitStack() as stack:
        use_emulator(ctx, stack, None)
        jobs = [job_of(ctx, tmp_path), job_of(ctx, tmp_path), job_of(ctx, tmp_path, "rain pads")]
        assert [music_stage.compose(ctx, job) for job in jobs] == [0.0, 0.0, 0.0]
    ((paid,), (reused,), (new,)) = (tries_of(ctx, job) for job in jobs)
    assert (paid.model_id, paid.status, paid.stage, paid.number) == (
        "elevenlabs/music-v1", "accepted", "music", stage_tries.JOB_FLOOR,
    )  # fmt: skip
    assert paid.settled_usd == pytest.approx(0.015)
    assert (reused.status, reused.quoted_usd, reused.settled_usd) == ("accepted", 0.0, 0.0)
    assert (reused.request or {})["reused_from"] == paid.id
    assert new.settled_usd == pytest.approx(0.015)
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, jobs[1])
        assert music_stage.outcome(session, jobs[1], job.storyboard) == "done"
    path, why = music_stage.bed_of(ctx, jobs[1])
    assert why is None
    assert path is not None
    assert paid.asset_path is not None
    source = Path(paid.asset_path)
    assert Path(path) != source, "the reusing job's own file: it shared the first job's"
    assert Path(path).read_bytes() == source.read_bytes()
    source.unlink()  # the first job deleted (DELETE /v1/videos/{id} removes its files)
    assert Path(path).is_file()


def test_the_beds_tries_do_not_take_the_first_shots_stage_numbers(tmp_path):
    ctx = context("local", tmp_path)
    spoken = shot("a", characters=["mara"], dialogue="Go.", speaker="mara", duration=2)
    board = tiny_board(spoken, music={"prompt": "pulse"}, characters=[MARA], mode="preview")
    job_id = create_job(ctx, board, output=tmp_path / "out.mp4")
    assert music_stage.compose(ctx, job_id) == 0.0
    with session_scope(ctx.db_url) as session:
        shot_pk = session.scalars(select(Shot.id).where(Shot.job_id == job_id)).one()
    assert voice_stage.speak(ctx, shot_pk) == 0.0
    with session_scope(ctx.db_url) as session:
        rows = session.execute(select(Attempt.stage, Attempt.number, Attempt.status)).all()
    assert sorted(rows) == [("music", stage_tries.JOB_FLOOR, "accepted"), ("tts", -1, "accepted")]


def test_no_model_delivering_a_bed_fails_the_stage_with_its_reason(tmp_path, monkeypatch):
    def refuse(self, request):
        raise RejectedInputError("HTTP 400: bad_prompt", self.provider)

    monkeypatch.setattr(MusicClient, "compose", refuse)
    ctx = context("local", tmp_path)
    job_id = job_of(ctx, tmp_path)
    assert music_stage.compose(ctx, job_id) == 0.0
    (failed,) = tries_of(ctx, job_id)
    assert (failed.status, failed.error_kind, failed.settled_usd) == ("failed", "rejected_input", 0)
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        assert music_stage.outcome(session, job_id, job.storyboard) == "failed"
    path, why = music_stage.bed_of(ctx, job_id)
    assert path is None
    assert why is not None
    assert "bad_prompt" in why
    assert music_stage.compose(ctx, job_id) == 0.0  # idempotent: nothing asked again
    assert len(tries_of(ctx, job_id)) == 1


def busy_elevenlabs(monkeypatch: pytest.MonkeyPatch) -> None:
    """ElevenLabs answers every compose with a 429; the local bed composes as it does."""
    compose = MusicClient.compose

    def rate_limited(self, request):
        if self.provider == "elevenlabs":
            raise RateLimitedError("HTTP 429: system_busy", self.provider, retry_after=0.0)
        return compose(self, request)

    monkeypatch.setattr(MusicClient, "compose", rate_limited)


def compose_until_over(ctx: RunContext, job_id: str) -> None:
    for _ in range(10):
        if music_stage.compose(ctx, job_id) == 0.0:
            return
    raise AssertionError("the music stage never ended")


def test_a_preview_whose_hosted_models_all_fail_takes_the_free_local_bed(tmp_path, monkeypatch):
    """In a preview the local bed ends the hosted chain: a hosted model that keeps answering 429
    costs the preview its generated bed, not the job (before, the preview failed at stage
    ``music`` after its shots were paid). A final render keeps failing instead."""
    busy_elevenlabs(monkeypatch)
    ctx = context("emulated", tmp_path)
    preview = music.plan_music(ctx, scored(mode="preview"), "preview")
    final = music.plan_music(ctx, scored(), "final")
    assert preview is not None
    assert final is not None
    assert [c.model_id for c in preview.chain] == ["elevenlabs/music-v1", "local/music"]
    assert [c.model_id for c in final.chain] == ["elevenlabs/music-v1"]
    assert preview.quote_usd == final.quote_usd  # quoted at the hosted model all the same
    with ExitStack() as stack:
        use_emulator(ctx, stack, None)
        previewed = job_of(ctx, tmp_path)
        compose_until_over(ctx, previewed)
        finished = create_job(ctx, scored(), output=tmp_path / "final.mp4")
        compose_until_over(ctx, finished)
    tries = [(t.model_id, t.status, t.error_kind) for t in tries_of(ctx, previewed)]
    assert tries == [("elevenlabs/music-v1", "failed", "rate_limited")] * 3 + [
        ("local/music", "accepted", None)
    ]
    assert music_stage.bed_of(ctx, previewed)[1] is None
    assert [t.status for t in tries_of(ctx, finished)] == ["failed"] * 3
    assert "system_busy" in (music_stage.failure(ctx, finished) or "")


def test_a_job_whose_bed_no_model_delivers_fails_at_the_music_stage(tmp_path, monkeypatch):
    from pipeline.engine import EmbeddedEngine

    def refuse(self, request):
        raise RejectedInputError("HTTP 400: bad_prompt", self.provider)

    monkeypatch.setattr(MusicClient, "compose", refuse)
    ctx = context("local", tmp_path)
    job_id = create_job(
        ctx, tiny_board(shot("a"), music={"prompt": "pulse"}), output=tmp_path / "o.mp4"
    )
    assert EmbeddedEngine(ctx).run(job_id) == "failed"
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        assert job.stage == "music"
        assert "bad_prompt" in (job.error or "")
    assert not (tmp_path / "o.mp4").exists()


def test_finish_waits_for_a_bed_still_to_compose(tmp_path):
    from pipeline.steps import Cursor, job_key, music_key

    ctx = context("local", tmp_path)
    job_id = job_of(ctx, tmp_path)
    cur = Cursor(job_key(job_id), job_id, "finish", job_id, 1, None, 0)
    waiting = music_stage.before_finish(ctx, cur)
    assert isinstance(waiting, list)
    again, launch = waiting
    assert (again.name, again.delay_s) == ("finish", music_stage.MUSIC_POLL_S)
    assert (launch.key, launch.name) == (music_key(job_id), "music")
    assert music_stage.compose(ctx, job_id) == 0.0
    assert music_stage.before_finish(ctx, cur) is None


def test_the_report_counts_a_reused_bed_in_the_money_saved(tmp_path):
    from pipeline.report import job_report
    from shotline.console import reused_note

    ctx = context("emulated", tmp_path)
    with ExitStack() as stack:
        use_emulator(ctx, stack, None)
        paid, again = job_of(ctx, tmp_path), job_of(ctx, tmp_path)
        assert [music_stage.compose(ctx, job) for job in (paid, again)] == [0.0, 0.0]
    first, second = job_report(ctx.db_url, paid), job_report(ctx.db_url, again)
    assert (first["reused"]["music"], first["saved_usd"], first["reused"]["saved_usd"]) == (
        False, 0.0, 0.0,
    )  # fmt: skip
    assert (second["music"]["reused"], second["music"]["cost_usd"]) == (True, 0.0)
    assert second["music"]["saved_usd"] == pytest.approx(0.015)  # 3 s at $0.30 a minute
    assert second["reused"]["music"] is True
    assert second["reused"]["saved_usd"] == second["saved_usd"] == pytest.approx(0.015)
    assert reused_note(second) == "  (the music bed reused from the cache, $0.01 saved)"


def test_a_bed_running_far_past_what_was_asked_is_refused_undecoded(tmp_path: Path):
    """A few hundred KB can hold minutes of audio: the bed's check decodes no further than
    ``longest_heard`` of the seconds asked, and refuses a bed running past it."""
    from media.runner import run_ffmpeg

    def tone(name: str, seconds: int) -> Path:
        path = tmp_path / name
        run_ffmpeg(["-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=8000:duration={seconds}",
                    "-c:a", "flac", str(path)])  # fmt: skip
        return path

    why, seconds = music_stage.problem(tone("long.flac", 80), 2.0)
    assert why == "the bed runs over 68 s for 2 s asked (not decoded further)"
    assert 68 < seconds < 69
    assert music_stage.problem(tone("short.flac", 5), 4.0) == (None, 5.0)
