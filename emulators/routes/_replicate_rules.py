"""What Replicate's create-prediction endpoints refuse, and how they say so.

Sources (checked 2026-12-04):
- [SDK] replicate 1.0.7 ``client.py`` (``Authorization: Bearer``), ``prediction.py``
  (``_create_prediction_body``: ``version``, ``input``, ``webhook``, ``webhook_completed``,
  ``webhook_events_filter``, ``stream``; ``Prefer: wait`` / ``wait=N``), ``exceptions.py`` (RFC 7807
  ``title``/``detail``/``status``).
- [DOC] replicate.com/docs/topics/predictions/create-a-prediction (sync mode holds up to 60 s, then
  answers with the prediction as it stands); replicate.com/changelog/2025-10-16-prediction-deadlines.
- [3P] bodies quoted from the live API by integrators (2025-2026): 422 ``{"detail": "- input.x: x
  must be one of the following: ...\\n", "status": 422, "title": "Input validation failed",
  "invalid_fields": [{"type": "enum", "field": "input.x", "description": ...}]}``; 422 "version is
  required" / "Additional property model is not allowed"; 422 ``{"title": "Invalid version or not
  permitted", "detail": "The specified version does not exist (or perhaps you don't have permission
  to use it?)", "status": 422}``; 404 ``{"detail": "The requested resource could not be found.",
  "status": 404}`` for an unknown ``/v1/models/{owner}/{name}/predictions``; 401 ``{"title":
  "Unauthenticated", "detail": "You did not pass a valid authentication token", "status": 401}``.
- Model input schemas: replicate.com/google/veo-3.1-fast/api and replicate.com/google/veo-3.1/api
  as copied by integrators (OpenAPI ``Input`` objects, 2026-04 to 2026-09).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse

from emulators.wire import replicate_problem

NOT_FOUND = "The requested resource could not be found."
BODY_FIELDS = (
    "version",
    "input",
    "webhook",
    "webhook_completed",
    "webhook_events_filter",
    "stream",
)
_VERSION_ID = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Field:
    kind: str  # JSON Schema type: string, integer, boolean, array
    enum: tuple[Any, ...] = ()
    max_items: int | None = None


_VEO_FAST = {
    "prompt": Field("string"),
    "aspect_ratio": Field("string", ("16:9", "9:16")),
    "duration": Field("integer", (4, 6, 8)),
    "image": Field("string"),
    "last_frame": Field("string"),
    "negative_prompt": Field("string"),
    "resolution": Field("string", ("720p", "1080p")),
    "generate_audio": Field("boolean"),
    "seed": Field("integer"),
}
# UNCERTAIN: Google requires 8 s at 1080p and with reference images; Replicate's schemas do not
# encode it and no refusal was found quoted, so the emulator accepts 1080p at 4/6 s.
SCHEMAS: dict[str, dict[str, Field]] = {
    "google/veo-3.1-fast": _VEO_FAST,
    "google/veo-3.1": {**_VEO_FAST, "reference_images": Field("array", max_items=3)},
}
REQUIRED = ("prompt",)


class Refused(ValueError):
    """A create Replicate refuses, with its status and problem body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body.get("detail")))
        self.status = status
        self.body = body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status)


def not_found() -> Refused:
    return Refused(404, replicate_problem(404, NOT_FOUND))


def _invalid(problems: list[tuple[str, str, str]]) -> Refused:
    detail = "".join(
        f"- {field}: {text}\n" if field else f"- {text}\n" for _, field, text in problems
    )
    body = replicate_problem(422, detail, title="Input validation failed")
    body["invalid_fields"] = [
        {"type": kind, "field": field, "description": text} for kind, field, text in problems
    ]
    return Refused(422, body)


def resolve_model(path_model: str | None, body: dict[str, Any], known: frozenset[str]) -> str:
    """The model a create names: the official-model path, or ``version`` on ``/v1/predictions``.

    ``known`` adds the models an emulator scenario declares (the emulator's hook for synthetic
    test models) to the ones whose schema is emulated.
    """
    served = known | frozenset(SCHEMAS)
    extra = [k for k in body if k not in BODY_FIELDS]
    if extra:
        kind = "additional_property_not_allowed"
        raise _invalid([(kind, "", f"Additional property {k} is not allowed") for k in extra])
    if path_model is not None:
        if path_model not in served:
            raise not_found()
        return path_model
    version = body.get("version")
    if not isinstance(version, str) or not version:
        raise _invalid([("required", "", "version is required")])
    name = version.split(":", 1)[0] if ":" in version else version
    if name in served or _VERSION_ID.match(version.rsplit(":", 1)[-1]):
        # UNCERTAIN: which 64-hex version ids exist cannot be known offline; all are accepted
        return name
    detail = (
        "The specified version does not exist (or perhaps you don't have permission to use it?)"
    )
    raise Refused(422, replicate_problem(422, detail, title="Invalid version or not permitted"))


def check_input(model: str, data: Any) -> dict[str, Any]:
    """Validate ``input`` against the model's schema where the emulator has it.

    Models without an emulated schema (scenario models) take any object: Replicate validates
    only what a model's schema declares. Unknown input keys are accepted: UNCERTAIN whether Replicate refuses them (its schemas do not set
    ``additionalProperties: false``)."""
    if not isinstance(data, dict):
        raise _invalid([("invalid_type", "input", "Invalid type. Expected: object, given: null")])
    schema = SCHEMAS.get(model)
    if schema is None:
        return data
    problems = [
        ("required", "input", f"{name} is required") for name in REQUIRED if name not in data
    ]
    for name, value in data.items():
        field = schema.get(name)
        if field is None or value is None:
            continue
        problem = _field_problem(name, field, value)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise _invalid(problems)
    return data


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
}
_JSON_NAMES = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array"}


def _field_problem(name: str, field: Field, value: Any) -> tuple[str, str, str] | None:
    where = f"input.{name}"
    wrong_bool = field.kind == "integer" and isinstance(value, bool)
    if not isinstance(value, _PY_TYPES[field.kind]) or wrong_bool:
        given = _JSON_NAMES.get(type(value), "object")
        return ("invalid_type", where, f"Invalid type. Expected: {field.kind}, given: {given}")
    if field.enum and value not in field.enum:
        allowed = ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in field.enum)
        return ("enum", where, f"{name} must be one of the following: {allowed}")
    if field.max_items is not None and isinstance(value, list) and len(value) > field.max_items:
        text = f"Array must have at most {field.max_items} items"
        return ("array_max_items", where, text)
    return None


def prefer_wait(header: str | None) -> float | None:
    """Seconds a ``Prefer: wait[=N]`` create holds the request open ([SDK] prediction.py
    ``_create_prediction_headers``; [DOC] default and ceiling 60 s). Malformed values are ignored:
    UNCERTAIN how the API answers them."""
    if not header:
        return None
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() != "wait":
            continue
        if not value:
            return 60.0
        try:
            return max(1.0, min(60.0, float(value)))
        except ValueError:
            return None
    return None
