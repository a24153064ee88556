"""Dashboard views of the cost records: spend over time in buckets sized to the range, waste by
cause, and narrowing by model or provider. Every figure is ``aggregates.summarise`` of a subset of
the records, so buckets and causes add up to the totals of ``/v1/costs``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from foundation.states import ATTEMPT_ACCEPTED
from ledger.aggregates import CostGroup, summarise
from store.models import AttemptCost

Bucket = Literal["hour", "day", "week"]
BUCKETS: tuple[Bucket, ...] = ("hour", "day", "week")
STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
HOURLY_UP_TO = timedelta(days=2)
DAILY_UP_TO = timedelta(days=92)
MAX_BUCKETS = 800


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def matching(
    rows: Iterable[AttemptCost], *, model: str | None = None, provider: str | None = None
) -> list[AttemptCost]:
    """The records of ``model`` and ``provider`` (either may be None: any)."""
    return [
        r
        for r in rows
        if (model is None or r.model_id == model) and (provider is None or r.provider == provider)
    ]


def bucket_for(span: timedelta) -> Bucket:
    """Hours for up to two days, days for up to three months, weeks beyond."""
    if span <= HOURLY_UP_TO:
        return "hour"
    return "day" if span <= DAILY_UP_TO else "week"


def floor(moment: datetime, bucket: Bucket) -> datetime:
    """The start (UTC) of the bucket holding ``moment``; weeks start on Monday."""
    moment = utc(moment)
    if bucket == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if bucket == "day" else day - timedelta(days=day.weekday())


def window(
    rows: Sequence[AttemptCost], since: datetime | None, until: datetime | None
) -> tuple[datetime, datetime] | None:
    """The range a series covers: the filter's bounds, else the records' first and last moment
    (``until`` exclusive). None when there is neither a bound nor a record."""
    moments = [utc(r.created_at) for r in rows]
    start = utc(since) if since is not None else (min(moments) if moments else None)
    if until is not None:
        end = utc(until)
    elif moments:
        end = max(moments) + timedelta(microseconds=1)
    else:
        end = datetime.now(UTC)
    if start is None or end <= start:
        return None
    return start, end


def series(
    rows: Sequence[AttemptCost],
    since: datetime | None,
    until: datetime | None,
    bucket: Bucket | None = None,
) -> tuple[Bucket, list[CostGroup]]:
    """One group per bucket from the window's start to its end, empty buckets included, keyed
    by the bucket's ISO start; the bucket size follows the window unless given. Past
    ``MAX_BUCKETS`` the next larger size is used."""
    bounds = window(rows, since, until)
    if bounds is None:
        return bucket or "day", []
    start, end = bounds
    size = bucket or bucket_for(end - start)
    while size != "week" and (end - start) / STEP[size] > MAX_BUCKETS:
        size = BUCKETS[BUCKETS.index(size) + 1]
    by_key: dict[datetime, list[AttemptCost]] = {}
    for row in rows:
        by_key.setdefault(floor(row.created_at, size), []).append(row)
    out: list[CostGroup] = []
    cursor = floor(start, size)
    while cursor < end and len(out) < MAX_BUCKETS:
        out.append(summarise(cursor.isoformat(), by_key.get(cursor, [])))
        cursor += STEP[size]
    return size, out


def cause_of(row: AttemptCost) -> str | None:
    """Why an attempt's clip was not kept: its first gate defect, else its error kind, else its
    verdict (``cancelled``, ``pending``...). None for an accepted attempt."""
    if row.verdict in ATTEMPT_ACCEPTED:
        return None
    if row.defects:
        return str(row.defects[0])
    return row.error_kind or row.verdict


def waste_by_cause(rows: Iterable[AttemptCost]) -> list[CostGroup]:
    """The attempts not accepted, grouped by ``cause_of``, largest waste first; every such
    attempt is in exactly one group, so the groups' waste adds up to the total waste."""
    groups: dict[str, list[AttemptCost]] = {}
    for row in rows:
        cause = cause_of(row)
        if cause is not None:
            groups.setdefault(cause, []).append(row)
    found = [summarise(cause, items) for cause, items in groups.items()]
    return sorted(found, key=lambda g: (-g.waste_usd, -g.attempts, g.key))
