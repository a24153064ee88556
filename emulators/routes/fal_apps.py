"""The fal apps the emulator knows, their input schemas, and fal's validation errors.

Sources (checked 2026-12-04):
- [FALJS] fal-ai/fal-js commit 381105e1 (2026-08-02) ``libs/client/src/types/endpoints.ts``: the
  endpoint ids and input types generated from fal's catalog. That commit dropped ``fal-ai/veo3``,
  ``fal-ai/veo3/fast``, their image-to-video apps and ``fal-ai/veo2``: they are unknown here.
- [DOCS] fal.ai/models/fal-ai/veo3.1/llms.txt, fal.ai/docs/model-api-reference/video-generation-api/
  kling-video-v3-pro (same fields as [FALJS]).
- [TOOLKIT] fal-ai/fal commit c6f0afaa (2026-08-21) ``projects/fal/src/fal/toolkit/types.py``:
  ``DataUri`` is a ``str`` with ``pattern "^data:"`` and ``max_length 10 * 1024 * 1024``.
- [ERRORS] fal.ai/docs/model-apis/errors: the body is ``{"detail": [Error, ...]}`` with ``loc``
  (``["body", field]``), ``msg``, ``type``, optional ``ctx`` and ``input`` (pydantic v2 items).

Validation runs in the app's runner, after the queue accepted the request: a bad input is not
refused at submit, the request goes to COMPLETED and its result answers 422 (TanStack/ai#396,
verified against live fal with an over-long prompt). Fields an app does not declare are ignored,
as pydantic does by default (UNCERTAIN: fal does not document extra-field handling).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["str", "bool", "int", "float", "enum", "file"]
MAX_DATA_URI = 10 * 1024 * 1024  # [TOOLKIT] MAX_DATA_URI_LENGTH


@dataclass(frozen=True)
class Field:
    kind: Kind
    choices: tuple[str, ...] = ()
    required: bool = False
    max_len: int | None = None
    bounds: tuple[float, float] | None = None


@dataclass(frozen=True)
class App:
    fields: dict[str, Field]
    default_short: int = 720  # short side of the output when no ``resolution`` field is sent
    one_of: tuple[str, ...] = ()  # at least one of these must be given
    extra: dict[str, Any] = field(default_factory=dict)


_SAFETY = Field("enum", tuple(str(n) for n in range(1, 7)))  # [FALJS] safety_tolerance "1".."6"


def _veo31(resolutions: tuple[str, ...], image: bool) -> App:
    # [FALJS] Veo31Input / Veo31ImageToVideoInput / Veo31LiteInput (Fast* are aliases of these)
    fields = {
        "prompt": Field("str", required=True),
        "aspect_ratio": Field("enum", ("auto", "16:9", "9:16") if image else ("16:9", "9:16")),
        "duration": Field("enum", ("4s", "6s", "8s")),
        "resolution": Field("enum", resolutions),
        "generate_audio": Field("bool"),
        "negative_prompt": Field("str"),
        "auto_fix": Field("bool"),
        "safety_tolerance": _SAFETY,
        "seed": Field("int"),
    }
    if image:
        fields["image_url"] = Field("file", required=True)
    return App(fields)


_KLING_DURATIONS = tuple(str(n) for n in range(3, 16))


def _kling_v3(image: bool) -> App:
    # [FALJS] KlingVideoV34kTextToVideoInput / ...ImageToVideoInput (pro and standard alias them);
    # prompt limit 2500: fal.ai/models/fal-ai/kling-video/v3/turbo/pro/text-to-video/llms.txt
    # ("keep the prompt under 2500 characters") and TanStack/ai#396 (live 422 over 2500).
    # The exact error type of the length check is UNCERTAIN (pydantic's string_too_long here).
    fields = {
        "prompt": Field("str", max_len=2500),
        "multi_prompt": Field("str"),  # list of shots; not checked (UNCERTAIN, lenient)
        "duration": Field("enum", _KLING_DURATIONS),
        "generate_audio": Field("bool"),
        "negative_prompt": Field("str"),
        "cfg_scale": Field("float", bounds=(0.0, 1.0)),
        "shot_type": Field("enum", ("customize", "intelligent")),
    }
    if image:
        fields["start_image_url"] = Field("file", required=True)
        fields["end_image_url"] = Field("file")
    else:
        fields["aspect_ratio"] = Field("enum", ("16:9", "9:16", "1:1"))
    return App(fields, default_short=1080, one_of=("prompt", "multi_prompt"))


APPS: dict[str, App] = {
    "fal-ai/veo3.1": _veo31(("720p", "1080p", "4k"), image=False),
    "fal-ai/veo3.1/fast": _veo31(("720p", "1080p", "4k"), image=False),
    "fal-ai/veo3.1/lite": _veo31(("720p", "1080p"), image=False),
    "fal-ai/veo3.1/image-to-video": _veo31(("720p", "1080p", "4k"), image=True),
    "fal-ai/veo3.1/fast/image-to-video": _veo31(("720p", "1080p", "4k"), image=True),
    "fal-ai/veo3.1/lite/image-to-video": _veo31(("720p", "1080p"), image=True),
    "fal-ai/kling-video/v3/pro/text-to-video": _kling_v3(image=False),
    "fal-ai/kling-video/v3/standard/text-to-video": _kling_v3(image=False),
    "fal-ai/kling-video/v3/pro/image-to-video": _kling_v3(image=True),
    "fal-ai/kling-video/v3/standard/image-to-video": _kling_v3(image=True),
}
# Endpoints of these apps exist but are not modelled (first/last frame, reference, extend): the
# queue accepts them and the emulator checks only that a prompt is there.
OTHER_ENDPOINTS = {
    "fal-ai/veo3.1/first-last-frame-to-video",
    "fal-ai/veo3.1/fast/first-last-frame-to-video",
    "fal-ai/veo3.1/lite/first-last-frame-to-video",
    "fal-ai/veo3.1/reference-to-video",
    "fal-ai/veo3.1/extend-video",
    "fal-ai/veo3.1/fast/extend-video",
}
LENIENT = App({"prompt": Field("str", required=True)})


def app_root(app_id: str) -> str:
    """``owner/alias`` (``namespace/owner/alias`` for fal's namespaced apps), as fal-client 1.0.3
    ``AppId.from_endpoint_id`` splits an endpoint id (SDK fal-client 1.0.3 client.py)."""
    parts = app_id.split("/")
    return "/".join(parts[: 3 if parts[0] in ("workflows", "comfy") else 2])


def _quoted(choices: tuple[str, ...]) -> str:
    items = [f"'{c}'" for c in choices]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" or {items[-1]}"


def _error(name: str, kind: str, msg: str, value: Any, **ctx: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"type": kind, "loc": ["body", name], "msg": msg, "input": value}
    if ctx:
        item["ctx"] = ctx
    return item


def _check(name: str, spec: Field, value: Any) -> dict[str, Any] | None:
    """One pydantic-v2-shaped error item for a bad value (lax mode: "1" is a valid int)."""
    if spec.kind == "enum":
        if value not in spec.choices:
            expected = _quoted(spec.choices)
            return _error(
                name, "literal_error", f"Input should be {expected}", value, expected=expected
            )
    elif spec.kind == "bool":
        if not isinstance(value, bool) and value not in (0, 1, "true", "false", "0", "1"):
            msg = "Input should be a valid boolean, unable to interpret input"
            return _error(name, "bool_parsing", msg, value)
    elif spec.kind == "int":
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit())
        ):
            msg = "Input should be a valid integer, unable to parse string as an integer"
            return _error(name, "int_parsing", msg, value)
    elif spec.kind == "float":
        return _check_float(name, spec, value)
    elif not isinstance(value, str):
        return _error(name, "string_type", "Input should be a valid string", value)
    elif spec.kind == "file" and value.startswith("data:") and len(value) > MAX_DATA_URI:
        # [TOOLKIT] DataUri max_length; UNCERTAIN that every partner app uses that type
        msg = f"String should have at most {MAX_DATA_URI} characters"
        return _error(name, "string_too_long", msg, value[:64], max_length=MAX_DATA_URI)
    elif spec.max_len is not None and len(value) > spec.max_len:
        msg = f"String should have at most {spec.max_len} characters"
        return _error(name, "string_too_long", msg, value, max_length=spec.max_len)
    return None


def _check_float(name: str, spec: Field, value: Any) -> dict[str, Any] | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _error(name, "float_type", "Input should be a valid number", value)
    low, high = spec.bounds or (float("-inf"), float("inf"))
    if value < low:
        msg = f"Input should be greater than or equal to {low:g}"
        return _error(name, "greater_than_equal", msg, value, ge=low)
    if value > high:
        msg = f"Input should be less than or equal to {high:g}"
        return _error(name, "less_than_equal", msg, value, le=high)
    return None


def validate(app: App, body: dict[str, Any]) -> list[dict[str, Any]]:
    """fal's 422 ``detail`` items for ``body`` (empty when the app accepts it)."""
    errors: list[dict[str, Any]] = []
    for name, spec in app.fields.items():
        if name not in body or body[name] is None:
            if spec.required:
                errors.append(_error(name, "missing", "Field required", body))
            continue
        problem = _check(name, spec, body[name])
        if problem is not None:
            errors.append(problem)
    if app.one_of and not any(body.get(name) for name in app.one_of):
        msg = f"Either {' or '.join(app.one_of)} must be provided"  # UNCERTAIN wording
        errors.append({"type": "value_error", "loc": ["body"], "msg": msg, "input": body})
    return errors
