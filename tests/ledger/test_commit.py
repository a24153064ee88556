"""Preview-then-commit on emulated providers: an itemised quote, a final render of the approved
shots only (same seed, the preview's first frame as reference), both versions, and refusals."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from sqlalchemy import select

from foundation import money
from foundation.errors import BudgetExceededError, ConflictError, InvalidInputError, NotFoundError
from foundation.storyboard import StoryboardError
from ledger import previews
from ledger.aggregates import CostFilter
from pipeline import commit, commit_final, rerender
from pipeline.commit_versions import versions
from pipeline.engine import EmbeddedEngine
from store.db import session_scope
from store.models import Attempt, Job, JobCommit, Shot
from tests.ledger.conftest import small_board


def _preview(ctx, board) -> str:
    job_id = commit.start_preview(ctx, board)
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"
    return job_id


def _attempts(db_url: str, job_id: str) -> dict[str, list[Attempt]]:
    with session_scope(db_url) as session:
        rows = session.execute(
            select(Shot.key, Attempt)
            .join(Attempt, Attempt.shot_id == Shot.id)
            .where(Shot.job_id == job_id)
            .order_by(Attempt.id)
        ).all()
    out: dict[str, list[Attempt]] = {}
    for key, attempt in rows:
        out.setdefault(key, []).append(attempt)
    return out


class TestPreviewThenCommit:
    @pytest.mark.slow
    def test_quote_commit_render_and_versions(self, emulated, monkeypatch):
        ctx = emulated
        preview_id = _preview(ctx, small_board())
        price = commit._price

        def dearer_with_a_frame(plan, key):
            framed = plan.decisions[key].need.has_image
            return price(plan, key) + (1.0 if key == "k2" and framed else 0.0)

        with monkeypatch.context() as patch:
            patch.setattr(commit, "_price", dearer_with_a_frame)
            guarded = commit.quote(ctx, preview_id)
        assert [line.first_frame for line in guarded.lines] == [True, True, False]
        quote = commit.quote(ctx, preview_id)
        assert [line.shot_id for line in quote.lines] == ["k0", "k1", "k2"]
        assert all(line.tier == "premium" for line in quote.lines)
        assert all(line.expected_attempts >= 1 for line in quote.lines)
        assert quote.low_usd <= quote.expected_usd <= quote.high_usd
        assert quote.fits
        assert [line.first_frame for line in quote.lines] == [True, True, True]

        result = commit.commit(ctx, preview_id, ["k0", "k2"], rejected=["k1"])
        assert (result.shots, result.kept, result.rejected) == (("k0", "k2"), ("k1",), ("k1",))
        assert EmbeddedEngine(ctx).run(result.final_job_id) == "delivered"

        before, after = (
            _attempts(ctx.db_url, preview_id),
            _attempts(ctx.db_url, result.final_job_id),
        )
        assert set(after) == {"k0", "k2"}, "the unapproved shot is not rendered again"
        for key in ("k0", "k2"):
            final, first = after[key][0], before[key][0]
            assert final.model_id == quote.lines[0 if key == "k0" else 2].model_id
            assert (final.request or {})["seed"] == (first.request or {})["seed"]
            assert (final.request or {})["prompt"] == (first.request or {})["prompt"]
        with session_scope(ctx.db_url) as session:
            final_job = session.get_one(Job, result.final_job_id)
            shots = {
                s.key: s for s in session.scalars(select(Shot).where(Shot.job_id == final_job.id))
            }
            preview_shots = {
                s.key: s for s in session.scalars(select(Shot).where(Shot.job_id == preview_id))
            }
            assert final_job.mode == "final"
            assert Path(final_job.output_path or "").is_file()
            spec = {s["id"]: s for s in final_job.storyboard["scenes"][0]["shots"]}
            assert Path(spec["k0"]["reference_image"]).is_file(), "first frame carried over"
            assert shots["k1"].model_id == preview_shots["k1"].model_id
            assert shots["k1"].verdict == preview_shots["k1"].verdict

        both = versions(ctx.db_url, preview_id)
        assert both["final_job_id"] == result.final_job_id
        rows = {s["id"]: s for s in both["shots"]}
        assert rows["k1"]["final"] is None
        assert not rows["k1"]["approved"]
        assert "model" in rows["k0"]["changes"]
        assert set(both["agreement"]) == {"k0", "k2"}

        with session_scope(ctx.db_url) as session:
            stats = previews.preview_stats(session, CostFilter(), emulated=True)
            real = previews.preview_stats(session, CostFilter())
            row = session.scalars(select(JobCommit)).one()
        assert (stats.preview_shots, stats.committed_shots, stats.declined_shots) == (3, 2, 1)
        assert stats.cost_avoided_usd == money.usd(row.final_usd_by_shot["k1"])
        assert stats.cost_avoided_usd > 0
        assert stats.agreement_scored == 2
        assert (real.previews, real.cost_avoided_usd) == (0, money.ZERO), "the final ran emulated"

    def test_commit_over_budget_is_refused_and_writes_nothing(self, emulated):
        ctx = emulated
        preview_id = _preview(ctx, small_board(2, budget=2.0))
        with pytest.raises(BudgetExceededError, match=r"budget of \$2\.00 has \$"):
            commit.commit(ctx, preview_id)
        with session_scope(ctx.db_url) as session:
            assert session.scalars(select(JobCommit)).first() is None
            assert session.scalar(select(Job).where(Job.mode == "final")) is None

    def test_refusals(self, emulated):
        ctx = emulated
        preview_id = _preview(ctx, small_board(1))
        with pytest.raises(StoryboardError) as err:
            commit.commit(ctx, preview_id, ["k0", "nope"])
        assert err.value.problems[0].path == "shots[1]"
        with pytest.raises(StoryboardError):
            commit.commit(ctx, preview_id, [])
        with pytest.raises(StoryboardError) as err:
            commit.commit(ctx, preview_id, ["k0"], rejected=["nope", "k0"])
        assert [(p.path, p.message) for p in err.value.problems] == [
            ("rejected[0]", f"job {preview_id} has no shot 'nope'"),
            ("rejected[1]", "shot 'k0' is also approved"),
        ]
        with pytest.raises(NotFoundError):
            commit.commit(ctx, "missing")
        final_id = commit.commit(ctx, preview_id).final_job_id
        with pytest.raises(ConflictError, match="only a preview"):
            commit.commit(ctx, final_id)
        with session_scope(ctx.db_url) as session:
            session.get_one(Job, preview_id).status = "running"
        with pytest.raises(ConflictError, match="delivered preview"):
            commit.commit(ctx, preview_id)


def test_free_preview_renders_on_the_local_animatic(emulated):
    board = small_board(1, preview={"free": True})
    job_id = _preview(emulated, board)
    with session_scope(emulated.db_url) as session:
        job = session.get_one(Job, job_id)
        assert (job.providers, job.spent_usd) == ("local", 0.0)
    quote = commit.quote(emulated, job_id)
    assert quote.lines[0].tier == "premium", "the final is quoted on the caller's providers"


def test_a_shot_the_final_splits_is_committed_and_rendered_in_its_segments(emulated):
    """A 16 s shot previews whole on the local animatic; at final no hosted model renders 16 s in
    one clip. The commit quotes it as the segments a final render splits it into (one line, their
    sum), renders them one after another, keeps the unapproved shot's preview clip, and both
    versions show the shot with its segments. (It was refused before: explorer seed 12072.)"""
    ctx = emulated
    board = small_board(2, durations=(16, 4), output={"size": "160x90"})
    preview_id = _preview(ctx, board)
    assert commit_final.uncommittable(ctx, board) == []
    quote = commit.quote(ctx, preview_id, ["k0"])
    (line,) = quote.lines
    parts = [part.shot_id for part in line.segments]
    assert len(parts) >= 2
    assert all(part.startswith("k0.part") for part in parts)
    # the seconds each part renders (a model's shortest clip pads a short last part)
    assert line.seconds == sum(part.seconds for part in line.segments) >= 16
    assert line.expected_usd == pytest.approx(sum(p.expected_usd for p in line.segments))
    assert line.model_id == " + ".join(dict.fromkeys(p.model_id for p in line.segments))
    assert quote.to_dict()["shots"][0]["segments"][0]["shot_id"] == parts[0]

    result = commit.commit(ctx, preview_id, ["k0"], rejected=["k1"])
    assert EmbeddedEngine(ctx).run(result.final_job_id) == "delivered"
    assert set(_attempts(ctx.db_url, result.final_job_id)) == set(parts)
    with session_scope(ctx.db_url) as session:
        final = session.get_one(Job, result.final_job_id)
        keys = [s.key for s in session.scalars(
            select(Shot).where(Shot.job_id == final.id).order_by(Shot.position))]  # fmt: skip
        kept = session.scalars(select(Shot).where(Shot.job_id == final.id, Shot.key == "k1")).one()
        preview_k1 = session.scalars(
            select(Shot).where(Shot.job_id == preview_id, Shot.key == "k1")
        ).one()
        output, spent = Path(str(final.output_path)), final.spent_usd
        committed = session.scalars(select(JobCommit)).one()
    assert keys == [*parts, "k1"]
    assert kept.asset_path == preview_k1.asset_path, "the unapproved shot keeps its preview clip"
    with av.open(str(output)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
    assert frames == 20 * 24, "16 s in segments and the kept 4 s at 24 fps"
    assert committed.final_usd_by_shot["k1"] > 0, "the declined shot's price is cost avoided"

    both = versions(ctx.db_url, preview_id)
    assert set(both["agreement"]) == {"k0"}, "scored on the part showing the shot's middle"
    assert 0.0 <= both["agreement"]["k0"] <= 1.0
    shown = {row["id"]: row for row in both["shots"]}
    after = shown["k0"]["final"]
    assert after["segments"] == parts
    assert (after["seconds"], after["status"]) == (line.seconds, "normalised")
    assert after["cost_usd"] == pytest.approx(spent)
    assert shown["k1"]["final"] is None


def test_a_rerender_the_router_would_split_is_refused_with_its_path(emulated):
    """A 20 s shot previewed whole on the local animatic, re-rendered pinned to ``luma/ray-3.2``
    (10 s, then 5 s extensions): the re-render would need its parts, and a re-render keeps one
    clip per shot. It raised a bare ``KeyError`` (HTTP 500) after the job was read; it is refused
    with the shot's path and why, and nothing changes."""
    ctx = emulated
    preview_id = _preview(ctx, small_board(2, durations=(20, 4)))
    with pytest.raises(InvalidInputError) as refused:
        rerender.rerender_shot(ctx, preview_id, "k0", model="luma/ray-3.2")
    (problem,) = refused.value.problems
    assert problem.path == "scenes[0].shots[0]"
    assert "extends it 2 time(s)" in problem.message
    assert "a re-render keeps one clip per shot" in problem.message
    with session_scope(ctx.db_url) as session:
        assert session.get_one(Job, preview_id).status == "delivered"


class TestEarlierCommitsShareTheBudget:
    """A preview's budget is the storyboard's: what its earlier finals spent, and what an
    unfinished one may still spend, is not left for the next commit."""

    def test_an_unfinished_final_holds_what_it_was_given(self, emulated):
        ctx = emulated
        preview_id = _preview(ctx, small_board(2, budget=20.0))
        first = commit.commit(ctx, preview_id, ["k0"])
        assert first.quote.remaining_usd is not None
        assert first.quote.remaining_usd > 0
        with pytest.raises(BudgetExceededError, match=r"has \$0\.00 left"):
            commit.commit(ctx, preview_id, ["k1"])
        with session_scope(ctx.db_url) as session:
            assert len(session.scalars(select(JobCommit)).all()) == 1

    def test_a_rerender_of_the_preview_counts_what_its_finals_hold(self, emulated):
        """The preview's shots re-render from the same budget its final was given the rest of:
        while the final may still spend it, a paid re-render of the preview does not fit."""
        ctx = emulated
        preview_id = _preview(ctx, small_board(2, budget=20.0))
        first = commit.commit(ctx, preview_id, ["k0"])
        assert first.quote.remaining_usd is not None
        with pytest.raises(BudgetExceededError, match="would pass the job budget"):
            rerender.rerender_shot(ctx, preview_id, "k1")
        with session_scope(ctx.db_url) as session:
            preview = session.get_one(Job, preview_id)
            assert preview.reserved_usd == pytest.approx(0.0)

    @pytest.mark.slow
    def test_a_finished_final_counts_what_it_spent(self, emulated):
        ctx = emulated
        preview_id = _preview(ctx, small_board(2, budget=20.0))
        first = commit.commit(ctx, preview_id, ["k0"])
        assert EmbeddedEngine(ctx).run(first.final_job_id) == "delivered"
        with session_scope(ctx.db_url) as session:
            final = session.get_one(Job, first.final_job_id)
            spent = money.usd(final.spent_usd)
        assert spent > 0
        again = commit.quote(ctx, preview_id, ["k1"])
        assert money.usd(again.remaining_usd) == money.usd(first.quote.remaining_usd) - spent
