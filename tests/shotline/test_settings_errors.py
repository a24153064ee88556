"""A setting the environment gives a value it cannot take ends the command naming the variable,
exit code 2 (before, pydantic's ``ValidationError`` came out of whichever command read the settings
first as a traceback, and an embedded database folder that cannot be made as ``NotADirectoryError``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from foundation.settings import get_settings
from shotline.cli import app

EXAMPLE = Path(__file__).parents[2] / "examples" / "teaser.yaml"


@pytest.fixture
def fresh_settings() -> object:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("SHOTLINE_POLL_INTERVAL_S", "abc", "Input should be a valid number"),
        ("SHOTLINE_MAX_SHOTS", "-5", "greater than or equal to 1"),
        ("SHOTLINE_ENGINE", "bogus", "Input should be 'embedded' or 'celery'"),
    ],
)
def test_a_setting_out_of_its_range_is_named_before_any_work(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: object, variable: str, value: str, said: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(app, ["plan", str(EXAMPLE)])
    assert result.exit_code == 2, result.output
    headline, problem = result.output.splitlines()[:2]
    assert headline == "error: the settings are invalid"
    assert problem.startswith(f"  {variable}: ")
    assert said in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_help_is_given_whatever_the_settings(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: object
) -> None:
    monkeypatch.setenv("SHOTLINE_MAX_SHOTS", "-5")
    result = CliRunner().invoke(app, ["plan", "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_an_api_setting_out_of_its_range_is_named(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: object
) -> None:
    monkeypatch.setenv("SHOTLINE_API_REQUEST_THREADS", "0")
    result = CliRunner().invoke(app, ["serve", "--port", "0", "--providers", "emulated"])
    assert result.exit_code == 2, result.output
    assert "SHOTLINE_API_REQUEST_THREADS: Input should be greater than or equal to 1" in (
        result.output
    )


@pytest.mark.empty_data_dir
def test_a_data_folder_that_cannot_be_made_is_named(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: object, blocker: Path
) -> None:
    monkeypatch.setenv("SHOTLINE_DATA_DIR", str(blocker / "data"))
    monkeypatch.delenv("SHOTLINE_DATABASE_URL", raising=False)
    listed = CliRunner().invoke(app, ["jobs", "list"])  # opens the database first
    assert listed.exit_code == 2, listed.output
    assert f"database: {blocker / 'data'} cannot be made ({blocker} is a file, not a folder)" in (
        listed.output.replace("\n", "")
    )
    planned = CliRunner().invoke(app, ["plan", str(EXAMPLE)])  # makes its folders first
    assert planned.exit_code == 2, planned.output
    assert f"SHOTLINE_DATA_DIR: {blocker / 'data'}/assets cannot be made ({blocker} is a file" in (
        planned.output.replace("\n", "")
    )


def test_an_asset_folder_that_cannot_be_made_is_named_before_any_render(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: object, blocker: Path, tmp_path: Path
) -> None:
    """Before, the job submitted its first shot, paid for it, and failed at the download."""
    monkeypatch.setenv("SHOTLINE_ASSET_DIR", str(blocker / "assets"))
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(
        app, ["render", str(EXAMPLE), "-o", str(out), "--providers", "local"]
    )
    assert result.exit_code == 2, result.output
    assert f"SHOTLINE_ASSET_DIR: {blocker / 'assets'} cannot be made ({blocker} is a file" in (
        result.output.replace("\n", "")
    )
    assert "job " not in result.output, "no job was created"


@pytest.mark.empty_data_dir
def test_a_data_folder_that_is_a_file_is_named_so(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: object, blocker: Path
) -> None:
    """``SHOTLINE_DATA_DIR=README.md`` said "cannot be made (File exists)"."""
    monkeypatch.setenv("SHOTLINE_DATA_DIR", str(blocker))
    monkeypatch.delenv("SHOTLINE_DATABASE_URL", raising=False)
    listed = CliRunner().invoke(app, ["jobs", "list"])
    assert listed.exit_code == 2, listed.output
    assert f"database: {blocker} cannot be made ({blocker} is a file, not a folder)" in (
        listed.output.replace("\n", "")
    )
