"""Content checks in the gate (on-screen text by OCR, speech against the line) on real clips, the
policy's mapping per tier, and ``shotline check --prompt/--dialogue``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
import typer
from typer.testing import CliRunner

from foundation.spoken import quoted_texts, shown_texts
from media.probe import probe
from quality.analysis import analyse
from quality.expectation import ClipExpectation
from quality.gate import evaluate
from quality.onscreen_text import normalise, similarity
from quality.policy import default_policy
from shotline.commands import check
from tests.quality.content_media import silence, speech_audio, write_clip

TITLE = "NEON HARBOUR"
LINE = "the lights are on tonight"  # 5 words: about 2 s at 2.5 words/s


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("content")
    return {
        "titled": write_clip(folder / "titled.mp4", 2.5, TITLE, speech_audio(2.5, 2.0)),
        "plain": write_clip(folder / "plain.mp4", 2.0, None, silence(2.0)),
        "silent_titled": write_clip(folder / "silent.mp4", 2.0, TITLE, silence(2.0)),
    }


def ask(prompt: str | None, dialogue: str | None = None, tier: str = "standard") -> ClipExpectation:
    speech: Literal["required", "none"] = "required" if dialogue else "none"
    return ClipExpectation(2.0, 320, 180, 12.0, "any", tier=tier, prompt=prompt,
                           dialogue=dialogue, speech=speech)  # fmt: skip


def codes(path: Path, expect: ClipExpectation) -> dict[str, str]:
    return {f.code: f.severity for f in evaluate(path, expect).findings}


def test_quoted_text_and_normalised_fuzzy_match() -> None:
    assert quoted_texts('a title card that reads "NEON HARBOUR", then \u201cthe end\u201d') == [
        "NEON HARBOUR",
        "the end",
    ]
    assert quoted_texts("a harbour at night, no titles") == []
    spoken = 'a sign that reads "OPEN" Mara says: "We leave at dawn"'
    assert shown_texts(spoken) == ["OPEN"], "a spoken line is heard, not shown"
    assert normalise(" Neon-harbour! ") == "NEON HARBOUR"
    assert similarity("NEON HARBOUR", "SHOT 3 neon harbor at dusk") > 0.9
    assert similarity("NEON HARBOUR", "SUNSET BAY") < 0.5


def test_one_decode_keeps_thumbnails_and_a_16khz_speech_track(clips: dict[str, Path]) -> None:
    path = clips["titled"]
    clip = analyse(path, probe(path), default_policy().detectors, keep_thumbs=True,
                   keep_speech=True)  # fmt: skip
    assert clip.speech_pcm is not None
    assert clip.speech_pcm.size / 16_000 == pytest.approx(2.5, abs=0.1)
    assert len(clip.thumbs) >= 3


def test_text_the_prompt_asks_for_is_read_and_accepted(clips: dict[str, Path]) -> None:
    verdict = evaluate(clips["titled"], ask(f'a title card that reads "{TITLE}"', LINE))
    assert verdict.action == "accept", verdict.to_dict()
    (found,) = [f for f in verdict.findings if f.code == "onscreen_text"]
    assert found.severity == "info"
    assert found.start is not None
    assert 0 < found.start < 2.5


def test_other_text_is_a_retry_naming_what_was_read(clips: dict[str, Path]) -> None:
    verdict = evaluate(clips["titled"], ask('a title card that reads "SUNSET BAY"', LINE))
    assert verdict.action == "retry"
    (driver,) = verdict.drivers
    assert driver.code == "wrong_text"
    assert "SUNSET BAY" in driver.message
    assert "NEON HARBOUR" in driver.message


def test_no_text_where_text_is_asked_for_is_missing_text(clips: dict[str, Path]) -> None:
    verdict = evaluate(clips["plain"], ask(f'a title card that reads "{TITLE}"'))
    assert [d.code for d in verdict.drivers] == ["missing_text"]


@pytest.mark.parametrize("sign", ["مرحبا", "ΚΑΛΗΜΕΡΑ", "OK"])
def test_text_the_check_cannot_compare_is_not_checked_and_says_so(
    clips: dict[str, Path], sign: str
) -> None:
    """The comparison sees Latin letters and digits, and lines of 3 or more: a sign reading
    "مرحبا" could never match, so every take was rejected as missing_text and paid for."""
    verdict = evaluate(clips["plain"], ask(f'a neon sign that reads "{sign}"'))
    assert verdict.action == "accept"
    (note,) = [f for f in verdict.findings if f.code == "onscreen_text"]
    assert note.severity == "info"
    assert note.message.startswith(f'"{sign}" is not checked')


def test_text_the_prompt_does_not_ask_for_is_flagged(clips: dict[str, Path]) -> None:
    assert codes(clips["silent_titled"], ask("a harbour at night")) == {
        "unexpected_text": "warning"
    }
    assert codes(clips["plain"], ask("a harbour at night")) == {}


def test_draft_reads_text_only_when_the_prompt_quotes_some(clips: dict[str, Path]) -> None:
    assert codes(clips["silent_titled"], ask("a harbour at night", tier="draft")) == {}
    quoted = ask('a title card that reads "SUNSET BAY"', tier="draft")
    assert codes(clips["silent_titled"], quoted) == {"wrong_text": "warning"}


def test_a_line_without_speech_is_retried(clips: dict[str, Path]) -> None:
    verdict = evaluate(clips["silent_titled"], ask(f'"{TITLE}"', LINE))
    assert [d.code for d in verdict.drivers] == ["missing_speech"]
    assert verdict.action == "retry"


def test_speech_length_is_an_error_in_standard_and_a_warning_in_draft(
    clips: dict[str, Path],
) -> None:
    short_line = "hello"  # 0.4 s at 2.5 words/s; the clip speaks for 2 s
    standard = evaluate(clips["titled"], ask(f'"{TITLE}"', short_line))
    assert [d.code for d in standard.drivers] == ["speech_length"]
    assert standard.action == "retry"
    draft = evaluate(clips["titled"], ask(f'"{TITLE}"', short_line, tier="draft"))
    assert draft.action == "accept"
    assert {f.code: f.severity for f in draft.findings}["speech_length"] == "warning"


def test_policy_maps_every_content_finding() -> None:
    policy = default_policy()
    for code in ("missing_speech", "speech_length", "unexpected_speech", "missing_text",
                 "wrong_text", "unexpected_text"):  # fmt: skip
        assert policy.action_for(code, "standard") == "retry"
    assert policy.action_for("onscreen_text", "standard") == "ignore"
    assert policy.tier("draft").severity["wrong_text"] == "warning"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    application = typer.Typer()
    check.register(application)
    application.command()(lambda: None)  # a second command keeps typer in multi-command mode
    return application


def test_cli_prints_content_findings_and_exits_by_verdict(
    app: typer.Typer, clips: dict[str, Path]
) -> None:
    clip = str(clips["titled"])
    good = CliRunner().invoke(app, ["check", clip, "--prompt", f'title "{TITLE}"',
                                    "--dialogue", LINE, "--json"])  # fmt: skip
    assert good.exit_code == 0, good.output
    assert [f["code"] for f in json.loads(good.stdout)["findings"]] == ["onscreen_text"]
    bad = CliRunner().invoke(app, ["check", clip, "--prompt", 'title "SUNSET BAY"'])
    assert bad.exit_code == 1
    assert "wrong_text" in bad.stdout
    assert "SUNSET BAY" in bad.stdout


def test_cli_refuses_a_line_without_audio(app: typer.Typer, clips: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        app, ["check", str(clips["plain"]), "--dialogue", LINE, "--audio", "none"]
    )
    assert result.exit_code == 2
    assert "--dialogue" in result.output
