import os
import random
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import redis

from ads import tracking
from ads.counters import DAY_TTL, get_counters, redis_client
from ads.decision import PageContext, berlin_day, decide
from ads.models import DailyRollup, FilteredRollup, HourlyRollup, Nonce
from ads.rollups import flush
from ads.tracking import (
    CLICK,
    STREAM,
    VIEW,
    DatabaseEventStore,
    Event,
    _signature,
    check_nonce,
    new_nonce,
    new_nonces,
    nonce_key,
    nonce_record,
    record_event,
    record_served,
)
from promotions.models import Slot
from tests.factories import CampaignFactory, PromotionFactory, SlotFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def served():
    """One filled slot, served at NOW: its campaign, promotion and nonce."""
    slot = SlotFactory.create(key="sidebar-top")
    campaign = CampaignFactory.create(slots=[slot])
    decision = decide(PageContext(slot_keys=("sidebar-top",)), now=NOW, rng=random.Random(1))
    nonce = record_served(decision, now=NOW)["sidebar-top"]
    return campaign, decision.slots["sidebar-top"].promotion, nonce


def track(event, nonce, *, user_agent=BROWSER, ip="192.0.2.1", now=NOW + timedelta(seconds=5)):
    return record_event(event, nonce, now=now, user_agent=user_agent, ip_address=ip)


def totals(campaign):
    flush()
    cells = HourlyRollup.objects.filter(campaign=campaign)
    return {
        "served": sum(c.served for c in cells),
        "views": sum(c.views for c in cells),
        "clicks": sum(c.clicks for c in cells),
    }


def get_counters_hash(visitor: str) -> str:
    from ads import counters as keys

    return keys.frequency_hash(berlin_day(NOW), visitor)


def filtered():
    flush()
    return {(r.event, r.reason): r.count for r in FilteredRollup.objects.all()}


def test_nonces_are_signed_and_unguessable():
    nonce = new_nonce()

    assert check_nonce(nonce)
    assert not check_nonce(nonce[:-1] + ("A" if nonce[-1] != "A" else "B"))
    assert not check_nonce("abc")
    assert new_nonce() != nonce


def test_a_pages_nonces_are_each_signed_and_different():
    nonces = new_nonces(4)

    assert len(set(nonces)) == 4
    assert all(check_nonce(nonce) for nonce in nonces)
    # The page's 128 random bits, as base64 without padding like
    # secrets.token_urlsafe(16), and each slot's place.
    pages = {nonce[:22] for nonce in nonces}
    assert len(pages) == 1
    assert [nonce[22] for nonce in nonces] == ["0", "1", "2", "3"]
    assert {len(nonce.partition(".")[0]) for nonce in nonces} == {23}
    assert new_nonces(4)[0][:22] not in pages


def test_a_place_the_page_did_not_fill_is_refused_where_it_is_looked_up(served):
    _campaign, _promotion, nonce = served  # one slot: place "0"
    token, dot, signature = nonce.partition(".")
    other = token[:-1] + "1" + dot + signature

    assert check_nonce(other)  # the page's signature: no lookup saved
    assert track(VIEW, other).reason == "unknown_nonce"
    assert track(VIEW, nonce).counted


@pytest.mark.parametrize("place", ["T", "V", "X", "A", "_", "\x00", "é"])
def test_a_place_that_no_page_has_is_refused_without_a_lookup(place):
    nonce = new_nonce()
    token, dot, signature = nonce.partition(".")

    assert check_nonce(nonce)
    assert not check_nonce(token[:-1] + place + dot + signature)


def test_every_slot_of_a_page_of_36_counts_with_the_pages_facts():
    from ads.tracking import Served, event_store

    nonces = new_nonces(36)
    event_store().served(
        [Served(nonce, 7, 8, 9, f"https://example.org/{n}") for n, nonce in enumerate(nonces)],
        now=NOW,
        visitor="reader",
        reason="",
    )

    outcomes = [track(VIEW, nonce) for nonce in nonces]

    assert [o.reason for o in outcomes] == [""] * 36
    assert [o.destination for o in outcomes] == [f"https://example.org/{n}" for n in range(36)]
    record = redis_client().hgetall(nonce_key(nonces[0]))
    assert record[b"V"] == b"reader"
    assert int(record[b"T"]) == int(NOW.timestamp())


def test_a_page_has_at_most_36_nonces():
    assert len(new_nonces(36)) == 36
    with pytest.raises(ValueError, match="1 to 36"):
        new_nonces(37)
    with pytest.raises(ValueError, match="1 to 36"):
        new_nonces(0)


def test_the_nonces_of_a_page_view_share_one_record_in_redis():
    first, second = new_nonces(2)

    assert nonce_record(first) == (nonce_key(first), "0")
    assert nonce_record(second) == (nonce_key(first), "1")
    assert nonce_key(first) == f"litfass:ads:nonce:{first[:22]}"


def test_a_nonces_signature_is_hmac_sha256_of_its_pages_token_under_the_secret_key(settings):
    """Nonces live two hours across deploys: the signature must stay what it is."""
    import base64
    import hashlib
    import hmac

    for secret in ("one secret key", "another secret key"):
        settings.SECRET_KEY = secret
        for nonce in new_nonces(3):
            token, _dot, signature = nonce.partition(".")
            page = token[:22].encode()  # the place is not signed
            mac = hmac.new(secret.encode(), b"litfass-nonce:" + page, hashlib.sha256)
            assert signature == base64.urlsafe_b64encode(mac.digest()[:9]).decode()
            assert "=" not in token
        assert check_nonce(nonce)

    settings.SECRET_KEY = "one secret key"
    assert not check_nonce(nonce)  # signed under the other key


def test_the_served_script_counts_what_the_database_store_counts():
    # The script names the live counters itself: they must be ads.counters' names.
    slots = [SlotFactory.create(key=f"slot-{n}") for n in range(2)]
    CampaignFactory.create(slots=slots, promotions=2)
    CampaignFactory.create(slots=slots)
    page = PageContext(slot_keys=("slot-0", "slot-1"), consent=True, visitor_key="reader-a")
    decision = decide(page, now=NOW, rng=random.Random(3))
    filled = [d for d in decision.slots.values() if d.campaign]
    assert len(filled) == 2

    record_served(decision, now=NOW)
    items = [
        tracking.Served("n", d.campaign.id, d.promotion.pk, d.slot.pk, "")  # type: ignore[union-attr]
        for d in filled
    ]
    expected = tracking.served_increments(items, visitor="reader-a", day=NOW.date())

    assert len(expected) == 8  # 2 campaigns x (today, total, promotion, reader)
    assert get_counters().read(list(expected)) == list(expected.values())
    client = redis_client()
    for name in expected:
        redis_key = name.partition("#")[0]
        expiring = redis_key.startswith(f"litfass:ads:{NOW.date().isoformat()}:")
        assert (client.ttl(redis_key) > 0) == expiring, redis_key


def test_a_pages_served_events_share_one_stream_entry_and_each_is_flushed():
    slots = [SlotFactory.create(key=f"slot-{n}") for n in range(3)]
    campaigns = [CampaignFactory.create(slots=slots) for _ in range(3)]
    page = PageContext(slot_keys=("slot-0", "slot-1", "slot-2"))
    record_served(decide(page, now=NOW, rng=random.Random(3)), now=NOW)
    track(VIEW, "not-a-nonce")  # a view or a click: an entry of its own

    entries: list[tuple[bytes, dict[bytes, bytes]]] = redis_client().xrange(STREAM)  # type: ignore[assignment]
    served, refused = (Event.decode_entry(fields[b"e"]) for _id, fields in entries)
    report = flush()

    assert sorted(e.campaign for e in served) == sorted(c.pk for c in campaigns)
    assert {e.event for e in served} == {"served"}
    assert [e.reason for e in refused] == ["unknown_nonce"]
    assert report.events == 4
    assert sum(HourlyRollup.objects.values_list("served", flat=True)) == 3
    assert FilteredRollup.objects.get().reason == "unknown_nonce"


def test_nonces_never_repeat_across_chunks_of_randomness():
    # Many more nonces than one chunk of randomness makes, from several threads at once.
    made: list[list[str]] = []

    def make():
        made.append([nonce for _page in range(200) for nonce in new_nonces(3)])

    threads = [threading.Thread(target=make) for _n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = [nonce for batch in made for nonce in batch]
    assert len(everything) == 2400
    assert len(set(everything)) == 2400


def test_a_forked_child_makes_other_nonces_than_its_parent():
    new_nonces(1)  # the parent holds unused randomness now
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its next nonces, and leave
        os.write(writer, " ".join(new_nonces(4)).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = set(os.read(reader, 4096).decode().split())

    assert len(child) == 4
    assert child.isdisjoint(new_nonces(4))


def test_served_slot_gets_a_nonce_with_its_facts(served):
    campaign, promotion, nonce = served

    facts: dict[bytes, bytes] = redis_client().hgetall(nonce_key(nonce))  # type: ignore[assignment]

    slot = Slot.objects.get(key="sidebar-top")
    assert facts[b"0"].decode() == (
        f"{campaign.pk}|{promotion.pk}|{slot.pk}|{promotion.destination_url}"
    )
    assert int(facts[b"T"]) == int(NOW.timestamp())
    assert b"V" not in facts  # no consent, no visitor key
    assert 7100 < redis_client().ttl(nonce_key(nonce)) <= 7200


def test_each_slot_of_a_page_view_counts_once_in_the_pages_record():
    first, second = SlotFactory.create(key="first"), SlotFactory.create(key="second")
    campaigns = [CampaignFactory.create(slots=[first, second]) for _n in range(2)]
    decision = decide(PageContext(slot_keys=("first", "second")), now=NOW, rng=random.Random(1))
    nonces = record_served(decision, now=NOW)
    assert nonce_key(nonces["first"]) == nonce_key(nonces["second"])

    outcomes = [track(VIEW, nonces["first"]), track(VIEW, nonces["second"])]
    outcomes += [track(VIEW, nonces["second"]), track(CLICK, nonces["second"])]

    assert [o.reason for o in outcomes] == ["", "", "replay", ""]
    promotion = decision.slots["second"].promotion
    assert promotion is not None
    assert outcomes[3].destination == promotion.destination_url
    views = {campaign.pk: totals(campaign)["views"] for campaign in campaigns}
    assert views == {campaign.pk: 1 for campaign in campaigns}


def test_a_readers_counts_of_the_day_expire_and_count_each_campaign():
    slots = [SlotFactory.create(key=f"slot-{n}") for n in range(3)]
    campaigns = [CampaignFactory.create(slots=slots) for _n in range(3)]
    page = PageContext(slot_keys=("slot-0", "slot-1", "slot-2"), consent=True, visitor_key="r")
    hash_key = get_counters_hash("r")
    redis_client().delete(hash_key)

    record_served(decide(page, now=NOW, rng=random.Random(1)), now=NOW)
    record_served(decide(page, now=NOW, rng=random.Random(2)), now=NOW)

    counts = {int(k): int(v) for k, v in redis_client().hgetall(hash_key).items()}
    assert counts == {campaign.pk: 2 for campaign in campaigns}
    assert 0 < redis_client().ttl(hash_key) <= DAY_TTL.total_seconds()


def test_a_nonce_issued_before_pages_shared_a_record_still_counts_once():
    """Nonces live two hours: those made before an upgrade, one record each (the nonce
    its key, a field a fact), count until they expire."""
    campaign, promotion = CampaignFactory.create(), PromotionFactory.create()
    slot = SlotFactory.create(key="sidebar-top")
    token = "A" * 22  # 128 bits: a nonce of its own, no slot's place
    nonce = f"{token}.{_signature(token.encode()).decode()}"
    assert check_nonce(nonce)
    key = f"litfass:ads:nonce:{nonce}"
    assert nonce_record(nonce) == (key, "")
    redis_client().hset(
        key,
        mapping={
            "c": campaign.pk,
            "p": promotion.pk,
            "s": slot.pk,
            "d": "https://example.org/",
            "t": int(NOW.timestamp()),
        },
    )

    first, again = track(CLICK, nonce), track(CLICK, nonce)

    assert (first.reason, first.destination) == ("", "https://example.org/")
    assert again.reason == "replay"
    assert totals(campaign)["clicks"] == 1


def test_nonces_of_two_page_views_are_not_recorded_as_one():
    from ads.tracking import Served, event_store

    items = [Served(new_nonces(1)[0], 1, 1, 1, "https://example.org/") for _page in range(2)]

    with pytest.raises(ValueError, match="one page view"):
        event_store().served(items, now=NOW, visitor="", reason="")


def test_a_view_right_after_its_page_view_on_the_same_thread_counts(monkeypatch):
    # The served script goes without waiting for its answer; a view sent right after on
    # the same thread must still find the nonce (one connection: Redis keeps the order).
    slot = SlotFactory.create(key="sidebar-top")
    campaign = CampaignFactory.create(slots=[slot])
    page = PageContext(slot_keys=("sidebar-top",))
    outcomes = []

    def from_the_pool(*args, **kwargs):
        # The test suite settles owed answers when a pooled connection is taken: here
        # nothing may take one, or the order would be the fixture's, not the thread's.
        raise AssertionError("a pooled Redis connection was used")

    with monkeypatch.context() as patched:
        patched.setattr(redis.ConnectionPool, "get_connection", from_the_pool)
        for seed in range(50):
            nonce = record_served(decide(page, now=NOW, rng=random.Random(seed)), now=NOW)
            outcomes.append(track(VIEW, nonce["sidebar-top"]).reason)

    assert outcomes == [""] * 50
    assert totals(campaign) == {"served": 50, "views": 50, "clicks": 0}


def test_view_counts_once_per_nonce(served):
    campaign, _promotion, nonce = served

    first, second = track(VIEW, nonce), track(VIEW, nonce)

    assert first.counted
    assert second.reason == "replay"
    assert totals(campaign) == {"served": 1, "views": 1, "clicks": 0}
    assert filtered() == {("view", "replay"): 1}


def test_click_counts_once_and_returns_the_stored_destination(served):
    campaign, promotion, nonce = served

    first, second = track(CLICK, nonce), track(CLICK, nonce)

    assert (first.counted, first.destination) == (True, promotion.destination_url)
    assert (second.reason, second.destination) == ("replay", promotion.destination_url)
    assert totals(campaign)["clicks"] == 1


def test_unknown_and_forged_nonces_are_refused():
    assert track(VIEW, new_nonce()).reason == "unknown_nonce"
    assert track(VIEW, "forged-nonce.AAAAAAAAAAAA").reason == "unknown_nonce"
    assert filtered() == {("view", "unknown_nonce"): 2}


def test_expired_nonce_is_refused(served):
    _campaign, _promotion, nonce = served
    redis_client().delete(nonce_key(nonce))  # what the two-hour TTL does

    assert track(CLICK, nonce).reason == "unknown_nonce"


@pytest.mark.parametrize(
    ("user_agent", "reason"), [(GOOGLEBOT, "bot"), ("", "no_user_agent"), ("   ", "no_user_agent")]
)
def test_bots_and_missing_user_agents_are_refused(served, user_agent, reason):
    campaign, _promotion, nonce = served

    assert track(VIEW, nonce, user_agent=user_agent).reason == reason
    assert totals(campaign)["views"] == 0
    assert filtered() == {("view", reason): 1}


def test_rate_limit_per_visitor(settings):
    settings.LITFASS_TRACKING_RATE_LIMIT = 3
    slot = SlotFactory.create(key="sidebar-top")
    CampaignFactory.create(slots=[slot])
    nonces = [
        record_served(
            decide(PageContext(slot_keys=("sidebar-top",)), now=NOW, rng=random.Random(i)), now=NOW
        )["sidebar-top"]
        for i in range(5)
    ]

    outcomes = [track(VIEW, nonce).reason for nonce in nonces]
    other_reader = track(VIEW, nonces[4], ip="192.0.2.99")

    assert outcomes == ["", "", "", "rate_limit", "rate_limit"]
    assert other_reader.counted


def test_rate_limit_counts_each_reader_behind_the_proxy_apart(client, settings):
    settings.LITFASS_TRACKING_RATE_LIMIT = 2
    settings.LITFASS_PROXY_COUNT = 1
    slot = SlotFactory.create(key="sidebar-top")
    campaign = CampaignFactory.create(slots=[slot])
    nonces = [
        record_served(
            decide(PageContext(slot_keys=("sidebar-top",)), now=NOW, rng=random.Random(i)), now=NOW
        )["sidebar-top"]
        for i in range(4)
    ]

    def view(nonce, reader):
        headers = {"user-agent": BROWSER, "x-forwarded-for": reader}
        client.post(f"/t/v/{nonce}", headers=headers, REMOTE_ADDR="127.0.0.1")

    # Two readers with the same browser, each within the limit: all four count.
    for nonce, reader in zip(nonces, ["198.51.100.7", "198.51.100.8"] * 2, strict=True):
        view(nonce, reader)

    assert totals(campaign)["views"] == 4
    assert filtered() == {}


def test_previews_and_staff_are_served_but_never_counted():
    slot = SlotFactory.create(key="sidebar-top")
    campaign = CampaignFactory.create(slots=[slot])
    preview = decide(
        PageContext(slot_keys=("sidebar-top",), preview=True), now=NOW, rng=random.Random(1)
    )
    page = decide(PageContext(slot_keys=("sidebar-top",)), now=NOW, rng=random.Random(1))
    preview_nonce = record_served(preview, now=NOW)["sidebar-top"]
    staff_nonce = record_served(page, now=NOW, refuse="staff")["sidebar-top"]

    assert track(VIEW, preview_nonce).reason == "preview"
    assert track(CLICK, staff_nonce).reason == "staff"
    assert totals(campaign) == {"served": 0, "views": 0, "clicks": 0}
    assert filtered() == {
        ("served", "preview"): 1,
        ("served", "staff"): 1,
        ("view", "preview"): 1,
        ("click", "staff"): 1,
    }


def test_concurrent_views_of_one_nonce_count_once(served):
    campaign, _promotion, nonce = served
    outcomes = []
    start = threading.Barrier(16)

    def hit():
        start.wait()
        outcomes.append(track(VIEW, nonce).counted)

    threads = [threading.Thread(target=hit) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count(True) == 1
    assert totals(campaign)["views"] == 1


def test_no_visitor_key_without_consent():
    slot = SlotFactory.create(key="sidebar-top")
    campaign = CampaignFactory.create(slots=[slot])
    for visitor in (None, "reader-a", "reader-a", "reader-b"):
        decision = decide(
            PageContext(slot_keys=("sidebar-top",), visitor_key=visitor, consent=bool(visitor)),
            now=NOW,
            rng=random.Random(1),
        )
        record_served(decision, now=NOW)

    entries: list[tuple[bytes, dict[bytes, bytes]]] = redis_client().xrange(STREAM)  # type: ignore[assignment]
    events = [event for _id, fields in entries for event in Event.decode_entry(fields[b"e"])]
    flush()

    assert [e.visitor for e in events] == ["", "reader-a", "reader-a", "reader-b"]
    cell = DailyRollup.objects.get(campaign=campaign)
    assert (cell.served, cell.unique_visitors) == (4, 2)


def test_flush_is_idempotent(served):
    campaign, _promotion, nonce = served
    track(VIEW, nonce)

    first = flush()
    second = flush()

    assert (first.events, second.events) == (2, 0)
    assert totals(campaign) == {"served": 1, "views": 1, "clicks": 0}
    assert redis_client().xlen(STREAM) <= 1  # flushed events are trimmed


def test_flush_moves_events_in_batches_into_hour_and_day():
    slot = SlotFactory.create(key="sidebar-top")
    campaign = CampaignFactory.create(slots=[slot])
    promotion = campaign.campaign_promotions.get().promotion
    client = redis_client()
    late_evening = int(datetime(2026, 6, 10, 21, 30, tzinfo=UTC).timestamp())  # 23:30 Berlin
    after_midnight = late_evening + 3600  # 00:30 Berlin, the next day
    for at in [late_evening] * 5 + [after_midnight] * 3:
        client.xadd(STREAM, {"e": Event("served", campaign.pk, promotion.pk, slot.pk, at).encode()})

    report = flush(batch=3)

    assert (report.events, report.batches) == (8, 3)
    assert sorted(DailyRollup.objects.values_list("day", "served")) == [
        (date(2026, 6, 10), 5),
        (date(2026, 6, 11), 3),
    ]
    assert sorted(HourlyRollup.objects.values_list("served", flat=True)) == [3, 5]


def test_flush_that_dies_before_commit_counts_nothing_and_is_redone(served, monkeypatch):
    campaign, _promotion, _nonce = served
    from ads import rollups

    def crash(_events):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(rollups, "apply_encoded", crash)
    with pytest.raises(RuntimeError):
        flush()
    monkeypatch.undo()

    assert HourlyRollup.objects.count() == 0
    assert totals(campaign)["served"] == 1


def test_events_of_deleted_campaigns_do_not_block_the_flush(served):
    campaign, _promotion, nonce = served
    track(VIEW, nonce)
    campaign.delete()

    assert flush().events == 2
    assert HourlyRollup.objects.count() == 0


def test_embedded_store_counts_into_the_database(monkeypatch):
    monkeypatch.setattr(tracking, "_store", DatabaseEventStore())
    slot = SlotFactory.create(key="sidebar-top")
    campaign = CampaignFactory.create(slots=[slot])
    decision = decide(PageContext(slot_keys=("sidebar-top",)), now=NOW, rng=random.Random(1))
    nonce = record_served(decision, now=NOW)["sidebar-top"]

    outcomes = [track(VIEW, nonce).reason, track(VIEW, nonce).reason, track(CLICK, nonce).reason]

    assert outcomes == ["", "replay", ""]
    assert Nonce.objects.get(key=nonce).clicked
    cell = HourlyRollup.objects.get(campaign=campaign)
    assert (cell.served, cell.views, cell.clicks) == (1, 1, 1)
    assert FilteredRollup.objects.get().reason == "replay"
    assert track(VIEW, new_nonce()).reason == "unknown_nonce"
    assert redis_client().xlen(STREAM) == 0


def test_view_beacon_skips_the_middleware_it_does_not_need(client, served):
    _campaign, _promotion, nonce = served

    response = client.post(f"/t/v/{nonce}", headers={"user-agent": BROWSER})

    assert response.status_code == 204
    assert response["X-Content-Type-Options"] == "nosniff"  # security middleware ran
    assert "Content-Language" not in response  # locale middleware did not
    assert not response.cookies
    flush()
    assert sum(HourlyRollup.objects.values_list("views", flat=True)) == 1


def test_view_beacon_path_with_more_segments_is_not_a_beacon(client):
    assert client.post("/t/v/a/b", headers={"user-agent": BROWSER}).status_code == 404
