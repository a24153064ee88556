"""``create_job`` and ``planning.route`` screen before spending: a refused storyboard writes no row
and calls no adapter; the hosted moderation endpoint (a loopback fake here) is asked only for
hosted providers when a key is set."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from foundation.storyboard import Mode
from pipeline.context import RunContext
from pipeline.planning import create_job, route
from quality.screening import ScreeningRefusedError
from store.db import session_scope
from store.models import Attempt, Job, LedgerEntry
from tests.pipeline.conftest import shot, tiny_board


def _counts(ctx: RunContext) -> list[int]:
    with session_scope(ctx.db_url) as session:
        return [
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Job, Attempt, LedgerEntry)
        ]


def test_a_refused_storyboard_creates_no_job_and_calls_no_adapter(ctx, scripted, tmp_path):
    adapter = scripted()
    refused = tiny_board(shot("a"), shot("b", prompt="a soldier shoots a prisoner point-blank"))
    with pytest.raises(ScreeningRefusedError) as caught:
        create_job(ctx, refused, output=tmp_path / "out.mp4")
    assert [p.path for p in caught.value.problems] == ["scenes[0].shots[1].prompt"]
    assert "weapons-graphic" in caught.value.problems[0].message
    assert adapter.submitted == []
    assert _counts(ctx) == [0, 0, 0]
    create_job(ctx, tiny_board(shot("a"), shot("b")), output=tmp_path / "out.mp4")
    assert _counts(ctx)[0] == 1  # the same board without the refused prompt is planned


class _Moderation(BaseHTTPRequestHandler):
    """OpenAI's ``POST /v1/moderations`` on loopback: flags texts containing "menacing"."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        type(self).seen.append({"path": self.path, "auth": self.headers["authorization"], **body})
        results = [
            {
                "flagged": "menacing" in text,
                "categories": {"violence": "menacing" in text, "hate": False},
                "category_scores": {"violence": 0.88 if "menacing" in text else 0.0, "hate": 0.0},
            }
            for text in body["input"]
        ]
        payload = json.dumps({"id": "modr-1", "model": body["model"], "results": results}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def moderation_url() -> Iterator[str]:
    _Moderation.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Moderation)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_hosted_moderation_refuses_before_routing(ctx, moderation_url):
    ctx.settings.openai_api_key = SecretStr("sk-test")
    ctx.settings.moderation_url = moderation_url
    board = tiny_board(shot("a", prompt="a menacing figure in an alley"))
    with pytest.raises(ScreeningRefusedError) as caught:
        route(replace(ctx, providers="live"), board, Mode.FINAL)
    assert [str(p) for p in caught.value.problems] == [
        "scenes[0].shots[0].prompt: refused by rule openai-moderation:violence "
        "(flagged by OpenAI moderation, score 0.88)"
    ]
    assert _Moderation.seen[0]["path"] == "/v1/moderations"
    assert _Moderation.seen[0]["auth"] == "Bearer sk-test"
    assert _Moderation.seen[0]["input"] == ["tiny", "a menacing figure in an alley"]
    # local and emulated renders never leave the machine: only the rule file applies there
    for providers in ("local", "emulated"):
        assert route(replace(ctx, providers=providers), board, Mode.FINAL).decisions
    assert len(_Moderation.seen) == 1
