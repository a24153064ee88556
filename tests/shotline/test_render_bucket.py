"""``shotline render -o OUT.mp4`` with the S3 asset store: the job delivers into the bucket, and
the command copies the deliverable and its sidecars to ``OUT``; ``jobs show`` lists them."""

from __future__ import annotations

import json

import typer
import yaml
from typer.testing import CliRunner

from foundation.settings import get_settings
from media.probe import count_frames
from shotline.commands import jobs, render, worker

BOARD = {
    "title": "bucket cli",
    "mode": "preview",
    "output": {"size": "160x90"},
    "scenes": [{"id": "s", "shots": [{"id": "a", "prompt": "a calm lake", "duration": 1}]}],
}


def test_render_copies_the_delivery_from_the_bucket(tmp_path, s3_bucket):
    app = typer.Typer()
    for module in (jobs, render):
        module.register(app)
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(BOARD))
    out = tmp_path / "cut.mp4"
    done = CliRunner().invoke(app, ["render", str(path), "-o", str(out), "--providers", "local"])
    assert done.exit_code == 0, done.output
    assert count_frames(out) == 24
    assert {p.name for p in tmp_path.glob("cut.*")} >= {"cut.mp4", "cut.plan.json", "cut.otio"}
    assert any(key.endswith("/cut.mp4") for key in s3_bucket.object_keys())
    said = "".join(done.output.split())  # the caption may wrap anywhere in a long path
    copied = f"output:{out}(copiedfroms3://{s3_bucket.name}/"
    assert copied in said, "it named the bucket's object, not the file it wrote"
    job_id = done.output.split()[1]
    shown = CliRunner().invoke(app, ["jobs", "show", job_id, "--json"])
    assert shown.exit_code == 0, shown.output
    listed = json.loads(shown.output)["outputs"]
    assert listed["video"].startswith(f"s3://{s3_bucket.name}/")
    assert listed["plan"].endswith("/cut.plan.json")


def _render(tmp_path, monkeypatch, env: dict[str, str]):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    app = typer.Typer()
    for module in (jobs, render):  # two commands: ``render`` stays a sub-command
        module.register(app)
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(BOARD))
    args = ["render", str(path), "-o", str(tmp_path / "cut.mp4"), "--providers", "local"]
    return CliRunner().invoke(app, args)


def test_a_bucket_that_cannot_be_reached_is_named_before_any_job(tmp_path, monkeypatch, s3_bucket):
    """Before, the job was made and waited on "rendering shots" for as long as the bucket did not
    answer (its steps retried later, as on a database hiccup), saying nothing."""
    done = _render(tmp_path, monkeypatch, {"SHOTLINE_S3_ENDPOINT_URL": "http://127.0.0.1:1"})
    assert done.exit_code == 1, done.output
    assert f"the asset store could not reach bucket {s3_bucket.name}" in done.output
    assert not done.output.startswith("job "), "no job was made"


def test_a_missing_bucket_is_named_before_any_job(tmp_path, monkeypatch, s3_bucket):
    done = _render(tmp_path, monkeypatch, {"SHOTLINE_ASSET_STORE": "s3://no-such-bucket/p"})
    assert done.exit_code == 2, done.output
    assert "SHOTLINE_ASSET_STORE: bucket no-such-bucket answers 404 to HEAD" in (
        done.output.replace("\n", "")
    )
    assert not done.output.startswith("job ")


def test_a_worker_names_a_bucket_that_cannot_be_reached_before_it_starts(monkeypatch, s3_bucket):
    monkeypatch.setenv("SHOTLINE_S3_ENDPOINT_URL", "http://127.0.0.1:1")
    get_settings.cache_clear()
    app = typer.Typer()
    for module in (jobs, worker):
        module.register(app)
    done = CliRunner().invoke(app, ["worker", "--queues", "io"])
    assert done.exit_code == 1, done.output
    assert f"the asset store could not reach bucket {s3_bucket.name}" in done.output
