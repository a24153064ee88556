"""The router learns from the job history in the database: a model whose clips keep failing the
gate loses its place to an equivalent one."""

from __future__ import annotations

from pathlib import Path

import yaml

import registry
import router
from foundation.storyboard import Mode
from pipeline import history
from store.db import session_scope
from store.models import Attempt, Job, Shot
from tests.pipeline.conftest import shot, tiny_board


def _twin_registry(tmp_path: Path) -> registry.Registry:
    models = yaml.safe_load((Path(registry.__file__).parent / "models.yaml").read_text())["models"]
    twin = next(m for m in models if m["id"] == "local/animatic") | {"id": "local/animatic-b"}
    (tmp_path / "twin.yaml").write_text(yaml.safe_dump({"models": [twin]}))
    return registry.load_registry(tmp_path / "twin.yaml")


def _primary(ctx, board, tenant: str | None = None) -> str:
    plan = router.plan(board, ctx.registry, mode=Mode.PREVIEW, providers={"local"},
                       stats=history.stats_book(ctx, tenant))  # fmt: skip
    return plan.decisions["a"].candidates[0].model_id


def _record_rejections(ctx, model_id: str, count: int, tenant: str = "local") -> None:
    with session_scope(ctx.db_url) as session:
        session.add(Job(id="past", title="t", mode="preview", storyboard={}, tenant=tenant))
        session.flush()
        old = Shot(job_id="past", key="x", scene_id="s", position=0, route={"shot_type": "broll"})
        session.add(old)
        session.flush()
        for n in range(1, count + 1):
            session.add(Attempt(shot_id=old.id, number=n, model_id=model_id, provider="local",
                                status="rejected", render_seconds=5.0, settled_usd=0.0,
                                request={"duration_s": 1.0}))  # fmt: skip


def test_history_of_rejections_moves_the_choice(ctx, tmp_path):
    ctx.registry = _twin_registry(tmp_path)
    board = tiny_board(shot("a", type="broll"))
    first = _primary(ctx, board)
    _record_rejections(ctx, first, 40)
    second = _primary(ctx, board)
    assert {first, second} == {"local/animatic", "local/animatic-b"}


def test_one_tenants_history_neither_moves_nor_shows_in_anothers_plans(ctx, tmp_path):
    """The router's learned figures (acceptance, render times, expected cost) are shown in every
    plan: another tenant's could tell when, on which model and with what gate result a tenant
    rendered, and moved its routing. Shared only with ``SHOTLINE_SHARE_ROUTING_STATS``."""
    ctx.registry = _twin_registry(tmp_path)
    board = tiny_board(shot("a", type="broll"))
    first = _primary(ctx, board, "acme")
    _record_rejections(ctx, first, 40, tenant="acme")
    assert _primary(ctx, board, "acme") != first
    assert _primary(ctx, board, "globex") == first
    ctx.settings.share_routing_stats = True
    assert _primary(ctx, board, "globex") != first
