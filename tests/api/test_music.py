"""A music bed through the API: fetched from an http(s) URL like a reference image, checked before
any spend, laid under the delivered programme; a path on the server's disk is never read."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import av
import httpx
import numpy as np

from tests.api.conftest import tiny_board, wait_for_job


def wav_bytes(seconds: float = 0.5, rate: int = 48000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def test_a_server_path_is_refused_and_nothing_is_created(client, headers, network):
    board = tiny_board(2, music={"file": "/etc/passwd"})
    for route in ("/v1/jobs", "/v1/jobs:plan"):
        refused = client.post(route, json={"storyboard": board}, headers=headers)
        assert refused.status_code == 422, refused.text
        problems = refused.json()["problems"]
        assert [p["path"] for p in problems] == ["storyboard.music.file"]
        assert "http(s) URL" in problems[0]["message"]
    assert client.get("/v1/jobs", headers=headers).json()["data"] == []
    assert network.requests == []


def test_a_url_that_is_not_audio_is_refused(client, headers, network):
    network.routes["cdn.example.com"] = lambda r: httpx.Response(200, content=b"<html></html>")
    board = tiny_board(2, music={"file": "https://cdn.example.com/bed.wav"})
    refused = client.post("/v1/jobs", json={"storyboard": board}, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["problems"][0]["path"] == "storyboard.music.file"
    assert "WAV, FLAC, Ogg, MP3 or M4A" in refused.json()["problems"][0]["message"]
    assert client.get("/v1/jobs", headers=headers).json()["data"] == []


def test_an_empty_bed_is_named_empty(client, headers, network):
    network.routes["cdn.example.com"] = lambda r: httpx.Response(200, content=b"")
    board = tiny_board(2, music={"file": "https://cdn.example.com/bed.wav"})
    refused = client.post("/v1/jobs", json={"storyboard": board}, headers=headers)
    assert refused.status_code == 422
    [problem] = refused.json()["problems"]
    assert problem["path"] == "storyboard.music.file"
    assert "is empty (0 bytes)" in problem["message"], problem
    assert client.get("/v1/jobs", headers=headers).json()["data"] == []


def test_a_fetched_bed_is_laid_under_the_delivered_programme(client, headers, network):
    network.routes["cdn.example.com"] = lambda r: httpx.Response(200, content=wav_bytes())
    board = tiny_board(2, tag=" bed", music={"file": "https://cdn.example.com/bed.wav"})
    planned = client.post("/v1/jobs:plan", json={"storyboard": board}, headers=headers)
    assert planned.status_code == 200, planned.text
    accepted = client.post("/v1/jobs", json={"storyboard": board}, headers=headers)
    assert accepted.status_code == 202, accepted.text
    job = wait_for_job(client, accepted.json()["id"], headers)
    assert job["status"] == "delivered", job
    output = client.get(f"/v1/jobs/{job['id']}/output", headers=headers)
    assert output.status_code == 200
    with av.open(io.BytesIO(output.content), "r") as container:
        frames = [f.to_ndarray() for f in container.decode(audio=0)]
    level = float(np.sqrt(np.mean(np.concatenate([f.reshape(-1) for f in frames]) ** 2)))
    assert level > 0.01  # the local renderer's shots are silent: the sound is the bed
    assets = Path(client.app.state.api.ctx.settings.assets)
    stored = list((assets / "music").rglob("*.wav"))  # kept under the tenant's own directory
    assert [p.parent.name for p in stored] == ["acme"]
    assert len(stored) == 1
    assert stored[0].read_bytes() == wav_bytes()
