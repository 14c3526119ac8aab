import datetime as dt
import time

import pytest
from django.utils import timezone

from ads import counters as keys
from ads.counters import (
    DAY_TTL,
    VERSION_KEY,
    Counters,
    DatabaseCounters,
    RedisCounters,
    get_counters,
    redis_client,
)
from ads.models import LiveCounter
from tests.factories import CampaignFactory, PromotionFactory, SlotFactory

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 6, 10)
TODAY = keys.day_prefix(DAY)
SERVED_TODAY = keys.served_today(DAY, 1)
SERVED_TOTAL = keys.served_total(1)


@pytest.fixture(params=["redis", "database"])
def counters(request) -> Counters:
    if request.param == "redis":
        return RedisCounters(redis_client())
    return DatabaseCounters()


def expiry(counters: Counters, key: str) -> dt.timedelta | None:
    """How long ``key`` has left to live, ``None`` if it never expires."""
    if isinstance(counters, RedisCounters):
        ttl = counters.client.pttl(keys.locate(key)[0])  # the key (or hash) it lives in
        assert ttl != -2, f"{key} does not exist"
        return None if ttl == -1 else dt.timedelta(milliseconds=ttl)
    expires_at = LiveCounter.objects.get(key=key).expires_at
    return None if expires_at is None else expires_at - timezone.now()


def expire_now(counters: Counters, key: str) -> None:
    """Let ``key`` run out, as if its time to live had passed."""
    if isinstance(counters, RedisCounters):
        counters.client.pexpire(keys.locate(key)[0], 1)
        time.sleep(0.01)
    else:
        LiveCounter.objects.filter(key=key).update(
            expires_at=timezone.now() - dt.timedelta(seconds=1)
        )


def test_missing_keys_read_as_zero(counters):
    assert counters.read([SERVED_TODAY, SERVED_TOTAL]) == [0, 0]


def test_reading_no_keys_reads_nothing(counters):
    assert counters.read([]) == []


def test_add_increments_each_key(counters):
    counters.add({SERVED_TODAY: 2, SERVED_TOTAL: 5}, expiring=TODAY, ttl=DAY_TTL)
    counters.add({SERVED_TODAY: 1, SERVED_TOTAL: 1}, expiring=TODAY, ttl=DAY_TTL)

    assert counters.read([SERVED_TOTAL, SERVED_TODAY]) == [6, 3]


def test_day_keys_get_the_time_to_live(counters):
    counters.add({SERVED_TODAY: 1}, expiring=TODAY, ttl=DAY_TTL)

    left = expiry(counters, SERVED_TODAY)

    assert left is not None
    assert DAY_TTL - dt.timedelta(seconds=10) < left <= DAY_TTL


def test_totals_never_expire(counters):
    counters.add({SERVED_TODAY: 1, SERVED_TOTAL: 1}, expiring=TODAY, ttl=DAY_TTL)

    assert expiry(counters, SERVED_TOTAL) is None


def test_expired_day_keys_read_as_zero(counters):
    counters.add({SERVED_TODAY: 7, SERVED_TOTAL: 7}, expiring=TODAY, ttl=DAY_TTL)

    expire_now(counters, SERVED_TODAY)

    assert counters.read([SERVED_TODAY, SERVED_TOTAL]) == [0, 7]


def test_expired_day_key_counts_from_zero_again(counters):
    counters.add({SERVED_TODAY: 7}, expiring=TODAY, ttl=DAY_TTL)
    expire_now(counters, SERVED_TODAY)

    counters.add({SERVED_TODAY: 1}, expiring=TODAY, ttl=DAY_TTL)

    assert counters.read([SERVED_TODAY]) == [1]


def test_reads_keys_of_several_hashes_in_the_order_asked(counters):
    day_keys = [keys.served_today(DAY, n) for n in (3, 1, 2)]
    counters.set({day_keys[0]: 30, SERVED_TOTAL: 5, day_keys[2]: 20})

    assert counters.read([day_keys[0], SERVED_TOTAL, day_keys[1], day_keys[2]]) == [30, 5, 0, 20]


def test_read_groups_answers_plain_keys_and_each_hash(counters):
    counters.set(
        {
            keys.served_today(DAY, 7): 70,
            keys.frequency(DAY, "reader", 7): 2,
            keys.frequency(DAY, "other", 8): 1,
        }
    )

    assert counters.read_groups(
        [keys.served_today(DAY, 7), keys.served_today(DAY, 8)],
        [
            (keys.frequency_hash(DAY, "reader"), ["7", "8"]),
            ("", []),
            (keys.frequency_hash(DAY, "other"), ["8"]),
        ],
    ) == ([70, 0], [[2, 0], [], [1]])


def test_a_readers_frequency_counts_of_a_day_are_one_hash_in_redis():
    counters = RedisCounters(redis_client())
    counters.add(
        {keys.frequency(DAY, "reader", n): n for n in range(1, 31)}, expiring=TODAY, ttl=DAY_TTL
    )

    assert counters.client.hlen(keys.frequency_hash(DAY, "reader")) == 30
    assert counters.read([keys.frequency(DAY, "reader", 12), SERVED_TODAY]) == [12, 0]
    left = expiry(counters, keys.frequency(DAY, "reader", 12))
    assert left is not None
    assert DAY_TTL - dt.timedelta(seconds=10) < left <= DAY_TTL


def test_bump_returns_increasing_values(counters):
    assert [counters.bump(VERSION_KEY) for _ in range(3)] == [1, 2, 3]
    assert counters.read([VERSION_KEY]) == [3]


def test_bumped_keys_never_expire(counters):
    counters.bump(VERSION_KEY)

    assert expiry(counters, VERSION_KEY) is None


def test_set_overwrites(counters):
    counters.add({SERVED_TOTAL: 5}, expiring=TODAY, ttl=DAY_TTL)

    counters.set({SERVED_TOTAL: 2, SERVED_TODAY: 9})

    assert counters.read([SERVED_TOTAL, SERVED_TODAY]) == [2, 9]


def test_redis_is_the_store_when_configured():
    assert isinstance(get_counters(), RedisCounters)


def version() -> int:
    return get_counters().read([VERSION_KEY])[0]


@pytest.mark.parametrize(
    "factory",
    [CampaignFactory, PromotionFactory, SlotFactory],
    ids=["campaign", "promotion", "slot"],
)
def test_saving_bumps_the_version_after_commit(factory, django_capture_on_commit_callbacks):
    instance = factory.create()
    before = version()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        instance.save()
        assert version() == before

    assert callbacks
    assert version() > before


def test_deleting_a_campaign_bumps_the_version_after_commit(django_capture_on_commit_callbacks):
    campaign = CampaignFactory.create(promotions=0)
    before = version()

    with django_capture_on_commit_callbacks(execute=True):
        campaign.delete()
        assert version() == before

    assert version() > before


def test_changing_campaign_slots_bumps_the_version_after_commit(
    django_capture_on_commit_callbacks,
):
    campaign = CampaignFactory.create(promotions=0)
    slot = SlotFactory.create()
    before = version()

    with django_capture_on_commit_callbacks(execute=True):
        campaign.slots.add(slot)
        assert version() == before

    assert version() > before


@pytest.mark.parametrize(
    "whole",
    [{b"7": b"2", b"9": b"5"}, [b"7", b"2", b"9", b"5"]],
    ids=["resp3-map", "resp2-list"],
)
def test_a_hash_read_whole_answers_the_fields_asked(whole):
    from ads.counters import _fields

    assert _fields(whole, ["7", "8", "9"]) == [2, 0, 5]
    assert _fields({}, ["7", "8"]) == [0, 0]
    assert _fields([], ["7"]) == [0]
