"""A provider's own safety refusal is recorded against the input that caused it, and the next
attempt on another model says so."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

import registry
from adapters.errors import SafetyRefusalError
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from pipeline.refusals import refused_fields
from store.db import session_scope
from store.models import Attempt, Event, Shot
from tests.pipeline.conftest import shot, tiny_board


@pytest.fixture
def two_models(ctx, tmp_path):
    """The local renderer twice (``local/animatic``, ``local/animatic-b``): a fallback chain."""
    models = yaml.safe_load((Path(registry.__file__).parent / "models.yaml").read_text())["models"]
    second = next(m for m in models if m["id"] == "local/animatic") | {"id": "local/animatic-b"}
    (tmp_path / "extra.yaml").write_text(yaml.safe_dump({"models": [second]}))
    ctx.registry = registry.load_registry(tmp_path / "extra.yaml")
    return ctx


def _attempts_and_reasons(ctx, job_id):
    with session_scope(ctx.db_url) as session:
        shot_pk = session.scalars(select(Shot.id).where(Shot.job_id == job_id)).one()
        tries = list(
            session.scalars(
                select(Attempt).where(Attempt.shot_id == shot_pk).order_by(Attempt.number)
            )
        )
        opened = session.scalars(
            select(Event).where(Event.job_id == job_id, Event.kind == "attempt.reserved")
        )
        reasons = [e.data["reason"] for e in sorted(opened, key=lambda e: e.data["attempt"])]
        session.expunge_all()
    return tries, reasons


def test_the_refused_prompt_is_named_and_the_next_model_is_told(two_models, tmp_path, scripted):
    ctx = two_models
    refusal = SafetyRefusalError("The prompt was flagged (SAFETY.INPUT.TEXT)", "local")
    adapter = scripted(failures={"a": [refusal]})
    board = tiny_board(shot("a", negative_prompt="blurry"))
    job_id = create_job(ctx, board, output=tmp_path / "out.mp4")
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"
    tries, reasons = _attempts_and_reasons(ctx, job_id)
    first, second = tries
    assert first.error_kind == "safety_refusal"
    assert first.error == (
        f"{first.model_id} refused scenes[0].shots[0].prompt: "
        "local: The prompt was flagged (SAFETY.INPUT.TEXT)"
    )
    assert first.verdict == {
        "refused_input": {
            "model": first.model_id,
            "path": "scenes[0].shots[0]",
            "fields": ["prompt"],
        }
    }
    assert second.model_id != first.model_id
    assert reasons[1] == (
        f"fall back from {first.model_id} to {second.model_id} after safety_refusal "
        f"({first.model_id} refused scenes[0].shots[0].prompt)"
    )
    assert [r.prompt for r in adapter.submitted] == [board.scenes[0].shots[0].prompt] * 2


def test_a_second_refusal_says_the_input_was_refused_before(two_models, tmp_path, scripted):
    ctx = two_models
    scripted(failures={"a": [SafetyRefusalError("content flagged by moderation", "local")] * 2})
    job_id = create_job(ctx, tiny_board(shot("a")), output=tmp_path / "out.mp4")
    assert EmbeddedEngine(ctx).run(job_id) == "failed"
    (first, second), _ = _attempts_and_reasons(ctx, job_id)
    # the message names no input: every input the request carried is named (here the prompt)
    assert second.error == (
        f"{second.model_id} refused scenes[0].shots[0].prompt: local: content flagged by "
        f"moderation (refused before by {first.model_id})"
    )


@pytest.mark.parametrize(
    ("message", "fields"),
    [
        ("Input image flagged (SAFETY.INPUT.IMAGE)", ("reference_image",)),
        ("Prompt flagged by the safety checker (NSFW)", ("prompt",)),
        ("speech flagged", ("dialogue",)),
        ("Veo could not generate 1 videos", ("prompt", "dialogue", "reference_image")),
    ],
)
def test_the_refused_field_is_the_one_the_provider_names(message, fields):
    request = {"prompt": "p", "negative_prompt": None, "dialogue": "d", "reference_image": "r.png"}
    assert refused_fields(request, message) == fields
