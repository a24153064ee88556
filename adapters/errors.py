"""The provider error taxonomy. Adapters classify every failure at their edge into one of these;
only the pipeline decides whether to retry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

from foundation.errors import ShotlineError

ANSWERED = "answered"
"""``ProviderError.provider_job`` of a synchronous call that failed after its 200 answer: the
provider has no job id to give, but it generated what it answered (and billed it)."""
SENT = "sent"
"""``ProviderError.provider_job`` of a synchronous call whose request reached the provider but
whose answer never came (a read timeout, a dropped connection): the provider may have generated it
(and billed it), so it is settled as a job abandoned while running."""
NO_JOB_ID = frozenset({ANSWERED, SENT})
"""The marks of a synchronous call: a provider job without an id of its own."""


class ProviderError(ShotlineError):
    """Base of every provider failure. ``kind`` is a stable, serialisable name."""

    kind = "provider_failure"
    status_code = 502
    billing_hint: str | None = None
    """How the provider job ended where the kind does not say it, for the ledger's billing rules:
    ``success`` (the job succeeded; its output could not be used), ``provider_error_5xx`` (the
    provider ended it with its own server error), ``cancelled`` (it was cancelled), ``lost`` (how
    it ended is unknown: given up without a cancel the provider took)."""
    charged_usd: float | None = None
    """What the provider reported charging for the job (Runway ``cost.credits``), when it did."""
    provider_job: str | None = None
    """The provider job the error came after, for a client that raises it past the job's create
    (a stage try's image, voice or music, whose attempt has no job id of its own): the job's id
    once the provider accepted the request, ``ANSWERED`` when a synchronous call failed after its
    200 answer, ``SENT`` when its answer never came; None when the provider made nothing (an error status, a refused create). The ledger
    bills a failure by the provider's rules only when there was a job
    (``ledger.billing.outcome_of_failure``)."""
    was_running: bool = False
    """A status poll had seen ``provider_job`` under way (``cancel_running``, not ``cancel_queued``)."""

    def __init__(self, message: str, provider: str = "", raw: object | None = None) -> None:
        super().__init__(f"{provider}: {message}" if provider else message)
        self.provider = provider
        self.raw = raw

    def after_job(self, job: str, *, was_running: bool = False) -> Self:
        """This error, as one raised after the provider accepted ``job`` (seen running or not)."""
        self.provider_job = job
        self.was_running = self.was_running or was_running
        return self

    def generated(self) -> Self:
        """This error, as one raised after the provider answered with what it generated (a 200
        whose output is unusable): the job succeeded (``billing_hint`` ``success``) unless the
        error is a safety refusal (the provider's moderation flagged it)."""
        self.provider_job = self.provider_job or ANSWERED
        if self.kind != "safety_refusal" and self.billing_hint is None:
            self.billing_hint = "success"
        return self

    def unanswered(self) -> Self:
        """This error, as one raised after a synchronous request went out and before its answer
        came: the provider was generating it, and no cancel exists (``cancelled`` while running)."""
        self.provider_job = self.provider_job or SENT
        self.was_running = True
        self.billing_hint = self.billing_hint or "cancelled"
        return self


class TransientError(ProviderError):
    """5xx, connection reset, DNS: the same request may succeed later."""

    kind = "transient"
    retriable = True


class RateLimitedError(TransientError):
    """429 or quota; ``retry_after`` is the provider's hint in seconds when it gave one."""

    kind = "rate_limited"

    def __init__(
        self,
        message: str,
        provider: str = "",
        retry_after: float | None = None,
        raw: object | None = None,
    ) -> None:
        super().__init__(message, provider, raw)
        self.retry_after = retry_after


class RejectedInputError(ProviderError):
    """The provider refused the request as invalid (4xx): retrying the same input cannot help."""

    kind = "rejected_input"
    status_code = 422


class SafetyRefusalError(ProviderError):
    """The provider's safety system refused the prompt or output; never retried on that model."""

    kind = "safety_refusal"
    status_code = 422


class ProviderFailureError(ProviderError):
    """The job ran and failed on the provider's side (bad output, internal failure)."""

    kind = "provider_failure"
    retriable = True


class ProviderTimeoutError(TransientError):
    """The provider did not answer, or the job did not finish, in time."""

    kind = "timeout"


class JobLostError(ProviderFailureError):
    """A job the provider had accepted is unknown to it now: a status poll or result fetch of its
    id was answered "not found" (``adapters._http.says_job_unknown``). It expired, was deleted,
    or the provider lost it. Not the input's fault: retried like a provider failure (the same
    model, then the chain), counted against the provider's health; how the job ended is unknown,
    so the ledger settles it as possibly billed (``ledger.billing.outcome_of_failure``)."""

    kind = "job_lost"


class AssetError(ProviderFailureError):
    """The result could not be downloaded or is not a usable video (size, type, container)."""

    kind = "asset_error"
    billing_hint = "success"


SHAPE_ERRORS = (AttributeError, KeyError, IndexError, TypeError, ValueError, OverflowError)
"""What reading a decoded answer raises when a value in it has another type than the provider
documents: a list where an object is, text where a number is, an object where a list is."""


@contextmanager
def answer_shape(provider: str, raw: object) -> Iterator[None]:
    """Read ``raw``, a provider's decoded answer, inside this block (and nothing else: an error
    of our own would be blamed on the provider). An answer of an unexpected shape raises
    ``ProviderFailureError`` with the answer kept, as a failed job does, so the pipeline retries
    or falls back instead of ending the shot on an internal error."""
    try:
        yield
    except ProviderError:
        raise
    except SHAPE_ERRORS as exc:
        message = f"an answer of an unexpected shape ({type(exc).__name__}: {exc})"
        raise ProviderFailureError(message, provider, raw) from exc


ERROR_KINDS: dict[str, type[ProviderError]] = {
    cls.kind: cls
    for cls in (
        ProviderError,
        TransientError,
        RateLimitedError,
        RejectedInputError,
        SafetyRefusalError,
        ProviderFailureError,
        ProviderTimeoutError,
        JobLostError,
        AssetError,
    )
}
