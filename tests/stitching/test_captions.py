"""Captions measured on real renders: 160x90, 1 s shots whose "speech" is a tone in part of the shot.

The sidecars are read back with ``pysubs2`` and with a strict parser of our own; cue times are held
against the tone as placed on the edit plan and as measured in the rendered file's audio.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from foundation.storyboard import StoryboardError, parse_storyboard
from stitching import Captions, assemble, plan_edit
from stitching import burn as burn_mod
from stitching.burn import burn
from stitching.captions import (
    MAX_CHARS,
    MAX_LINES,
    Cue,
    caption_paths,
    check_sidecars,
    cues_for,
    speech_span,
    wrap,
    write_sidecars,
)
from tests.stitching.conftest import PROFILE, make_clip, normalise_all

FRAME_S = 1 / 24
TONE = "aevalsrc=if(between(t\\,{a}\\,{b})\\,0.4*sin(2*PI*330*t)\\,0):s=48000"
SPEECH = [(0.30, 0.70), (0.40, 0.80)]  # where each clip's tone is, in its own seconds
LONG = (
    "The ferry leaves at dawn and nobody on this dock is going to stop it, not the harbour "
    "master and not the rain."
)
SRT_TIME = r"(\d{2}):(\d{2}):(\d{2}),(\d{3})"
VTT_TIME = r"(\d{2}):(\d{2}):(\d{2})\.(\d{3})"


def _ms(groups: tuple[str, ...]) -> int:
    h, m, s, ms = (int(g) for g in groups)
    return ((h * 60 + m) * 60 + s) * 1000 + ms


def parse_strict(text: str, fmt: str) -> list[tuple[int, int, list[str]]]:
    """SRT or WebVTT as written by a careful writer: numbered blocks, well-formed times."""
    if fmt == "vtt":
        assert text.startswith("WEBVTT\n"), text[:20]
        text = text[len("WEBVTT\n") :]
    stamp = SRT_TIME if fmt == "srt" else VTT_TIME
    cues = []
    for number, block in enumerate(b for b in text.strip("\n").split("\n\n") if b.strip()):
        lines = block.split("\n")
        assert lines[0] == str(number + 1), block
        times = re.fullmatch(f"{stamp} --> {stamp}", lines[1])
        assert times, lines[1]
        start, end = _ms(times.groups()[:4]), _ms(times.groups()[4:])
        assert end > start, block
        assert lines[2:], block
        cues.append((start, end, lines[2:]))
    return cues


@pytest.fixture(scope="module")
def speech_clips(media: Path) -> list[Path]:
    videos = ["testsrc2=s=160x90:r=24", "smptebars=s=160x90:r=24", "rgbtestsrc=s=160x90:r=24"]
    audios = [TONE.format(a=a, b=b) for a, b in SPEECH] + ["anullsrc=r=48000:cl=stereo"]
    return [
        make_clip(media / f"speech{i}.mp4", video, audio, seconds=1.0)
        for i, (video, audio) in enumerate(zip(videos, audios, strict=True))
    ]


@pytest.fixture(scope="module")
def plan(speech_clips: list[Path], tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("captions")
    items = normalise_all(speech_clips, ["cut", "crossfade:0.25", "cut"], work, frames=24)
    return plan_edit(items, PROFILE)


DIALOGUE = {"s0": LONG, "s1": "We leave at dawn.", "s2": "Nothing to hear here."}


@pytest.fixture(scope="module")
def rendered(plan, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("plain") / "out.mp4"
    return assemble(plan, out, captions=Captions(DIALOGUE))


@pytest.fixture(scope="module")
def burned(plan, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("burned") / "out.mp4"
    return assemble(plan, out, captions=Captions(DIALOGUE, burn_in=True))


def _programme_audio(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        chunks = [f.to_ndarray() for f in container.decode(audio=0)]
    return np.concatenate(chunks, axis=1).T.astype(np.float32)  # fltp: channels x samples


class TestSidecars:
    def test_files_sit_beside_the_output_and_parse_back(self, rendered):
        import pysubs2

        paths = caption_paths(rendered.path)
        assert rendered.captions == paths
        for fmt, path in paths.items():
            strict = parse_strict(path.read_text(encoding="utf-8"), fmt)
            loaded = pysubs2.load(str(path), format_=fmt).events
            assert [(c[0], c[1]) for c in strict] == [(e.start, e.end) for e in loaded]
            assert len(strict) == len(rendered.verification["captions"])
        assert rendered.verification["checks"]["captions"]["passed"]

    def test_cues_follow_the_speech_placed_on_the_plan(self, rendered, plan):
        cues = parse_strict(caption_paths(rendered.path)["srt"].read_text(encoding="utf-8"), "srt")
        meta = rendered.verification["captions"]
        by_shot = {shot.shot_id: shot for shot in plan.shots}
        for shot_id, (a, b) in zip(("s0", "s1"), SPEECH, strict=True):
            mine = [c for c, m in zip(cues, meta, strict=True) if m["shot_id"] == shot_id]
            start_s = by_shot[shot_id].timeline_in * FRAME_S
            assert abs(mine[0][0] / 1000 - (start_s + a)) <= FRAME_S
            assert abs(mine[-1][1] / 1000 - (start_s + b)) <= FRAME_S
        assert by_shot["s1"].timeline_in == 18  # the crossfade moved shot 2 by 6 frames

    def test_cues_match_the_tone_in_the_rendered_audio(self, rendered, plan):
        audio, rate = _programme_audio(rendered.path), PROFILE.sample_rate
        meta = rendered.verification["captions"]
        for shot in plan.shots[:2]:
            lo = shot.sample_in
            span = speech_span(audio[lo : shot.sample_out], rate)
            assert span is not None
            mine = [m for m in meta if m["shot_id"] == shot.shot_id]
            assert abs(mine[0]["start_ms"] / 1000 - (lo + span[0]) / rate) <= FRAME_S
            assert abs(mine[-1]["end_ms"] / 1000 - (lo + span[1]) / rate) <= FRAME_S

    def test_silent_shot_gets_its_whole_span_and_says_so(self, rendered, plan):
        last = plan.shots[-1]
        (cue,) = [m for m in rendered.verification["captions"] if m["shot_id"] == "s2"]
        assert cue["timing"] == "shot"
        assert abs(cue["start_ms"] / 1000 - last.timeline_in * FRAME_S) <= FRAME_S
        assert abs(cue["end_ms"] / 1000 - last.timeline_out * FRAME_S) <= FRAME_S
        timings = {m["shot_id"]: m["timing"] for m in rendered.verification["captions"]}
        assert timings["s0"] == timings["s1"] == "speech"

    def test_long_lines_split_into_consecutive_cues(self, rendered):
        text = caption_paths(rendered.path)["vtt"].read_text(encoding="utf-8")
        cues = parse_strict(text, "vtt")
        long_cues = [c for c, m in zip(cues, rendered.verification["captions"], strict=True)
                     if m["shot_id"] == "s0"]  # fmt: skip
        assert len(long_cues) == 2
        assert all(len(c[2]) <= MAX_LINES and all(len(x) <= MAX_CHARS for x in c[2])
                   for c in cues)  # fmt: skip
        assert long_cues[0][1] == long_cues[1][0]
        assert " ".join(line for c in long_cues for line in c[2]) == LONG

    def test_no_dialogue_gives_valid_empty_sidecars(self, plan, tmp_path):
        result = assemble(plan, tmp_path / "quiet.mp4")
        paths = caption_paths(result.path)
        assert paths["vtt"].read_text(encoding="utf-8").strip() == "WEBVTT"
        assert parse_strict(paths["vtt"].read_text(encoding="utf-8"), "vtt") == []
        assert paths["srt"].read_text(encoding="utf-8").strip() == ""
        assert result.verification["checks"]["captions"]["cues"] == 0


def _band(path: Path, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """(bottom third, top third) of one frame's luma."""
    with av.open(str(path)) as container:
        for index, decoded in enumerate(container.decode(video=0)):
            if index == frame:
                luma = decoded.to_ndarray(format="gray").astype(np.float64)
                return luma[60:], luma[:30]
    raise AssertionError(f"no frame {frame}")


class TestBurnIn:
    def test_burned_output_passes_verification(self, burned):
        assert burned.verification["passed"]
        assert burned.video_path == "copy+captions:ass"  # the wheel's FFmpeg has libass

    def test_pixels_change_under_the_cue_only_while_it_shows(self, burned, rendered):
        _check_burned(burned.path, rendered)

    @pytest.mark.parametrize("how", ["opencv", "drawtext"])
    def test_fallback_renderers_draw_too(self, rendered, plan, tmp_path, how):
        cues = cues_for(plan, Captions(DIALOGUE))
        out, used = burn(plan, rendered.path, cues, tmp_path, only=how)
        assert used == how
        _check_burned(out, rendered)

    def test_a_character_no_font_has_keeps_libass(self, rendered, plan, tmp_path):
        """libass says so per glyph ("with glyph 0x6F22") and draws the rest; drawtext and the
        Hershey font have no such glyph either, so libass's picture is kept."""
        dialogue = {**DIALOGUE, "s1": "We leave at dawn \u6f22."}
        out, used = burn(plan, rendered.path, cues_for(plan, Captions(dialogue)), tmp_path)
        assert used == "ass"
        _check_burned(out, rendered)

    @pytest.mark.parametrize("how", ["ass", "drawtext"])
    def test_a_machine_without_fonts_burns_the_same_picture(
        self, rendered, plan, tmp_path, monkeypatch, how
    ):
        """Both filters draw with the font shotline ships: with no font on the machine (an empty
        fontconfig), libass drew nothing and the captions fell back to OpenCV's own font; now
        the picture is the one drawn where the machine has fonts, frame for frame."""
        cues = cues_for(plan, Captions({**DIALOGUE, "s1": "Café, señor: déjà vu!"}))
        with_fonts, _ = burn(plan, rendered.path, cues, _folder(tmp_path / "fonts"), only=how)
        _no_system_fonts(tmp_path, monkeypatch)
        out, used = burn(plan, rendered.path, cues, _folder(tmp_path / "none"))
        assert used == "ass"
        if how == "drawtext":
            out, used = burn(plan, rendered.path, cues, _folder(tmp_path / "dt"), only=how)
        assert _frames(out) == _frames(with_fonts)
        _check_burned(out, rendered)

    def test_no_font_at_all_falls_back_to_opencv(self, rendered, plan, tmp_path, monkeypatch):
        _no_system_fonts(tmp_path, monkeypatch)
        monkeypatch.setattr(burn_mod, "fonts_dir", lambda: _folder(tmp_path / "no-fonts"))
        monkeypatch.setattr(burn_mod, "font_file", lambda: tmp_path / "no-fonts" / "none.ttf")
        out, used = burn(plan, rendered.path, cues_for(plan, Captions(DIALOGUE)), tmp_path)
        assert used == "opencv"  # libass drew nothing and said so; drawtext found no font
        _check_burned(out, rendered)


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _no_system_fonts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "fonts.conf"
    empty.write_text(f"<fontconfig><cachedir>{tmp_path}/fc</cachedir></fontconfig>")
    monkeypatch.setenv("FONTCONFIG_FILE", str(empty))


def _frames(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray").tobytes() for frame in container.decode(video=0)]


def _check_burned(path: Path, rendered) -> None:
    """Pixels in the bottom band differ from the plain render during the cue of shot s1, and
    neither outside any cue nor at the top of the frame."""
    cue = next(m for m in rendered.verification["captions"] if m["shot_id"] == "s1")
    inside = round((cue["start_ms"] + cue["end_ms"]) / 2000 / FRAME_S)
    outside = round(0.1 / FRAME_S)  # before the first cue (0.3 s)
    diffs = {}
    for name, frame in (("inside", inside), ("outside", outside)):
        burned_band, burned_top = _band(path, frame)
        plain_band, plain_top = _band(rendered.path, frame)
        diffs[name] = (np.abs(burned_band - plain_band).mean(),
                       np.abs(burned_top - plain_top).mean())  # fmt: skip
    assert diffs["inside"][0] > 8, diffs
    assert diffs["inside"][1] < 3, diffs  # the top of the frame is left alone
    assert diffs["outside"][0] < 3, diffs


def test_wrap_limits():
    chunks = wrap("x" * 100 + " " + "word " * 30)
    assert all(len(chunk) <= MAX_LINES for chunk in chunks)
    assert all(len(line) <= MAX_CHARS for chunk in chunks for line in chunk)
    assert wrap("We leave at dawn.") == [("We leave at dawn.",)]


def test_speech_span_on_silence_is_none():
    assert speech_span(np.zeros((48000, 2), np.float32), 48000) is None


BOARD = {
    "title": "t",
    "scenes": [{"id": "s", "shots": [{"id": "a", "prompt": "p", "duration": 1}]}],
}


@pytest.mark.parametrize(
    ("captions", "path"),
    [({"burn_in": "maybe"}, "captions.burn_in"), ({"burn_in": 1}, "captions.burn_in"),
     ({"burnin": True}, "captions.burnin"), ("yes", "captions")],
)  # fmt: skip
def test_invalid_captions_refused_with_path(captions, path):
    with pytest.raises(StoryboardError) as caught:
        parse_storyboard({**BOARD, "captions": captions})
    assert [p.path for p in caught.value.problems] == [path]


def test_captions_default_and_burn_in():
    assert parse_storyboard(BOARD).captions.burn_in is False
    assert parse_storyboard({**BOARD, "captions": {"burn_in": True}}).captions.burn_in is True


def _spoken(line: str, seconds: float = 4, **more: Any) -> dict[str, Any]:
    shot = {"id": "a", "prompt": "p", "duration": seconds, "audio": "dialogue", "dialogue": line}
    return {**BOARD, "scenes": [{"id": "s", "shots": [shot | more]}]}


LONG_LINE = "We leave at dawn and we do not come back to this harbour again, not ever, never."


def test_a_line_no_model_can_say_in_its_shot_is_refused_with_its_path():
    """17 words in a third of a second: before, the shot was rendered (and paid for) and either
    given up on by the gate or delivered with a fragment of the line under its whole caption."""
    with pytest.raises(StoryboardError) as caught:
        parse_storyboard(_spoken(LONG_LINE, 1 / 3))
    (problem,) = caught.value.problems
    assert problem.path == "scenes[0].shots[0].dialogue"
    assert problem.message == (
        "the 17-word line takes at least 3.40s even at 5 words a second; the shot lasts "
        "0.333333s: shorten the line or lengthen the shot"
    )
    parse_storyboard(_spoken(LONG_LINE, 3.4))  # the fastest pace fits exactly
    parse_storyboard(_spoken(LONG_LINE, 1 / 3, audio="ambient"))  # not spoken by the model
    parse_storyboard(_spoken("Hi.", 0.25))
    with pytest.raises(StoryboardError):
        parse_storyboard(_spoken("Hi there.", 0.39))


def test_a_voiced_line_is_left_to_the_tts_stage_rule():
    """A speaker's voice says it (sped up if needed): planning's ``room_problem`` decides."""
    voiced = _spoken(LONG_LINE, 3.0, speaker="mara", characters=["mara"])
    voiced["characters"] = [{"id": "mara", "description": "a woman", "voice": "calm"}]
    parse_storyboard(voiced)


# Lines the caption files change (markup, line breaks, a cue's timing): before, each was accepted,
# rendered and paid for, and the stitch then failed its captions check.
UNCAPTIONABLE = [
    "I said {hello} to you",
    "a <b>loud</b> word",
    "a < b > c",
    r"one\Ntwo",
    r"a\hb",
    "x --> y",
    "at 00:00:01,000 --> 00:00:02,000 sharp",
]
CAPTIONABLE = [
    *("I <3 you", "a } b { c", "back \\ slash", "a & b < c", "WEBVTT", "NOTE this"),
    # a cue whose last line is a number: SRT readers (pysubs2's) took it for the next cue's
    # number, so the captions check failed the stitch after every shot was paid for
    "The number you must remember tonight is: 4815162342",
]


@pytest.mark.parametrize("line", UNCAPTIONABLE)
def test_a_line_the_caption_files_would_change_is_refused_with_its_path(line):
    with pytest.raises(StoryboardError) as caught:
        parse_storyboard(_spoken(line))
    (problem,) = caught.value.problems
    assert problem.path == "scenes[0].shots[0].dialogue"
    assert "cannot be captioned" in problem.message


def test_a_line_the_caption_font_cannot_draw_is_refused_only_when_burned_in():
    """DejaVu Sans has Latin, Greek and Cyrillic but no CJK nor emoji: burned in, such a line was
    drawn from whatever font the machine had, or not at all."""
    line = "Café, Привет, Ωμέγα: 漢字 🙂"
    board = _spoken(line)
    assert parse_storyboard(board).scenes[0].shots[0].dialogue == line
    with pytest.raises(StoryboardError) as caught:
        parse_storyboard({**board, "captions": {"burn_in": True}})
    (problem,) = caught.value.problems
    assert problem.path == "scenes[0].shots[0].dialogue"
    assert problem.message.startswith(
        "'漢' (U+6F22), '字' (U+5B57), '🙂' (U+1F642) cannot be burned in: the caption font "
        "(DejaVu Sans) has no glyph for them"
    )
    parse_storyboard({**_spoken("Café, Привет, Ωμέγα"), "captions": {"burn_in": True}})


@pytest.mark.parametrize("line", CAPTIONABLE)
def test_a_line_validation_accepts_reads_back_from_the_sidecars(line, tmp_path):
    board = parse_storyboard(_spoken(line))
    text = board.scenes[0].shots[0].dialogue or ""
    cues = [Cue("a", 0, 1000, lines, "speech") for lines in wrap(text)]
    paths = write_sidecars(cues, tmp_path / "out.mp4")
    assert check_sidecars(cues, paths)["passed"]
    for fmt, path in paths.items():
        assert [c[2] for c in parse_strict(path.read_text(), fmt)] == [list(c.lines) for c in cues]


def _another_dejavu(folder: Path) -> Path:
    """A font that calls itself DejaVu Sans Book, as another release would, with other advances
    (every glyph 30 % wider): a machine's own copy that is not the one shotline ships."""
    from fontTools.ttLib import TTFont

    from foundation.caption_font import font_file

    folder.mkdir()
    with TTFont(font_file()) as font:
        metrics = font["hmtx"].metrics
        for name, (advance, lsb) in metrics.items():
            metrics[name] = (round(advance * 1.3), lsb)
        font["name"].setName("Version 2.35", 5, 3, 1, 0x409)
        font.save(str(folder / "DejaVuSans.ttf"))
    return folder


@pytest.mark.parametrize("how", ["ass", "drawtext"])
def test_the_machines_own_dejavu_sans_is_not_used(rendered, plan, tmp_path, monkeypatch, how):
    """A machine whose fontconfig knows another "DejaVu Sans" burns the same picture as one with
    no fonts at all: the captions are drawn with the copy shotline ships, nowhere else."""
    cues = cues_for(plan, Captions({**DIALOGUE, "s1": "Café, señor: déjà vu!"}))
    _no_system_fonts(tmp_path, monkeypatch)
    shipped, _ = burn(plan, rendered.path, cues, _folder(tmp_path / "shipped"), only=how)
    other = _another_dejavu(tmp_path / "other")
    conf = tmp_path / "other.conf"
    conf.write_text(
        f"<fontconfig><dir>{other}</dir><cachedir>{tmp_path}/fc2</cachedir></fontconfig>"
    )
    monkeypatch.setenv("FONTCONFIG_FILE", str(conf))
    out, used = burn(plan, rendered.path, cues, _folder(tmp_path / "machine"), only=how)
    assert used == how
    assert _frames(out) == _frames(shipped)
    if how == "ass":  # the other font is found and draws differently when ours is not offered
        monkeypatch.setattr(burn_mod, "fonts_dir", lambda: _folder(tmp_path / "no-fonts"))
        theirs, _ = burn(plan, rendered.path, cues, _folder(tmp_path / "theirs"), only=how)
        assert _frames(theirs) != _frames(shipped)
        _check_burned(theirs, rendered)
