"""The emulator's memory: jobs, their clocks, seeded fault and defect draws, renders and stats.

Every provider route goes through one ``Emulator``: ``admit`` for a create call (counts it, applies
rate limits and submit-stage faults), ``create_job``, ``view`` for a status poll (concurrency,
latency, outcome), ``poll_fault``, and ``mint_url`` for downloads.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import threading
import time
import uuid
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from emulators.media import ClipSpec, capped, render_clip
from emulators.scenario import HTTP_FAULTS, Defect, Fault, Latency, Profile, Scenario, Selector

Phase = Literal["queued", "throttled", "running", "succeeded", "failed", "canceled"]
Outcome = Literal["ok", "safety_refusal", "job_failure", "result_error", "lost_job"]


@dataclass
class Job:
    id: str
    draw: str
    """The job's seeded draw (hex): its picture derives from it, so the same scenario renders the
    same clips; ``id`` is the draw mixed with the emulator's own nonce (``Emulator.nonce``)."""
    provider: str
    model: str
    spec: ClipSpec
    attempt: int
    created_at: float
    latency_s: float
    queued_fraction: float
    outcome: Outcome = "ok"
    message: str | None = None
    defects: tuple[Defect, ...] = ()
    expired_urls: int = 0
    expired_served: int = 0
    started_at: float | None = None
    canceled: bool = False
    render: Future[Path] | None = None
    polls: int = 0
    urls_minted: int = 0
    poll_faults: tuple[Fault, ...] = ()
    deadline: float | None = None
    aborted: bool = False
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class View:
    phase: Phase
    progress: float
    error: str | None = None


@dataclass
class Stats:
    """What the emulator saw. ``creates``: accepted creates (jobs) per provider; ``duplicates``:
    creates per provider whose body repeated an earlier create's byte for byte (the same logical
    request sent again: with no idempotency at any provider, each is a second billed job);
    ``tag_repeats``: per provider, creates that carried a tag (Kling's ``external_task_id``) an
    earlier create carried."""

    submissions: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    submitted_at: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    accepted: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    creates: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    duplicates: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tag_repeats: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    faults: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    webhooks: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def as_dict(self) -> dict[str, Any]:
        return {
            "submissions": dict(self.submissions),
            "submitted_at": {k: list(v) for k, v in self.submitted_at.items()},
            "accepted": dict(self.accepted),
            "creates": dict(self.creates),
            "duplicates": dict(self.duplicates),
            "duplicate_requests": sum(self.duplicates.values()),
            "tag_repeats": dict(self.tag_repeats),
            "faults": dict(self.faults),
            "webhooks": dict(self.webhooks),
        }


class Emulator:
    """Shared state of one emulator server (thread-safe; renders run on a small pool)."""

    def __init__(self, scenario: Scenario, media_dir: Path) -> None:
        self.scenario = scenario
        self.media_dir = media_dir
        self.nonce = secrets.randbits(128)
        """A provider never hands out a job id twice: each emulator mixes its own nonce into the
        seeded draws, so a restarted emulator, or another process's, names new jobs anew (a
        second process resuming a job once got ids its first emulator had given other shots)."""
        self.jobs: dict[str, Job] = {}
        self.stats = Stats()
        self._lock = threading.RLock()
        self._attempts: dict[str, int] = defaultdict(int)
        self._rngs: dict[str, random.Random] = {}
        self._window: dict[str, deque[float]] = defaultdict(deque)
        self._tags: set[str] = set()
        self._bodies: set[str] = set()
        self._fired: dict[str, int] = defaultdict(int)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="emulator-render")

    def profile(self, provider: str, model: str) -> Profile:
        return self.scenario.profile(provider, model)

    def _rng(self, model: str) -> random.Random:
        if model not in self._rngs:
            digest = hashlib.sha256(f"{self.scenario.seed}:{model}".encode()).digest()
            self._rngs[model] = random.Random(int.from_bytes(digest[:8], "big"))
        return self._rngs[model]

    def _selected(self, selector: Selector, attempt: int, model: str, prompt: str = "") -> bool:
        if selector.match is not None and selector.match.lower() not in prompt.lower():
            return False
        if selector.calls is not None:
            chosen = attempt in selector.calls
        elif selector.rate > 0:
            chosen = self._rng(model).random() < selector.rate
        else:
            chosen = selector.match is not None
        if chosen and selector.times is not None:
            key = f"{model}:{selector.model_dump_json()}"
            if self._fired[key] >= selector.times:
                return False
            self._fired[key] += 1
        return chosen

    def admit(
        self,
        provider: str,
        model: str,
        body: bytes,
        prompt: str = "",
        *,
        judge: bool = False,
    ) -> tuple[int, Fault | None]:
        """Count one create call; return its attempt number and the fault to answer with, if any.

        Judge calls count as submissions but not as duplicates (re-judging a clip is legitimate).
        """
        with self._lock:
            self._attempts[model] += 1
            attempt = self._attempts[model]
            self.stats.submissions[model] += 1
            self.stats.submitted_at[model].append(time.monotonic())
            if not judge:
                self._track_duplicates(provider, model, body)
            profile = self.profile(provider, model)
            fault = self._throttle(model, profile) or next(
                (
                    f
                    for f in profile.faults
                    if f.kind in HTTP_FAULTS
                    and f.stage == "submit"
                    and self._selected(f, attempt, model, prompt)
                ),
                None,
            )
            if fault is not None:
                self.stats.faults[f"{model}:{fault.kind}"] += 1
            return attempt, fault

    def job_fault(self, provider: str, model: str, attempt: int, prompt: str = "") -> str | None:
        """The outcome fault (``safety_refusal``, ``job_failure``…) chosen for a call, if any."""
        with self._lock:
            for fault in self.profile(provider, model).faults:
                if fault.kind not in HTTP_FAULTS and self._selected(fault, attempt, model, prompt):
                    return fault.kind
            return None

    def _track_duplicates(self, provider: str, model: str, body: bytes) -> None:
        digest = hashlib.sha256(provider.encode() + model.encode() + body).hexdigest()
        if digest in self._bodies:
            self.stats.duplicates[provider] += 1
        self._bodies.add(digest)

    def _throttle(self, model: str, profile: Profile) -> Fault | None:
        limit = profile.rate_limit
        if limit is None:
            return None
        now = time.monotonic()
        window = self._window[model]
        while window and now - window[0] > limit.per_s:
            window.popleft()
        if len(window) >= limit.requests:
            wait = limit.retry_after_s
            if wait is None:
                wait = max(0.0, limit.per_s - (now - window[0]))
            return Fault(kind="rate_limit", retry_after_s=round(wait, 3), message="rate limited")
        window.append(now)
        return None

    def tagged(self, provider: str, tag: str | None) -> None:
        """Count a create's client tag; a tag seen before is a repeated logical request."""
        if tag:
            with self._lock:
                key = f"{provider}:{tag}"
                if key in self._tags:
                    self.stats.tag_repeats[provider] += 1
                self._tags.add(key)

    def create_job(self, provider: str, spec: ClipSpec, attempt: int, prefix: str = "") -> Job:
        """Register an accepted job: draw its latency, outcome and defects from the scenario."""
        with self._lock:
            profile = self.profile(provider, spec.model)
            draw = self._rng(spec.model).getrandbits(128)
            job = Job(
                id=f"{prefix}{uuid.UUID(int=draw ^ self.nonce).hex}",
                draw=uuid.UUID(int=draw).hex,
                provider=provider,
                model=spec.model,
                spec=capped(spec, self.scenario.media.max_side),
                attempt=attempt,
                created_at=time.monotonic(),
                latency_s=_draw(profile.latency, self._rng(spec.model)),
                queued_fraction=profile.latency.queued_fraction,
            )
            self._decide(job, profile)
            if job.outcome != "lost_job":  # a lost job is answered, then never known again
                self.jobs[job.id] = job
            self.stats.accepted[spec.model] += 1
            self.stats.creates[provider] += 1
            self._start_ready(provider, spec.model)
            return job

    def _decide(self, job: Job, profile: Profile) -> None:
        for fault in profile.faults:
            if fault.kind in HTTP_FAULTS and fault.stage == "submit":
                continue  # already decided in ``admit``
            if not self._selected(fault, job.attempt, job.model, job.spec.prompt):
                continue
            if fault.kind in ("safety_refusal", "job_failure", "result_error", "lost_job"):
                job.outcome = fault.kind
                job.message = fault.message
            elif fault.kind == "expired_url":
                job.expired_urls += 1
            elif fault.stage == "poll":
                job.poll_faults = (*job.poll_faults, fault)
        if job.outcome == "ok":
            job.defects = tuple(
                d
                for d in profile.defects
                if self._selected(d, job.attempt, job.model, job.spec.prompt)
            )

    def _start_ready(self, provider: str, model: str) -> None:
        limit = self.profile(provider, model).concurrency
        waiting = [j for j in self.jobs.values() if j.model == model and j.started_at is None]
        active = [
            j
            for j in self.jobs.values()
            if j.model == model and j.started_at is not None and not self._finished(j)
        ]
        for job in waiting:
            if job.canceled:
                continue
            if limit is not None and len(active) >= limit:
                break
            job.started_at = time.monotonic()
            active.append(job)
            if job.outcome in ("ok", "result_error"):
                out = self.media_dir / f"{job.draw}.mp4"
                job.render = self._pool.submit(render_clip, job.spec, out, job.defects)

    def _finished(self, job: Job) -> bool:
        if job.canceled:
            return True
        if job.started_at is None:
            return False
        done = time.monotonic() >= job.started_at + job.latency_s
        return done and (job.render is None or job.render.done())

    def view(self, job: Job) -> View:
        """Where ``job`` is now."""
        with self._lock:
            self._start_ready(job.provider, job.model)
            self._enforce_deadline(job)
            if job.canceled:
                return View("canceled", 0.0)
            if job.started_at is None:
                return View("throttled", 0.0)
            elapsed = time.monotonic() - job.started_at
            progress = min(0.99, elapsed / job.latency_s) if job.latency_s else 0.99
            if not self._finished(job):
                queued = elapsed < job.latency_s * job.queued_fraction
                return View("queued" if queued else "running", progress)
            return self._terminal(job)

    def _enforce_deadline(self, job: Job) -> None:
        """Replicate ``Cancel-After``: ``aborted`` before it started, ``canceled`` while running."""
        if job.deadline is None or job.canceled or time.monotonic() < job.deadline:
            return
        if not self._finished(job):
            job.aborted = job.started_at is None
            job.canceled = True

    def _terminal(self, job: Job) -> View:
        if job.outcome == "safety_refusal":
            return View(
                "failed", 1.0, job.message or "The prompt was flagged by content moderation."
            )
        if job.outcome == "job_failure":
            return View("failed", 1.0, job.message or "Internal error while generating.")
        assert job.render is not None
        error = job.render.exception()
        if error is not None:
            return View("failed", 1.0, f"render failed: {error}")
        return View("succeeded", 1.0)

    def poll_fault(self, job: Job) -> Fault | None:
        """Count one status poll; return its fault (poll faults hit the job's first poll only)."""
        job.polls += 1
        if job.polls == 1 and job.poll_faults:
            fault = job.poll_faults[0]
            self.stats.faults[f"{job.model}:poll:{fault.kind}"] += 1
            return fault
        return None

    def cancel(self, job: Job) -> bool:
        with self._lock:
            if self._finished(job):
                return False
            job.canceled = True
            return True

    def mint_url(self, job: Job) -> str:
        """A ``/_files/...`` path to the job's clip, valid for the profile's ``url_ttl_s``."""
        with self._lock:
            job.urls_minted += 1
            expires = int(time.time() + self.profile(job.provider, job.model).url_ttl_s)
            return f"/_files/{job.id}/{job.urls_minted}.mp4?exp={expires}"

    def expire_download(self, job: Job) -> bool:
        """True when this download must fail as expired (one per ``expired_url`` fault)."""
        with self._lock:
            if job.expired_served < job.expired_urls:
                job.expired_served += 1
                return True
            return False

    def clip_path(self, job: Job) -> Path:
        assert job.render is not None
        return job.render.result()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _draw(latency: Latency, rng: random.Random) -> float:
    if latency.dist == "uniform":
        return rng.uniform(latency.low, max(latency.low, latency.high))
    if latency.dist == "lognormal" and latency.seconds > 0:
        import math

        return rng.lognormvariate(math.log(latency.seconds), latency.sigma)
    return latency.seconds
