"""Documents with one value swapped for a value of another type, or removed: how the answer-shape
and stored-plan tests send what a provider or a user could write instead of what was recorded."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

REMOVED = object()
OTHER_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),  # NaN and infinities too: Python's json module reads them
    st.text(max_size=6),
    st.sampled_from(["", "\x00", "https://[", "data:,", "0", "COMPLETED", "succeeded"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value inside ``value`` (not ``value`` itself)."""
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, inner in items:
        yield (*prefix, key)
        yield from paths(inner, (*prefix, key))


def swapped_at(document: Any, where: int, value: object) -> Any:
    """A copy of ``document`` with its ``where``-th value (counted modulo how many it holds)
    swapped for ``value``, or removed (``REMOVED``); a document holding none is ``value`` itself.
    The draws are plain numbers, whatever the document holds, so an example replays the same."""
    places = list(paths(document))
    if not places:
        return None if value is REMOVED else value
    body = copy.deepcopy(document)
    *parents, last = places[where % len(places)]
    holder = body
    for step in parents:
        holder = holder[step]
    if value is REMOVED:
        del holder[last]
    else:
        holder[last] = value
    return body
