"""Budget reservations are atomic: concurrent submissions can never push spend past a budget."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from ledger import service as ledger
from store.db import session_scope
from store.models import Attempt, Job, LedgerEntry, Shot
from tests.journal import journal_total
from tests.migrations import round_trip

QUOTE = 0.75
FITS = 10


def _seed(url: str, attempts: int) -> list[int]:
    with session_scope(url) as session:
        session.add(Job(id="job1", title="t", mode="final", storyboard={}, budget_usd=QUOTE * FITS))
        session.flush()
        shot = Shot(job_id="job1", key="a", scene_id="s", position=0)
        session.add(shot)
        session.flush()
        rows = [
            Attempt(shot_id=shot.id, number=n, model_id="m", provider="p", quoted_usd=QUOTE)
            for n in range(1, attempts + 1)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def _reserve(url: str, attempt_id: int) -> bool:
    with session_scope(url) as session:
        return ledger.reserve(session, "job1", session.get_one(Attempt, attempt_id))


def _race(url: str) -> None:
    ids = _seed(url, 200)
    with ThreadPoolExecutor(32) as pool:
        admitted = sum(pool.map(lambda i: _reserve(url, i), ids))
    with session_scope(url) as session:
        job = session.get_one(Job, "job1")
        reserves = session.query(LedgerEntry).filter_by(kind="reserve").count()
        assert admitted == FITS
        assert reserves == FITS
        assert job.reserved_usd == pytest.approx(QUOTE * FITS)
        assert job.reserved_usd <= QUOTE * FITS + 1e-9


class TestBudgetRace:
    def test_sqlite(self, tmp_path):
        _race(f"sqlite:///{tmp_path / 'race.db'}")

    @pytest.mark.services
    def test_postgres(self, fresh_postgres_url):
        _race(fresh_postgres_url)


class TestSettle:
    def test_settle_releases_reservation_and_books_cost(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'settle.db'}"
        first, second = _seed(url, 2)
        assert _reserve(url, first)
        with session_scope(url) as session:
            ledger.settle(session, "job1", session.get_one(Attempt, first), 0.5)
            ledger.settle(session, "job1", session.get_one(Attempt, first), 0.5)  # idempotent
        with session_scope(url) as session:
            job = session.get_one(Job, "job1")
            assert job.reserved_usd == pytest.approx(0.0)
            assert job.spent_usd == pytest.approx(0.5)
            assert journal_total(session, "job1") == pytest.approx(0.5)
        assert _reserve(url, second)

    def test_unbilled_failure_releases_in_full(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'fail.db'}"
        (only,) = _seed(url, 1)
        assert _reserve(url, only)
        with session_scope(url) as session:
            ledger.settle(session, "job1", session.get_one(Attempt, only), 0.0)
        with session_scope(url) as session:
            job = session.get_one(Job, "job1")
            assert (job.reserved_usd, job.spent_usd) == (0.0, 0.0)


def _released_exactly(url: str) -> None:
    """Quotes of 0.1 and 0.2 reserved then released: float sums leave 0.1 + 0.2 - 0.1 - 0.2 =
    2.8e-17; the totals are kept in micro-dollars, so nothing is left reserved."""
    first, second = _seed(url, 2)
    with session_scope(url) as session:
        for attempt_id, quote in ((first, 0.1), (second, 0.2)):
            session.get_one(Attempt, attempt_id).quoted_usd = quote
    assert _reserve(url, first)
    assert _reserve(url, second)
    with session_scope(url) as session:
        for attempt_id, cost in ((first, 0.1), (second, 0.2)):
            ledger.settle(session, "job1", session.get_one(Attempt, attempt_id), cost)
    with session_scope(url) as session:
        job = session.get_one(Job, "job1")
        assert (job.reserved_usd, job.spent_usd) == (0.0, 0.3)


class TestTotalsInMicroDollars:
    def test_sqlite(self, tmp_path):
        _released_exactly(f"sqlite:///{tmp_path / 'exact.db'}")

    @pytest.mark.services
    def test_postgres(self, fresh_postgres_url):
        _released_exactly(fresh_postgres_url)


def _seed_tenant_jobs(url: str, jobs: int, per_job: int, tenant_fits: int) -> list[tuple[str, int]]:
    from ledger import tenants

    pairs = []
    with session_scope(url) as session:
        tenants.set_budget(session, "acme", QUOTE * tenant_fits)
        for j in range(jobs):
            job_id = f"job-t{j}"
            session.add(
                Job(
                    id=job_id,
                    tenant="acme",
                    title="t",
                    mode="final",
                    storyboard={},
                    budget_usd=None,
                )
            )
            session.flush()
            shot = Shot(job_id=job_id, key="a", scene_id="s", position=0)
            session.add(shot)
            session.flush()
            for n in range(1, per_job + 1):
                attempt = Attempt(
                    shot_id=shot.id, number=n, model_id="m", provider="p", quoted_usd=QUOTE
                )
                session.add(attempt)
                session.flush()
                pairs.append((job_id, attempt.id))
    return pairs


def _tenant_race(url: str) -> None:
    from store.tenants import TenantBudget

    pairs = _seed_tenant_jobs(url, jobs=4, per_job=50, tenant_fits=FITS)

    def attempt(pair):
        job_id, attempt_id = pair
        with session_scope(url) as session:
            return ledger.reserve(session, job_id, session.get_one(Attempt, attempt_id))

    with ThreadPoolExecutor(32) as pool:
        admitted = sum(pool.map(attempt, pairs))
    with session_scope(url) as session:
        row = session.get_one(TenantBudget, "acme")
        jobs_reserved = sum(j.reserved_usd for j in session.query(Job).filter(Job.tenant == "acme"))
    assert admitted == FITS
    assert row.reserved_usd == pytest.approx(QUOTE * FITS)
    assert jobs_reserved == pytest.approx(QUOTE * FITS), "refused reservations left nothing behind"


class TestTenantBudget:
    def test_race_across_jobs_of_one_tenant_sqlite(self, tmp_path):
        _tenant_race(f"sqlite:///{tmp_path / 'tenant.db'}")

    @pytest.mark.services
    def test_race_across_jobs_of_one_tenant_postgres(self, fresh_postgres_url):
        _tenant_race(fresh_postgres_url)

    def test_settle_moves_tenant_reservation_to_spend(self, tmp_path):
        from store.tenants import TenantBudget

        url = f"sqlite:///{tmp_path / 'tenant-settle.db'}"
        (job_id, attempt_id), *_ = _seed_tenant_jobs(url, jobs=1, per_job=1, tenant_fits=1)
        with session_scope(url) as session:
            attempt = session.get_one(Attempt, attempt_id)
            assert ledger.reserve(session, job_id, attempt)
            ledger.settle(session, job_id, attempt, 0.5)
        with session_scope(url) as session:
            row = session.get_one(TenantBudget, "acme")
            assert row.reserved_usd == pytest.approx(0.0)
            assert row.spent_usd == pytest.approx(0.5)

    def test_a_release_the_row_never_held_leaves_it_at_zero(self, tmp_path):
        """As a job's counter does: the tenant's ``reserved_usd`` went below 0 when a
        reservation taken before its row counted it was released."""
        from ledger import tenants
        from store.tenants import TenantBudget

        url = f"sqlite:///{tmp_path / 'tenant-floor.db'}"
        _seed_tenant_jobs(url, jobs=1, per_job=1, tenant_fits=1)
        with session_scope(url) as session:
            tenants.settle(session, "acme", 0.5, 0.2)
        with session_scope(url) as session:
            row = session.get_one(TenantBudget, "acme")
            assert row.reserved_usd == 0.0
            assert row.spent_usd == pytest.approx(0.2)


class TestTenantBudgetMigration:
    def test_sqlite_round_trip(self, tmp_path):
        round_trip(f"sqlite:///{tmp_path / 'tb.db'}", {"tenant_budget"}, down_to="0002", kept="job")

    @pytest.mark.services
    def test_postgres_round_trip(self, fresh_postgres_url):
        round_trip(fresh_postgres_url, {"tenant_budget"}, down_to="0002", kept="job")


def _budget_after_spend(url: str) -> None:
    from ledger import tenants
    from store.tenants import TenantBudget
    from tests.ledger.history import EXPECTED, HISTORY, seed

    seed(url, [job for job in HISTORY if job.tenant == "local"])
    with session_scope(url) as session:
        row = tenants.set_budget(session, "local", 5.0)
        assert row.spent_usd == pytest.approx(0.3)
        assert row.reserved_usd == 0.0
        (shown,) = tenants.budgets(session)
    assert shown == {
        "tenant": "local",
        "budget_usd": 5.0,
        "reserved_usd": 0.0,
        "spent_usd": float(EXPECTED["local"]["spent_usd"]),
        "headroom_usd": 4.7,
        "emulated_usd": 2.34,
    }, "the spend before the budget counts; the emulated spend does not"
    with session_scope(url) as session:
        assert session.get_one(TenantBudget, "local").spent_usd == pytest.approx(0.3)


class TestBudgetAfterSpend:
    def test_sqlite(self, tmp_path):
        _budget_after_spend(f"sqlite:///{tmp_path / 'after.db'}")

    @pytest.mark.services
    def test_postgres(self, fresh_postgres_url):
        _budget_after_spend(fresh_postgres_url)


def test_emulated_jobs_leave_the_tenant_budget_alone(tmp_path):
    from ledger import tenants
    from store.tenants import TenantBudget
    from tests.ledger.history import Seeded, Try, seed

    url = f"sqlite:///{tmp_path / 'emu.db'}"
    with session_scope(url) as session:
        tenants.set_budget(session, "acme", 1.0)
    big = {"k": [Try("runway/gen4.5", 2.5, "accepted", 2.5, 0.01)]}
    seed(url, [Seeded("emu", "acme", "final", "emulated", big)])  # would not fit $1 if real
    with session_scope(url) as session:
        row = session.get_one(TenantBudget, "acme")
        assert (row.spent_usd, row.reserved_usd) == (0.0, 0.0)
        assert session.get_one(Job, "emu").spent_usd == pytest.approx(2.51), "the job's own"
    with pytest.raises(AssertionError, match="fits"):
        seed(url, [Seeded("real", "acme", "final", "live", big)])
