"""The review page ``/jobs/{id}/review`` in headless Chromium, clicked through like a user: a
preview of three shots shows each clip (playable, with its poster) and its final quote; two shots
are ticked and committed; the page follows the final render live and ends on the delivered cut.
The cut is then measured with PyAV: three segments, the two approved ones from their final clips
and the third from its preview clip. Providers are the emulators (the preview free, on the local
animatic; the final on premium models), so preview and final clips differ; the first final clip of
one shot comes back with a black middle, so the dashboard's drill-down of the final job has a
rejected attempt to show (its verdict, finding, thumbnail and clip).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from sqlalchemy import select

from emulators import Scenario, start_emulator
from foundation import money
from foundation.settings import get_settings
from pipeline.context import RunContext
from store.db import session_scope
from store.models import JobCommit
from tests.api.browser import Chromium, artifact
from tests.api.conftest import wait_for_job

SHOTS = {
    "wide": "a red kite over a beach",
    "close": "a dog running in snow",
    "end": "a city street at night",
}
APPROVED = ("wide", "end")
BOARD: dict[str, Any] = {
    "title": "review flow",
    "output": {"size": "320x180"},
    "preview": {"free": True},
    "scenes": [
        {
            "id": "s",
            "shots": [{"id": key, "prompt": text, "duration": 4} for key, text in SHOTS.items()],
        }
    ],
}
BLACK_ONCE = Scenario.model_validate(
    {
        "seed": 3,
        "models": {"ray-3.2": {"defects": [{"kind": "black_middle", "match": "kite", "times": 1}]}},
    }
)
SAME_FRAME = 6.0
"""Mean absolute difference (0-255) under which two frames show the same picture (a re-encoded
copy scores about 3; the preview and the final clip of one shot differ by 7 or more)."""


@pytest.fixture
def ctx() -> Iterator[RunContext]:
    """Emulated providers (the conftest's ``ctx`` renders everything locally)."""
    context = RunContext.create("emulated", get_settings())
    context.settings.poll_interval_s = 0.02
    context.settings.backoff_base_s = 0.01
    with start_emulator(BLACK_ONCE) as emu:
        context.base_urls, context.judge_base_urls = dict(emu.base_urls), dict(emu.judge_base_urls)
        yield context


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def _download(client, url: str, headers, path: Path) -> Path:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.text[:300])
    path.write_bytes(response.content)
    return path


def _review(page: Chromium, quote: dict[str, Any]) -> tuple[str, float, dict[str, float]]:
    """On the open review page: approve ``APPROVED``, commit, wait for the delivered final; its
    job id, the total the page quoted and each shot's cost the page shows."""
    page.wait_for("document.body.dataset.state === 'ready'", what="the review page")
    page.wait_for(
        "[...document.querySelectorAll('video[data-shot]')].every((v) =>"
        " v.dataset.loaded === '1' && v.dataset.poster === '1')",
        what="every preview clip and poster",
    )
    clips = page.eval(
        "Object.fromEntries([...document.querySelectorAll('video[data-shot]')]"
        ".map((v) => [v.dataset.shot, Number(v.dataset.duration)]))"
    )
    assert clips == pytest.approx(dict.fromkeys(SHOTS, 4.0), abs=0.05)
    shown = page.eval(
        "Object.fromEntries([...document.querySelectorAll('[data-quote-shot]')]"
        ".map((q) => [q.dataset.quoteShot, Number(q.dataset.value)]))"
    )
    assert shown == {line["shot_id"]: line["expected_usd"] for line in quote["shots"]}
    assert page.eval("document.getElementById('commit').disabled"), "nothing chosen yet"
    for key in APPROVED:
        page.click(f'input[data-shot="{key}"]')
    page.wait_for(
        f"document.getElementById('total').dataset.shots === '{','.join(APPROVED)}'"
        " && !document.getElementById('commit').disabled",
        what="the quote of the two ticked shots",
    )
    page.screenshot(artifact("review-selected.png"))
    total = float(page.eval("document.getElementById('total').dataset.value"))
    page.click("#commit")
    page.wait_for("document.body.dataset.state === 'delivered'", 300, "the delivered final")
    page.wait_for("document.getElementById('final-video').readyState >= 1", what="the final cut")
    stages = page.eval(
        "Object.fromEntries([...document.querySelectorAll('tr[data-progress-shot]')]"
        ".map((r) => [r.dataset.progressShot, [r.dataset.stage, !!r.dataset.kept]]))"
    )
    assert stages == {"wide": ["ready", False], "close": ["ready", True], "end": ["ready", False]}
    live_cost = page.eval(
        "[...document.querySelectorAll('td[data-col=cost]')]"
        ".reduce((sum, td) => sum + Number(td.dataset.value), 0)"
    )
    assert live_cost > 0, "the live cost of the two final renders"
    page.screenshot(artifact("review-delivered.png"))
    final_id: str = page.eval("document.body.dataset.final")
    live_costs: dict[str, float] = page.eval(
        "Object.fromEntries([...document.querySelectorAll('tr[data-progress-shot]')]"
        ".map((r) => [r.dataset.progressShot, Number(r.querySelector('td[data-col=cost]')"
        ".dataset.value)]))"
    )
    return final_id, total, live_costs


def _drill(page: Chromium, url: str, detail: dict[str, Any]) -> None:
    """The dashboard's drill-down of the final job: every attempt with its verdict, findings,
    thumbnail and (on "play") its clip; the rejected clip's waste under its defect."""
    page.goto(url)
    page.wait_for(
        f"document.getElementById('drill').dataset.job === '{detail['id']}'"
        " && document.body.dataset.state === 'ready'",
        what="the drill-down",
    )
    shown = page.eval(
        "Object.fromEntries([...document.querySelectorAll('[data-drill-shot]')].map((s) =>"
        " [s.dataset.drillShot, [...s.querySelectorAll('tr[data-attempt]')].map((r) =>"
        " [Number(r.dataset.attempt), r.children[2].textContent, r.children[3].textContent,"
        " r.querySelector('[data-findings]').dataset.findings])]))"
    )
    expected = {
        shot["id"]: [
            [a["id"], a["status"], a["action"] or "-", ",".join(d["code"] for d in a["drivers"])]
            for a in shot["attempts"]
        ]
        for shot in detail["shots"]
    }
    assert shown == expected
    errors = [
        (a["id"], a["error_kind"], a["error"]) for s in detail["shots"] for a in s["attempts"]
    ]
    assert [row[1:] for row in shown["wide"]] == [
        ["rejected", "retry", "black_middle"],
        ["accepted", "accept", ""],
    ], errors
    page.wait_for(
        "[...document.querySelectorAll('#drill img[data-thumb]')].every((i) =>"
        " i.dataset.loaded === '1' && i.complete && i.naturalWidth === 320)",
        what="every thumbnail",
    )
    rejected = shown["wide"][0][0]
    page.click(f'button[data-play="{rejected}"]')
    page.wait_for(
        f"document.querySelector('video[data-clip=\"{rejected}\"]').readyState >= 1",
        what="the rejected clip",
    )
    waste = page.eval(
        "Object.fromEntries([...document.querySelectorAll('[data-chart=waste] rect')]"
        ".map((r) => [r.dataset.key, Number(r.dataset.value)]))"
    )
    assert waste == {"black_middle": detail["shots"][0]["attempts"][0]["waste_usd"]}
    assert waste["black_middle"] > 0
    # only free local previews and emulated finals: the emulated figures are drawn, marked
    assert page.eval("document.body.dataset.money") == "emulated"
    assert "EMULATED providers: no money was spent" in page.eval(
        "document.getElementById('status').textContent"
    )
    page.screenshot(artifact("dashboard-drill.png"))


@pytest.mark.slow
def test_review_commit_two_of_three(client, ctx, headers, key, live_url, chromium, tmp_path):
    created = client.post(
        "/v1/jobs", json={"storyboard": BOARD, "mode": "preview"}, headers=headers
    )
    assert created.status_code == 202, created.text
    preview_id = created.json()["id"]

    with Chromium(chromium, tmp_path / "chromium", size=(1280, 1000)) as page:
        page.goto(f"{live_url}/jobs/{preview_id}/review#key={key}")
        # the preview can be delivered before the page loads (a quiet machine): then it opens ready
        page.wait_for("['waiting', 'ready'].includes(document.body.dataset.state)", what="the page")
        opened_waiting = page.eval("document.body.dataset.state") == "waiting"
        preview = wait_for_job(client, preview_id, headers, timeout=300)
        assert (preview["status"], preview["mode"]) == ("delivered", "preview")
        quote = client.get(f"/v1/jobs/{preview_id}/quote", headers=headers).json()
        two = client.get(
            f"/v1/jobs/{preview_id}/quote", params={"shots": list(APPROVED)}, headers=headers
        ).json()
        final_id, shown_total, live_costs = _review(page, quote)
        if opened_waiting:
            assert page.eval("document.body.dataset.waited") == "1", "it opened by itself"
        assert shown_total == two["expected_usd"]
        detail = client.get(f"/v1/dashboard/jobs/{final_id}", headers=headers).json()
        _drill(page, f"{live_url}/dashboard#job={final_id}", detail)

    final = client.get(f"/v1/jobs/{final_id}", headers=headers).json()
    assert (final["status"], final["mode"]) == ("delivered", "final")
    shots = {s["id"]: s for s in final["shots"]}
    # the page's costs are the ledger's (it added up the fetched clips: a retake's rejected clip
    # and any voice or keyframe were left out)
    assert live_costs == {key_: shot["cost_usd"] for key_, shot in shots.items()}
    lines = {line["shot_id"]: line for line in quote["shots"]}
    assert {key_: shots[key_]["attempts"] for key_ in APPROVED} == {"wide": 2, "end": 1}
    for key_ in APPROVED:
        assert shots[key_]["model"] == lines[key_]["model"] != "local/animatic"
    assert (shots["close"]["attempts"], shots["close"]["model"]) == (0, "local/animatic")
    both = client.get(f"/v1/jobs/{preview_id}/versions", headers=headers).json()
    assert both["final_job_id"] == final_id
    assert {s["id"]: s["approved"] for s in both["shots"]} == {
        "wide": True,
        "close": False,
        "end": True,
    }
    # the unticked shot was on the page: reviewed and declined, its final price is cost avoided
    assert [s["id"] for s in both["shots"] if s["rejected"]] == ["close"]
    avoided = client.get("/v1/costs", headers=headers).json()["emulated"]["preview"]
    with session_scope(ctx.db_url) as session:
        price = session.scalars(select(JobCommit)).one().final_usd_by_shot["close"]
    assert avoided["declined_shots"] == 1
    assert price > 0
    assert avoided["cost_avoided_usd"] == money.to_json(price)

    cut = _download(client, f"/v1/jobs/{final_id}/output", headers, tmp_path / "final.mp4")
    with av.open(str(cut)) as container:
        assert float(container.duration or 0) / av.time_base == pytest.approx(12.0, abs=0.05)
    output = _frames(cut)
    assert len(output) == 288, "three 4 s segments at 24 fps"
    plan = client.get(f"/v1/jobs/{final_id}/output/plan", headers=headers).json()
    assert [(s["shot_id"], s["timeline_in"], s["timeline_out"]) for s in plan["shots"]] == [
        ("wide", 0, 96),
        ("close", 96, 192),
        ("end", 192, 288),
    ]
    for segment in plan["shots"]:
        key_ = segment["shot_id"]
        final_clip = _download(
            client, f"/v1/jobs/{final_id}/shots/{key_}/asset", headers, tmp_path / f"f-{key_}.mp4"
        )
        preview_clip = _download(
            client,
            f"/v1/jobs/{preview_id}/shots/{key_}/asset",
            headers,
            tmp_path / f"p-{key_}.mp4",
        )
        sources = {"final": _frames(final_clip), "preview": _frames(preview_clip)}
        for k in (10, 48, 80):
            frame = output[segment["timeline_in"] + k]
            source_at = segment["source_in"] + k
            gaps = {name: _difference(frame, got[source_at]) for name, got in sources.items()}
            if key_ in APPROVED:
                assert gaps["final"] < SAME_FRAME < gaps["preview"], (key_, k, gaps)
            else:
                assert gaps["preview"] < SAME_FRAME, (key_, k, gaps)
                assert final_clip.read_bytes() == preview_clip.read_bytes(), "kept as it was"
