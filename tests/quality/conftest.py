from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from media.runner import run_ffmpeg
from tests.quality.corpus import CorpusClip, build, corpus

CLIPS: dict[str, CorpusClip] = {c.name: c for c in corpus()}


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


@pytest.fixture(scope="session")
def corpus_clip(corpus_dir: Path) -> Callable[[str], Path]:
    def get(name: str) -> Path:
        return build(CLIPS[name], corpus_dir)

    return get


@pytest.fixture(scope="session")
def make_clip(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Render a clip from FFmpeg input args (lavfi sources) into a session temp dir."""
    directory = tmp_path_factory.mktemp("clips")

    def make(name: str, *args: str) -> Path:
        out = directory / f"{name}.mp4"
        if not out.exists():
            run_ffmpeg(
                [
                    *args,
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "aac",
                    str(out),
                ]
            )
        return out

    return make
