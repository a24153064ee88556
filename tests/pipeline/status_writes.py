"""Finds every place a production module writes a ``status``, by reading its syntax tree: attribute
assignments (plain, tuple/list targets, augmented, annotated, loop targets), ``setattr(x,
"status", ...)``, SQL ``.values(status=...)``/``.values({"status": ...})``, query ``.update(...)``,
``execute(update(...), [{"status": ...}])``, bulk mappings and row constructors ``Job(status=...)``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROWS = {"Job", "Shot", "Attempt"}
NOT_PRODUCTION = {"tests", "benchmarks", "emulators"}
"""Top-level packages that production code never imports (tests, benchmarks, provider emulators)."""


@dataclass(frozen=True)
class Write:
    path: str
    line: int
    receiver: str
    how: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.receiver}.status ({self.how})"


def _leaves(target: ast.expr) -> Iterator[ast.expr]:
    if isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _leaves(element)
    elif isinstance(target, ast.Starred):
        yield from _leaves(target.value)
    else:
        yield target


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return list(node.targets)
    if isinstance(node, ast.AugAssign | ast.AnnAssign | ast.For | ast.AsyncFor):
        return [node.target]
    if isinstance(node, ast.withitem) and node.optional_vars is not None:
        return [node.optional_vars]
    return []


def _has_status_key(node: ast.AST) -> bool:
    """A dict literal with a ``"status"`` key anywhere inside ``node`` (lists of rows too)."""
    return any(
        isinstance(inner, ast.Dict)
        and any(isinstance(k, ast.Constant) and k.value == "status" for k in inner.keys)
        for inner in ast.walk(node)
    )


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _call_write(call: ast.Call) -> tuple[str, str] | None:
    """(receiver, how) when ``call`` writes a status."""
    name = _call_name(call)
    keyword = any(k.arg == "status" for k in call.keywords)
    in_args = any(_has_status_key(arg) for arg in call.args)
    receiver = ast.unparse(call.func.value) if isinstance(call.func, ast.Attribute) else name
    if name == "setattr" and len(call.args) >= 2:
        field = call.args[1]
        if isinstance(field, ast.Constant) and field.value == "status":
            return ast.unparse(call.args[0]), "setattr"
    if name == "values" and (keyword or in_args):
        return receiver, ".values()"
    if name in ROWS and keyword:
        return name, "row constructor"
    query = isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Call)
    if name == "update" and query and (keyword or in_args):
        return receiver, "query .update()"
    if name in ("bulk_update_mappings", "bulk_insert_mappings") and in_args:
        return receiver, name
    if name == "execute" and in_args:
        statements = [_call_name(n) for n in ast.walk(call) if isinstance(n, ast.Call)]
        if "update" in statements or "insert" in statements:
            return receiver, "execute(update/insert, rows)"
    return None


def status_writes(source: str, path: str = "<source>") -> list[Write]:
    found = []
    for node in ast.walk(ast.parse(source)):
        for target in _targets(node):
            for leaf in _leaves(target):
                if isinstance(leaf, ast.Attribute) and leaf.attr == "status":
                    how = type(node).__name__.lower()
                    found.append(Write(path, leaf.lineno, ast.unparse(leaf.value), how))
        if isinstance(node, ast.Call):
            write = _call_write(node)
            if write is not None:
                found.append(Write(path, node.lineno, *write))
    return sorted(found, key=lambda w: w.line)


def production_modules(root: Path) -> list[Path]:
    """Every module of every top-level package of ``root`` except tests, benchmarks, emulators."""
    packages = [
        p.parent
        for p in root.glob("*/__init__.py")
        if p.parent.name not in NOT_PRODUCTION and not p.parent.name.startswith(".")
    ]
    return sorted(path for package in packages for path in package.rglob("*.py"))


def writes_under(root: Path) -> list[Write]:
    found = []
    for path in production_modules(root):
        relative = path.relative_to(root).as_posix()
        found += status_writes(path.read_text(encoding="utf-8"), relative)
    return found
