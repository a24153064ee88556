"""Issue 15 (part C): hostile storyboards and values that can never render, over HTTP.

Each body is refused with a 422 naming the path and the reason, within a couple of seconds, and
nothing is created (so nothing is reserved or billed); a large alias bomb does not block the event
loop.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest
import yaml

import api.jobs
import api.submit
from tests import web
from tests.api.conftest import tiny_board
from tests.shotline.test_storyboard import alias_bomb

YAML = "application/yaml"
JSON = "application/json"


def _shots(*shots: dict[str, Any], **output: Any) -> str:
    board = {"title": "t", "output": {"size": "160x90", **output}, "scenes": [{"id": "s", "shots": list(shots)}]}  # fmt: skip
    return yaml.safe_dump(board)


def _shot(name: str = "a", duration: Any = 1, **extra: Any) -> dict[str, Any]:
    return {"id": name, "prompt": "a calm sea", "duration": duration, **extra}


def _many(count: int, duration: float = 1) -> str:
    return yaml.safe_dump(tiny_board(shots=count) | {"scenes": [{"id": "s", "shots": [
        _shot(f"s{i}", duration) for i in range(count)]}]})  # fmt: skip


DIGITS = "9" * 5000
DEEP_YAML = "a: " + "[" * 50_000 + "]" * 50_000
DEEP_JSON = '{"storyboard": ' + "[" * 50_000 + "]" * 50_000 + "}"
NAN_JSON = json.dumps({"storyboard": json.loads(_to_json := json.dumps(yaml.safe_load(_shots(_shot()))))}).replace('"duration": 1', '"duration": NaN')  # fmt: skip

# (id, content type, body, expected problem path, a fragment of its message)
HOSTILE: list[tuple[str, str, str, str, str]] = [
    ("alias-bomb", YAML, alias_bomb(), "", "aliases count as the nodes they repeat"),
    ("alias-bomb-in-json", JSON, json.dumps({"storyboard": alias_bomb()}), "storyboard", "aliases"),
    ("yaml-nan", YAML, _shots(_shot(duration=float("nan"))), "scenes[0].shots[0].duration", "finite"),
    ("yaml-inf", YAML, _shots(_shot(duration=float("inf"))), "scenes[0].shots[0].duration", "finite"),
    ("json-nan", JSON, NAN_JSON, "", "NaN is not a number JSON allows"),
    ("deep-yaml", YAML, DEEP_YAML, "", "nest"),
    ("deep-json", JSON, DEEP_JSON, "", "nested deeper than 64 levels"),
    ("digits-yaml", YAML, _shots(_shot()).replace("duration: 1", "duration: " + DIGITS), "", "5000 digits"),
    ("digits-json", JSON, '{"storyboard": {"title": "t"}, "budget_usd": ' + DIGITS + "}", "", "5000 digits"),
    ("crossfade-digits", YAML, _shots(_shot(), _shot("b", transition="crossfade:" + DIGITS)), "scenes[0].shots[1].transition", "must be cut, crossfade:SECONDS"),
    ("duration-0.01", YAML, _shots(_shot(duration=0.01)), "scenes[0].shots[0].duration", "at least 0.25 seconds"),
    ("fps-0.5", YAML, _shots(_shot(), fps=0.5), "output.fps", "greater than or equal to 10"),
    ("fps-0.0001", YAML, _shots(_shot(), fps=0.0001), "output.fps", "greater than or equal to 10"),
    ("size-99998", YAML, _shots(_shot(), size="99998x99998"), "output.size", "each side must be 32-7680"),
    ("size-3840x16", YAML, _shots(_shot(), size="3840x16"), "output.size", "each side must be 32-7680"),
    ("first-fade-too-long", YAML, _shots(_shot(duration=3, transition="fade:4"), _shot("b", 3)), "scenes[0].shots[0].transition", "not shorter than the shot"),
    ("crossfade-2-frames", YAML, _shots(_shot(), _shot("b", transition="crossfade:0.1")), "scenes[0].shots[1].transition", "at least 3"),
    ("crossfade-too-long", YAML, _shots(_shot(duration=1), _shot("b", 5, transition="crossfade:2")), "scenes[0].shots[1].transition", "longer than the previous shot"),
    ("201-shots", YAML, _many(201), "scenes", "more than the limit of 200 (SHOTLINE_MAX_SHOTS)"),
    # 10,000 shots took 17 s to accept before issue 15; 2,500 take the same path (counted and
    # refused before validation) at a quarter of the parse
    ("2500-shots", YAML, _many(2_500), "scenes", "SHOTLINE_MAX_SHOTS"),
    ("total-duration", YAML, _many(16, duration=120), "scenes", "SHOTLINE_MAX_TOTAL_DURATION_S"),
    # a budget money cannot hold: the job ran, then every view of it raised InvalidOperation
    ("budget-1e30", YAML, yaml.safe_dump(yaml.safe_load(_shots(_shot())) | {"budget_usd": 1e30}), "budget_usd", "less than or equal to 1000000000"),
    # PostgreSQL cannot store a NUL: the job's insert answered 500 after the plan said ok
    ("nul-in-prompt", JSON, json.dumps({"storyboard": yaml.safe_load(_shots(_shot(prompt="a\x00sea")))}), "scenes[0].shots[0].prompt", "NUL character"),
]  # fmt: skip
IDS = [case[0] for case in HOSTILE]


def _problem(body: dict[str, Any], path: str, fragment: str) -> None:
    problems = body.get("problems") or []
    prefixed = {path, f"storyboard.{path}" if path else "storyboard"}
    assert any(p["path"] in prefixed and fragment in p["message"] for p in problems), problems


@pytest.mark.parametrize("endpoint", ["/v1/jobs", "/v1/jobs:plan"])
@pytest.mark.parametrize(("name", "media", "text", "path", "fragment"), HOSTILE, ids=IDS)
def test_hostile_storyboard_is_a_422_with_path_and_reason(
    client, headers, endpoint, name, media, text, path, fragment
):
    started = time.process_time()
    response = client.post(endpoint, content=text, headers={**headers, "content-type": media})
    cpu = time.process_time() - started
    assert response.status_code == 422, response.text[:500]
    # the attacks took 10-38 s before issue 15; CPU time (the app's threads included), since wall
    # time on a loaded 2-core CI machine measures the load
    assert cpu < 4.0, f"{name} took {cpu:.2f} s of CPU"
    assert len(response.content) < 20_000  # no echo of an expanded document
    _problem(response.json(), path, fragment)
    assert client.get("/v1/jobs", headers=headers).json()["data"] == []  # nothing planned or billed


VIDEO_HOSTILE = [
    ("seconds-nan", {"prompt": "a sea", "seconds": "nan"}, "seconds", "finite"),
    ("seconds-inf", {"prompt": "a sea", "seconds": "inf"}, "seconds", "finite"),
    ("seconds-0.01", {"prompt": "a sea", "seconds": "0.01"}, "seconds", "at least 0.25 seconds"),
    ("size-99998", {"prompt": "a sea", "size": "99998x99998"}, "size", "each side"),
    ("size-3840x16", {"prompt": "a sea", "size": "3840x16"}, "size", "each side"),
    ("size-8x8", {"prompt": "a sea", "size": "8x8"}, "size", "each side"),
]


@pytest.mark.parametrize(("name", "fields", "path", "fragment"), VIDEO_HOSTILE, ids=[v[0] for v in VIDEO_HOSTILE])  # fmt: skip
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "multipart"])
def test_hostile_video_values(client, headers, name, fields, path, fragment, as_json):
    if as_json:
        response = client.post("/v1/videos", json=fields, headers=headers)
    else:
        form = {key: (None, value) for key, value in fields.items()}  # multipart fields
        response = client.post("/v1/videos", files=form, headers=headers)
    assert response.status_code == 422, response.text[:500]
    _problem(response.json(), path, fragment)
    assert client.get("/v1/videos", headers=headers).json()["data"] == []


@pytest.mark.parametrize(
    "body",
    [
        '{"prompt": "a sea", "n": ' + "[" * 50_000 + "]" * 50_000 + "}",
        '{"prompt": "a sea", "n": NaN}',
        '{"prompt": "a sea", "n": ' + DIGITS + "}",
    ],
    ids=["deep", "nan", "digits"],
)
def test_hostile_video_json(client, headers, body):
    response = client.post("/v1/videos", content=body, headers={**headers, "content-type": JSON})
    assert response.status_code == 422, response.text[:500]
    assert response.json()["problems"][0]["path"] == ""


def test_a_body_that_is_not_utf8_json_is_a_documented_422(client, headers):
    """Found by schemathesis: bytes that are not UTF-8 made FastAPI answer an undocumented 400."""
    response = client.post(
        "/v1/jobs/0123/commit",
        content=b"\xa7\xc1O\xdb_b",
        headers={**headers, "content-type": JSON},
    )
    assert response.status_code == 422, response.text[:500]
    assert response.json()["problems"] == [
        {"path": "body", "message": "is not valid JSON text (UTF-8)"}
    ]


def test_the_shortest_allowed_shot_renders(client, headers):
    """The minimum is a real one: a 0.25 s shot at 24 fps is delivered, not failed after spend."""
    from tests.api.conftest import wait_for_job

    text = _shots(_shot(duration=0.25), _shot("b", 0.25, transition="crossfade:0.125"))
    created = client.post("/v1/jobs", content=text, headers={**headers, "content-type": YAML})
    assert created.status_code == 202, created.text
    job = wait_for_job(client, created.json()["id"], headers)
    assert job["status"] == "delivered", job["error"]


def _healthz_while(live_url: str, send: Any) -> tuple[list[float], list[int]]:
    """Poll /healthz while ``send`` runs in other threads; (latencies, their status codes)."""
    done = threading.Event()
    statuses: list[int] = []

    def sender() -> None:
        try:
            statuses.extend(send())
        finally:
            done.set()

    thread = threading.Thread(target=sender)
    latencies: list[float] = []
    with httpx.Client(base_url=live_url, timeout=10, verify=web.TLS) as http:
        thread.start()  # the client is ready first: a fast refusal still meets one probe
        while len(latencies) < 400:
            started = time.perf_counter()
            assert http.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - started)
            if done.is_set():
                break
            time.sleep(0.02)
    thread.join(timeout=30)
    return latencies, statuses


def _post_bombs(live_url: str, headers: dict[str, str], count: int) -> list[int]:
    with httpx.Client(base_url=live_url, timeout=30, verify=web.TLS) as http:
        return [
            http.post("/v1/jobs", content=alias_bomb(), headers={**headers, "content-type": YAML}).status_code
            for _ in range(count)
        ]  # fmt: skip


def test_parsing_runs_off_the_event_loop(live_url, headers, monkeypatch):
    """A parse that takes 1.5 s (simulated around the real one) must not stall /healthz."""
    real = api.submit.parse_job_request

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(api.jobs, "parse_job_request", slow)
    latencies, statuses = _healthz_while(live_url, lambda: _post_bombs(live_url, headers, 1))
    assert statuses == [422]
    assert len(latencies) >= 5
    # on the loop, /healthz would wait the whole 1.5 s parse; under 1 s leaves room for a loaded
    # CI machine (a run measured 0.59 s with the parse off the loop)
    assert max(latencies) < 1.0, f"/healthz took {max(latencies):.2f}s while a bomb was parsed"


def test_alias_bombs_are_refused_while_healthz_answers(live_url, headers):
    latencies, statuses = _healthz_while(live_url, lambda: _post_bombs(live_url, headers, 6))
    assert statuses == [422] * 6
    assert latencies
    assert max(latencies) < 1.0, f"/healthz took {max(latencies):.2f}s"


@pytest.mark.parametrize("endpoint", ["/v1/jobs", "/v1/jobs:plan"])
@pytest.mark.parametrize(
    ("budget", "why"),
    [
        ("1e30", "less than or equal to 1000000000"),
        # NaN was refused as "less than or equal to 1000000000", which it is not
        ("nan", "finite number"),
        ("inf", "finite number"),
    ],
)
def test_a_budget_query_money_cannot_hold_is_a_422(client, headers, endpoint, budget, why):
    response = client.post(
        f"{endpoint}?budget_usd={budget}",
        content=_shots(_shot()),
        headers={**headers, "content-type": YAML},
    )
    assert response.status_code == 422, response.text[:300]
    (problem,) = response.json()["problems"]
    assert problem["path"] == "budget_usd"
    assert why in problem["message"], problem
    assert client.get("/v1/jobs", headers=headers).json()["data"] == []


def test_a_nul_in_a_video_prompt_is_one_problem(client, headers):
    """The title is made of the prompt, so its NUL was reported twice at ``prompt``."""
    response = client.post("/v1/videos", json={"prompt": "a\x00sea"}, headers=headers)
    assert response.status_code == 422, response.text[:300]
    (problem,) = response.json()["problems"]
    assert problem["path"] == "prompt"
    assert "NUL character" in problem["message"]
