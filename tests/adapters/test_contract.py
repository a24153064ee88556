"""The adapter contract, parametrised over every hosted adapter, against the emulators."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from adapters.base import JobState, ProviderAdapter
from adapters.errors import (
    JobLostError,
    ProviderFailureError,
    ProviderTimeoutError,
    RateLimitedError,
    RejectedInputError,
    SafetyRefusalError,
    TransientError,
)
from emulators import EmulatorHandle
from media.probe import probe
from tests.adapters.conftest import Case, adapter_for, request_for, wait


def test_success_downloads_a_measured_asset(case: Case, emulator: EmulatorHandle, dest: Path):
    adapter = adapter_for(case, emulator)
    assert isinstance(adapter, ProviderAdapter)
    job_id = adapter.submit(request_for(case, "ok"))
    assert wait(adapter, job_id).state is JobState.SUCCEEDED
    asset = adapter.fetch(job_id, dest)
    info = probe(asset.path)
    assert asset.path.parent == dest
    assert asset.provider_job_id == job_id
    assert asset.sha256 == hashlib.sha256(asset.path.read_bytes()).hexdigest()
    assert (asset.width, asset.height) == (info.width, info.height)
    assert asset.width > asset.height
    assert asset.duration_s == pytest.approx(info.duration_s)
    assert asset.duration_s >= 1.9
    assert asset.raw is not None
    assert not list(dest.glob("*.part"))


def test_rate_limit_carries_the_providers_retry_hint(case: Case, emulator: EmulatorHandle):
    adapter = adapter_for(case, emulator)
    with pytest.raises(RateLimitedError) as caught:
        adapter.submit(request_for(case, "ratelimit"))
    assert caught.value.retry_after == case.retry_hint
    assert caught.value.retriable


def test_5xx_is_transient(case: Case, emulator: EmulatorHandle):
    with pytest.raises(TransientError) as caught:
        adapter_for(case, emulator).submit(request_for(case, "unavailable"))
    assert caught.value.kind == "transient"  # not a rate limit or a timeout (fal: FalServerError)


def test_400_is_rejected_input(case: Case, emulator: EmulatorHandle):
    with pytest.raises(RejectedInputError) as caught:
        adapter_for(case, emulator).submit(request_for(case, "badrequest"))
    assert not caught.value.retriable


def test_hang_is_a_timeout(case: Case, emulator: EmulatorHandle):
    with pytest.raises(ProviderTimeoutError):
        adapter_for(case, emulator, timeout=0.3).submit(request_for(case, "hang"))


def test_malformed_json_is_transient(case: Case, emulator: EmulatorHandle):
    with pytest.raises(TransientError, match="malformed JSON"):
        adapter_for(case, emulator).submit(request_for(case, "malformed"))


def test_truncated_poll_is_transient_and_the_next_poll_works(case: Case, emulator: EmulatorHandle):
    adapter = adapter_for(case, emulator)
    job_id = adapter.submit(request_for(case, "truncatedpoll"))
    with pytest.raises(TransientError):
        adapter.poll(job_id)
    assert wait(adapter, job_id).state is JobState.SUCCEEDED


def test_safety_refusal(case: Case, emulator: EmulatorHandle, dest: Path):
    adapter = adapter_for(case, emulator)
    job_id = adapter.submit(request_for(case, "safety"))
    result = wait(adapter, job_id)
    assert result.state is JobState.FAILED
    assert isinstance(result.error, SafetyRefusalError)
    with pytest.raises(SafetyRefusalError):
        adapter.fetch(job_id, dest)


def test_provider_failure(case: Case, emulator: EmulatorHandle):
    adapter = adapter_for(case, emulator)
    result = wait(adapter, adapter.submit(request_for(case, "failure")))
    assert result.state is JobState.FAILED
    assert type(result.error) is ProviderFailureError


def test_expired_url_is_refreshed_by_a_new_poll(case: Case, emulator: EmulatorHandle, dest: Path):
    if case.provider == "google":
        pytest.skip("Veo on Vertex returns the clip inline (bytesBase64Encoded): no URL to expire")
    adapter = adapter_for(case, emulator)
    job_id = adapter.submit(request_for(case, "expired"))
    assert wait(adapter, job_id).state is JobState.SUCCEEDED
    asset = adapter.fetch(job_id, dest)
    assert asset.path.exists()
    job = emulator.emulator.jobs[_emulator_id(job_id)]
    assert job.expired_served == 1


def test_over_concurrency_is_queued_not_failed(case: Case, emulator: EmulatorHandle):
    adapter = adapter_for(case, emulator)
    first = adapter.submit(request_for(case, "throttle", prompt="first"))
    second = adapter.submit(request_for(case, "throttle", prompt="second"))
    waiting = adapter.poll(second)
    assert waiting.state in (JobState.QUEUED, JobState.RUNNING)
    if case.provider == "runway":
        assert waiting.state is JobState.QUEUED
        assert waiting.raw["status"] == "THROTTLED"
    assert wait(adapter, first).state is JobState.SUCCEEDED
    assert wait(adapter, second).state is JobState.SUCCEEDED


def test_cancel(case: Case, emulator: EmulatorHandle):
    adapter = adapter_for(case, emulator)
    job_id = adapter.submit(request_for(case, "slow"))
    canceled = adapter.cancel(job_id)
    assert canceled is case.can_cancel
    job = emulator.emulator.jobs.get(_emulator_id(job_id))
    if canceled:
        assert job is None or job.canceled
    if canceled and job is not None:
        assert adapter.poll(job_id).state is JobState.CANCELED


def test_resume_from_a_persisted_job_id(case: Case, emulator: EmulatorHandle, dest: Path):
    job_id = adapter_for(case, emulator).submit(request_for(case, "resume"))
    restarted = adapter_for(case, emulator)
    assert wait(restarted, job_id).state is JobState.SUCCEEDED
    assert restarted.fetch(job_id, dest).provider_job_id == job_id
    assert emulator.stats()["submissions"][case.model("resume")] == 1


def test_fal_completed_with_a_failing_result_fetch_is_a_failure(emulator: EmulatorHandle):
    case = Case("fal", "fal-ai", 2.0)
    adapter = adapter_for(case, emulator)
    result = wait(adapter, adapter.submit(request_for(case, "resulterror")))
    assert result.state is JobState.FAILED
    assert isinstance(result.error, ProviderFailureError)


def test_veo_output_is_inline_so_no_download_carries_the_token(
    emulator: EmulatorHandle, dest: Path
):
    """Vertex returns the clip as ``videos[].bytesBase64Encoded`` when no ``storageUri`` is sent
    (SDK google-genai 3.6.1 ``_Video_from_vertex``): the credential never leaves the API origin."""
    case = Case("google", "veo-3.1-fast", 1.5)
    adapter = adapter_for(case, emulator)
    job_id = adapter.submit(request_for(case, "ok"))
    assert wait(adapter, job_id).state is JobState.SUCCEEDED
    uri = adapter._status(job_id).output_url
    assert uri is not None
    assert uri.startswith("data:video/mp4;base64,")
    assert adapter.fetch(job_id, dest).path.exists()


def _emulator_id(job_id: str) -> str:
    return job_id.rsplit("/", 1)[-1].replace("-", "")


def test_cancel_never_deletes_a_finished_job(case: Case, emulator: EmulatorHandle, dest: Path):
    adapter = adapter_for(case, emulator)
    job_id = adapter.submit(request_for(case, "ok", prompt="finished before cancel"))
    assert wait(adapter, job_id).state is JobState.SUCCEEDED
    assert adapter.cancel(job_id) is False
    assert adapter.fetch(job_id, dest).path.exists()


def test_a_job_the_provider_no_longer_knows_is_lost_not_rejected(
    case: Case, emulator: EmulatorHandle, dest: Path
):
    """The provider answers the create, then forgets the job (expired, deleted, an emulator that
    restarted): its status, result and cancel get the provider's own answer for an unknown id
    (404, Kling's empty task list), which is ``job_lost``, retriable, naming the job."""
    adapter = adapter_for(case, emulator)
    job_id = adapter.submit(request_for(case, "lost"))
    with pytest.raises(JobLostError) as caught:
        adapter.poll(job_id)
    lost = caught.value
    assert (lost.kind, lost.retriable, lost.provider) == ("job_lost", True, case.provider)
    assert job_id.rsplit("/", 1)[-1] in str(lost)
    assert str(lost).startswith(f"{case.provider}: job ")
    with pytest.raises(JobLostError):
        adapter.fetch(job_id, dest)
    assert adapter.cancel(job_id) is False
    with pytest.raises(RejectedInputError):  # a 404 on a create keeps its meaning
        adapter.submit(request_for(case, "lost", provider_model="no-such-model-at-all"))
