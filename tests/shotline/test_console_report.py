"""The report table that ``shotline render`` prints names the edit files delivered beside the MP4."""

from __future__ import annotations

from shotline.console import report_table


def _report(**extra: object) -> dict[str, object]:
    return {
        "title": "tiny",
        "status": "delivered",
        "output": "/out/film.mp4",
        "shots": [],
        "cost_usd": 0.0,
        "settled_usd": 0.0,
        **extra,
    }


def test_caption_lists_the_edit_files():
    files = {
        "video": "/out/film.mp4",
        "plan": "/out/film.plan.json",
        "otio": "/out/film.otio",
        "fcpxml": "/out/film.fcpxml",
        "edl": "/out/film.edl",
    }
    caption = str(report_table(_report(files=files)).caption)
    assert "output: /out/film.mp4  edit: film.otio, film.fcpxml, film.edl" in caption


def test_caption_lists_the_caption_files():
    files = {"video": "/out/film.mp4", "srt": "/out/film.srt", "vtt": "/out/film.vtt"}
    caption = str(report_table(_report(files=files)).caption)
    assert "output: /out/film.mp4  captions: film.srt, film.vtt" in caption


def test_no_edit_files_no_edit_mention():
    assert "edit:" not in str(report_table(_report(files={"video": "/out/film.mp4"})).caption)


def test_the_jobs_music_stage_has_a_row_of_its_own():
    bed = {"model": "elevenlabs/music-v1", "tries": 1, "status": "accepted", "reused": True,
           "cost_usd": 0.0, "note": "elevenlabs"}  # fmt: skip
    table = report_table(_report(music=bed), width=200)
    cells = [list(column.cells) for column in table.columns]
    assert cells[0][0] == "(music)"
    assert cells[1][0] == "elevenlabs/music-v1"
    assert cells[-1][0] == "reused from the cache"


def test_a_title_or_error_with_markup_prints_as_written():
    """A storyboard titled ``bad [/red] title`` was delivered, then ``render`` crashed printing
    this table (rich's MarkupError, exit 1 after a paid render); ``plan`` crashed outright."""
    from rich.console import Console

    report = _report(title="bad [/red] title [bold]", error="shot a: [/] refused")
    console = Console(width=200, record=True)
    console.print(report_table(report))
    text = console.export_text()
    assert "bad [/red] title [bold]" in text
    assert "shot a: [/]" in text  # the caption wraps before "refused"


def test_the_plan_table_prints_a_title_with_markup_as_written(tmp_path):
    import typer
    from typer.testing import CliRunner

    from shotline.commands import models, plan

    app = typer.Typer()
    for command in (models, plan):
        command.register(app)
    board = tmp_path / "board.yaml"
    board.write_text(
        'title: "bad [/red] title"\n'
        "scenes: [{id: s, shots: [{id: a, prompt: a calm sea, duration: 1}]}]\n"
    )
    done = CliRunner().invoke(app, ["plan", str(board)], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "bad [/red] title" in done.output


def test_a_programme_the_ceiling_held_short_of_its_target_says_so():
    note = "the -1 dBTP ceiling holds this programme at -11.2 LUFS: -10 LUFS is out of its reach"
    loudness = {"passed": True, "integrated_lufs": -11.2, "reachable_lufs": -11.2, "note": note}
    report = _report(verification={"passed": True, "checks": {"loudness": loudness}})
    assert f"quieter than asked: {note}" in str(report_table(report).caption)
    loudness = {"passed": True, "integrated_lufs": -14.1}
    report = _report(verification={"passed": True, "checks": {"loudness": loudness}})
    assert "quieter" not in str(report_table(report).caption)


def test_paths_with_brackets_print_as_written():
    """A folder named ``[x]`` vanished from the closing table's output path (rich read it as a
    style), and one named ``[/]`` crashed ``render`` after the paid render had delivered."""
    from rich.console import Console

    folder = "/out/[x] [/] [/red]"
    files = {"video": f"{folder}/film.mp4", "srt": f"{folder}/[b]film.srt"}
    console = Console(width=400, record=True)
    console.print(report_table(_report(output=f"{folder}/film.mp4", files=files)))
    text = console.export_text()
    assert f"output: {folder}/film.mp4  captions:" in text  # the caption wraps after it
    assert "[b]film.srt" in text


def test_an_error_naming_a_path_with_brackets_prints_it_as_written(tmp_path):
    """``shotline plan "[x]/nope.yaml"`` said ``error: /nope.yaml: no such file``."""
    from typer.testing import CliRunner

    from shotline.cli import app

    missing = tmp_path / "[x] [/]" / "nope.yaml"
    result = CliRunner().invoke(app, ["plan", str(missing), "--providers", "emulated"])
    assert result.exit_code == 2, result.output
    assert f"error: {missing}: no such file" in result.output


def test_a_title_the_terminal_cannot_encode_is_escaped_not_a_crash(tmp_path):
    """Standard output in Latin-1 (a legacy locale, or ``PYTHONIOENCODING``): a storyboard titled
    with an emoji ended ``plan`` in UnicodeEncodeError, and ``render`` after its paid render."""
    import os
    import subprocess
    import sys

    board = tmp_path / "board.yaml"
    board.write_text(
        'title: "harbour \\U0001F3AC night"\n'
        "scenes: [{id: s, shots: [{id: a, prompt: a calm sea, duration: 1}]}]\n",
        encoding="utf-8",
    )
    env = dict(os.environ, PYTHONIOENCODING="latin-1", COLUMNS="200")
    done = subprocess.run([sys.executable, "-m", "shotline", "plan", str(board), "--providers",
                           "local"], capture_output=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode("latin-1")[-2000:]
    assert "harbour \\U0001f3ac night: preview plan (1 shots)" in done.stdout.decode("latin-1")


def test_emoji_codes_in_paths_and_titles_print_as_written(tmp_path):
    """Rich turned ``:name:`` into emoji: ``-o "o:thumbs_up:.mp4"`` printed ``o👍.mp4`` in the
    closing table, a title ``Launch :rocket:`` printed 🚀, ``--port -1`` an error with 👎."""
    from typer.testing import CliRunner

    from shotline.cli import app

    board = tmp_path / "board.yaml"
    board.write_text(
        'title: "Launch :rocket: day"\noutput: {size: 160x90}\n'
        "scenes: [{id: s, shots: [{id: a, prompt: a calm sea, duration: 1}]}]\n"
    )
    out = tmp_path / "emo:-1:dir" / "o:thumbs_up:.mp4"
    env = {"COLUMNS": "300"}
    planned = CliRunner().invoke(app, ["plan", str(board), "--providers", "local"], env=env)
    assert planned.exit_code == 0, planned.output
    assert "Launch :rocket: day" in planned.output
    args = ["render", str(board), "-o", str(out), "--providers", "local"]
    rendered = CliRunner().invoke(app, args, env=env)
    assert rendered.exit_code == 0, rendered.output
    assert "o:thumbs_up:.otio" in rendered.output
    assert "\U0001f44d" not in rendered.output
    assert "\U0001f680" not in rendered.output
