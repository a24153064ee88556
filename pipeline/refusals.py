"""A provider's own safety refusal, recorded against the input that caused it.

The failed attempt's ``error`` names the refused inputs by their storyboard path
(``luma/ray-2 refused scenes[0].shots[2].prompt: ...``) and its ``verdict`` keeps them as
``refused_input``; the shot's next attempt, on the next model of its chain, opens with a reason
that says which model refused which input, and a refusal there says the input was refused before.
Which input: the one the provider's message names (Runway ``SAFETY.INPUT.TEXT`` /
``SAFETY.INPUT.IMAGE``, "prompt", "image"...), else every input the request carried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from pipeline.policy import AttemptLike
from store import jobs
from store.models import Attempt, Job, Shot

INPUT_FIELDS = ("prompt", "negative_prompt", "dialogue", "reference_image")
_HINTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("reference_image", ("image", "frame", "reference")),
    ("dialogue", ("dialogue", "speech", "voice", "audio")),
    ("prompt", ("prompt", "text")),
)


@dataclass(frozen=True)
class RefusedInput:
    model: str
    path: str  # the shot: scenes[0].shots[2]
    fields: tuple[str, ...]

    def inputs(self) -> str:
        return ", ".join(f"{self.path}.{name}" for name in self.fields)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "path": self.path, "fields": list(self.fields)}

    @classmethod
    def of(cls, attempt: AttemptLike) -> RefusedInput | None:
        data = (attempt.verdict or {}).get("refused_input")
        if attempt.error_kind != "safety_refusal" or not isinstance(data, dict):
            return None
        return cls(str(data["model"]), str(data["path"]), tuple(data["fields"]))


def refused_fields(request: Mapping[str, Any], message: str) -> tuple[str, ...]:
    """The inputs of ``request`` the refusal ``message`` names; all it carried when it names none."""
    sent = [name for name in INPUT_FIELDS if request.get(name)]
    lowered = message.lower()
    named = [f for f, words in _HINTS if f in sent and any(w in lowered for w in words)]
    return tuple(named or sent or ["prompt"])


def shot_path(storyboard: Mapping[str, Any], key: str) -> str:
    for s_index, scene in enumerate(storyboard.get("scenes", [])):
        for k_index, spec in enumerate(scene.get("shots", [])):
            if spec.get("id") == key:
                return f"scenes[{s_index}].shots[{k_index}]"
    return f"shot {key}"


def error_text(refused: RefusedInput, message: str, earlier: Sequence[AttemptLike]) -> str:
    """The failed attempt's error: the model, the refused inputs, the provider's words, and the
    models that refused the same shot before."""
    before = sorted(
        {r.model for r in map(RefusedInput.of, earlier) if r and r.model != refused.model}
    )
    text = f"{refused.model} refused {refused.inputs()}: {message}"
    return text + (f" (refused before by {', '.join(before)})" if before else "")


def opening_reason(reason: str, attempts: Sequence[AttemptLike]) -> str:
    """The next attempt's reason, with every earlier refusal of the shot's inputs."""
    seen = [r for r in map(RefusedInput.of, attempts) if r is not None]
    if not seen:
        return reason
    notes = dict.fromkeys(f"{r.model} refused {r.inputs()}" for r in seen)
    return f"{reason} ({'; '.join(notes)})"


def record(session: Session, attempt: Attempt, shot: Shot) -> None:
    """Name the refused input on the failed ``attempt``: its ``error`` and ``verdict``."""
    job = session.get_one(Job, shot.job_id)
    message, request = attempt.error or "", dict(attempt.request or {})
    spec: dict[str, Any] = next(
        (s for scene in job.storyboard["scenes"] for s in scene["shots"] if s["id"] == shot.key), {}
    )
    if spec.get("continues"):  # submitted with the previous shot's last frame
        request["reference_image"] = request.get("reference_image") or "last frame"
    routed = (shot.route or {}).get("explanation") or {}
    path = routed.get("path") or shot_path(job.storyboard, shot.key)  # as the user wrote it
    refused = RefusedInput(attempt.model_id, str(path), refused_fields(request, message))
    earlier = [a for a in jobs.attempts_of(session, shot.id) if a.id != attempt.id]
    attempt.error = error_text(refused, message, earlier)[:2000]
    attempt.verdict = {"refused_input": refused.to_json()}
