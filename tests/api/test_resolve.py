"""A create whose outcome is unknown (``submission_unknown``) over the API: listed on the tenant's
dashboard with its resolve URL (never on another tenant's), resolved there, and the job goes on."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from pipeline.context import RunContext
from pipeline.engine import HELD, EmbeddedEngine
from tests.api.conftest import tiny_board, wait_for_job
from tests.pipeline.conftest import lost_create


def test_a_held_create_is_shown_to_its_tenant_and_resolved_there(
    ctx: RunContext,
    client: TestClient,
    headers: dict[str, str],
    other_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    job_id, attempt_id = lost_create(ctx, tmp_path, "none", tenant="acme")
    assert EmbeddedEngine(ctx).run(job_id) == HELD

    (row,) = client.get("/v1/dashboard", headers=headers).json()["held_attempts"]
    assert (row["job_id"], row["attempt_id"], row["shot"]) == (job_id, attempt_id, "a")
    assert row["resolve_url"] == f"/v1/jobs/{job_id}/attempts/{attempt_id}:resolve"
    assert row["reserved_usd"] == 0.5
    assert client.get("/v1/dashboard", headers=other_headers).json()["held_attempts"] == []
    view = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
    assert view["status"] == "running"

    url = row["resolve_url"]
    assert client.post(url, json={"not_submitted": True}, headers=other_headers).status_code == 404
    both = client.post(url, json={"provider_job_id": "x", "not_submitted": True}, headers=headers)
    assert both.status_code == 422
    resolved = client.post(url, json={"not_submitted": True}, headers=headers)
    assert resolved.status_code == 200, resolved.text
    assert wait_for_job(client, job_id, headers)["status"] == "delivered"
    assert client.get("/v1/dashboard", headers=headers).json()["held_attempts"] == []
    again = client.post(url, json={"not_submitted": True}, headers=headers)
    assert again.status_code == 409


def test_a_held_create_cannot_take_another_tenants_provider_job(
    ctx: RunContext,
    client: TestClient,
    headers: dict[str, str],
    other_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    """Resolving names the provider job the create made; a provider job that another tenant's
    attempt holds is not it (else the tenant would fetch that tenant's clip, or cancel it)."""
    created = client.post(
        "/v1/jobs", json={"storyboard": tiny_board(1, tag=" (theirs)")}, headers=other_headers
    )
    theirs = wait_for_job(client, created.json()["id"], other_headers)
    assert theirs["status"] == "delivered"
    [their_attempt] = theirs["shots"][0]["attempt_log"]
    job_id, attempt_id = lost_create(ctx, tmp_path, "none", tenant="acme")
    assert EmbeddedEngine(ctx).run(job_id) == HELD

    url = f"/v1/jobs/{job_id}/attempts/{attempt_id}:resolve"
    body = {"provider_job_id": their_attempt["provider_job_id"]}
    refused = client.post(url, json=body, headers=headers)
    assert refused.status_code == 409, refused.text
    assert theirs["id"] not in refused.text
    view = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
    assert view["shots"][0]["attempt_log"][0]["status"] == "submission_unknown"
    resolved = client.post(url, json={"not_submitted": True}, headers=headers)
    assert resolved.status_code == 200, resolved.text
