"""An extension's answer (the clip sent, then the new seconds) is cut to its new tail at fetch,
at the exact frame after the sent clip's last one (``pipeline.continuity.extension_tail``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np

from adapters.base import Asset
from media.runner import run_ffmpeg
from pipeline.continuity import extension_tail

ENCODE = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def source(out: Path, seconds: float) -> Path:
    """Each frame one flat grey of its own (frame n: 8 n % 256), so a frame is known by colour."""
    picture = f"color=size=64x36:rate=24:duration={seconds},format=gray,geq=lum='mod(N*8,256)'"
    run_ffmpeg(["-f", "lavfi", "-i", picture,
                "-f", "lavfi", "-i", f"sine=f=440:duration={seconds}", *ENCODE,
                "-c:a", "aac", "-shortest", str(out)])  # fmt: skip
    return out


def greys(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(np.mean(f.to_ndarray(format="gray"))) for f in container.decode(video=0)]


def asset(path: Path, seconds: float) -> Asset:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Asset(path, digest, seconds, 64, 36, 24.0, True, "op")


def test_the_sent_frames_are_cut_from_the_head(tmp_path):
    combined = source(tmp_path / "combined.mp4", 3.0)  # 2 s sent + 1 s extension
    sent = tmp_path / "sent.mp4"
    run_ffmpeg(["-i", str(combined), "-frames:v", "48", *ENCODE, "-an", str(sent)])
    tail = extension_tail(asset(combined, 3.0), sent, tmp_path / "tail.mp4")
    assert tail.path == tmp_path / "tail.mp4"
    assert abs(tail.duration_s - 1.0) < 0.05
    whole, cut = greys(combined), greys(tail.path)
    assert len(cut) == 24
    assert abs(cut[0] - whole[48]) < 2  # the frame after the sent clip's 48th
    assert abs(cut[0] - whole[47]) > 5
    assert tail.sha256 == hashlib.sha256(tail.path.read_bytes()).hexdigest()


def test_an_answer_no_longer_than_the_sent_clip_is_kept_whole(tmp_path):
    """Taken as the extension alone (whether Vertex can answer so is UNCERTAIN)."""
    sent = source(tmp_path / "sent.mp4", 1.0)
    only_new = source(tmp_path / "new.mp4", 1.2)
    kept = asset(only_new, 1.2)
    assert extension_tail(kept, sent, tmp_path / "tail.mp4") == kept
