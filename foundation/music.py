"""A music bed under the whole programme, declared once in the storyboard.

```yaml
music: {file: bed.wav, gain_db: -18, duck_under_dialogue: true}
```

The file is looped from its start or cut to the programme's length by the stitcher, mixed at
``gain_db`` and lowered by ``DUCK_DB`` wherever the shots have their own sound (dialogue included),
before the programme is brought to its loudness target. A generated bed (``prompt``) needs a music
model stage, which is not built yet: it is refused, so nothing is promised that no model does.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, field_validator, model_validator

from foundation.strict import Strict

DUCK_DB = -12.0
"""How far the bed is lowered under the shots' own sound when ``duck_under_dialogue`` is set."""


class MusicSpec(Strict):
    file: str | None = Field(default=None, min_length=1, max_length=2048)
    prompt: str | None = Field(default=None, min_length=1, max_length=500)
    gain_db: float = Field(default=-18.0, ge=-40, le=0)
    duck_under_dialogue: bool = True

    @field_validator("prompt")
    @classmethod
    def _no_music_model_yet(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError(
                "not used yet: no music model renders a bed yet (issue 18); "
                "give `file` (an audio file) instead"
            )
        return value

    @model_validator(mode="after")
    def _a_file(self) -> Self:
        if self.file is None and self.prompt is None:
            raise ValueError("give `file`: the audio file to lay under the programme")
        return self

    @property
    def duck_db(self) -> float:
        return DUCK_DB if self.duck_under_dialogue else 0.0
