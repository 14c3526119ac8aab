"""``manage.py counting_status`` against the real Redis stream and PostgreSQL."""

import io
import socket
import time

import pytest
from django.core.management import CommandError, call_command

from ads.counters import redis_client
from ads.rollups import flush
from ads.tracking import STREAM, Event
from tests.factories import CampaignFactory, SlotFactory

pytestmark = pytest.mark.django_db


def status(*args: str) -> str:
    out = io.StringIO()
    call_command("counting_status", *args, stdout=out)
    return out.getvalue()


def add_event(*, seconds_ago: float) -> None:
    slot = SlotFactory.create()
    campaign = CampaignFactory.create(slots=[slot])
    promotion = campaign.campaign_promotions.get().promotion_id
    at = time.time() - seconds_ago
    event = Event("served", campaign.pk, promotion, slot.pk, int(at)).encode()
    # The id as Redis would have given it then.
    redis_client().xadd(STREAM, {"e": event}, id=f"{int(at * 1000)}-0")


def test_nothing_waits_when_the_flush_has_moved_everything():
    add_event(seconds_ago=5)
    flush()

    out = status()

    assert "Waiting:          nothing" in out
    assert "Events flushed:   1" in out


def test_a_recent_event_waiting_is_fine():
    add_event(seconds_ago=5)

    out = status()

    assert "Stream entries:   1" in out
    assert "The flush keeps up." in out


def test_an_event_waiting_too_long_fails_for_monitoring():
    add_event(seconds_ago=600)

    with pytest.raises(CommandError, match=r"waited 60\d s"):
        status("--max-lag", "300")


def test_without_redis_nothing_waits(settings):
    settings.REDIS_URL = ""

    assert "straight to the rollups" in status()


def test_a_redis_it_cannot_reach_fails_in_one_line(settings):
    from ads import counters, rollups

    with socket.socket() as closed:  # a port nobody listens on once it is closed
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    clients = (counters.redis_client, rollups._stream_client)  # one per process, kept
    for client in clients:
        client.cache_clear()
    try:
        with pytest.raises(CommandError, match=r"cannot read the stream.*refused"):
            status()
    finally:
        for client in clients:
            client.cache_clear()
