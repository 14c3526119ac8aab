"""Live counters: what caps, goals and pacing need to know today, without SQL.

A counter is named by a key such as ``litfass:ads:2026-06-10:served:12``; in Redis
(``REDIS_URL``) that is a plain integer. A key with a ``#`` names a field of a hash
instead (``locate``): a reader's frequency counts of one day are one small hash,
``...:freq:<visitor>#<campaign>``, so a decision reads them with one ``HGETALL`` however
many capped campaigns it weighs, and the rest with one ``MGET``, both in a single round
trip. (Served counts stay plain keys: a hash of a day's campaigns would be a listpack
below 512 fields, which Redis searches field by field.) The counters live in Redis next
to the Celery queue, never in the cache database, where an eviction policy could drop
them. The embedded default keeps them in the database (``LiveCounter``, one row per
key), which is slower but needs nothing running.

These counters steer delivery; what advertisers are billed for comes from the rollups.
Should Redis lose them, the rotation raises them to the rollups' again
(``ads.rotation.restore_from_rollups``).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from . import wire
from .models import LiveCounter

PREFIX = "litfass:ads"
VERSION_KEY = f"{PREFIX}:version"
# Written once the live counters hold at least what the rollups hold; gone with them when
# Redis loses its data (``ads.rotation.restore_from_rollups``).
RESTORED_KEY = f"{PREFIX}:restored-at"
# Day keys outlive their day so late readers (a flush, a report) still find them.
DAY_TTL = dt.timedelta(days=3)


def day_prefix(day: dt.date) -> str:
    """Every key that belongs to one day starts with this, and expires."""
    return f"{PREFIX}:{day.isoformat()}:"


def locate(key: str) -> tuple[str, str]:
    """The Redis key a counter lives in and its field there (``""``: a plain key)."""
    redis_key, _hash, field = key.partition("#")
    return redis_key, field


def frequency_hash(day: dt.date, visitor_key: str) -> str:
    """What one reader was shown on one day, a field per campaign."""
    return f"{PREFIX}:{day.isoformat()}:freq:{visitor_key}"


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
    return f"{frequency_hash(day, visitor_key)}#{campaign_id}"


class Counters(Protocol):
    def read(self, keys: Sequence[str]) -> list[int]:
        """The values of ``keys`` (0 when missing), in one round trip."""

    def read_groups(
        self, plain: Sequence[str], hashes: Sequence[tuple[str, Sequence[str]]]
    ) -> tuple[list[int], list[list[int]]]:
        """The values of the plain keys ``plain`` and, for each ``(hash, fields)``, of
        the counters ``hash#field`` (0 when missing), all in one round trip: the
        decision's read, grouped beforehand."""

    def ask_groups(
        self, plain: Sequence[str], hashes: Sequence[tuple[str, Sequence[str]]]
    ) -> Callable[[], tuple[list[int], list[list[int]]]]:
        """``read_groups``, asked now and answered by the function returned: the caller
        may work while the answer is on its way, but reads no other counters meanwhile."""

    def add(self, increments: Mapping[str, int], *, expiring: str, ttl: dt.timedelta) -> None:
        """Add to each key, in one round trip; keys starting with ``expiring`` get ``ttl``."""

    def bump(self, key: str) -> int:
        """Increment ``key`` by one and return the new value."""

    def set(self, values: Mapping[str, int]) -> None:
        """Overwrite keys."""

    def raise_to(self, floors: Mapping[str, int], *, expiring: str, ttl: dt.timedelta) -> int:
        """Raise each plain key to at least its floor, never lower one: increments made
        meanwhile stay. Keys starting with ``expiring`` that have no time to live get
        ``ttl``. Returns how many keys were raised."""


def _fields(whole: dict[bytes, bytes] | list[bytes], fields: Sequence[str]) -> list[int]:
    """The values of ``fields`` in a hash as ``HGETALL`` answers it (0 when missing): a
    map in RESP3, field and value in turn in RESP2."""
    if not whole:
        return [0] * len(fields)
    found = whole if isinstance(whole, dict) else dict(zip(whole[::2], whole[1::2], strict=True))
    return [int(found.get(field.encode(), 0)) for field in fields]


class RedisCounters:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def read(self, keys: Sequence[str]) -> list[int]:
        plain = [key for key in keys if "#" not in key]
        groups: dict[str, list[str]] = {}
        for key in keys:
            if "#" in key:
                hash_key, field = locate(key)
                groups.setdefault(hash_key, []).append(field)
        plain_values, hash_values = self.read_groups(plain, list(groups.items()))
        values = dict(zip(plain, plain_values, strict=True))
        for (hash_key, fields), found in zip(groups.items(), hash_values, strict=True):
            values.update({f"{hash_key}#{f}": v for f, v in zip(fields, found, strict=True)})
        return [values[key] for key in keys]

    def read_groups(
        self, plain: Sequence[str], hashes: Sequence[tuple[str, Sequence[str]]]
    ) -> tuple[list[int], list[list[int]]]:
        return self.ask_groups(plain, hashes)()

    def ask_groups(
        self, plain: Sequence[str], hashes: Sequence[tuple[str, Sequence[str]]]
    ) -> Callable[[], tuple[list[int], list[list[int]]]]:
        # The decision's read: encoded once per set of keys (see ``ads.wire``). A hash
        # comes whole (``HGETALL``): a reader's of the day holds the few campaigns they
        # were shown, mostly none, fewer than the fields a page asks about (dozens).
        commands = [wire.pack_once("MGET", *plain)] if plain else []
        commands += [wire.pack("HGETALL", key) for key, fields in hashes if fields]
        if not commands:
            return lambda: ([], [[] for _group in hashes])
        asked = wire.ask(self.client, b"".join(commands), len(commands))

        def answer() -> tuple[list[int], list[list[int]]]:
            answers = iter(asked())
            plain_values = [int(v or 0) for v in next(answers)] if plain else []
            return plain_values, [
                _fields(next(answers), fields) if fields else [] for _hash, fields in hashes
            ]

        return answer

    def add(self, increments: Mapping[str, int], *, expiring: str, ttl: dt.timedelta) -> None:
        pipe = self.client.pipeline(transaction=False)
        expire = set()
        for key, amount in increments.items():
            redis_key, field = locate(key)
            if field:
                pipe.hincrby(redis_key, field, amount)
            else:
                pipe.incrby(redis_key, amount)
            if key.startswith(expiring):
                expire.add(redis_key)
        for redis_key in expire:
            pipe.expire(redis_key, ttl)
        pipe.execute()

    def bump(self, key: str) -> int:
        redis_key, field = locate(key)
        if field:
            return int(self.client.hincrby(redis_key, field, 1))
        return int(self.client.incr(redis_key))

    def set(self, values: Mapping[str, int]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for key, value in values.items():
            redis_key, field = locate(key)
            if field:
                pipe.hset(redis_key, field, value)
            else:
                pipe.set(redis_key, value)
        pipe.execute()

    def raise_to(self, floors: Mapping[str, int], *, expiring: str, ttl: dt.timedelta) -> int:
        raise_to = self.client.register_script(_RAISE_TO)
        items = list(floors.items())
        raised = 0
        for start in range(0, len(items), _RAISE_BATCH):
            batch = items[start : start + _RAISE_BATCH]
            raised += int(
                raise_to(
                    keys=[key for key, _floor in batch],
                    args=[expiring, int(ttl.total_seconds()), *(f for _key, f in batch)],
                )
            )
        return raised


# One key at a time is atomic against the increments of page views and clicks.
_RAISE_TO = """
local raised = 0
for i, key in ipairs(KEYS) do
  local floor = tonumber(ARGV[i + 2])
  local value = tonumber(redis.call('GET', key) or '0')
  if value < floor then
    redis.call('INCRBY', key, floor - value)
    raised = raised + 1
  end
  if string.sub(key, 1, #ARGV[1]) == ARGV[1] and redis.call('TTL', key) == -1 then
    redis.call('EXPIRE', key, ARGV[2])
  end
end
return raised
"""
_RAISE_BATCH = 1000


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

    def read_groups(
        self, plain: Sequence[str], hashes: Sequence[tuple[str, Sequence[str]]]
    ) -> tuple[list[int], list[list[int]]]:
        wanted = [[f"{hash_key}#{field}" for field in fields] for hash_key, fields in hashes]
        values = iter(self.read([*plain, *(key for group in wanted for key in group)]))
        return [next(values) for _key in plain], [[next(values) for _k in g] for g in wanted]

    def ask_groups(
        self, plain: Sequence[str], hashes: Sequence[tuple[str, Sequence[str]]]
    ) -> Callable[[], tuple[list[int], list[list[int]]]]:
        # The database answers at once: nothing to do meanwhile.
        found = self.read_groups(plain, hashes)
        return lambda: found

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

    def raise_to(self, floors: Mapping[str, int], *, expiring: str, ttl: dt.timedelta) -> int:
        with transaction.atomic():
            keys = list(floors)
            # Locked, so that a page view's increment waits rather than is lost.
            list(LiveCounter.objects.select_for_update().filter(key__in=keys))
            short = {
                key: floors[key] - value
                for key, value in zip(keys, self.read(keys), strict=True)
                if value < floors[key]
            }
            self.add(short, expiring=expiring, ttl=ttl)
        return len(short)


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
