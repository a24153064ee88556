"""The shared backend of provider limits and breakers: Redis, which the distributed deployment
already runs as its broker. Every worker and the API read and write the same keys, on Redis's
clock, so skewed machine clocks still agree.

Slots and the RPM window are sorted sets changed by Lua scripts (atomic on the server); breakers
are hashes changed by ``router.HealthBook``'s own state machine inside a WATCH/MULTI transaction,
so the state machine is written once. When Redis cannot be reached the request is let through
(and a warning logged): a broker outage should not stop rendering on its own; the provider's own
429s and the pipeline's retries still apply.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import redis

from foundation.settings import Settings
from pipeline.limits import WAITING_S, WINDOW_S, LocalLimits, ProviderLimits
from registry import Registry
from router import BreakerConfig, HealthBook

T = TypeVar("T")
log = logging.getLogger(__name__)
TIMEOUT_S = 2.0

# KEYS: the model's slots (holder -> lease end), its waiting holders (holder -> when it stops
# waiting) and their groups (holder -> group). ARGV: holder, limit, lease (s), group, waiting (s).
# Whose turn it is mirrors ``pipeline.limits.fair_turn``.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local holder, limit, group = ARGV[1], tonumber(ARGV[2]), ARGV[4]
local lease, waiting = tonumber(ARGV[3]), tonumber(ARGV[5])
for _, key in ipairs({KEYS[1], KEYS[2]}) do
  for _, gone in ipairs(redis.call('ZRANGEBYSCORE', key, '-inf', now)) do
    redis.call('ZREM', key, gone)
    if not redis.call('ZSCORE', KEYS[1], gone) and not redis.call('ZSCORE', KEYS[2], gone) then
      redis.call('HDEL', KEYS[3], gone)
    end
  end
end
local ttl = math.ceil(math.max(lease, waiting) * 1000) + 1000
local function keep()  -- only ever lengthened: a caller with a shorter lease drops no one's slot
  for _, key in ipairs(KEYS) do
    if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
  end
end
if redis.call('ZSCORE', KEYS[1], holder) then
  redis.call('ZADD', KEYS[1], now + lease, holder)
  keep()
  return 1
end
local held, total, groups, waiters = {}, 0, {[group] = true}, {}
for _, h in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local g = redis.call('HGET', KEYS[3], h) or ''
  held[g], total, groups[g] = (held[g] or 0) + 1, total + 1, true
end
for _, h in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local g = redis.call('HGET', KEYS[3], h) or ''
  waiters[g], groups[g] = true, true
end
local n = 0
for _ in pairs(groups) do n = n + 1 end
local floor = math.min(math.ceil(limit / n), held[group] or 0)
local turn = total < limit
for g in pairs(waiters) do
  if g ~= group and (held[g] or 0) < floor then turn = false end
end
redis.call('HSET', KEYS[3], holder, group)
if not turn then
  redis.call('ZADD', KEYS[2], now + waiting, holder)
  keep()
  return 0
end
redis.call('ZREM', KEYS[2], holder)
redis.call('ZADD', KEYS[1], now + lease, holder)
keep()
return 1
"""

# KEYS: as _ACQUIRE's. ARGV: holder. Frees its slot and forgets that it waited for one.
_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"""

# KEYS[1]: the model's submissions (holder -> when sent). ARGV: rpm, window (s), holder.
# Returns the wait as a string (Redis turns Lua numbers into integers).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  return '0'
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(math.max(0.001, tonumber(oldest[2]) + window - now))
"""

# KEYS[1]: the model's submissions. ARGV: holder. Restamps an entry to now (XX: only if present).
_SENT = """
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) + tonumber(t[2]) / 1000000, ARGV[1])
return 1
"""


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)


class RedisLimits:
    """``ProviderLimits`` in Redis under ``prefix``."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._take = client.register_script(_TAKE)
        self._sent = client.register_script(_SENT)

    @classmethod
    def from_url(cls, url: str, prefix: str) -> RedisLimits:
        return cls(_client(url), prefix)

    def _slots(self, model_id: str) -> list[str]:
        return [f"{self.prefix}{part}:{model_id}" for part in ("slots", "waiting", "groups")]

    def _window(self, model_id: str) -> str:
        return f"{self.prefix}rpm:{model_id}"

    def try_acquire(
        self,
        model_id: str,
        holder: str,
        limit: int,
        lease_s: float,
        group: str = "",
        waiting_s: float = WAITING_S,
    ) -> bool:
        args: list[str | int | float] = [holder, max(1, limit), lease_s, group, waiting_s]
        try:
            return bool(self._acquire(keys=self._slots(model_id), args=args))
        except redis.RedisError as exc:
            log.warning("limits store unreachable, slot of %s allowed: %s", model_id, exc)
            return True

    def release(self, model_id: str, holder: str) -> None:
        try:
            self._release(keys=self._slots(model_id), args=[holder])
        except redis.RedisError as exc:
            log.warning("limits store unreachable, slot of %s expires instead: %s", model_id, exc)

    def try_take(
        self, model_id: str, rpm: int, holder: str = "", window_s: float = WINDOW_S
    ) -> float:
        member = holder or _anonymous()
        try:
            answer = self._take(keys=[self._window(model_id)], args=[max(1, rpm), window_s, member])
        except redis.RedisError as exc:
            log.warning("limits store unreachable, request to %s allowed: %s", model_id, exc)
            return 0.0
        return float(answer.decode() if isinstance(answer, bytes) else answer)

    def sent(self, model_id: str, holder: str) -> None:
        if not holder:
            return
        try:
            self._sent(keys=[self._window(model_id)], args=[holder])
        except redis.RedisError as exc:
            log.warning("limits store unreachable: %s", exc)


def _anonymous() -> str:
    return uuid.uuid4().hex


class RedisBreakerStore:
    """Breaker records as Redis hashes under ``prefix``, with an index set of the keys in use."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.index = f"{prefix}breakers"

    @classmethod
    def from_url(cls, url: str, prefix: str) -> RedisBreakerStore:
        return cls(_client(url), prefix)

    def _name(self, key: str) -> str:
        return f"{self.prefix}breaker:{key}"

    def read(self, keys: Sequence[str]) -> tuple[list[dict[str, str]], float]:
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.time()
                for key in keys:
                    pipe.hgetall(self._name(key))
                now, *records = pipe.execute()
        except redis.RedisError as exc:
            log.warning("breaker store unreachable, breakers read as closed: %s", exc)
            return [{} for _ in keys], 0.0
        return [_decode(r) for r in records], _seconds(now)

    def read_all(self) -> tuple[dict[str, dict[str, str]], float]:
        try:
            keys = sorted(k.decode() for k in self.client.smembers(self.index))  # type: ignore[union-attr]
            records, now = self.read(keys)
        except redis.RedisError as exc:
            log.warning("breaker store unreachable, breakers read as closed: %s", exc)
            return {}, 0.0
        return {k: r for k, r in zip(keys, records, strict=True) if r}, now

    def update(self, keys: Sequence[str], change: Callable[[list[dict[str, str]], float], T]) -> T:
        names = [self._name(k) for k in keys]

        def transaction(pipe: Any) -> T:
            now = _seconds(pipe.time())
            records = [_decode(pipe.hgetall(name)) for name in names]
            result = change(records, now)
            pipe.multi()
            for name, record in zip(names, records, strict=True):
                if record:
                    pipe.hset(name, mapping=record)
            pipe.sadd(self.index, *keys)
            return result

        try:
            answer = cast(Any, self.client).transaction(
                transaction, *names, value_from_callable=True
            )
        except redis.RedisError as exc:
            log.warning("breaker store unreachable, outcome not recorded: %s", exc)
            return change([{} for _ in keys], 0.0)
        return cast(T, answer)


def _decode(raw: Any) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in dict(raw).items()}


def _seconds(now: Any) -> float:
    seconds, micros = now
    return float(seconds) + float(micros) / 1_000_000


def shared_url(settings: Settings) -> str | None:
    """The Redis that holds limits and breakers: ``SHOTLINE_LIMITS_URL``, else the broker when the
    distributed engine runs; None for the embedded engine (this process's memory)."""
    if settings.limits_url:
        return settings.limits_url
    return settings.broker_url if settings.engine == "celery" else None


def build_limits(settings: Settings) -> ProviderLimits:
    url = shared_url(settings)
    if url is None:
        return LocalLimits()
    return RedisLimits.from_url(url, prefix=_prefix(settings))


def build_health(settings: Settings, registry: Registry) -> HealthBook:
    url = shared_url(settings)
    config = BreakerConfig(cooldown_s=settings.breaker_cooldown_s)
    provider_config = BreakerConfig(failure_threshold=5, cooldown_s=settings.breaker_cooldown_s)
    if url is None:
        return HealthBook(registry, model_config=config, provider_config=provider_config)
    store = RedisBreakerStore.from_url(url, prefix=_prefix(settings))
    return HealthBook(registry, model_config=config, provider_config=provider_config, store=store)


def _prefix(settings: Settings) -> str:
    return f"{settings.queue_prefix}shotline:limits:"
