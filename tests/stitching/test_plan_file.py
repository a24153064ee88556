"""A stored edit plan a user edited, or a file that is not one, is refused by ``shotline stitch
--plan`` with the path of what is wrong, never a traceback: ``EditPlan.from_json`` checks the file
against the plan's, profile's and segments' shapes and bounds before any of it is used. Before,
one value of another type (None, text, a list, NaN) in 193 of 1,279 single-value edits of a real
plan raised ``TypeError``, ``AttributeError`` or ``KeyError`` out of the stitcher. The files a
plan names fare alike: a segment cut short is refused by its name, its saved arrays (a cache) cut
short are measured again, and they are written whole or not at all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, BinaryIO

import av
import numpy as np
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from shotline.commands import stitch as stitch_cmd
from stitching.saved import read_npz, write_npz
from tests.shapes import OTHER_VALUES, REMOVED, paths, swapped_at

app = typer.Typer()
stitch_cmd.register(app)


@app.callback()
def _root() -> None:
    """Keep ``stitch`` as a named sub-command."""


@pytest.fixture(scope="module")
def stored(shots: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real plan: two shots joined by a crossfade, its segments kept beside it."""
    where = tmp_path_factory.mktemp("stored")
    args = ["stitch", *map(str, shots[:2]), "-o", str(where / "first.mp4"), "--size", "160x90",
            "--transition", "crossfade:0.25", "--keep-segments"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return where / "first.plan.json"


def _stitch(plan: Path, out: Path) -> Result:
    return CliRunner().invoke(app, ["stitch", "--plan", str(plan), "-o", str(out)])


def _refused_cleanly(result: Result) -> None:
    """Delivered, or refused with an error message; no exception escaped the command."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    if result.exit_code:
        assert result.output.startswith("error: "), result.output


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(where=st.integers(min_value=0), value=st.one_of(st.just(REMOVED), OTHER_VALUES))
def test_one_value_of_another_type_or_removed_is_refused_with_its_path(
    stored: Path, tmp_path: Path, where: int, value: Any
) -> None:
    edited = stored.with_name("edited.plan.json")
    edited.write_text(json.dumps(swapped_at(json.loads(stored.read_text()), where, value)))
    _refused_cleanly(_stitch(edited, tmp_path / "again.mp4"))


@pytest.mark.parametrize(
    ("path", "value", "said"),
    [
        (("shots", 0, "segment", "keyframes", 0), None, "shots[0].segment.keyframes[0]: "),
        (("shots", 1, "segment", "thumb_frame"), None, "shots[1].segment.thumb_frame: "),
        (("shots", 0, "transition"), None, "shots[0].transition: "),
        (("profile", "loudness_lufs"), float("nan"), "profile.loudness_lufs: "),
        (("profile", "pix_fmt"), "yuv444p", "profile.pix_fmt: "),
        (("music",), "x", "music: "),
    ],
)
def test_a_value_the_stitcher_cannot_use_is_named(
    stored: Path, tmp_path: Path, path: tuple[str | int, ...], value: Any, said: str
) -> None:
    data = json.loads(stored.read_text())
    edited = tmp_path / "edited.plan.json"
    edited.write_text(json.dumps(swapped_at(data, list(paths(data)).index(path), value)))
    result = _stitch(edited, tmp_path / "again.mp4")
    assert result.exit_code == 2, result.output
    assert said in result.output
    assert not (tmp_path / "again.mp4").exists()


def test_a_plan_that_is_not_text_or_never_ends_is_refused_at_the_option(tmp_path: Path) -> None:
    binary = tmp_path / "binary.plan.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xd0\xff")
    result = _stitch(binary, tmp_path / "a.mp4")
    assert (result.exit_code, result.output.splitlines()[:2]) == (
        2, [f"error: {binary}: cannot be read", result.output.splitlines()[1]]
    )  # fmt: skip
    assert result.output.splitlines()[1].strip() == (
        f"--plan: {binary} is not a text file (YAML or JSON): byte 0 is not UTF-8"
    )
    endless = _stitch(Path("/dev/zero"), tmp_path / "b.mp4")
    assert endless.exit_code == 2, endless.output
    assert "--plan: /dev/zero is larger than 8,388,608 bytes" in endless.output


def _copied(stored: Path, where: Path) -> Path:
    """The stored plan and its kept segments copied to ``where``, the plan naming the copies."""
    shutil.copytree(stored.parent, where)
    plan = where / stored.name
    plan.write_text(plan.read_text().replace(str(stored.parent), str(where)))
    return plan


def _cut_short(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:37])


def test_saved_arrays_cut_short_are_measured_again(stored: Path, tmp_path: Path) -> None:
    """A segment's edge proxies and loudness sub-blocks are a cache: cut short (a disk error, a
    copy stopped halfway), they are measured again from the segment (numpy's ``BadZipFile``
    escaped the stitcher before)."""
    plan = _copied(stored, tmp_path / "copy")
    shutil.rmtree(plan.with_name("first.segments") / "windows")
    for saved in plan.with_name("first.segments").glob("*.npz"):
        _cut_short(saved)
    result = _stitch(plan, tmp_path / "again.mp4")
    assert result.exit_code == 0, result.output
    with av.open(str(tmp_path / "again.mp4")) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == json.loads(plan.read_text())["total_frames"]


def test_a_segment_cut_short_is_refused_by_name(stored: Path, tmp_path: Path) -> None:
    plan = _copied(stored, tmp_path / "copy")
    [second] = plan.with_name("first.segments").glob("001-*.mp4")
    _cut_short(second)
    result = _stitch(plan, tmp_path / "again.mp4")
    assert result.exit_code == 2, result.output
    assert f"{second.name}: not the segment that was normalised" in result.output.replace("\n", "")


def test_saved_arrays_are_written_whole_or_not_at_all(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "saved" / "a.npz"
    path.parent.mkdir()
    write_npz(path, values=np.arange(4))
    before = path.read_bytes()

    def stopped(handle: BinaryIO, **arrays: object) -> None:
        handle.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", stopped)
    with pytest.raises(KeyboardInterrupt):
        write_npz(path, values=np.arange(8))
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["a.npz"]
    assert list(read_npz(path)["values"]) == [0, 1, 2, 3]
