"""Word wrapping in ``media.caption``: a word wider than the box is cut into pieces that fit."""

from __future__ import annotations

import pytest

from media.caption import MIN_SCALE, text_width, wrap


@pytest.mark.parametrize("length", [1, 7, 2501])
def test_a_word_wider_than_the_box_is_cut_into_the_longest_pieces_that_fit(length):
    word = "x" * length
    pieces = wrap(word, 50, MIN_SCALE)
    assert "".join(pieces) == word
    assert all(text_width(piece, MIN_SCALE) <= 50 or len(piece) == 1 for piece in pieces)
    # each piece but the last is as long as fits: one more character would not
    assert all(text_width(piece + "x", MIN_SCALE) > 50 for piece in pieces[:-1])


def test_a_box_narrower_than_one_character_still_takes_every_character():
    assert wrap("abc", 1, MIN_SCALE) == ["a", "b", "c"]
