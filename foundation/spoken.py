"""How a dialogue line is written into the prompt of a model that voices it: in double quotes
after a verb of speech, as Google's Veo prompt guide writes dialogue
(ai.google.dev/gemini-api/docs/video, "Prompt guide": "use quotes for specific speech"). One
function, so the adapters send what the router measured against each model's prompt limit (and
``with_negative``, for the negatives of a model that takes them in its prompt)."""

from __future__ import annotations

import re
import unicodedata

SAYS = "says: "
_SPOKEN = re.compile(SAYS + r'"([^"]+)"')
_QUOTED = re.compile(r'"([^"]{1,120})"|\u201c([^\u201d]{1,120})\u201d')


def spoken_prompt(prompt: str, dialogue: str | None, speaker: str | None) -> str:
    """``prompt`` followed by ``{speaker} says: "{line}"`` (``The speaker`` when nobody is
    named); the prompt itself when there is no line. Double quotes in the line become single
    ones, as quotes nest: inside the line's own they ended it early (``says: "'quoted'
    "twice""`` asked for half the line)."""
    line = (dialogue or "").strip().replace('"', "'")
    if not line:
        return prompt
    return f'{prompt.rstrip()} {speaker or "The speaker"} {SAYS}"{line}"'


def with_negative(prompt: str, negative: str | None) -> str:
    """The prompt of a model with no negative-prompt field (registry ``negative_prompt:
    in_prompt``, Kling 3.0's new standard): the negatives after it as ``Avoid: ...``."""
    return f"{prompt}\nAvoid: {negative}" if negative else prompt


def spoken_line(prompt: str) -> str | None:
    """The line a prompt asks to be spoken, in ``spoken_prompt``'s form."""
    found = _SPOKEN.findall(prompt)
    return found[-1] if found else None


def quoted_texts(prompt: str) -> list[str]:
    """The texts the prompt quotes (straight or curly double quotes): what a picture that obeys
    it shows written (``a title card that reads "NEON HARBOUR"``)."""
    return [a or b for a, b in _QUOTED.findall(prompt) if (a or b).strip()]


def shown_texts(prompt: str) -> list[str]:
    """The quoted texts of a prompt sent to a model, less its spoken lines: a line after
    ``says:`` is heard, not written."""
    return quoted_texts(_SPOKEN.sub("", prompt))


_WORD = re.compile(r"[\w']+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'"})
# scripts written without spaces between words: a run of them is one "word" to ``\w+``; a
# character is about half a word at the gate's 2.5 words a second (Mandarin is spoken at ~4-5
# characters a second, Japanese kana faster)
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]"
)


def spoken_words(text: str) -> int:
    """How many words a line is, as everything that times speech counts them: the gate's
    ``speech_length``, planning's pace and room checks, and the placeholder voices. Marks are part
    of their word (Arabic harakat, Hebrew niqqud, Devanagari and Tamil vowel signs and accents
    split every word in two), a typographic apostrophe is one (``it’s``), a hyphen or a dot parts words as speech does (``state-of-the-art`` is four), and a run of
    a script without spaces (Chinese, Japanese, Thai...) counts a word per two characters."""
    spelt = unicodedata.normalize("NFD", text).translate(_APOSTROPHES)
    bare = "".join(c for c in spelt if not unicodedata.category(c).startswith("M"))
    count = 0
    for token in _WORD.findall(bare):
        if not any(c.isalnum() for c in token):
            continue  # a lone apostrophe
        unspaced = len(_UNSPACED.findall(token))
        count += (unspaced + 1) // 2 + (1 if unspaced < len(token) else 0)
    return count
