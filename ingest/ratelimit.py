"""One E-utilities rate limit shared by every worker process.

NCBI allows 3 requests/s without an API key and 10 with one, counted per key (or per address)
on their side, so the limit must hold across all workers, not per process. Each request takes
the next free slot: slots are ``period / rate`` seconds apart, so any ``rate + 1`` consecutive
requests span more than ``period`` (1 s plus a margin for network jitter). The slot counter
lives in Redis when Redis is configured (``REDIS_URL`` or a Redis broker), else in the database
(one row updated in a transaction).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import transaction

LIMITER_NAME = "eutils"

# Atomically take the next slot: returns how many microseconds the caller must wait.
_REDIS_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local next_at = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, next_at)
redis.call('SET', KEYS[1], tostring(slot + tonumber(ARGV[1])), 'PX', 60000)
return slot - now
"""


def requests_per_second(*, has_api_key: bool) -> float:
    """Return the allowed rate: ``EUTILS_RATE_LIMIT`` if set, else NCBI's 10 (key) or 3."""
    configured = getattr(settings, "EUTILS_RATE_LIMIT", None)
    if configured:
        return float(configured)
    return 10.0 if has_api_key else 3.0


def slot_interval(*, rate: float) -> float:
    """Return the spacing in seconds between two requests at ``rate`` per (padded) second."""
    margin = float(getattr(settings, "EUTILS_RATE_MARGIN", 0.1))
    return (1.0 + margin) / rate


def redis_url() -> str | None:
    """Return the Redis URL the limiter uses, or None to fall back to the database."""
    if settings.REDIS_URL:
        return str(settings.REDIS_URL)
    broker = str(settings.CELERY_BROKER_URL or "")
    if broker.startswith(("redis://", "rediss://", "unix://")):
        return broker
    return None


@lru_cache(maxsize=4)
def _redis_script(url: str) -> Callable[..., Any]:
    import redis

    client = redis.Redis.from_url(url)
    return client.register_script(_REDIS_SCRIPT)


def _take_slot_redis(url: str, interval: float) -> float:
    script = _redis_script(url)
    wait_us = int(script(keys=[f"evidence:ratelimit:{LIMITER_NAME}"], args=[int(interval * 1_000_000)]))
    return wait_us / 1_000_000


def _take_slot_database(interval: float) -> float:
    from ingest.models import RateLimitSlot

    with transaction.atomic():
        RateLimitSlot.objects.get_or_create(name=LIMITER_NAME)
        row = RateLimitSlot.objects.select_for_update().get(name=LIMITER_NAME)
        # Read the clock inside the transaction: on SQLite the write lock is held from BEGIN.
        now = time.time()
        slot = max(now, row.next_at)
        row.next_at = slot + interval
        row.save(update_fields=["next_at"])
    return slot - now


def acquire(*, has_api_key: bool) -> float:
    """Block until this process may send one E-utilities request; return the seconds waited."""
    interval = slot_interval(rate=requests_per_second(has_api_key=has_api_key))
    url = redis_url()
    wait = _take_slot_redis(url, interval) if url else _take_slot_database(interval)
    if wait > 0:
        time.sleep(wait)
    return max(wait, 0.0)
