"""How a dialogue line is written into the prompt of a model that voices it: in double quotes
after a verb of speech, as Google's Veo prompt guide writes dialogue
(ai.google.dev/gemini-api/docs/video, "Prompt guide": "use quotes for specific speech"). One
function, so the adapters send what the router measured against each model's prompt limit."""

from __future__ import annotations

SAYS = "says: "


def spoken_prompt(prompt: str, dialogue: str | None, speaker: str | None) -> str:
    """``prompt`` followed by ``{speaker} says: "{line}"`` (``The speaker`` when nobody is
    named); the prompt itself when there is no line. Double quotes in the line become single
    ones, as quotes nest: inside the line's own they ended it early (``says: "'quoted'
    "twice""`` asked for half the line)."""
    line = (dialogue or "").strip().replace('"', "'")
    if not line:
        return prompt
    return f'{prompt.rstrip()} {speaker or "The speaker"} {SAYS}"{line}"'
