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
    monkeypatch: pytest.MonkeyPatch, fresh_settings: object, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SHOTLINE_DATA_DIR", str(blocker / "data"))
    monkeypatch.delenv("SHOTLINE_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["plan", str(EXAMPLE)])
    assert result.exit_code == 2, result.output
    assert f"database: {blocker / 'data'} cannot be made (Not a directory)" in (
        result.output.replace("\n", "")
    )
