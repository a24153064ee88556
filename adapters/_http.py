"""Shared HTTP plumbing for the hosted-provider adapters: one client, one error classifier.

Every vendor failure is turned into an ``adapters.errors`` class here, at the edge; adapters never
retry. Retry hints are read from ``retry-after-ms``, ``Retry-After`` (seconds or HTTP date),
Gemini's ``google.rpc.RetryInfo`` and, last, a "resets in ~30s" phrase in the body (Replicate).

Credentials stay at home: the client's credential headers go only to the provider's API origins.
httpx (0.29.0, ``_client.py`` ``_redirect_headers``) drops only ``Authorization`` on a cross-origin
redirect, and keeps it on a same-host http->https one; custom key headers (``x-goog-api-key``) and
any header on a first request to another origin (an output URL on a CDN) would go along. So a
request hook, which httpx runs before every hop, redirects included, removes them there.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpx

from adapters.errors import (
    JobLostError,
    ProviderError,
    ProviderFailureError,
    ProviderTimeoutError,
    RateLimitedError,
    RejectedInputError,
    SafetyRefusalError,
    TransientError,
)
from foundation.tls import tls_context

SAFETY_WORDS = (
    "safety",
    "moderat",
    "content policy",
    "content_policy",
    "responsible ai",
    "nsfw",
    "could not generate",
)
_RESETS_IN = re.compile(r"resets in ~?\s*(\d+(?:\.\d+)?)\s*s", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


MAX_RETRY_AFTER_S = 86_400.0
"""The longest retry hint honoured (shotline's bound): a longer one waits a day, and one that is
not a finite number (``inf``, ``1e400``) or not a date is no hint."""


def parse_retry_after(headers: Mapping[str, str], body: Any = None) -> float | None:
    """The provider's retry hint in seconds (at most ``MAX_RETRY_AFTER_S``), or ``None`` when it
    gave none it can mean."""
    hint = _raw_retry_after(headers, body)
    if hint is None or not math.isfinite(hint):
        return None
    return min(MAX_RETRY_AFTER_S, max(0.0, hint))


def _raw_retry_after(headers: Mapping[str, str], body: Any) -> float | None:
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return float(raw_ms) / 1000.0
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw:
        try:
            return float(raw)
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(raw) if "," in raw else None
            except (TypeError, ValueError):  # a garbled date is no hint
                parsed = None
            if parsed is not None:
                return parsed.timestamp() - time.time()
    return _retry_from_body(body)


def _retry_from_body(body: Any) -> float | None:
    if isinstance(body, dict):
        error = body.get("error")
        details = error.get("details") if isinstance(error, dict) else None
        for item in details if isinstance(details, list) else []:
            if isinstance(item, dict) and str(item.get("@type", "")).endswith(
                "google.rpc.RetryInfo"
            ):
                match = _DURATION.match(str(item.get("retryDelay", "")))
                if match:
                    return float(match.group(1))
    match = _RESETS_IN.search(json.dumps(body) if body is not None else "")
    return float(match.group(1)) if match else None


def body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:2000]


def error_message(body: Any) -> str:
    """The human part of any vendor error body (OpenAI, Google, fal, Replicate, Kling, Runway)."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("detail", "message", "error", "failure", "title"):
            if body.get(key):
                value = body[key]
                text = value if isinstance(value, str) else json.dumps(value)[:500]
                return text + _issues(body.get("issues"))
    return str(body)[:500]


def _issues(issues: Any) -> str:
    """Runway's 400 ``issues`` (zod's: ``path``, ``message``), after its bare "Validation of body
    failed": ``: promptText: must be ...; ratio: ...``."""
    if not isinstance(issues, list):
        return ""
    said = []
    for issue in issues[:5]:
        if isinstance(issue, dict) and isinstance(issue.get("message"), str):
            path = issue.get("path")
            where = ".".join(map(str, path)) if isinstance(path, list) and path else ""
            said.append(f"{where}: {issue['message']}" if where else issue["message"])
    return f": {'; '.join(said)}"[:500] if said else ""


def looks_like_safety(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in SAFETY_WORDS)


def classify_status(provider: str, response: httpx.Response) -> ProviderError:
    """Map a non-2xx response to the taxonomy."""
    body = body_of(response)
    status = response.status_code
    message = f"HTTP {status}: {error_message(body)}"
    if status == 429:
        return RateLimitedError(message, provider, parse_retry_after(response.headers, body), body)
    if status in (408, 504):
        return ProviderTimeoutError(message, provider, body)
    if status >= 500:
        return TransientError(message, provider, body)
    if looks_like_safety(message):
        return SafetyRefusalError(message, provider, body)
    if 400 <= status < 500:
        return RejectedInputError(message, provider, body)
    return ProviderFailureError(message, provider, body)


GONE_STATUSES = (404, 410)
_ABOUT_JOB: ContextVar[str | None] = ContextVar("shotline_about_job", default=None)


@contextmanager
def about_job(job_id: str) -> Iterator[None]:
    """Around the requests about a job the provider accepted (its status, its result): an answer
    that the provider does not know the job (``says_job_unknown``) raises ``JobLostError``
    naming it, never ``rejected_input``. Outside the block (a create, a cancel, a download) a
    404 keeps its meaning. Per thread and per task (a context variable)."""
    token = _ABOUT_JOB.set(job_id)
    try:
        yield
    finally:
        _ABOUT_JOB.reset(token)


def says_job_unknown(response: httpx.Response) -> bool:
    """Whether an error answer to a request about one job says the provider does not know it:
    HTTP 404 or 410 (Runway: "a 404 when the referenced resource is not available",
    docs.dev.runwayml.com/api-details/errors, read 2026-12; fal, Replicate, Luma, OpenAI and
    Vertex answer an unknown id 404 as well, see the README's table), Google's
    ``google.rpc.Code`` ``NOT_FOUND`` (5) in an error body, or Kling's legacy task query's
    400/1201 "Task not found by id/external id" (emulators/routes/_kling_legacy.py, [SPEC] LIVE
    2026-09-20)."""
    if response.status_code in GONE_STATUSES:
        return True
    body = body_of(response)
    if not isinstance(body, dict):
        return False
    error = body.get("error")
    if isinstance(error, dict) and (error.get("status") == "NOT_FOUND" or error.get("code") == 5):
        return True
    return body.get("code") == 1201 and "not found" in str(body.get("message", "")).lower()


def job_lost(provider: str, job_id: str, answer: str, raw: object = None) -> JobLostError:
    """The error of a job ``provider`` no longer knows; ``answer`` is what it said."""
    return JobLostError(
        f"job {job_id} is gone, the provider no longer knows it ({answer})", provider, raw
    )


MAX_ANSWER_BYTES = 1 << 30  # as much as a download may hold (``download.DownloadLimits``)


class AnswerTooLargeError(httpx.ReadError):
    """A provider's answer ran past ``MAX_ANSWER_BYTES``; it was read no further. ``status_code``
    is the answer's status."""

    def __init__(self, message: str, *, request: httpx.Request, status_code: int) -> None:
        super().__init__(message, request=request)
        self.status_code = status_code


class _Capped(httpx.SyncByteStream):
    def __init__(self, stream: httpx.SyncByteStream, limit: int, response: httpx.Response) -> None:
        self._stream, self._limit, self._response = stream, limit, response

    def __iter__(self) -> Iterator[bytes]:
        read = 0
        for chunk in self._stream:
            read += len(chunk)
            if read > self._limit:
                raise _too_large(self._response, f"over {self._limit} bytes")
            yield chunk

    def close(self) -> None:
        self._stream.close()


def _too_large(response: httpx.Response, size: str) -> AnswerTooLargeError:
    request = response.request
    message = f"the answer to {request.method} {request.url.path} runs {size}, read no further"
    return AnswerTooLargeError(message, request=request, status_code=response.status_code)


def cap_answers(limit: int = MAX_ANSWER_BYTES) -> Callable[[httpx.Response], None]:
    """A response hook for a provider's ``httpx.Client`` (and what ``HttpClient.call`` does to
    each answer before reading it): the body is read no further than ``limit`` bytes (httpx reads a
    whole answer into memory; a provider's inline image or video is tens of MB). Raises
    ``AnswerTooLargeError`` (a transport error) past it. Downloads stream under their own limit
    (``download.DownloadLimits``)."""

    def hook(response: httpx.Response) -> None:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            response.close()
            raise _too_large(response, f"{declared} bytes, over {limit}")
        if isinstance(response.stream, httpx.SyncByteStream):
            response.stream = _Capped(response.stream, limit, response)

    return hook


_CAP_ANSWER = cap_answers()


@contextmanager
def edge(provider: str) -> Iterator[None]:
    """Turn transport failures (and a URL that cannot be sent) inside the block into the
    taxonomy."""
    try:
        yield
    except AnswerTooLargeError as exc:
        raise ProviderFailureError(str(exc), provider) from exc
    except httpx.InvalidURL as exc:  # a job id or link from the provider that no URL can hold
        raise ProviderFailureError(f"unusable URL: {exc}", provider) from exc
    except httpx.TimeoutException as exc:
        raise ProviderTimeoutError(f"timed out: {exc}", provider) from exc
    except httpx.TransportError as exc:
        raise TransientError(f"connection failed: {exc}", provider) from exc


_AFTER_SEND = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)


@contextmanager
def synchronous_generation() -> Iterator[None]:
    """Around a synchronous generation request (the answer is the output, no job to poll or
    cancel): a transport failure after the request went out (a read timeout, a dropped or garbled
    answer) leaves the provider generating, and billing, what it was asked, so the error is
    marked ``ProviderError.unanswered``; a successful answer refused unread for its size
    (``AnswerTooLargeError``) was generated (``ProviderError.generated``), an error answer not."""
    try:
        yield
    except ProviderError as exc:
        cause = exc.__cause__
        if isinstance(cause, AnswerTooLargeError):
            if cause.status_code < 400:
                exc.generated()
        elif isinstance(cause, _AFTER_SEND):
            exc.unanswered()
        raise


def origin_of(url: str | httpx.URL) -> str:
    """``scheme://host[:port]`` of ``url``, normalised as httpx does (lower case, default port
    dropped), so two spellings of one origin compare equal."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"


ALWAYS_CREDENTIALS = ("authorization", "proxy-authorization")
"""Stripped off-origin even when the adapter did not set them (an ``httpx.Auth`` flow sets one)."""


class HttpClient:
    """A thin wrapper over ``httpx.Client`` that classifies every failure for one provider.

    ``headers`` are the provider's credential headers: they are sent only to ``api_origins`` (the
    origin of ``base_url`` always among them); every other request and redirect hop goes without.
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        api_origins: Iterable[str] = (),
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.api_origins: frozenset[str] = frozenset()
        self.allow_origins([self.base_url, *api_origins])
        self._credential_names = tuple({*(n.lower() for n in headers), *ALWAYS_CREDENTIALS})
        self.client = httpx.Client(
            headers=dict(headers),
            timeout=timeout,
            transport=transport,
            follow_redirects=True,
            verify=tls_context(),
            event_hooks={"request": [self._keep_credentials_home]},
        )
        self.classifier: Callable[[str, httpx.Response], ProviderError] = classify_status

    def allow_origins(self, urls: Iterable[str]) -> None:
        """Let the credential go to these origins too (the registry's ``api_origins``)."""
        self.api_origins = self.api_origins | {origin_of(url) for url in urls}

    def _keep_credentials_home(self, request: httpx.Request) -> None:
        if origin_of(request.url) in self.api_origins:
            return
        for name in self._credential_names:
            if name in request.headers:
                del request.headers[name]

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def answer(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request and read its answer, whatever its status, no further than
        ``MAX_ANSWER_BYTES``; transport failures (and a larger answer) raise the taxonomy's."""
        with edge(self.provider):
            request = self.client.build_request(method, self.url(path), **kwargs)
            response = self.client.send(request, stream=True)
            try:
                _CAP_ANSWER(response)
                response.read()
            finally:
                response.close()
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; raise the classified error for any non-2xx answer."""
        response = self.answer(method, path, **kwargs)
        if response.status_code >= 400:
            error = self.classifier(self.provider, response)
            job = _ABOUT_JOB.get()
            if job is not None and says_job_unknown(response):
                body = body_of(response)
                answer = f"HTTP {response.status_code}: {error_message(body)}"
                raise job_lost(self.provider, job, answer, body) from error
            raise error
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """``call`` and decode a JSON object; malformed or truncated JSON is transient."""
        response = self.call(method, path, **kwargs)
        return decode_object(self.provider, response)

    def close(self) -> None:
        self.client.close()


def decode_object(provider: str, response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TransientError(
            f"malformed JSON from {response.request.url.path}", provider, response.text[:500]
        ) from exc
    if not isinstance(data, dict):
        raise TransientError("expected a JSON object", provider, data)
    return data
