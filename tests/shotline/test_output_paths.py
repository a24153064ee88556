"""An output path no run could write (a folder, a path below a file) is refused before any work or
spend, naming the option (``shotline.paths.writable_output``). Before, ``render -o
/etc/passwd/o.mp4`` rendered and paid for every shot, then failed on its last step with
``FileExistsError``; ``stitch`` and ``draft`` (after the language model was paid) raised
``IsADirectoryError`` or ``FileNotFoundError`` out of the command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from foundation.settings import get_settings
from shotline.cli import app
from shotline.paths import NAME_ROOM, writable_video

EXAMPLE = Path(__file__).parents[2] / "examples" / "one-shot.yaml"


def _refused(args: list[str], option: str, why: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "nothing was done" in result.output.splitlines()[0]
    assert f"{option}: {why}" in result.output.replace("\n", "")


@pytest.mark.empty_data_dir
def test_render_to_a_path_below_a_file_renders_nothing(blocker: Path, tmp_path: Path) -> None:
    out = blocker / "o.mp4"
    _refused(["render", str(EXAMPLE), "-o", str(out), "--providers", "local"],
             "--output", f"{blocker} is a file, not a folder")  # fmt: skip
    assert not get_settings().data_dir.exists(), "no database was made: no job, no spend"


@pytest.mark.empty_data_dir
def test_render_to_a_folder_is_refused_even_with_force(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    args = ["render", str(EXAMPLE), "-o", str(folder), "--providers", "local", "--force"]
    _refused(args, "--output", "name a file to write")
    assert not get_settings().data_dir.exists()


def test_stitch_to_a_folder_or_below_a_file_stitches_nothing(
    shot_clip: Path, blocker: Path, tmp_path: Path
) -> None:
    _refused(["stitch", str(shot_clip), "-o", str(tmp_path)], "--output", "name a file to write")
    _refused(["stitch", str(shot_clip), "-o", str(blocker / "x.mp4")],
             "--output", f"{blocker} is a file, not a folder")  # fmt: skip


def test_draft_below_a_file_asks_no_language_model(blocker: Path) -> None:
    args = ["draft", "a ferry at dawn", "-o", str(blocker / "b.yaml"), "--providers", "emulated"]
    _refused(args, "--out", f"{blocker} is a file, not a folder")


@pytest.fixture
def shot_clip(tmp_path: Path) -> Path:
    """Any file: the output is refused before the clip is read."""
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00")
    return clip


@pytest.mark.empty_data_dir
def test_a_name_with_no_room_for_what_is_written_beside_it_is_refused(tmp_path: Path) -> None:
    """A 250-byte name rendered every shot, then failed: ``.NAME.TOKEN.work`` was too long."""
    longest = os.pathconf(tmp_path, "PC_NAME_MAX") - NAME_ROOM
    out = tmp_path / ("a" * (longest - 3) + ".mp4")
    _refused(["render", str(EXAMPLE), "-o", str(out), "--providers", "local"],
             "--output", f"the file name is {longest + 1} bytes; at most {longest} leave room")  # fmt: skip
    assert not get_settings().data_dir.exists()


@pytest.mark.empty_data_dir
@pytest.mark.parametrize("name", ["film.mkv", "film.WEBM", "film.gif", "film.yaml"])
def test_an_output_named_as_another_format_is_refused(tmp_path: Path, name: str) -> None:
    """``-o film.mkv`` wrote MP4 bytes (``ftypisom``) under a Matroska name."""
    out = tmp_path / name
    _refused(["render", str(EXAMPLE), "-o", str(out), "--providers", "local"],
             "--output", "shotline writes MP4 (H.264, AAC): name the file .mp4, .m4v, .mov")  # fmt: skip
    assert not get_settings().data_dir.exists()
    assert not out.exists()


def test_stitch_to_another_format_stitches_nothing(shot_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "joined.avi"
    _refused(["stitch", str(shot_clip), "-o", str(out)], "--output", "shotline writes MP4")
    assert not out.exists()


@pytest.mark.empty_data_dir
@pytest.mark.parametrize("name", ["film.MOV", "take.2026-12-07", "film"])
def test_mp4_names_and_dotted_stems_pass_the_check(tmp_path: Path, name: str) -> None:
    writable_video(tmp_path / name, "--output")


@pytest.mark.empty_data_dir
@pytest.mark.parametrize(
    ("brief", "why"),
    [("", "brief: is empty: say what the video is about"),
     ("x" * 4001, "brief: is 4001 characters, at most 4000")],
    ids=["empty", "4001-characters"],
)  # fmt: skip
def test_a_brief_no_model_can_draft_from_asks_none(tmp_path: Path, brief: str, why: str) -> None:
    """``draft ""`` paid for a storyboard titled "Write exactly shots"; the CLI had no length
    limit where the API has 4000 characters."""
    out = tmp_path / "b.yaml"
    result = CliRunner().invoke(app, ["draft", brief, "-o", str(out), "--providers", "emulated"])
    assert result.exit_code == 2, result.output
    assert why in result.output.replace("\n", "")
    assert not out.exists()
    assert not get_settings().data_dir.exists(), "no database: nothing was booked"
