"""Rate limits: token buckets behind one interface, ``Limiter``.

``RateLimiter`` keeps its buckets in this process's memory (the embedded engine's default);
``RedisRateLimiter`` keeps them in Redis, so every API process sharing that Redis spends from the
same buckets (used when the distributed engine runs, or when ``SHOTLINE_API_RATE_LIMIT_URL`` is
set). ``build_limiter`` picks the backend from the settings.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis

from api.config import ApiSettings
from foundation.settings import Settings

log = logging.getLogger(__name__)

MAX_BUCKETS = 10_000
"""In-memory buckets kept before full ones (indistinguishable from new ones) are dropped."""


class Limiter(Protocol):
    def take(self, key: str, cost: int = 1) -> float:
        """Spend ``cost`` tokens of ``key``'s bucket (0 only looks); returns 0 when allowed, else
        the seconds until one token is available (nothing is spent then)."""
        ...


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """``rate_per_minute`` requests per minute on average, bursts of up to ``burst``."""

    def __init__(
        self,
        rate_per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = max(1, burst)
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, cost: int = 1) -> float:
        now = self.clock()
        with self._lock:
            if len(self._buckets) >= MAX_BUCKETS and key not in self._buckets:
                self._prune(now)
            bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), now))
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= cost
                return 0.0
            if self.rate <= 0:
                return math.inf
            return (1.0 - bucket.tokens) / self.rate

    def _prune(self, now: float) -> None:
        for name, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.stamp) * self.rate >= self.burst:
                del self._buckets[name]


# KEYS[1]: the bucket; ARGV: tokens per second, burst, cost, expiry (ms). The clock is Redis's
# own, so servers with skewed clocks still share one bucket. Returns the wait as a string
# (Redis turns Lua numbers into integers); "inf" when the bucket never refills.
_TOKEN_BUCKET = """
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(saved[1]) or burst
local stamp = tonumber(saved[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = '0'
if tokens >= 1 then
  tokens = tokens - cost
elseif rate > 0 then
  wait = tostring((1 - tokens) / rate)
else
  wait = 'inf'
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return wait
"""


class RedisRateLimiter:
    """The same token bucket, kept in Redis under ``prefix`` and updated atomically by a script.

    When Redis cannot be reached the request is allowed (and a warning logged): a broker outage
    should not turn into an API outage on its own.
    """

    def __init__(
        self,
        client: redis.Redis,
        rate_per_minute: float,
        burst: int,
        prefix: str,
    ) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = max(1, burst)
        self.prefix = prefix
        self.client = client
        self._script = client.register_script(_TOKEN_BUCKET)
        refill_s = self.burst / self.rate if self.rate > 0 else 86_400.0
        self._expiry_ms = math.ceil(refill_s * 1000) + 1000

    def take(self, key: str, cost: int = 1) -> float:
        args = [self.rate, self.burst, cost, self._expiry_ms]
        try:
            answer = self._script(keys=[self.prefix + key], args=args)
        except redis.RedisError as exc:
            log.warning("rate limit store unreachable, request allowed: %s", exc)
            return 0.0
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        return math.inf if text == "inf" else float(text)


def build_limiter(
    api: ApiSettings, core: Settings, name: str, rate_per_minute: float, burst: int
) -> Limiter:
    """The shared Redis limiter when ``api.rate_limit_url`` is set or the distributed engine runs
    (then at the broker), else one in this process. ``name`` separates buckets of different
    limits."""
    url = api.rate_limit_url or (core.broker_url if core.engine == "celery" else None)
    if url is None:
        return RateLimiter(rate_per_minute, burst)
    client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    prefix = f"{core.queue_prefix}{api.rate_limit_prefix}{name}:"
    return RedisRateLimiter(client, rate_per_minute, burst, prefix)
