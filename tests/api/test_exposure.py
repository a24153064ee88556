"""API responses name no server path and quote no FFmpeg stderr; the detail stays in the logs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import stitching
from media.runner import run_ffmpeg
from pipeline.context import RunContext
from pipeline.errors import redact_paths
from tests.api.conftest import tiny_board, wait_for_job


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _assert_no_server_path(ctx: RunContext, body: Any) -> None:
    roots = {str(ctx.settings.data_dir.resolve()), str(ctx.settings.assets)}
    for text in _strings(body):
        assert "/tmp/" not in text, text
        assert not any(text.startswith(root) for root in roots), text


def _events(client: Any, job_id: str, headers: dict[str, str]) -> list[Any]:
    stream = client.get(f"/v1/jobs/{job_id}/events", headers=headers).text
    return [json.loads(line[6:]) for line in stream.splitlines() if line.startswith("data: ")]


def _submit(client: Any, headers: dict[str, str], board: dict[str, Any]) -> dict[str, Any]:
    created = client.post("/v1/jobs", json={"storyboard": board}, headers=headers)
    assert created.status_code == 202, created.text
    return wait_for_job(client, created.json()["id"], headers)


def test_job_plan_versions_and_events_name_no_server_path(client, ctx, headers):
    preview = _submit(client, headers, tiny_board(tag=" (paths)"))
    assert preview["status"] == "delivered", preview["error"]
    committed = client.post(
        f"/v1/jobs/{preview['id']}/commit", json={"shots": ["shot1"]}, headers=headers
    )
    assert committed.status_code == 202, committed.text
    final_id = committed.json()["final_job_id"]
    assert wait_for_job(client, final_id, headers)["status"] == "delivered"

    versions = client.get(f"/v1/jobs/{final_id}/versions", headers=headers).json()
    assert versions["final"]["output_url"] == f"/v1/jobs/{final_id}/output"
    bodies = [versions]
    for job_id in (preview["id"], final_id):
        bodies.append(client.get(f"/v1/jobs/{job_id}", headers=headers).json())
        plan = client.get(f"/v1/jobs/{job_id}/output/plan", headers=headers)
        assert plan.status_code == 200
        bodies += [plan.json(), _events(client, job_id, headers)]
    for body in bodies:
        _assert_no_server_path(ctx, body)


@pytest.fixture
def broken_stitch(monkeypatch: pytest.MonkeyPatch, ctx: RunContext) -> Path:
    """Stitching runs a real FFmpeg that fails on a missing input under the data dir."""
    missing = ctx.settings.work_dir / "missing-input.mp4"

    def assemble(_plan: Any, output: Path, **_options: Any) -> Any:
        run_ffmpeg(["-i", str(missing), str(output)])
        raise AssertionError("ffmpeg was expected to fail")

    monkeypatch.setattr(stitching, "assemble", assemble)
    return missing


def test_an_ffmpeg_failure_reports_no_stderr(client, ctx, headers, broken_stitch, caplog):
    job = _submit(client, headers, tiny_board(tag=" (ffmpeg fails)"))
    assert job["status"] == "failed"
    assert job["stage"] == "stitching"
    assert job["error"].startswith("ffmpeg failed")
    assert "\n" not in job["error"]
    events = _events(client, job["id"], headers)
    for body in (job, events):
        _assert_no_server_path(ctx, body)
        assert "No such file" not in json.dumps(body)
    assert "No such file" in caplog.text, "the detail stays in the server's log"


def test_redaction_keeps_urls_model_ids_ratios_and_api_paths():
    text = (
        "cannot open /srv/data/assets/j1/clip.mp4 (from https://cdn.example/x/y.mp4) with "
        "google/veo-3.1 at 1/24000, see /v1/jobs/j1/output"
    )
    assert redact_paths(text) == (
        "cannot open clip.mp4 (from https://cdn.example/x/y.mp4) with "
        "google/veo-3.1 at 1/24000, see /v1/jobs/j1/output"
    )


def test_a_data_folder_with_a_space_is_cut_whole(tmp_path, monkeypatch):
    """A path is taken to end at a space: under ``/srv/my data`` the tail ``data/.shotline/
    assets/references/bob/…`` (a tenant's name in it) was left in the message."""
    from foundation.settings import get_settings

    root = tmp_path / "my data"
    monkeypatch.setenv("SHOTLINE_DATA_DIR", str(root / ".shotline"))
    get_settings.cache_clear()
    try:
        stored = root / ".shotline" / "assets" / "references" / "bob" / "e31.png"
        said = redact_paths(f"{stored} is not a readable image")
    finally:
        get_settings.cache_clear()
    assert said == "e31.png is not a readable image"
