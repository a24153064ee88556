"""YAML and JSON text to plain data, within a budget (one parser for the API and the CLI).

``yaml.safe_load`` expands aliases without limit (a few KB become millions of nodes) and both
parsers recurse on nesting; numbers of thousands of digits and ``NaN`` pass or raise errors that are
not input errors. Here every node is counted as it is composed, an alias counting as the whole node
it repeats, so a document past ``Limits.max_document_nodes`` or ``max_document_depth`` is refused
while it is read, before anything is built from it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from foundation.errors import InvalidInputError, Problem
from foundation.limits import MAX_DOCUMENT_BYTES, Limits


class DocumentTooLargeError(yaml.YAMLError):
    """The document passes a budget, or repeats a key (raised while composing, before it is
    built)."""


_MERGE = "tag:yaml.org,2002:merge"


def _where(node_or_mark: Any) -> str:
    mark = getattr(node_or_mark, "start_mark", node_or_mark)
    line = getattr(mark, "line", None)
    return f" (line {line + 1}, column {mark.column + 1})" if line is not None else ""


def _parser_base() -> type[Any]:
    """libyaml's parser when the wheel has it (about 3x faster), else PyYAML's own."""
    try:
        from yaml._yaml import CParser

        return CParser
    except ImportError:  # pragma: no cover - the locked wheel ships libyaml
        from yaml.parser import Parser
        from yaml.reader import Reader
        from yaml.scanner import Scanner

        class PureParser(Reader, Scanner, Parser):
            def __init__(self, stream: str) -> None:
                Reader.__init__(self, stream)
                Scanner.__init__(self)
                Parser.__init__(self)

        return PureParser


_ParserBase: Any = _parser_base()


class BudgetLoader(Composer, SafeConstructor, Resolver, _ParserBase):  # type: ignore[misc]
    """A safe loader (parser events, then PyYAML's composer and safe constructor) that counts
    expanded nodes and nesting depth while composing; the composer's methods come first in the MRO
    so they replace libyaml's own, uncounted composition."""

    def __init__(self, stream: str, limits: Limits) -> None:
        _ParserBase.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.limits = limits
        self._sizes: dict[int, int] = {}
        self._depth = 0
        self._composed = 0

    def _here(self) -> str:
        event = self.peek_event()
        return _where(event.start_mark)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._composed += 1
        if self._composed > self.limits.max_document_nodes:
            raise DocumentTooLargeError(
                f"has more than {self.limits.max_document_nodes} nodes" + self._here()
            )
        self._depth += 1
        if self._depth > self.limits.max_document_depth:
            raise DocumentTooLargeError(
                f"nested deeper than {self.limits.max_document_depth} levels" + self._here()
            )
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return None
        if id(node) not in self._sizes:  # an alias returns a node already counted
            self._sizes[id(node)] = 1 + sum(self._sizes.get(id(c), 1) for c in _children(node))
        if self._sizes[id(node)] > self.limits.max_document_nodes:
            raise DocumentTooLargeError(
                f"expands to more than {self.limits.max_document_nodes} nodes"
                " (aliases count as the nodes they repeat)" + _where(node)
            )
        return node

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        """A mapping as composed, refusing a key written twice in it (PyYAML keeps the last and
        drops the first without a word); a key overriding one merged in with ``<<`` is fine."""
        node: MappingNode = super().compose_mapping_node(anchor)
        seen: set[tuple[str, str]] = set()
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag == _MERGE:
                continue
            if (key.tag, key.value) in seen:
                raise DocumentTooLargeError(f"has a duplicate key {key.value[:40]!r}" + _where(key))
            seen.add((key.tag, key.value))
        return node

    def construct_yaml_int(self, node: ScalarNode) -> int:
        _check_digits(str(node.value), self.limits, _where(node))
        return int(super().construct_yaml_int(node))

    def construct_yaml_float(self, node: ScalarNode) -> float:
        _check_digits(str(node.value), self.limits, _where(node))
        return float(super().construct_yaml_float(node))


BudgetLoader.add_constructor("tag:yaml.org,2002:int", BudgetLoader.construct_yaml_int)
BudgetLoader.add_constructor("tag:yaml.org,2002:float", BudgetLoader.construct_yaml_float)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_digits(text: str, limits: Limits, where: str = "") -> None:
    digits = sum(ch.isdigit() for ch in text)
    if digits > limits.max_number_digits:
        raise ValueError(
            f"a number of {digits} digits is too long (at most {limits.max_number_digits}){where}"
        )


def _json_int(limits: Limits) -> Any:
    def parse(text: str) -> int:
        _check_digits(text, limits)
        return int(text)

    return parse


def _json_float(limits: Limits) -> Any:
    def parse(text: str) -> float:
        _check_digits(text, limits)
        return float(text)

    return parse


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows (use a finite number)")


def _check_tree(data: Any, limits: Limits) -> None:
    """Count nodes and depth of parsed JSON without recursion."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    count = 0
    while stack:
        item, depth = stack.pop()
        count += 1
        if depth > limits.max_document_depth:
            raise ValueError(f"nested deeper than {limits.max_document_depth} levels")
        if count > limits.max_document_nodes:
            raise ValueError(f"has more than {limits.max_document_nodes} nodes")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key written twice (``json`` keeps the last one silently)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"has a duplicate key {key[:40]!r}")
        found[key] = value
    return found


def _load_json(text: str | bytes, limits: Limits) -> Any:
    data = json.loads(
        text,
        parse_int=_json_int(limits),
        parse_float=_json_float(limits),
        parse_constant=_no_constant,
        object_pairs_hook=_unique_keys,
    )
    _check_tree(data, limits)
    return data


def parse_json(text: str | bytes, limits: Limits | None = None, what: str = "the body") -> Any:
    """JSON within the budget; ``InvalidInputError`` naming what is wrong otherwise."""
    limits = limits or Limits.from_settings()
    try:
        return _load_json(text, limits)
    except RecursionError:
        reason = f"nested deeper than {limits.max_document_depth} levels"
        raise InvalidInputError(f"{what} is not usable JSON", [Problem("", reason)]) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidInputError(f"{what} is not usable JSON", [Problem("", str(exc))]) from None


def parse_yaml(text: str, limits: Limits | None = None, what: str = "the body") -> Any:
    """YAML (safe tags only) within the budget; ``InvalidInputError`` otherwise."""
    loader = BudgetLoader(text, limits or Limits.from_settings())
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:  # DocumentTooLargeError and every PyYAML error
        raise InvalidInputError(f"{what} is not usable YAML", [Problem("", str(exc))]) from None
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise InvalidInputError(f"{what} is not usable YAML", [Problem("", reason)]) from None
    finally:
        loader.dispose()


def parse_document(text: str, limits: Limits | None = None, what: str = "the body") -> Any:
    """JSON when the text is JSON, YAML otherwise (YAML is a superset of JSON; a flow mapping
    ``{title: t, ...}`` starts like JSON but is YAML)."""
    limits = limits or Limits.from_settings()
    if text.lstrip().startswith("{"):
        try:
            return parse_json(text, limits, what)
        except InvalidInputError as exc:
            if not isinstance(exc.__context__, json.JSONDecodeError):
                raise
    return parse_yaml(text, limits, what)


_PATH_PART = re.compile(r"(\w+)(?:\[(\d+)\])?")


def set_path(data: dict[str, Any], path: str, value: str) -> None:
    """Set ``data`` at ``path`` (``scenes[0].shots[1].reference_image``) to ``value``."""
    parts = path.split(".")
    target: Any = data
    for position, part in enumerate(parts):
        found = _PATH_PART.fullmatch(part)
        assert found is not None, path
        name, index = found.groups()
        if position == len(parts) - 1:
            if index is None:
                target[name] = value
            else:
                target[name][int(index)] = value
        else:
            target = target[name] if index is None else target[name][int(index)]


def read_document_file(
    path: Path, where: str = "", error: type[InvalidInputError] = InvalidInputError
) -> str:
    """The UTF-8 text of a document file a user names (a storyboard, an edit plan), read up to
    ``MAX_DOCUMENT_BYTES``: a missing, unreadable, larger or not UTF-8 file is an ``error`` with
    one problem at ``where`` (``/dev/zero`` is refused after the cap, not read until memory
    runs out)."""
    most = MAX_DOCUMENT_BYTES
    try:
        with path.open("rb") as handle:
            data = handle.read(most + 1)
        if len(data) > most:
            why = f"{path} is larger than {most:,} bytes, the most a document may be"
            raise error(f"{path}: too large", [Problem(where, why)])
        return data.decode("utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file", [Problem(where, f"{path} does not exist")]) from None
    except IsADirectoryError:
        why = f"{path} is a folder: name a YAML or JSON file in it"
        raise error(f"{path}: cannot be read", [Problem(where, why)]) from None
    except UnicodeDecodeError as exc:  # a video or an image named by mistake
        why = f"{path} is not a text file (YAML or JSON): byte {exc.start} is not UTF-8"
        raise error(f"{path}: cannot be read", [Problem(where, why)]) from None
    except OSError as exc:
        raise error(f"{path}: cannot be read", [Problem(where, str(exc))]) from None
