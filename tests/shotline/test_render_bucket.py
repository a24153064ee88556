"""``shotline render -o OUT.mp4`` with the S3 asset store: the job delivers into the bucket, and
the command copies the deliverable and its sidecars to ``OUT``; ``jobs show`` lists them."""

from __future__ import annotations

import json

import typer
import yaml
from typer.testing import CliRunner

from media.probe import count_frames
from shotline.commands import jobs, render

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
    job_id = done.output.split()[1]
    shown = CliRunner().invoke(app, ["jobs", "show", job_id, "--json"])
    assert shown.exit_code == 0, shown.output
    listed = json.loads(shown.output)["outputs"]
    assert listed["video"].startswith(f"s3://{s3_bucket.name}/")
    assert listed["plan"].endswith("/cut.plan.json")
