"""The storyboard's `music:` block: a file or a prompt (a generated bed) with a gain and ducking,
validated with paths."""

from __future__ import annotations

import pytest

from foundation.music import DUCK_DB
from foundation.storyboard import StoryboardError, parse_storyboard

BOARD = {
    "title": "t",
    "scenes": [{"id": "s", "shots": [{"id": "a", "prompt": "p", "duration": 2}]}],
}


def problems(music: object) -> list[tuple[str, str]]:
    with pytest.raises(StoryboardError) as caught:
        parse_storyboard(BOARD | {"music": music})
    return [(p.path, p.message) for p in caught.value.problems]


def test_a_file_with_defaults_ducks_under_the_shots_sound():
    music = parse_storyboard(BOARD | {"music": {"file": "bed.wav"}}).music
    assert music is not None
    assert (music.file, music.gain_db, music.duck_db) == ("bed.wav", -18.0, DUCK_DB)
    quiet = parse_storyboard(BOARD | {"music": {"file": "b.wav", "duck_under_dialogue": False}})
    assert quiet.music is not None
    assert quiet.music.duck_db == 0.0


def test_a_prompt_asks_for_a_generated_bed():
    music = parse_storyboard(BOARD | {"music": {"prompt": "slow synth pulse"}}).music
    assert music is not None
    assert (music.prompt, music.file, music.duck_db) == ("slow synth pulse", None, DUCK_DB)


def test_a_storyboard_without_music_has_none():
    assert parse_storyboard(BOARD).music is None


@pytest.mark.parametrize(
    ("music", "path", "words"),
    [
        ({"prompt": "slow pulse", "file": "bed.wav"}, "music", "not both"),
        ({"prompt": "   "}, "music", "blank"),
        ({}, "music", "give `file`"),
        ({"file": "bed.wav", "gain_db": 3}, "music.gain_db", "less than or equal to 0"),
        ({"file": "bed.wav", "volume": 1}, "music.volume", "unknown key"),
        ({"file": ""}, "music.file", "at least 1 character"),
    ],
)
def test_what_cannot_be_honoured_is_refused_with_its_path(music, path, words):
    found = problems(music)
    assert [p for p, _ in found] == [path]
    assert words in found[0][1]
