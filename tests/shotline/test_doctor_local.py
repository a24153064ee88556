"""``shotline doctor``'s local section says what the local voice really is."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from adapters import animatic
from adapters.base import GenerationRequest
from shotline.commands import doctor


def test_without_espeak_the_note_names_the_placeholder_voice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without espeak-ng the animatic speaks a line with its placeholder voice (README
    "local animatic"), not tones: doctor must say so."""
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    request = GenerationRequest(
        shot_id="s", prompt="a dock", duration_s=2.0, width=64, height=36, fps=24,
        model="local/animatic", audio=True, dialogue="We leave at dawn.",
    )  # fmt: skip
    track, note = animatic.audio_track(request, 2 * animatic.SAMPLE_RATE, seed=1)
    assert note == "placeholder-voice"
    assert np.abs(track).max() > 0.1

    voice = doctor.collect()["local_voice"]
    assert voice["ok"]
    assert voice["path"] is None
    assert "placeholder voice" in voice["note"]
    assert "tones" not in voice["note"]


def test_the_celery_engine_is_checked_for_its_broker():
    """``doctor`` said nothing of the broker: a deployment whose broker was down passed."""
    from foundation.settings import Settings

    down = Settings(engine="celery", broker_url="redis://127.0.0.1:9/0")
    engine = doctor._engine(down)
    assert engine["ok"] is False
    assert "127.0.0.1:9/0 (SHOTLINE_BROKER_URL) cannot be reached" in engine["error"]
    assert doctor._engine(Settings(engine="embedded")) == {"ok": True, "engine": "embedded"}


@pytest.mark.services
def test_a_celery_queue_no_worker_consumes_is_noted(redis_url):
    from foundation.settings import Settings

    engine = doctor._engine(Settings(engine="celery", broker_url=redis_url, queue_prefix="dr-"))
    assert engine["ok"] is True  # other tests' workers may answer: none consumes dr- queues
    assert engine["note"] == "no worker consumes dr-io, dr-cpu: their jobs wait"
