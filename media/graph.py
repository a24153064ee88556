"""Filter graphs built with ``ffmpeg-python``, behind a small typed surface.

ffmpeg-python has no type hints; this module is the only one that imports it. A graph is built
from ``Input`` streams and ``Stream.filter`` / ``join`` calls, then ``compile_graph`` turns it into
the argv pieces the runner needs: the inputs (``-ss``/``-t``/``-f`` options and ``-i``), the
``-filter_complex`` text and the pad to ``-map`` for each wanted output. Output options stay plain
argv lists written by the callers. Labels are ffmpeg-python's (``[s0]``, ``[s1]``...) and filter
options are written sorted by name; the graph means the same as one written by hand.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ffmpeg
from ffmpeg.nodes import InputNode

Value = str | int | float


@dataclass(frozen=True, eq=False)
class Stream:
    """One pad of a graph: a stream of an input file or the output of a filter."""

    node: Any

    def filter(self, name: str, *args: Value, **options: Value) -> Stream:
        """This stream through filter ``name`` (positional ``args`` first, then ``options``)."""
        return Stream(self.node.filter(name, *args, **options))

    def split(self, count: int, name: str = "split") -> list[Stream]:
        """``count`` copies of this stream (``split``, or ``asplit`` for audio)."""
        node = self.node.filter_multi_output(name)
        return [Stream(node.stream(index)) for index in range(count)]


@dataclass(frozen=True, eq=False)
class Input:
    """One ``-i`` of the command, with its input options (``ss``, ``t``, ``f``...)."""

    node: Any

    def __getitem__(self, selector: str) -> Stream:
        """A stream of the input by FFmpeg stream specifier (``"v"``, ``"v:0"``, ``"a:0"``)."""
        return Stream(self.node[selector])


class _OwnInput(InputNode):  # type: ignore[misc]
    """An input node equal only to itself. ffmpeg-python identifies nodes by content, so two
    inputs of one file with the same options would become one, and identical filter chains after
    them one node with two outputs, which it refuses to compile."""

    _serials = itertools.count()

    def __init__(self, options: dict[str, Value]) -> None:
        self._serial = next(self._serials)
        super().__init__("input", kwargs=options)

    def __hash__(self) -> int:
        return hash((super().__hash__(), self._serial))


def open_input(path: str, **options: Value) -> Input:
    """A new ``-i path`` with input ``options`` (``f`` is the format, as on the command line)."""
    return Input(_OwnInput({"filename": path, **options}).stream())


def join(name: str, streams: Sequence[Stream], **options: Value) -> Stream:
    """A filter with several inputs (``xfade``, ``concat``), in the order given."""
    return Stream(ffmpeg.filter([s.node for s in streams], name, **options))


@dataclass(frozen=True)
class CompiledGraph:
    """``inputs``: argv of every input, numbered as the graph refers to them; ``text``: the
    ``-filter_complex`` argument; ``labels``: the pad to ``-map`` for each output asked for."""

    inputs: list[str]
    text: str
    labels: list[str]


def compile_graph(outputs: Sequence[Stream]) -> CompiledGraph:
    """Compile the graph that ends in ``outputs`` (each a filter's output)."""
    names = [f"output-{index}" for index in range(len(outputs))]
    spec = [ffmpeg.output(stream.node, name) for stream, name in zip(outputs, names, strict=True)]
    args: list[str] = [str(arg) for arg in ffmpeg.get_args(spec)]
    at = args.index("-filter_complex")
    mapped: dict[str, str] = {}
    rest = args[at + 2 :]
    for index in range(0, len(rest), 3):
        flag, label, name = rest[index : index + 3]
        if flag != "-map":
            raise ValueError(f"unexpected output argv from ffmpeg-python: {rest}")
        mapped[name] = label
    return CompiledGraph(args[:at], args[at + 1], [mapped[name] for name in names])
