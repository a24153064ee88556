"""Issue 18's music bed failing early: when every model of the bed's chain fails (an emulator
scenario answers every ``music_v1`` call 503), the job fails at stage ``music`` with the reason as
soon as the bed's failure is known, while its shots are still rendering: the shots not sent yet
are never sent (nor paid for), the one in flight is cancelled, and no reservation is left."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from emulators import Scenario, start_emulator
from emulators.scenario import Fault, Latency, Profile
from foundation.settings import Settings
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from store.db import session_scope
from store.models import Attempt, Job, Shot
from tests.pipeline.conftest import shot, tiny_board

DOWN = Fault(kind="server_error", rate=1.0, message="music service down")
SCENARIO = Scenario(
    seed=5,
    defaults=Profile(latency=Latency(dist="fixed", seconds=2.0)),  # each clip renders for 2 s
    models={"music_v1": Profile(faults=[DOWN])},
)


def test_a_failed_bed_ends_the_job_before_its_waiting_shots_are_sent(tmp_path: Path):
    ctx = RunContext.create("emulated", Settings(data_dir=tmp_path / "data"))
    board = tiny_board(  # b and c wait for the clip before them: they are sent one by one
        shot("a"),
        shot("b", continues=True),
        shot("c", continues=True),
        music={"prompt": "slow synth pulse"},
        mode="final",
    )
    with start_emulator(SCENARIO) as emu:
        ctx.base_urls, ctx.judge_base_urls = dict(emu.base_urls), dict(emu.judge_base_urls)
        job_id = create_job(ctx, board, output=tmp_path / "out.mp4")
        assert EmbeddedEngine(ctx).run(job_id) == "failed"
    with session_scope(ctx.db_url) as session:
        job = session.get_one(Job, job_id)
        assert job.stage == "music"
        assert "elevenlabs/music-v1" in (job.error or "")
        assert "music service down" in (job.error or "")
        assert job.reserved_usd == 0.0
        found = session.execute(select(Shot.key, Shot.status).where(Shot.job_id == job_id))
        shots = {key: status for key, status in found}
        videos = session.execute(
            select(Shot.key, Attempt.status, Attempt.settled_usd)
            .join(Attempt, Attempt.shot_id == Shot.id)
            .where(Shot.job_id == job_id, Attempt.stage == "video")
        ).all()
    assert shots == {"a": "cancelled", "b": "cancelled", "c": "cancelled"}
    assert [key for key, _, _ in videos] in ([], ["a"])  # b and c were never sent
    assert all(status == "cancelled" for _, status, _ in videos)
    billed = [key for key, _, settled in videos if settled]
    assert len(billed) < len(shots)
    assert not (tmp_path / "out.mp4").exists()
