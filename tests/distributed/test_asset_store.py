"""The distributed engine sharing nothing on disk: the API and two workers, each with a data and
asset directory of its own, share only PostgreSQL, Redis and an S3 bucket (moto's server on
loopback). Every job is delivered, downloaded through the API's signed-URL redirect, and measures
the same as the embedded engine's render of the same storyboard."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av
import pytest

from api import auth
from emulators import Scenario, start_emulator
from foundation.settings import Settings, get_settings
from foundation.storyboard import parse_storyboard
from pipeline.context import RunContext
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from store.db import session_scope
from store.models import Job
from tests import web
from tests.api.conftest import free_port
from tests.distributed.cluster import Cluster

PROMPTS = ("a red kite over a beach", "a lighthouse in a storm at dusk")


def _storyboard(index: int) -> dict[str, Any]:
    shots: list[dict[str, Any]] = [
        {"id": f"shot{n}", "prompt": f"{prompt}, take {index}", "duration": 1}
        for n, prompt in enumerate(PROMPTS)
    ]
    output: dict[str, Any] = {"size": "160x90", "fps": 24}
    if index == 1:
        shots[1]["transition"] = "crossfade:0.5"
        output["variants"] = ["1:1"]
    return {"title": f"bucket {index}", "mode": "preview", "output": output,
            "scenes": [{"id": "s", "shots": shots}]}  # fmt: skip


def _measure(data: bytes) -> tuple[int, int, int, bool]:
    with av.open(io.BytesIO(data), mode="r") as container:
        context = container.streams.video[0].codec_context
        size, audio = (context.width, context.height), bool(container.streams.audio)
        frames = sum(1 for _ in container.decode(video=0))
    return frames, size[0], size[1], audio


def _own_disk(tmp_path: Path, name: str) -> dict[str, str]:
    return {
        "SHOTLINE_DATA_DIR": str(tmp_path / name),
        "SHOTLINE_ASSET_DIR": str(tmp_path / name / "assets"),
    }


def _embedded(tmp_path: Path, emulator: Any, board: dict[str, Any]) -> tuple[Any, ...]:
    """The same storyboard on the embedded engine, on a local disk (no bucket)."""
    settings = Settings(data_dir=tmp_path / "embedded", database_url=None, asset_store=None)
    ctx = RunContext.create("emulated", settings)
    ctx.base_urls, ctx.judge_base_urls = dict(emulator.base_urls), dict(emulator.judge_base_urls)
    out = tmp_path / "embedded" / f"{board['title']}.mp4"
    job_id = create_job(ctx, parse_storyboard(board), output=out)
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"
    variants = {p.name.split(".")[1] for p in out.parent.glob(f"{out.stem}.*x*.mp4")}
    return _measure(out.read_bytes()), variants


@pytest.mark.slow
@pytest.mark.serial("cluster")
@pytest.mark.services
def test_workers_sharing_only_the_bucket_deliver_what_the_embedded_engine_delivers(
    tmp_path, s3_bucket, fresh_postgres_url, redis_url, isolated_queues, monkeypatch
):
    scenario = Scenario.model_validate({"seed": 3, "media": {"max_side": 160}})
    key = auth.create_key(fresh_postgres_url, "acme")
    monkeypatch.setenv("SHOTLINE_DATABASE_URL", fresh_postgres_url)
    get_settings.cache_clear()
    boards = [_storyboard(index) for index in range(3)]
    with (
        start_emulator(scenario) as emulator,
        Cluster(
            tmp_path / "logs", fresh_postgres_url, redis_url, isolated_queues,
            SHOTLINE_EMULATOR_URL=emulator.base_url,
        ) as cluster,
    ):  # fmt: skip
        url = f"http://127.0.0.1:{free_port()}"
        cluster.api(int(url.rsplit(":", 1)[1]), env=_own_disk(tmp_path, "api"))
        cluster.worker("w1", concurrency=1, env=_own_disk(tmp_path, "w1"))
        cluster.worker("w2", concurrency=1, beat=True, env=_own_disk(tmp_path, "w2"))
        cluster.wait_healthy(url)
        headers = {"Authorization": f"Bearer {key}"}
        ids = [
            web.post(f"{url}/v1/jobs", json={"storyboard": b}, headers=headers).json()["id"]
            for b in boards
        ]
        statuses = cluster.wait_jobs(ids, timeout=180)
        assert set(statuses.values()) == {"delivered"}, cluster.stuck(ids)
        delivered = []
        for job_id in ids:
            answer = web.get(f"{url}/v1/jobs/{job_id}/output", headers=headers)
            assert answer.status_code == 307, answer.text
            delivered.append(_measure(web.get(answer.headers["location"]).content))
        square = web.get(f"{url}/v1/jobs/{ids[1]}/output/variants/1x1", headers=headers)
        assert square.status_code == 307
        assert _measure(web.get(square.headers["location"]).content)[1:3] == (90, 90)
        for name in ("w1", "w2", "api"):
            assert "ERROR" not in cluster.log(name, tail=None), cluster.log(name)
        for name in ("w1", "w2"):  # both workers took part
            assert "Task pipeline." in cluster.log(name, tail=None), cluster.log(name)
        with session_scope(fresh_postgres_url) as session:
            outputs = [session.get_one(Job, job_id).output_path or "" for job_id in ids]
        assert all(o.startswith(f"s3://{s3_bucket.name}/deliveries/acme/") for o in outputs)
        embedded = [_embedded(tmp_path, emulator, board) for board in boards]
    assert delivered == [measured for measured, _ in embedded]
    assert [variants for _, variants in embedded] == [set(), {"1x1"}, set()]
    assert delivered[1][0] == 36  # 2 s less the crossfade's 0.5 s, at 24 fps
