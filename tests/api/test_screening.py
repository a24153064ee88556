"""Screening through the HTTP API: a refused storyboard is a 422 in the validator's problem format,
and no job, attempt or reservation is written."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import func, select

from pipeline.context import RunContext
from store.db import session_scope
from store.models import Attempt, Job, LedgerEntry
from tests.api.conftest import tiny_board, wait_for_job

REFUSED = {
    "path": "scenes[0].shots[1].dialogue",
    "message": "refused by rule self-harm (self-harm or suicide shown or encouraged: "
    "matched 'kill myself')",
}


def _refused_board() -> dict[str, Any]:
    board = tiny_board(2)
    board["scenes"][0]["shots"][1] |= {"audio": "dialogue", "dialogue": "I will kill myself"}
    return board


def _counts(ctx: RunContext) -> list[int]:
    with session_scope(ctx.db_url) as session:
        return [
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Job, Attempt, LedgerEntry)
        ]


def test_submit_and_plan_answer_422_naming_the_shot_field_and_rule(client, headers, ctx):
    """The path is where the line is in the request body, as validation's are: under
    ``storyboard`` in a JSON envelope (it was the storyboard's own path there), at the top of a
    YAML body."""
    yaml_headers = {**headers, "content-type": "application/yaml"}
    for path in ("/v1/jobs", "/v1/jobs:plan"):
        answer = client.post(path, json={"storyboard": _refused_board()}, headers=headers)
        assert answer.status_code == 422, answer.text
        body = answer.json()
        assert body["error"] == "screening_refused"
        assert "nothing was reserved or sent" in body["detail"]
        assert body["problems"] == [REFUSED | {"path": f"storyboard.{REFUSED['path']}"}]
        answer = client.post(path, content=yaml.safe_dump(_refused_board()), headers=yaml_headers)
        assert answer.status_code == 422, answer.text
        assert answer.json()["problems"] == [REFUSED]
    assert _counts(ctx) == [0, 0, 0]


def test_a_rerender_with_a_refused_prompt_is_422_and_the_job_keeps_its_clip(client, headers, ctx):
    created = client.post("/v1/jobs", json={"storyboard": tiny_board(1)}, headers=headers).json()
    job = wait_for_job(client, created["id"], headers)
    assert job["status"] == "delivered"
    before = _counts(ctx)
    answer = client.post(
        f"/v1/jobs/{created['id']}/shots/shot1/rerender",
        json={"prompt": "a gory battlefield"},
        headers=headers,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["problems"][0]["path"] == "scenes[0].shots[0].prompt"
    assert "refused by rule gore" in answer.json()["problems"][0]["message"]
    assert _counts(ctx) == before
    assert client.get(f"/v1/jobs/{created['id']}", headers=headers).json()["status"] == "delivered"


def test_a_refused_videos_prompt_is_reported_once_at_prompt(client, headers, ctx):
    """/v1/videos makes its title of the prompt: screening refused both, and the answer named a
    ``title`` field the request does not have, then ``prompt``, with the same message."""
    answer = client.post(
        "/v1/videos",
        json={"prompt": "I will kill myself", "seconds": "1", "size": "160x90"},
        headers=headers,
    )
    assert answer.status_code == 422, answer.text
    problems = answer.json()["problems"]
    assert [problem["path"] for problem in problems] == ["prompt"]
    assert "self-harm" in problems[0]["message"]
    assert _counts(ctx) == [0, 0, 0]
