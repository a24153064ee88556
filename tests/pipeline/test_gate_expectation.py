"""What the pipeline asks the gate to hear: speech for a line the model was given, none without."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.local import LocalAnimaticAdapter
from pipeline.verdicts import _speech


class SilentAboutDialogue:
    provider = "hosted"


LINE = {"audio": "dialogue", "dialogue": "We leave at dawn."}


@pytest.mark.parametrize(
    ("spec", "audio", "speaks", "wanted"),
    [
        (LINE, True, True, "required"),
        (LINE, True, False, "any"),  # the adapter never sent the line: nothing to check it against
        (LINE, False, True, "any"),  # a silent render is not listened to
        ({"audio": "ambient"}, True, True, "none"),
        ({"audio": "none"}, True, False, "none"),
    ],
)
def test_speech_expectation(
    tmp_path: Path, spec: dict[str, object], audio: bool, speaks: bool, wanted: str
) -> None:
    adapter = LocalAnimaticAdapter(tmp_path) if speaks else SilentAboutDialogue()
    assert _speech(spec, audio, adapter) == wanted
