"""The common shape of every hosted-provider adapter: submit, status, cancel, and a shared fetch.

A concrete adapter implements ``submit``, ``_status`` (one provider poll turned into a
``JobStatus``) and ``cancel``; ``poll`` and ``fetch`` are built on ``_status`` so both work from the
job id alone, and ``fetch`` re-polls for a fresh URL (bounded) when an output URL is refused.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import httpx
from pydantic import SecretStr

from adapters._http import HttpClient, about_job, classify_status
from adapters.base import Asset, GenerationRequest, JobState, PollResult
from adapters.download import DownloadLimits, Fetched, UrlExpiredError, download_asset
from adapters.errors import (
    JobLostError,
    ProviderError,
    ProviderFailureError,
    RejectedInputError,
    TransientError,
    answer_shape,
)

Classifier = Callable[[str, httpx.Response], ProviderError]
TERMINAL = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED)


@dataclass(frozen=True)
class JobStatus:
    """One poll, normalised: the state plus, once succeeded, where the output is."""

    result: PollResult
    output_url: str | None = None
    download_headers: Mapping[str, str] | None = None
    cost_usd: float | None = None


def running(raw: object, progress: float | None = None, queued: bool = False) -> JobStatus:
    state = JobState.QUEUED if queued else JobState.RUNNING
    return JobStatus(PollResult(state, progress=progress, raw=raw))


def failed(error: ProviderError) -> JobStatus:
    return JobStatus(PollResult(JobState.FAILED, error=error, raw=error.raw))


def canceled(raw: object, provider: str = "", charged_usd: float | None = None) -> JobStatus:
    """A job the provider reports cancelled; its error tells the ledger so (and any charge)."""
    error = ProviderFailureError("job was canceled", provider, raw)
    error.billing_hint, error.charged_usd = "cancelled", charged_usd
    return JobStatus(PollResult(JobState.CANCELED, error=error, raw=raw))


def succeeded(raw: object, url: str, cost_usd: float | None = None) -> JobStatus:
    return JobStatus(PollResult(JobState.SUCCEEDED, progress=1.0, raw=raw), url, cost_usd=cost_usd)


class HostedAdapter(ABC):
    """Base class of the HTTP adapters; holds the classified client and the shared ``fetch``."""

    provider: str
    default_base_url: ClassVar[str]
    # the line goes in the prompt (``GenerationRequest.spoken_prompt``): a model that renders
    # sound voices it, so the gate listens for it (``SpeaksDialogue``)
    speaks_dialogue: ClassVar[bool] = True

    def __init__(
        self,
        *,
        api_key: SecretStr | str | None,
        base_url: str | None = None,
        asset_dir: Path | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        limits: DownloadLimits | None = None,
    ) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if not key:
            raise RejectedInputError("no API key configured", self.provider)
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.asset_dir = asset_dir
        self.limits = limits or DownloadLimits()
        self._http = HttpClient(
            self.provider,
            self.base_url,
            self.auth_headers(key),
            timeout=timeout,
            transport=transport,
        )
        self._http.classifier = self.classify
        auth = self.auth(key)
        if auth is not None:
            self._http.client.auth = auth

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def auth(self, key: str) -> httpx.Auth | None:
        """Per-request authentication, for providers whose tokens are minted from the key."""
        return None

    def classify(self, provider: str, response: httpx.Response) -> ProviderError:
        return classify_status(provider, response)

    @abstractmethod
    def submit(self, request: GenerationRequest) -> str: ...

    def cancel(self, job_id: str) -> bool:
        """Cancel a job that is still queued or running; ``False`` when it already ended (a finished
        job is never deleted, its paid output stays fetchable), the provider no longer knows it,
        or the provider cannot cancel."""
        try:
            if self._job_status(job_id).result.state in TERMINAL:
                return False
        except JobLostError:
            return False
        return self._cancel(job_id)

    @abstractmethod
    def _cancel(self, job_id: str) -> bool: ...

    @abstractmethod
    def _status(self, job_id: str) -> JobStatus: ...

    def _job_status(self, job_id: str) -> JobStatus:
        """``_status`` of a job this adapter created: an answer that the provider no longer knows
        it (its status or its result) raises ``JobLostError`` (``adapters._http.about_job``); an
        answer ``_status`` cannot read, a ``ProviderFailureError`` (``answer_shape``)."""
        with about_job(job_id), answer_shape(self.provider, None):
            return self._status(job_id)

    def poll(self, job_id: str) -> PollResult:
        return self._job_status(job_id).result

    def fetch(self, job_id: str, dest_dir: Path) -> Asset:
        """Download a succeeded job's output. A refused output URL (an expired or refused presigned
        URL) is never bad input: the job is polled again for a fresh URL, at most
        ``limits.url_refreshes`` times, and then ``UrlExpiredError`` (transient) is raised."""
        refreshes = max(0, self.limits.url_refreshes)
        for attempt in range(refreshes + 1):
            fetched = self._output(job_id)
            try:
                return download_asset(self._http, fetched, dest_dir, self.limits)
            except UrlExpiredError:
                if attempt == refreshes:
                    raise
        raise AssertionError("unreachable")

    def _output(self, job_id: str) -> Fetched:
        """Poll once; where a succeeded job's output is, or the job's failure raised."""
        status = self._job_status(job_id)
        result = status.result
        if result.state is JobState.FAILED:
            raise result.error or ProviderFailureError("job failed", self.provider)
        if result.state is JobState.CANCELED:
            raise result.error or ProviderFailureError(
                "job was canceled", self.provider, result.raw
            )
        if result.state is not JobState.SUCCEEDED:
            raise TransientError(f"job is still {result.state.value}", self.provider)
        if not status.output_url:
            raise ProviderFailureError("job succeeded without an output", self.provider, result.raw)
        return Fetched(
            job_id, status.output_url, status.download_headers, status.cost_usd, result.raw
        )

    def allow_api_origins(self, *urls: str) -> None:
        """Let the credential go to these origins as well as the base URL's (``api_origins`` of
        the registry); requests and redirect hops to any other origin carry no credential."""
        self._http.allow_origins(urls)

    def close(self) -> None:
        self._http.close()
