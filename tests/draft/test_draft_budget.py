"""A storyboard draft spends real money on a language model, so a tenant whose budget cannot pay
for it is refused before the first request, as a job's attempt would be (``budget_exceeded``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import select

from adapters.chat import ChatAnswer, ChatClient, ChatPort
from foundation.errors import BudgetExceededError
from foundation.settings import get_settings
from ledger import tenants
from pipeline.draft import DraftBrief
from pipeline.draft_run import run_draft
from registry import load_registry
from store.db import session_scope
from store.drafts import DraftCost

BRIEF = DraftBrief("a fox crosses a frozen lake at dawn", shots=2)


class Counting:
    """A chat client that counts the requests it sends."""

    def __init__(self, inner: ChatPort) -> None:
        self.inner, self.provider, self.api, self.calls = inner, inner.provider, inner.api, 0

    def complete(self, body: Mapping[str, Any]) -> ChatAnswer:
        self.calls += 1
        return self.inner.complete(body)


def _draft(emulator, budget: float | None, *, emulated: bool = False) -> tuple[Counting, Any]:
    """Draft for tenant acme (real money unless ``emulated``) with ``budget`` set first."""
    settings = get_settings()
    if budget is not None:
        with session_scope(settings.db_url) as session:
            tenants.set_budget(session, "acme", budget)
    client = Counting(ChatClient("openai", "k", emulator.judge_base_urls["openai"]))
    try:
        result = run_draft(BRIEF, settings, load_registry(), {"openai": client},
                           emulated=emulated, tenant="acme")  # fmt: skip
    except BudgetExceededError as exc:
        return client, exc
    return client, result


def test_a_tenant_whose_budget_cannot_pay_is_refused_before_the_call(emulator):
    client, refused = _draft(emulator, 0.0)
    assert isinstance(refused, BudgetExceededError)
    assert client.calls == 0, "nothing was sent to the language model"
    assert "openai/gpt-4.1-mini" in str(refused)
    assert "budget of tenant 'acme'" in str(refused)
    assert "$0.00 left" in str(refused)
    with session_scope(get_settings().db_url) as session:
        assert session.scalars(select(DraftCost)).all() == []


def test_a_tenant_with_room_drafts_and_books_its_cost(emulator):
    client, result = _draft(emulator, 1.0)
    assert client.calls == 1
    assert result.cost_usd > 0
    with session_scope(get_settings().db_url) as session:
        (row,) = tenants.budgets(session)
    assert row["spent_usd"] == pytest.approx(result.cost_usd)


def test_an_emulated_draft_spends_no_money_and_is_not_refused(emulator):
    client, result = _draft(emulator, 0.0, emulated=True)
    assert client.calls == 1
    assert result.board is not None


class StoppedOnSecond(Counting):
    """The process is stopped (SIGINT here; ``kill -9`` alike) while the second request runs."""

    def complete(self, body: Mapping[str, Any]) -> ChatAnswer:
        if self.calls == 1:
            raise KeyboardInterrupt
        return super().complete(body)


def test_a_draft_stopped_between_rounds_has_booked_the_answers_it_paid_for(repairing_emulator):
    """The cost was booked when every round had ended: a draft stopped after its first, invalid,
    answer (paid) left no record of it, and the tenant's spend did not count it."""
    settings = get_settings()
    with session_scope(settings.db_url) as session:
        tenants.set_budget(session, "acme", 1.0)
    inner = ChatClient("openai", "k", repairing_emulator.judge_base_urls["openai"])
    with pytest.raises(KeyboardInterrupt):
        run_draft(BRIEF, settings, load_registry(), {"openai": StoppedOnSecond(inner)},
                  emulated=False, tenant="acme")  # fmt: skip
    with session_scope(settings.db_url) as session:
        (row,) = session.scalars(select(DraftCost)).all()
        (budget,) = tenants.budgets(session)
    assert (row.rounds, row.valid) == (1, False)
    assert row.amount_usd > 0
    assert budget["spent_usd"] == pytest.approx(row.amount_usd)


def test_a_repaired_draft_is_one_row_whose_spend_counts_each_round_once(repairing_emulator):
    client, result = _draft(repairing_emulator, 1.0)
    assert client.calls == 2
    with session_scope(get_settings().db_url) as session:
        (row,) = session.scalars(select(DraftCost)).all()
        (budget,) = tenants.budgets(session)
    assert (row.rounds, row.valid) == (2, True)
    assert row.amount_usd == pytest.approx(result.cost_usd)
    assert budget["spent_usd"] == pytest.approx(result.cost_usd)
