"""Pydantic's validation errors as problems a user can act on: the document path of each, an unknown
key with the closest known one."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from foundation.errors import Problem
from foundation.variants import VARIANT_TAGS


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for index, part in enumerate(loc):
        if part in VARIANT_TAGS and loc[index - 2 : index - 1] == ("variants",):
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _known_fields(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    model = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        inner = getattr(annotation, "__args__", (annotation,))[0]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            model = inner
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return list(model.model_fields)


def problems_from(error: ValidationError, root: type[BaseModel]) -> list[Problem]:
    """Each error of validating ``root`` as a problem at its document path (``scenes[0].shots[2]
    .duration``), an unknown key with the closest known one, a missing one as required."""
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(loc[-1]), _known_fields(root, loc), n=1)
            message = "unknown key" + (f"; did you mean {close[0]!r}?" if close else "")
        elif item["type"] == "missing":
            message = "is required"
        problems.append(Problem(_loc_to_path(loc), message))
    return problems


NUL_REASON = "contains a NUL character (U+0000), which cannot be stored"


def nul_problems(data: Any) -> list[Problem]:
    """Every string value of parsed ``data`` holding a NUL, at its document path, in document
    order: PostgreSQL's text and JSON columns refuse one, so the job could not be written."""
    problems: list[Problem] = []
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            problems.append(Problem(path, NUL_REASON))
        elif isinstance(item, dict):
            parts = [(f"{path}.{key}" if path else str(key), v) for key, v in item.items()]
            stack.extend(reversed(parts))
        elif isinstance(item, list):
            stack.extend(reversed([(f"{path}[{i}]", v) for i, v in enumerate(item)]))
    return problems
