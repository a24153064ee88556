"""A storyboard draft's cost is its own record (``draft_cost``, migration 0006), booked on the
tenant's spend unless emulated."""

from __future__ import annotations

from foundation.settings import get_settings
from ledger import tenants
from ledger.drafts import book_draft, drafts_spent
from store.db import session_scope
from store.tenants import TenantBudget
from tests.migrations import round_trip

SUMMARY = {
    "model": "openai/gpt-4.1-mini",
    "cost_usd": 0.0123,
    "cost_uncertain": False,
    "rounds": [{"input_tokens": 1000, "output_tokens": 500}, {"input_tokens": 1500}],
}


def test_a_real_draft_is_spend_and_an_emulated_one_is_not():
    url = get_settings().db_url
    with session_scope(url) as session:
        tenants.set_budget(session, "acme", 10.0)
    with session_scope(url) as session:
        real = book_draft(session, "acme", SUMMARY, provider="openai", emulated=False, valid=True)
        book_draft(session, "acme", SUMMARY, provider="openai", emulated=True, valid=False)
        assert real.rounds == 2
        assert real.input_tokens == 2500
        assert real.output_tokens == 500
    with session_scope(url) as session:
        assert session.get_one(TenantBudget, "acme").spent_usd == 0.0123
        assert drafts_spent(session, "acme") == 0.0123
        assert drafts_spent(session, "acme", emulated=True) == 0.0123
    with session_scope(url) as session:  # a budget change recounts spend from the records
        assert tenants.set_budget(session, "acme", 20.0).spent_usd == 0.0123
    with session_scope(url) as session:  # what budget show and the dashboard print agree
        [row] = tenants.budgets(session)
        assert (row["spent_usd"], row["emulated_usd"]) == (0.0123, 0.0123)
        assert row["headroom_usd"] == 20.0 - 0.0123


def test_migration_0006_round_trip(tmp_path):
    round_trip(f"sqlite:///{tmp_path / 'm.db'}", {"draft_cost"}, "0005_money", "attempt_cost")
