"""A commit whose final quote no longer fits the budget is refused with 402 (emulated providers,
so the final is priced at premium rates)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulators import Scenario, start_emulator
from foundation.settings import get_settings
from pipeline.context import RunContext
from tests.api.conftest import wait_for_job


@pytest.fixture
def ctx() -> Iterator[RunContext]:
    context = RunContext.create("emulated", get_settings())
    context.settings.poll_interval_s = 0.02
    with start_emulator(Scenario(seed=5)) as emu:
        context.base_urls, context.judge_base_urls = dict(emu.base_urls), dict(emu.judge_base_urls)
        yield context


def test_commit_over_budget_is_402(client, headers):
    board = {
        "title": "budget",
        "output": {"size": "320x180"},
        "scenes": [
            {
                "id": "s",
                "shots": [{"id": "a", "prompt": "a quiet pier", "duration": 4, "audio": "ambient"}],
            }
        ],
    }
    created = client.post(
        "/v1/jobs",
        json={"storyboard": board, "mode": "preview", "budget_usd": 0.3},
        headers=headers,
    )
    assert created.status_code == 202, created.text
    preview = wait_for_job(client, created.json()["id"], headers)
    assert preview["status"] == "delivered", preview["error"]
    quote = client.get(f"/v1/jobs/{preview['id']}/quote", headers=headers).json()
    assert quote["fits"] is False
    assert quote["expected_usd"] > quote["remaining_usd"]
    refused = client.post(f"/v1/jobs/{preview['id']}/commit", headers=headers)
    assert refused.status_code == 402
    assert refused.json()["error"] == "budget_exceeded"
    assert "budget of $0.30" in refused.json()["detail"]


def test_the_dry_run_answers_what_creating_the_job_would_refuse(client, headers):
    """``POST /v1/jobs:plan`` says ``ok: false`` with the refusal ``POST /v1/jobs`` answers 402
    with (the same check and quotes), and writes nothing."""
    board = {
        "title": "poor",
        "output": {"size": "320x180"},
        "scenes": [{"id": "s", "shots": [{"id": "a", "prompt": "a quiet pier", "duration": 4}]}],
    }
    body = {"storyboard": board, "mode": "final", "budget_usd": 0.01}
    plan = client.post("/v1/jobs:plan", json=body, headers=headers)
    assert plan.status_code == 200, plan.text
    created = client.post("/v1/jobs", json=body, headers=headers)
    assert created.status_code == 402, created.text
    assert plan.json()["ok"] is False
    assert plan.json()["budget_refused"] == created.json()["detail"]
    roomy = client.post("/v1/jobs:plan", json=body | {"budget_usd": 100.0}, headers=headers)
    assert (roomy.json()["ok"], roomy.json()["budget_refused"]) == (True, None)
    assert client.get("/v1/jobs", headers=headers).json()["data"] == []


def test_the_dry_run_of_a_preview_names_the_shots_a_commit_could_not_take(client, headers):
    """A free preview at 1:1 renders every shot locally (pins ignored), but its shot pinned to
    Veo 3.1 (16:9 and 9:16 only) has no final: the preview's dry run says so before it is paid,
    and is planned, as it renders, on the local renderer at $0. A 20 s shot the final splits is
    not named: a commit renders its segments."""
    board: dict[str, Any] = {
        "title": "pinned",
        "preview": {"free": True},
        "output": {"size": "240x240"},
        "scenes": [{"id": "s", "shots": [
            {"id": "a", "prompt": "a quiet pier", "duration": 20},
            {"id": "b", "prompt": "the tide comes in", "duration": 4, "model": "google/veo-3.1"},
        ]}],
    }  # fmt: skip
    preview = client.post("/v1/jobs:plan", json={"storyboard": board, "mode": "preview"},
                          headers=headers)  # fmt: skip
    assert preview.status_code == 200, preview.text
    (problem,) = preview.json()["uncommittable"]
    assert problem["path"] == "scenes[0].shots[1]"
    assert "aspect 1:1 not offered" in problem["message"]
    assert preview.json()["ok"] is True  # the preview itself would be created
    assert preview.json()["forecast"]["cost_high_usd"] == 0
    assert {line["model"] for line in preview.json()["forecast"]["shots"]} == {"local/animatic"}
    del board["scenes"][0]["shots"][1]["model"]
    final = client.post("/v1/jobs:plan", json={"storyboard": board, "mode": "final"},
                        headers=headers)  # fmt: skip
    assert final.json()["uncommittable"] == []
