"""The cost figures every view shows, computed in one place: ``shotline costs`` and ``GET /v1/costs``
(grouped one way), ``GET /v1/dashboard`` (by model and by day). Real money and emulated money are
two populations with the same figures: the top level is real money only, ``emulated`` holds the
same figures for the attempts that ran on emulated providers, and ``emulated_usd`` is their spend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from foundation.money import to_json
from ledger import aggregates, drafts, figures, previews
from ledger.aggregates import CostFilter, GroupBy
from store.models import AttemptCost


def population(
    rows: Sequence[AttemptCost], groupings: Mapping[str, GroupBy], preview: previews.PreviewStats
) -> dict[str, Any]:
    """``totals``, one list of groups per entry of ``groupings`` and ``preview``, JSON-ready."""
    out: dict[str, Any] = {"totals": aggregates.summarise("all", rows).to_dict()}
    for name, by in groupings.items():
        out[name] = [g.to_dict() for g in aggregates.group(rows, by)]
    out["preview"] = preview.to_dict()
    return out


def cost_view(
    session: Session,
    flt: CostFilter,
    groupings: Mapping[str, GroupBy],
    rows: Sequence[AttemptCost] | None = None,
) -> dict[str, Any]:
    """The real figures at the top level (``totals``, the ``groupings``, ``preview``, and the
    ``spent_usd``/``reserved_usd``/``waste_usd``/``avoided_usd`` headline of ``ledger.figures``),
    ``emulated_usd`` and the same figures for emulated attempts under ``emulated``; ``drafts``, in
    both, is what storyboard drafts cost outside any job (``ledger.drafts``). ``rows`` are
    the records ``flt`` selects, when the caller has them already."""
    loaded = aggregates.load(session, flt) if rows is None else rows
    real, emulated = figures.split(loaded)
    real_preview = previews.preview_stats(session, flt)
    emulated_preview = previews.preview_stats(session, flt, emulated=True)
    return (
        headline(real, real_preview)
        | population(real, groupings, real_preview)
        | {
            "drafts": drafts.draft_costs(session, flt, emulated=False),
            "emulated_usd": to_json(figures.spent(emulated)),
            "emulated": headline(emulated, emulated_preview)
            | population(emulated, groupings, emulated_preview)
            | {"drafts": drafts.draft_costs(session, flt, emulated=True)},
        }
    )


def headline(rows: Sequence[AttemptCost], preview: previews.PreviewStats) -> dict[str, Any]:
    """The four figures of ``ledger.figures`` by name: spent, reserved, waste, avoided."""
    return {
        "spent_usd": to_json(figures.spent(rows)),
        "reserved_usd": to_json(figures.reserved(rows)),
        "waste_usd": to_json(figures.waste(rows)),
        "avoided_usd": to_json(preview.cost_avoided_usd),
    }
