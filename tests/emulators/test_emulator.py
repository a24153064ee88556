"""Scenario loading, seeded reproducibility, stats, judge faults and defect delivery end to end."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from emulators import Scenario, load_scenario, start_emulator
from emulators.routes.judges import fill_schema, judge_answer
from emulators.scenario import JudgeProfile
from foundation.errors import InvalidInputError
from media.probe import probe
from tests import web

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "emulator-demo.yaml"
RUNWAY = {"Authorization": "Bearer k", "X-Runway-Version": "2024-11-06"}


def runway_task(base: str, prompt: str = "a kite", **extra: object) -> httpx.Response:
    body = {"model": "gen4.5", "promptText": prompt, "ratio": "1280:720", "duration": 2, **extra}
    return web.post(f"{base}/v1/text_to_video", json=body, headers=RUNWAY)


def test_profiles_merge_model_over_provider_over_defaults():
    scenario = Scenario.model_validate(
        {
            "defaults": {"latency": {"seconds": 1.0}, "url_ttl_s": 10},
            "providers": {"runway": {"concurrency": 2, "latency": {"seconds": 2.0}}},
            "models": {"gen4.5": {"faults": [{"kind": "hang"}]}},
        }
    )
    profile = scenario.profile("runway", "gen4.5")
    assert profile.latency.seconds == 2.0
    assert profile.concurrency == 2
    assert profile.url_ttl_s == 10
    assert profile.faults[0].kind == "hang"
    assert scenario.profile("fal", "other").concurrency is None


def test_invalid_scenario_lists_every_problem(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  m:\n    faults: [{kind: explode}]\n    concurrency: 0\n")
    with pytest.raises(InvalidInputError) as caught:
        load_scenario(path)
    paths = {problem.path for problem in caught.value.problems}
    assert any("kind" in p for p in paths)
    assert any("concurrency" in p for p in paths)


def test_example_scenario_loads():
    scenario = load_scenario(EXAMPLE)
    assert scenario.seed
    assert scenario.models


def test_same_seed_gives_the_same_run():
    scenario = Scenario.model_validate(
        {
            "seed": 42,
            "media": {"max_side": 160},
            "models": {"gen4.5": {"faults": [{"kind": "rate_limit", "rate": 0.5}]}},
        }
    )

    def run() -> list[tuple[int, str | None]]:
        with start_emulator(scenario) as emu:
            base = emu.base_urls["runway"]
            return [
                (r.status_code, r.json().get("id")) for r in (runway_task(base) for _ in range(8))
            ]

    first, second = run(), run()
    assert [status for status, _ in first] == [status for status, _ in second]
    assert {status for status, _ in first} == {200, 429}
    made = [job for _, job in first + second if job]
    assert len(made) == len(set(made)), "a provider never hands out a job id twice"


def test_a_second_emulator_names_its_jobs_anew_and_renders_the_same_clips():
    """Two emulators of one scenario (a restart, or another process resuming a job) once handed
    out the same job ids, and a resumed render's new attempts got ids its first emulator had given
    other shots. Their draws, and so their pictures, stay the same."""
    scenario = Scenario.model_validate({"seed": 7, "media": {"max_side": 96}})

    def clip() -> tuple[str, bytes]:
        with start_emulator(scenario) as emu:
            created = runway_task(emu.base_urls["runway"], duration=2).json()["id"]
            task = f"{emu.base_urls['runway']}/v1/tasks/{created}"
            deadline = time.monotonic() + 60
            while (body := web.get(task, headers=RUNWAY).json())["status"] != "SUCCEEDED":
                assert time.monotonic() < deadline, body
                time.sleep(0.05)
            return created, web.get(body["output"][0]).content

    (one, picture), (other, again) = clip(), clip()
    assert one != other
    assert picture == again


def test_a_repeated_create_is_a_second_job_whatever_idempotency_key_it_carries():
    """No provider dedupes on Idempotency-Key (none of the official SDKs sends one): a repeat with
    the same key is a second billed job, and the stats count it as a duplicate of its provider."""
    with start_emulator(Scenario(media={"max_side": 160})) as emu:
        base = emu.base_urls["runway"]
        runway_task(base, "same")
        runway_task(base, "same")
        headers = {**RUNWAY, "Idempotency-Key": "shot-1"}
        body = {"model": "gen4.5", "promptText": "a", "ratio": "1280:720", "duration": 2}
        ids = [
            web.post(f"{base}/v1/text_to_video", json=body, headers=headers).json()["id"]
            for _ in range(2)
        ]
        stats = web.get(f"{emu.base_url}/_emulator/stats").json()
    assert ids[0] != ids[1]
    assert stats["submissions"] == {"gen4.5": 4}
    assert stats["accepted"] == {"gen4.5": 4}
    assert stats["creates"] == {"runway": 4}
    assert stats["duplicates"] == {"runway": 2}
    assert stats["duplicate_requests"] == 2


def test_defects_reach_the_downloaded_clip(tmp_path: Path):
    scenario = Scenario.model_validate(
        {
            "models": {"gen4.5": {"defects": [{"kind": "wrong_size", "calls": [1], "scale": 0.5}]}},
            "media": {"max_side": 160},
        }
    )
    with start_emulator(scenario) as emu:
        base = emu.base_urls["runway"]
        first, second = runway_task(base).json()["id"], runway_task(base).json()["id"]
        sizes = []
        for task_id in (first, second):
            task = web.get(f"{base}/v1/tasks/{task_id}", headers=RUNWAY).json()
            deadline = time.monotonic() + 60  # a render, on a machine the suite keeps busy
            while task["status"] != "SUCCEEDED" and time.monotonic() < deadline:
                time.sleep(0.05)
                task = web.get(f"{base}/v1/tasks/{task_id}", headers=RUNWAY).json()
            assert task["status"] == "SUCCEEDED", task
            path = tmp_path / f"{task_id}.mp4"
            path.write_bytes(web.get(task["output"][0]).content)
            info = probe(path)
            sizes.append((info.width, info.height))
    assert sizes == [(80, 44), (160, 90)]


def test_runway_requires_its_version_header():
    with start_emulator() as emu:
        answer = web.post(
            f"{emu.base_urls['runway']}/v1/text_to_video",
            json={"model": "gen4.5"},
            headers={"Authorization": "Bearer k"},
        )
    assert answer.status_code == 400
    assert "X-Runway-Version" in answer.json()["error"]


def test_gemini_api_no_longer_serves_veo():
    """The Gemini API's Veo preview ids were shut down on 2026-10-22 (see emulators/routes/google.py)."""
    with start_emulator() as emu:
        answer = web.post(
            f"{emu.base_urls['google']}/v1beta/models/veo-3.1-generate-preview:predictLongRunning",
            json={"instances": [{"prompt": "p"}], "parameters": {"durationSeconds": 8}},
            headers={"x-goog-api-key": "k"},
        )
    assert answer.status_code == 404
    assert answer.json()["error"]["status"] == "NOT_FOUND"


def test_judge_faults_and_safety_block():
    scenario = Scenario.model_validate(
        {
            "models": {
                "judge-a": {
                    "faults": [
                        {"kind": "rate_limit", "calls": [1], "retry_after_s": 3},
                        {"kind": "safety_refusal", "calls": [2]},
                    ]
                }
            }
        }
    )
    body = {"contents": [{"role": "user", "parts": [{"text": "score"}]}]}
    with start_emulator(scenario) as emu:
        url = f"{emu.judge_base_urls['gemini']}/models/judge-a:generateContent"
        answers = [web.post(url, json=body, headers={"x-goog-api-key": "k"}) for _ in range(3)]
    assert answers[0].status_code == 429
    details = answers[0].json()["error"]["details"]
    assert details[0]["retryDelay"] == "3.0s"
    assert answers[1].json()["promptFeedback"]["blockReason"] == "SAFETY"
    assert answers[2].json()["candidates"][0]["finishReason"] == "STOP"


def test_fill_schema_follows_the_callers_schema():
    profile = JudgeProfile(
        scores={"anatomy": 0.2}, issues=[{"t": 1.0, "end": 1.5, "kind": "anatomy"}]
    )
    schema = {
        "type": "object",
        "properties": {
            "anatomy": {"type": "number"},
            "overall": {"type": "number"},
            "issues": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "start_s": {"type": "number"},
                        "end_s": {"type": "number"},
                        "category": {"type": "string"},
                        "severity": {"type": "string", "enum": ["minor", "major"]},
                    },
                },
            },
        },
    }
    answer = fill_schema(schema, judge_answer(profile, b"request"))
    assert answer["anatomy"] == 0.2
    assert 0.0 <= answer["overall"] <= 1.0
    assert answer["issues"] == [
        {"start_s": 1.0, "end_s": 1.5, "category": "anatomy", "severity": "minor"}
    ]


@pytest.mark.parametrize(("concurrency", "status"), [(1, "aborted"), (None, "canceled")])
def test_replicate_cancel_after_deadline(concurrency: int | None, status: str):
    slow = {"latency": {"seconds": 5.0}, "concurrency": concurrency}
    scenario = Scenario.model_validate({"models": {"emu/slow": slow}})
    headers = {"Authorization": "Bearer k"}
    with start_emulator(scenario) as emu:
        url = f"{emu.base_urls['replicate']}/v1/models/emu/slow/predictions"
        body = {"input": {"prompt": "p", "duration": 2}}
        web.post(url, json=body, headers=headers)  # occupies the only slot when concurrency=1
        late = web.post(url, json=body, headers={**headers, "Cancel-After": "200ms"}).json()
        time.sleep(0.3)
        answer = web.get(late["urls"]["get"], headers=headers).json()
    assert answer["status"] == status


def test_times_caps_a_matched_fault():
    scenario = Scenario.model_validate(
        {
            "models": {
                "gen4.5": {
                    "faults": [{"kind": "server_error", "match": "storm", "times": 2}],
                    "latency": {"seconds": 0.0},
                }
            },
            "media": {"max_side": 160},
        }
    )
    with start_emulator(scenario) as emu:
        base = emu.base_urls["runway"]
        codes = [runway_task(base, f"a storm {i}").status_code for i in range(3)]
        calm = runway_task(base, "calm sea").status_code
    assert codes == [503, 503, 200]
    assert calm == 200
