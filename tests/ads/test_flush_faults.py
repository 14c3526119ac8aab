"""The counting contract under faults, with a real Celery worker, Redis and PostgreSQL."""

import os
import signal
import time
from datetime import UTC, datetime

import pytest
from django.db.models import Sum

from ads.counters import redis_client
from ads.models import FlushCursor, HourlyRollup
from ads.rollups import flush
from ads.tasks import flush_events
from ads.tracking import STREAM, Event
from tests.factories import CampaignFactory, SlotFactory

N = 200_000
BATCH = 10_000
AT = int(datetime(2026, 6, 10, 12, 0, tzinfo=UTC).timestamp())


def send_events(count: int) -> tuple[int, int]:
    """``count`` served and view events for 10 promotions over 5 slots, straight into the
    stream, as the tracking endpoints append them."""
    slots = [SlotFactory.create() for _ in range(5)]
    campaigns = [CampaignFactory.create(slots=slots) for _ in range(10)]
    cells = [
        (c.pk, c.campaign_promotions.get().promotion_id, s.pk) for c in campaigns for s in slots
    ]
    client = redis_client()
    pipe = client.pipeline(transaction=False)
    for index in range(count):
        campaign, promotion, slot = cells[index % len(cells)]
        kind = "view" if index % 4 == 0 else "served"
        pipe.xadd(STREAM, {"e": Event(kind, campaign, promotion, slot, AT + index % 7200).encode()})
        if index % 10_000 == 9_999:
            pipe.execute()
    pipe.execute()
    return campaigns[0].pk, len(cells)


def rolled_up() -> int:
    totals = HourlyRollup.objects.aggregate(served=Sum("served"), views=Sum("views"))
    return (totals["served"] or 0) + (totals["views"] or 0)


def cursor_events() -> int:
    cursor = FlushCursor.objects.filter(stream=STREAM).first()
    return cursor.events if cursor else 0


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_flush_loses_and_doubles_nothing(start_worker):
    send_events(N)
    worker = start_worker(LITFASS_FLUSH_BATCH=str(BATCH))
    flush_events.delay()

    deadline = time.monotonic() + 60
    while cursor_events() < 2 * BATCH:  # some batches committed, more to come
        assert time.monotonic() < deadline, "the worker never started flushing"
        time.sleep(0.01)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    killed_at = cursor_events()

    # What was committed is consistent: exactly the events the cursor has passed.
    assert 0 < killed_at < N
    assert rolled_up() == killed_at

    restarted = time.monotonic()
    start_worker(LITFASS_FLUSH_BATCH=str(BATCH))
    flush_events.delay()  # what beat sends every 10 s
    while cursor_events() < N:
        assert time.monotonic() - restarted < 60, "recovery took longer than a minute"
        time.sleep(0.05)
    recovery = time.monotonic() - restarted

    assert rolled_up() == N
    print(f"\nkilled after {killed_at} of {N} events; recovered in {recovery:.1f} s")


@pytest.mark.django_db(transaction=True)
def test_retried_flush_counts_nothing_twice():
    send_events(5_000)

    first = flush(batch=1_000)
    # a retry of the same task, as after a lost acknowledgement
    second = flush(batch=1_000)

    assert (first.events, second.events) == (5_000, 0)
    assert rolled_up() == 5_000
    assert redis_client().xlen(STREAM) <= 1
