"""A music bed under the whole programme, declared once in the storyboard.

```yaml
music: {file: bed.wav, gain_db: -18, duck_under_dialogue: true}
music: {prompt: "slow synth pulse", duck_under_dialogue: true}
```

``file``: an audio file. ``prompt``: a bed generated once per job by a routed ``music`` model
(``pipeline.music``: the stage ``music``, quoted, reserved, settled and cached like every stage).
Either way the stitcher loops the bed from its start or cuts it to the programme's length, mixes
it at ``gain_db`` and lowers it by ``DUCK_DB`` wherever the shots have their own sound (dialogue
included), before the programme is brought to its loudness target.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from foundation.strict import Strict

DUCK_DB = -12.0
"""How far the bed is lowered under the shots' own sound when ``duck_under_dialogue`` is set."""


class MusicSpec(Strict):
    file: str | None = Field(default=None, min_length=1, max_length=2048)
    prompt: str | None = Field(default=None, min_length=1, max_length=2000)
    gain_db: float = Field(default=-18.0, ge=-40, le=0)
    duck_under_dialogue: bool = True

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.file is None and self.prompt is None:
            raise ValueError(
                "give `file` (an audio file to lay under the programme) or `prompt` (a bed "
                "for a music model to generate)"
            )
        if self.file is not None and self.prompt is not None:
            raise ValueError("give `file` or `prompt`, not both")
        if self.prompt is not None and not self.prompt.strip():
            raise ValueError("`prompt` is blank")
        return self

    @property
    def duck_db(self) -> float:
        return DUCK_DB if self.duck_under_dialogue else 0.0
