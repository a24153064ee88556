"""Settlement follows each provider's billing rules (registry ``providers.<p>.billing``): what a
moderation refusal, a failure, a provider 5xx and a cancellation cost, and the cost views' waste,
refunds and uncertain spend that follow from it."""

from __future__ import annotations

import pytest

from adapters.errors import ProviderFailureError, SafetyRefusalError
from api.costs import cost_report
from ledger import billing
from ledger.aggregates import CostFilter, load, summarise
from pipeline.attempts import record_failure
from pipeline.closing import close_open
from pipeline.context import RunContext
from registry import BillingOutcome, load_registry
from store.db import session_scope
from store.models import Attempt, AttemptCost, Job, Shot

QUOTE = 2.0


def _attempt(ctx: RunContext, model: str, *, status: str = "rendering", job_id: str = "j1") -> int:
    """A reserved attempt of ``model`` whose provider job ``status`` is under way."""
    from ledger import service as ledger

    with session_scope(ctx.db_url) as session:
        if session.get(Job, job_id) is None:
            session.add(
                Job(id=job_id, tenant="acme", title="t", mode="final", storyboard={"scenes": []})
            )
            session.flush()
        number = session.query(Shot).filter_by(job_id=job_id).count()
        shot = Shot(job_id=job_id, key=f"s{number}", scene_id="s", position=number)
        shot.status = "rendering"
        session.add(shot)
        session.flush()
        attempt = Attempt(
            shot_id=shot.id,
            number=1,
            model_id=model,
            provider=model.split("/")[0],
            quoted_usd=QUOTE,
            request={"duration_s": 4.0},
        )
        session.add(attempt)
        session.flush()
        assert ledger.reserve(session, job_id, attempt)
        session.flush()
        attempt.status, attempt.provider_job_id = status, f"job-{attempt.id}"
        return attempt.id


def _record(ctx: RunContext, attempt_id: int) -> AttemptCost:
    with session_scope(ctx.db_url) as session:
        return session.get_one(AttemptCost, attempt_id)


def _close(ctx: RunContext, job_id: str = "j1") -> None:
    with session_scope(ctx.db_url) as session:
        close_open(ctx, session, job_id, "job cancelled")


class TestRules:
    def test_every_provider_with_models_has_sourced_rules(self):
        catalog = load_registry()
        for provider in catalog.providers:
            rules = catalog.billing(provider)
            assert rules.source, provider
            assert rules.rule(BillingOutcome.SUCCESS) in ("billed", "free"), provider

    def test_unknown_settles_the_quote_flagged_uncertain(self):
        rules = load_registry().billing("luma")
        charge = billing.charge_for(rules, BillingOutcome.FAILURE, QUOTE, None)
        assert (charge.usd, charge.basis, charge.uncertain) == (QUOTE, "unknown", True)

    def test_a_reported_charge_wins_over_the_rule(self):
        rules = load_registry().billing("runway")
        charge = billing.charge_for(rules, BillingOutcome.MODERATION, QUOTE, 0.0)
        assert (charge.usd, charge.basis, charge.uncertain) == (0.0, "reported", False)

    @pytest.mark.parametrize("reported", [float("inf"), float("nan"), 1e30, 2e6])
    def test_a_reported_charge_that_is_garbage_settles_by_the_rule(self, reported):
        """Runway's ``cost.credits`` is read from its JSON, which may say ``Infinity`` or 1e30:
        settling raised decimal.InvalidOperation (NaN settled as a reported $0)."""
        rules = load_registry().billing("runway")
        charge = billing.charge_for(rules, BillingOutcome.SUCCESS, QUOTE, reported)
        assert (charge.usd, charge.basis) == (QUOTE, rules.rule(BillingOutcome.SUCCESS))

    def test_a_refused_create_has_no_job_and_costs_nothing(self):
        outcome = billing.outcome_of_failure(
            "safety_refusal", None, had_job=False, was_running=False
        )
        charge = billing.charge_for(load_registry().billing("runway"), outcome, QUOTE, None)
        assert (charge.usd, charge.basis) == (0.0, "no_job")

    def test_a_user_file_may_not_claim_a_rule_without_a_source(self, tmp_path):
        from registry import RegistryFileError

        path = tmp_path / "user.yaml"
        path.write_text("providers:\n  luma:\n    billing: {failure: free}\n", encoding="utf-8")
        with pytest.raises(RegistryFileError) as info:
            load_registry(path)
        assert "source" in str(info.value.problems[0])


class TestSettlement:
    def test_runway_safety_refusal_settles_the_quote(self, emulated):
        attempt_id = _attempt(emulated, "runway/gen4.5")
        record_failure(emulated, attempt_id, SafetyRefusalError("SAFETY.INPUT.TEXT", "runway"))
        record = _record(emulated, attempt_id)
        assert (record.settled_usd, record.billing_outcome) == (QUOTE, "moderation")
        assert (record.billing_basis, record.billing_uncertain) == ("billed", False)

    def test_runway_cost_credits_of_a_failed_task_win(self, emulated):
        from adapters.runway import failure_error

        task = {"status": "FAILED", "failureCode": "INTERNAL.BAD_OUTPUT", "cost": {"credits": 0}}
        attempt_id = _attempt(emulated, "runway/gen4.5")
        record_failure(emulated, attempt_id, failure_error("runway", task))
        record = _record(emulated, attempt_id)
        assert (record.settled_usd, record.billing_basis) == (0.0, "reported")

    def test_fal_5xx_settles_nothing(self, emulated):
        error = ProviderFailureError("HTTP 503: runner unavailable", "fal")
        error.billing_hint = "provider_error_5xx"
        attempt_id = _attempt(emulated, "fal/veo3.1-fast")
        record_failure(emulated, attempt_id, error)
        record = _record(emulated, attempt_id)
        assert (record.settled_usd, record.billing_outcome) == (0.0, "provider_error_5xx")
        assert record.billing_basis == "free"

    def test_replicate_cancelled_while_running_is_billed(self, emulated):
        attempt_id = _attempt(emulated, "replicate/veo-3.1-fast", status="rendering")
        _close(emulated)
        record = _record(emulated, attempt_id)
        assert (record.verdict, record.billing_outcome) == ("cancelled", "cancel_running")
        assert (record.settled_usd, record.billing_basis) == (QUOTE, "billed")

    def test_replicate_cancelled_before_it_started_is_free(self, emulated):
        attempt_id = _attempt(emulated, "replicate/veo-3.1-fast", status="submitted")
        _close(emulated)
        record = _record(emulated, attempt_id)
        assert (record.settled_usd, record.billing_outcome) == (0.0, "cancel_queued")

    def test_kling_job_cancelled_by_us_is_billed_in_full(self, emulated):
        attempt_id = _attempt(emulated, "kling/v3-pro", status="submitted")
        _close(emulated)
        record = _record(emulated, attempt_id)
        assert (record.settled_usd, record.billing_basis) == (QUOTE, "billed")

    def test_unknown_rule_settles_the_quote_and_flags_it(self, emulated):
        attempt_id = _attempt(emulated, "luma/ray-3.2")
        record_failure(emulated, attempt_id, ProviderFailureError("generation_failed", "luma"))
        record = _record(emulated, attempt_id)
        assert (record.settled_usd, record.billing_basis) == (QUOTE, "unknown")
        assert record.billing_uncertain

    def test_a_provider_cancellation_timeout_is_a_cancel(self, emulated):
        from adapters.errors import ProviderTimeoutError

        attempt_id = _attempt(emulated, "fal/veo3.1-fast", status="submitted")
        record_failure(emulated, attempt_id, ProviderTimeoutError("too slow", "fal"))
        record = _record(emulated, attempt_id)
        assert (record.billing_outcome, record.settled_usd) == ("cancel_queued", 0.0)


class TestCostViews:
    def test_waste_refunds_and_uncertain_spend_follow_the_charges(self, emulated):
        runway = _attempt(emulated, "runway/gen4.5")
        record_failure(emulated, runway, SafetyRefusalError("SAFETY.OUTPUT", "runway"))
        fal = _attempt(emulated, "fal/veo3.1-fast")
        error = ProviderFailureError("503", "fal")
        error.billing_hint = "provider_error_5xx"
        record_failure(emulated, fal, error)
        luma = _attempt(emulated, "luma/ray-3.2")
        record_failure(emulated, luma, ProviderFailureError("generation_failed", "luma"))

        with session_scope(emulated.db_url) as session:
            totals = summarise("all", load(session, CostFilter(tenant="acme")))
        assert totals.waste_usd == pytest.approx(2 * QUOTE)  # runway and luma charged, fal not
        assert totals.refunded_usd == pytest.approx(QUOTE)
        assert totals.uncertain == 1
        assert totals.uncertain_usd == pytest.approx(QUOTE)

        report = cost_report(emulated.db_url, "acme", "provider", None, None)
        by_provider = {g["key"]: g for g in report["groups"]}
        assert by_provider["fal"]["waste_usd"] == 0.0
        assert by_provider["fal"]["refunded_usd"] == QUOTE
        assert by_provider["runway"]["waste_usd"] == QUOTE
        assert by_provider["luma"]["uncertain_usd"] == QUOTE
        assert report["totals"]["waste_usd"] == pytest.approx(2 * QUOTE)
