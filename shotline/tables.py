"""Tables that fit the terminal: money and ids are never wrapped nor cut, long text folds onto
more lines, and the least useful columns are left out when even folding cannot make room.

Piped output gets 80 columns (rich's default), so what a script or ``make demo`` prints is what an
80-column terminal shows. ``--wide`` prints every column at its natural width instead.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # rich loads when a table is made, not when a command module is imported
    from rich.table import Table

Justify = Literal["left", "right", "center"]
BORDER = 3
"""Columns a boxed column costs beyond its text: one rule and one space of padding each side."""


@dataclass(frozen=True)
class Column:
    """One column. ``priority`` 0 is always shown; higher numbers go first when space runs out.
    ``fold_to`` is the narrowest width a text column may fold to; ``None`` keeps it on one line
    (money, ids, counts)."""

    title: str
    priority: int = 0
    justify: Justify = "left"
    fold_to: int | None = None


@dataclass(frozen=True)
class Fitted:
    table: Table
    left_out: tuple[str, ...]
    """Titles of the columns that did not fit."""


def _natural(cells: Sequence[str]) -> int:
    from rich.text import Text

    lines = (line for cell in cells for line in Text.from_markup(cell).plain.splitlines())
    return max((Text(line).cell_len for line in lines), default=1)


@dataclass(frozen=True)
class _Need:
    natural: int
    """Everything on one line, the header included."""
    narrowest: int
    """A folding column folded to its ``fold_to``; any other with its header on several lines."""


def _needs(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> list[_Need]:
    out = []
    for index, column in enumerate(columns):
        content = _natural([row[index] for row in rows])
        longest_word = max(len(word) for word in column.title.split())
        natural = max(content, len(column.title))
        if column.fold_to is None:
            out.append(_Need(natural, max(content, longest_word)))
        else:
            out.append(_Need(natural, min(natural, max(column.fold_to, longest_word))))
    return out


def _choose(columns: Sequence[Column], needs: list[_Need], width: int) -> list[int]:
    """The indices of the columns shown: by priority while the narrowest widths fit."""
    chosen: list[int] = []
    used = 1
    for index in sorted(range(len(columns)), key=lambda i: columns[i].priority):
        cost = needs[index].narrowest + BORDER
        if columns[index].priority > 0 and used + cost > width:
            break
        chosen.append(index)
        used += cost
    return sorted(chosen)


NARROWEST_FOLD = 4
"""The fewest characters a line of a folding column keeps when even the columns always shown do
not fit at their narrowest (a terminal under 60 columns): text folds further, money and ids
stay whole."""


def _widths(
    columns: Sequence[Column], needs: list[_Need], chosen: list[int], width: int
) -> dict[int, int]:
    """The widths of the shown columns when their natural widths do not fit (else none): each
    starts at its narrowest, and the room left goes to the ones that lack the least first, so a
    column that is nearly whole (a model id, a header) is made whole before a long message."""
    room = width - 1 - BORDER * len(chosen) - sum(needs[i].narrowest for i in chosen)
    if sum(needs[i].natural for i in chosen) + 1 + BORDER * len(chosen) <= width:
        return {}
    given = {i: needs[i].narrowest for i in chosen}
    for index in (i for i in chosen if columns[i].fold_to is not None):
        if room >= 0:
            break
        freed = min(-room, max(0, given[index] - NARROWEST_FOLD))
        given[index] -= freed
        room += freed
    for index in sorted(chosen, key=lambda i: needs[i].natural - needs[i].narrowest):
        extra = max(0, min(room, needs[index].natural - given[index]))
        given[index] += extra
        room -= extra
    return given


def fit_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    width: int | None,
    *,
    title: str | None = None,
    caption: str | None = None,
) -> Fitted:
    """A table of ``rows`` (markup strings, one per column) for a console ``width`` columns wide;
    ``None`` keeps every column at its natural width (``--wide``)."""
    needs = _needs(columns, rows)
    chosen = list(range(len(columns))) if width is None else _choose(columns, needs, width)
    given = {} if width is None else _widths(columns, needs, chosen, width)
    from rich.table import Table

    table = Table(title=title, caption=caption)
    for index in chosen:
        column, size = columns[index], given.get(index)
        if column.fold_to is None:
            header = column.title if size is None else "\n".join(textwrap.wrap(column.title, size))
            table.add_column(
                header, justify=column.justify, no_wrap=True, min_width=size or needs[index].natural
            )
        else:
            table.add_column(column.title, justify=column.justify, overflow="fold", width=size)
    for row in rows:
        table.add_row(*(row[index] for index in chosen))
    left_out = tuple(columns[i].title for i in range(len(columns)) if i not in chosen)
    return Fitted(table, left_out)


def left_out_note(fitted: Fitted, width: int) -> str | None:
    if not fitted.left_out:
        return None
    return (
        f"[dim]not shown at {width} columns: {', '.join(fitted.left_out)} "
        "(--wide or --json shows them)[/]"
    )


def print_wide(table: Table, *, stderr: bool = False) -> None:
    """Print ``table`` at its natural width, however narrow the terminal (``--wide``)."""
    from rich.console import Console

    from shotline.terminal import terminal

    measuring = Console(width=10_000)
    natural = measuring.measure(table).maximum
    terminal(stderr=stderr, width=max(natural, terminal(stderr=stderr).width)).print(table)
