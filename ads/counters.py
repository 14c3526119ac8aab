"""Live counters: what caps, goals and pacing need to know today, without SQL.

Keys are plain integers, so one ``MGET`` answers a whole decision. With Redis
(``REDIS_URL``) they live in Redis next to the Celery queue, never in the cache
database, where an eviction policy could drop them. The embedded default keeps them in
the database (``LiveCounter``), which is slower but needs nothing running.

These counters steer delivery; what advertisers are billed for comes from the rollups.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from typing import Protocol

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from .models import LiveCounter

PREFIX = "litfass:ads"
VERSION_KEY = f"{PREFIX}:version"
TOTAL_PREFIX = f"{PREFIX}:total:"
# Day keys outlive their day so late readers (a flush, a report) still find them.
DAY_TTL = dt.timedelta(days=3)


def day_prefix(day: dt.date) -> str:
    """Every key that belongs to one day starts with this, and expires."""
    return f"{PREFIX}:{day.isoformat()}:"


def served_today(day: dt.date, campaign_id: int) -> str:
    return f"{PREFIX}:{day.isoformat()}:served:{campaign_id}"


def clicks_today(day: dt.date, campaign_id: int) -> str:
    return f"{PREFIX}:{day.isoformat()}:clicks:{campaign_id}"


def served_total(campaign_id: int) -> str:
    return f"{PREFIX}:total:served:{campaign_id}"


def clicks_total(campaign_id: int) -> str:
    return f"{PREFIX}:total:clicks:{campaign_id}"


def promotion_served(promotion_id: int) -> str:
    return f"{PREFIX}:total:promotion-served:{promotion_id}"


def promotion_clicks(promotion_id: int) -> str:
    return f"{PREFIX}:total:promotion-clicks:{promotion_id}"


def frequency(day: dt.date, visitor_key: str, campaign_id: int) -> str:
    return f"{PREFIX}:{day.isoformat()}:freq:{visitor_key}:{campaign_id}"


class Counters(Protocol):
    def read(self, keys: Sequence[str]) -> list[int]:
        """The values of ``keys`` (0 when missing), in one round trip."""

    def add(self, increments: Mapping[str, int], *, expiring: str, ttl: dt.timedelta) -> None:
        """Add to each key, in one round trip; keys starting with ``expiring`` get ``ttl``."""

    def bump(self, key: str) -> int:
        """Increment ``key`` by one and return the new value."""

    def set(self, values: Mapping[str, int]) -> None:
        """Overwrite keys (used when counters are reconciled from the rollups)."""


class RedisCounters:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def read(self, keys: Sequence[str]) -> list[int]:
        if not keys:
            return []
        return [int(value or 0) for value in self.client.mget(keys)]

    def add(self, increments: Mapping[str, int], *, expiring: str, ttl: dt.timedelta) -> None:
        pipe = self.client.pipeline(transaction=False)
        for key, amount in increments.items():
            pipe.incrby(key, amount)
            if key.startswith(expiring):
                pipe.expire(key, ttl)
        pipe.execute()

    def bump(self, key: str) -> int:
        return int(self.client.incr(key))

    def set(self, values: Mapping[str, int]) -> None:
        if values:
            self.client.mset(dict(values))


class DatabaseCounters:
    def read(self, keys: Sequence[str]) -> list[int]:
        if not keys:
            return []
        now = timezone.now()
        found = dict(
            LiveCounter.objects.filter(key__in=keys)
            .exclude(expires_at__lte=now)
            .values_list("key", "value")
        )
        return [found.get(key, 0) for key in keys]

    def add(self, increments: Mapping[str, int], *, expiring: str, ttl: dt.timedelta) -> None:
        now = timezone.now()
        with transaction.atomic():
            for key, amount in increments.items():
                expires_at = now + ttl if key.startswith(expiring) else None
                # An expired row lingers until the rotation deletes it; as in Redis, a key
                # counted after it expired starts again from zero.
                updated = LiveCounter.objects.filter(key=key).update(
                    value=Case(
                        When(expires_at__lte=now, then=Value(amount)),
                        default=F("value") + amount,
                    ),
                    expires_at=expires_at,
                )
                if not updated:
                    _counter, created = LiveCounter.objects.get_or_create(
                        key=key, defaults={"value": amount, "expires_at": expires_at}
                    )
                    if not created:
                        LiveCounter.objects.filter(key=key).update(value=F("value") + amount)

    def bump(self, key: str) -> int:
        with transaction.atomic():
            self.add({key: 1}, expiring=key + ":", ttl=DAY_TTL)
            return self.read([key])[0]

    def set(self, values: Mapping[str, int]) -> None:
        with transaction.atomic():
            for key, value in values.items():
                LiveCounter.objects.update_or_create(key=key, defaults={"value": value})


@functools.cache
def redis_client() -> redis.Redis:
    """The event store's client (``REDIS_URL``); one connection pool per process."""
    return redis.Redis.from_url(str(settings.REDIS_URL), health_check_interval=30)


def get_counters() -> Counters:
    if settings.REDIS_URL:
        return RedisCounters(redis_client())
    return DatabaseCounters()


def bump_version() -> int:
    """Tell every process that its snapshot of campaigns is out of date."""
    return get_counters().bump(VERSION_KEY)
