"""``shotline keys create`` and ``shotline serve`` (a fresh data directory, a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import typer
from typer.testing import CliRunner

from api import auth
from foundation.settings import get_settings
from shotline.commands import keys, serve
from tests import web
from tests.api.conftest import free_port, tiny_board

ROOT = Path(__file__).parents[2]


def _cli() -> typer.Typer:
    app = typer.Typer()
    keys.register(app)
    serve.register(app)
    return app


class TestKeysCommand:
    def test_create_prints_the_key_as_the_last_word(self):
        result = CliRunner().invoke(_cli(), ["keys", "create", "--tenant", "acme"])
        assert result.exit_code == 0, result.output
        key = result.output.split()[-1]
        assert key.startswith("sl_")
        assert auth.tenant_for_key(get_settings().db_url, key) == "acme"

    def test_bad_tenant_exits_2(self):
        result = CliRunner().invoke(_cli(), ["keys", "create", "--tenant", "no spaces"])
        assert result.exit_code == 2

    def test_revoke(self):
        key = CliRunner().invoke(_cli(), ["keys", "create", "--tenant", "a"]).output.split()[-1]
        assert CliRunner().invoke(_cli(), ["keys", "revoke", key]).exit_code == 0
        assert auth.tenant_for_key(get_settings().db_url, key) is None
        assert CliRunner().invoke(_cli(), ["keys", "revoke", key]).exit_code == 2


SERVE = """
import typer, sys
from shotline.commands import keys, serve
app = typer.Typer()
keys.register(app)
serve.register(app)
app(sys.argv[1:])
"""


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SERVE, *args], env=env, capture_output=True, text=True, timeout=120
    )


class TestServeCommand:
    def test_serve_on_a_fresh_data_dir_runs_a_job_to_download(self, tmp_path):
        env = {**os.environ, "SHOTLINE_DATA_DIR": str(tmp_path / "fresh"), "PYTHONPATH": str(ROOT)}
        key = _run("keys", "create", "--tenant", "demo", env=env).stdout.split()[-1]
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", "--port", str(port), "--providers", "local"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                try:
                    if web.get(base + "/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline
                time.sleep(0.1)
            headers = {"Authorization": f"Bearer {key}"}
            job = web.post(base + "/v1/jobs", json={"storyboard": tiny_board(1)}, headers=headers)
            assert job.status_code == 202
            job_id = job.json()["id"]
            while web.get(f"{base}/v1/jobs/{job_id}", headers=headers).json()["status"] not in (
                "delivered",
                "failed",
            ):
                assert time.monotonic() < deadline + 60
                time.sleep(0.1)
            video = web.get(f"{base}/v1/jobs/{job_id}/output", headers=headers)
            assert video.status_code == 200
            assert video.content[4:8] == b"ftyp"
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=30)
        assert "resumed 0 jobs" in output
        assert key not in output
