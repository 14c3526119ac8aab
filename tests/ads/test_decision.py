import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from ads import counters as keys
from ads.counters import bump_version, get_counters
from ads.decision import (
    BERLIN,
    Counts,
    Decision,
    Engine,
    PageContext,
    Reason,
    UnknownSlots,
    _fill,
    _Near,
    _Pool,
    day_fraction,
    decide,
    engine,
    pace_factor,
)
from ads.models import Campaign
from ads.tracking import record_served
from promotions.models import Promotion, Slot
from tests.factories import AdvertiserFactory, CampaignFactory, PromotionFactory, SlotFactory

pytestmark = pytest.mark.django_db

# A Wednesday, 14:00 in Berlin: the day is 14/24 over.
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
DAY = NOW.date()


def page(*slots: Slot, **fields) -> PageContext:
    return PageContext(slot_keys=tuple(slot.key for slot in slots), **fields)


def run(context: PageContext, *, seed: int = 1, explain: bool = False):
    return decide(context, now=NOW, rng=random.Random(seed), explain=explain)


def winners(context: PageContext, key: str, *, times: int = 200) -> Counter:
    rng = random.Random(7)
    chosen = (decide(context, now=NOW, rng=rng).slots[key].campaign for _ in range(times))
    return Counter(campaign.name if campaign else None for campaign in chosen)


def shown_promotion(decision, key: str) -> Promotion:
    promotion = decision.slots[key].promotion
    assert promotion is not None
    return promotion


def reason_of(decision, key: str, campaign: Campaign) -> Reason:
    return {v.campaign.id: v.reason for v in decision.slots[key].verdicts}[campaign.pk]


@pytest.fixture
def slot():
    return SlotFactory.create(key="sidebar-top")


def test_slot_without_campaigns_shows_the_inquiry_fallback(slot):
    decided = run(page(slot)).slots["sidebar-top"]

    assert decided.promotion is None
    assert decided.campaign is None
    assert decided.fallback == Slot.Fallback.INQUIRY


def test_slot_without_campaigns_shows_its_house_promotion():
    house = PromotionFactory.create()
    slot = SlotFactory.create(fallback=Slot.Fallback.HOUSE, house_promotion=house)

    decided = run(page(slot)).slots[slot.key]

    assert decided.promotion == house
    assert decided.campaign is None
    assert decided.fallback == Slot.Fallback.HOUSE


def test_live_campaign_fills_its_slot(slot):
    campaign = CampaignFactory.create(slots=[slot])

    decision = run(page(slot), explain=True)

    assert decision.slots["sidebar-top"].campaign.id == campaign.pk
    assert decision.slots["sidebar-top"].promotion.campaign_link.campaign == campaign
    assert reason_of(decision, "sidebar-top", campaign) == Reason.CHOSEN


def test_campaign_runs_only_in_its_slots(slot):
    other = SlotFactory.create()
    CampaignFactory.create(slots=[other])

    assert run(page(slot)).slots["sidebar-top"].campaign is None


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (["sponsorship", "standard", "house"], "sponsorship"),
        (["standard", "house"], "standard"),
        (["house"], "house"),
    ],
)
def test_highest_tier_always_wins(slot, kinds, expected):
    for kind in kinds:
        CampaignFactory.create(name=kind, kind=kind, slots=[slot], weight=10_000 // len(kind))

    assert set(winners(page(slot), "sidebar-top")) == {expected}


def test_house_fills_what_paid_targeting_leaves(slot):
    CampaignFactory.create(name="paid", slots=[slot], include_tags=["autos"])
    CampaignFactory.create(name="house", kind=Campaign.Kind.HOUSE, ends_at=None, slots=[slot])

    assert set(winners(page(slot, tags=frozenset({"ki"})), "sidebar-top")) == {"house"}
    assert set(winners(page(slot, tags=frozenset({"autos"})), "sidebar-top")) == {"paid"}


def test_lower_tiers_are_reported_as_outranked(slot):
    winner = CampaignFactory.create(kind=Campaign.Kind.SPONSORSHIP, slots=[slot])
    loser = CampaignFactory.create(kind=Campaign.Kind.STANDARD, slots=[slot])

    decision = run(page(slot), explain=True)

    assert reason_of(decision, "sidebar-top", winner) == Reason.CHOSEN
    assert reason_of(decision, "sidebar-top", loser) == Reason.OUTRANKED


@pytest.mark.parametrize(
    ("targeting", "context", "reason"),
    [
        ({"include_tags": ["autos"]}, {"tags": frozenset({"ki"})}, Reason.TAG_NOT_TARGETED),
        ({"exclude_tags": ["krieg"]}, {"tags": frozenset({"krieg"})}, Reason.TAG_EXCLUDED),
        ({"include_sections": ["sport"]}, {"section": "politik"}, Reason.SECTION_NOT_TARGETED),
        ({"exclude_sections": ["politik"]}, {"section": "politik"}, Reason.SECTION_EXCLUDED),
        ({"languages": ["en"]}, {"language": "de"}, Reason.LANGUAGE),
        ({"devices": ["mobile"]}, {"device": "desktop"}, Reason.DEVICE),
        ({"weekdays": [5, 6]}, {}, Reason.WEEKDAY),  # NOW is a Wednesday (2)
        ({"hours": [8, 9, 10]}, {}, Reason.HOUR),  # NOW is 14:00 in Berlin
        ({"starts_at": datetime(2026, 7, 1, tzinfo=UTC)}, {}, Reason.NOT_STARTED),
        ({"ends_at": datetime(2026, 6, 10, 11, 59, tzinfo=UTC)}, {}, Reason.ENDED),
    ],
)
def test_targeting_rule_keeps_campaign_off_the_page(slot, targeting, context, reason):
    campaign = CampaignFactory.create(slots=[slot], **targeting)

    decision = run(page(slot, **context), explain=True)

    assert decision.slots["sidebar-top"].campaign is None
    assert reason_of(decision, "sidebar-top", campaign) == reason


@pytest.mark.parametrize(
    ("targeting", "context"),
    [
        ({"include_tags": ["autos", "ki"]}, {"tags": frozenset({"ki", "japan"})}),
        ({"exclude_tags": ["krieg"]}, {"tags": frozenset({"ki"})}),
        ({"include_sections": ["politik"]}, {"section": "politik"}),
        ({"languages": ["de"]}, {"language": "de"}),
        ({"devices": ["mobile", "tablet"]}, {"device": "tablet"}),
        ({"weekdays": [2], "hours": [14]}, {}),
    ],
)
def test_targeting_rule_lets_matching_page_through(slot, targeting, context):
    campaign = CampaignFactory.create(slots=[slot], **targeting)

    assert run(page(slot, **context)).slots["sidebar-top"].campaign.id == campaign.pk


def test_weighted_lottery_within_a_tier(slot):
    CampaignFactory.create(name="heavy", slots=[slot], weight=300)
    CampaignFactory.create(name="light", slots=[slot], weight=100)

    counts = winners(page(slot), "sidebar-top", times=2000)

    assert 0.70 < counts["heavy"] / 2000 < 0.80


def test_pace_factor_favours_campaigns_behind_schedule():
    # 1000 a day, half the day gone: 500 expected
    assert pace_factor(1000, 100, day_elapsed=0.5) > 1
    assert pace_factor(1000, 900, day_elapsed=0.5) < 1
    assert pace_factor(1000, 500, day_elapsed=0.5) == pytest.approx(1, abs=0.01)
    assert pace_factor(1000, 0, day_elapsed=0.9) == 20.0  # never more than the maximum


def test_even_pacing_scales_the_lottery(slot):
    behind = CampaignFactory.create(name="behind", slots=[slot], pacing_daily_target=1000)
    ahead = CampaignFactory.create(name="ahead", slots=[slot], pacing_daily_target=1000)
    Campaign.objects.update(pacing=Campaign.Pacing.EVEN)
    get_counters().set(
        {keys.served_today(DAY, behind.pk): 100, keys.served_today(DAY, ahead.pk): 900}
    )

    counts = winners(page(slot), "sidebar-top", times=1000)

    assert counts["behind"] > 3 * counts["ahead"] > 0


def test_even_pacing_stops_when_todays_share_is_delivered(slot):
    campaign = CampaignFactory.create(
        slots=[slot], pacing=Campaign.Pacing.EVEN, pacing_daily_target=500
    )
    get_counters().set({keys.served_today(DAY, campaign.pk): 500})

    decision = run(page(slot), explain=True)

    assert reason_of(decision, "sidebar-top", campaign) == Reason.PACED


def test_asap_pacing_ignores_the_daily_target(slot):
    campaign = CampaignFactory.create(slots=[slot], pacing_daily_target=500)
    get_counters().set({keys.served_today(DAY, campaign.pk): 5000})

    assert run(page(slot)).slots["sidebar-top"].campaign.id == campaign.pk


def test_daily_cap(slot):
    campaign = CampaignFactory.create(slots=[slot], daily_cap=50)
    get_counters().set({keys.served_today(DAY, campaign.pk): 49})
    assert run(page(slot)).slots["sidebar-top"].campaign.id == campaign.pk

    get_counters().set({keys.served_today(DAY, campaign.pk): 50})
    decision = run(page(slot), explain=True)

    assert decision.slots["sidebar-top"].campaign is None
    assert reason_of(decision, "sidebar-top", campaign) == Reason.DAILY_CAP


@pytest.mark.parametrize(
    ("goal", "counter"),
    [("goal_impressions", keys.served_total), ("goal_clicks", keys.clicks_total)],
)
def test_goal_reached_stops_delivery(slot, goal, counter):
    campaign = CampaignFactory.create(slots=[slot], **{goal: 1000})
    get_counters().set({counter(campaign.pk): 1000})

    decision = run(page(slot), explain=True)

    assert reason_of(decision, "sidebar-top", campaign) == Reason.GOAL_REACHED


def test_frequency_cap_per_visitor_and_day(slot):
    campaign = CampaignFactory.create(slots=[slot], frequency_cap=3)
    get_counters().set({keys.frequency(DAY, "reader-a", campaign.pk): 3})

    capped = run(page(slot, consent=True, visitor_key="reader-a"), explain=True)
    other = run(page(slot, consent=True, visitor_key="reader-b"))

    assert reason_of(capped, "sidebar-top", campaign) == Reason.FREQUENCY_CAP
    assert other.slots["sidebar-top"].campaign.id == campaign.pk


def test_frequency_cap_without_consent_means_once_per_page():
    slots = [SlotFactory.create(allows_repeats=True) for _ in range(2)]
    campaign = CampaignFactory.create(slots=slots, frequency_cap=5, promotions=2)

    anonymous = run(page(*slots), explain=True)
    known = run(page(*slots, consent=True, visitor_key="reader-a"))

    assert [d.campaign is not None for d in anonymous.slots.values()] == [True, False]
    assert reason_of(anonymous, slots[1].key, campaign) == Reason.ONCE_PER_PAGE
    assert all(d.campaign is not None for d in known.slots.values())


def test_no_creative_twice_on_one_page():
    slots = [SlotFactory.create() for _ in range(2)]
    CampaignFactory.create(kind=Campaign.Kind.HOUSE, ends_at=None, slots=slots, promotions=1)

    decision = run(page(*slots), explain=True)

    first, second = decision.slots.values()
    assert first.promotion is not None
    assert second.campaign is None
    assert second.verdicts[0].reason == Reason.NO_PROMOTION


def test_house_campaign_fills_several_slots_with_different_creatives():
    slots = [SlotFactory.create() for _ in range(2)]
    CampaignFactory.create(kind=Campaign.Kind.HOUSE, ends_at=None, slots=slots, promotions=2)

    for seed in range(20):
        first, second = run(page(*slots), seed=seed).slots.values()
        assert first.promotion != second.promotion
        assert None not in (first.promotion, second.promotion)


def test_no_advertiser_twice_on_one_page_unless_the_slot_allows_it():
    advertiser = AdvertiserFactory.create()
    plain = [SlotFactory.create() for _ in range(2)]
    CampaignFactory.create(advertiser=advertiser, slots=plain)
    CampaignFactory.create(advertiser=advertiser, slots=plain)

    decision = run(page(*plain), explain=True)
    assert [d.campaign is not None for d in decision.slots.values()] == [True, False]
    assert Reason.ADVERTISER_ON_PAGE in {v.reason for v in decision.slots[plain[1].key].verdicts}

    Slot.objects.filter(pk=plain[1].pk).update(allows_repeats=True)
    engine.forget()
    assert all(d.campaign is not None for d in run(page(*plain)).slots.values())


def test_competitive_categories_never_share_a_page():
    slots = [SlotFactory.create(allows_repeats=True) for _ in range(2)]
    first = CampaignFactory.create(slots=slots, competitive_category="autos")
    second = CampaignFactory.create(slots=slots, competitive_category="autos")

    for seed in range(10):
        decision = run(page(*slots), seed=seed, explain=True)
        shown = [d.campaign.id for d in decision.slots.values() if d.campaign]
        assert len(shown) == 1
        other = ({first.pk, second.pk} - set(shown)).pop()
        assert reason_of(decision, slots[1].key, Campaign(pk=other)) in (
            Reason.CATEGORY_ON_PAGE,
            Reason.CHOSEN,
        )


def test_unapproved_promotions_never_run(slot):
    pending = PromotionFactory.create(review_status=Promotion.ReviewStatus.PENDING)
    campaign = CampaignFactory.create(slots=[slot], promotions=[pending])

    decision = run(page(slot), explain=True)

    assert decision.slots["sidebar-top"].promotion is None
    assert reason_of(decision, "sidebar-top", campaign) == Reason.NO_PROMOTION


def test_even_rotation_shows_each_creative_alike(slot):
    CampaignFactory.create(slots=[slot], promotions=3, rotation=Campaign.Rotation.EVEN)
    rng = random.Random(3)

    shown = Counter(
        shown_promotion(decide(page(slot), now=NOW, rng=rng), slot.key).pk for _ in range(900)
    )

    assert len(shown) == 3
    assert all(250 < count < 350 for count in shown.values())


def test_weighted_rotation_follows_creative_weights(slot):
    heavy, light = PromotionFactory.create(), PromotionFactory.create()
    CampaignFactory.create(
        slots=[slot],
        promotions=[(heavy, 900), (light, 100)],
        rotation=Campaign.Rotation.WEIGHTED,
    )
    rng = random.Random(3)

    shown = Counter(
        decide(page(slot), now=NOW, rng=rng).slots[slot.key].promotion for _ in range(1000)
    )

    assert 0.85 < shown[heavy] / 1000 < 0.95


def test_optimised_rotation_prefers_the_creative_that_is_clicked(slot):
    good, poor = PromotionFactory.create(), PromotionFactory.create()
    CampaignFactory.create(
        slots=[slot], promotions=[good, poor], rotation=Campaign.Rotation.OPTIMISED
    )
    get_counters().set(
        {
            keys.promotion_served(good.pk): 1000,
            keys.promotion_clicks(good.pk): 50,
            keys.promotion_served(poor.pk): 1000,
            keys.promotion_clicks(poor.pk): 10,
        }
    )
    rng = random.Random(3)

    shown = Counter(
        decide(page(slot), now=NOW, rng=rng).slots[slot.key].promotion for _ in range(500)
    )

    assert shown[good] > 0.95 * 500


def test_optimised_rotation_still_tries_unproven_creatives(slot):
    proven, fresh = PromotionFactory.create(), PromotionFactory.create()
    CampaignFactory.create(
        slots=[slot], promotions=[proven, fresh], rotation=Campaign.Rotation.OPTIMISED
    )
    get_counters().set({keys.promotion_served(proven.pk): 200, keys.promotion_clicks(proven.pk): 2})
    rng = random.Random(3)

    shown = Counter(
        decide(page(slot), now=NOW, rng=rng).slots[slot.key].promotion for _ in range(500)
    )

    assert shown[fresh] > 50


def test_unknown_slots_are_refused_or_skipped(slot):
    with pytest.raises(UnknownSlots) as refused:
        run(PageContext(slot_keys=("sidebar-top", "nope")))
    assert refused.value.keys == ("nope",)

    skipped = decide(
        PageContext(slot_keys=("sidebar-top", "nope")),
        now=NOW,
        rng=random.Random(1),
        skip_unknown=True,
    )
    assert list(skipped.slots) == ["sidebar-top"]


def test_same_seed_same_decision():
    slots = [SlotFactory.create() for _ in range(4)]
    for _ in range(10):
        CampaignFactory.create(slots=slots, promotions=2)

    def chosen(seed):
        return [d.promotion.pk for d in run(page(*slots), seed=seed).slots.values()]

    assert chosen(5) == chosen(5)
    assert len({tuple(chosen(seed)) for seed in range(10)}) > 1


def test_no_sql_after_warm_up(django_assert_num_queries):
    slots = [SlotFactory.create() for _ in range(4)]
    for index in range(20):
        CampaignFactory.create(
            slots=slots[index % 2 :],
            daily_cap=100,
            goal_impressions=1000,
            frequency_cap=2,
            rotation=Campaign.Rotation.OPTIMISED,
            promotions=2,
        )
    context = page(*slots, consent=True, visitor_key="reader-a", tags=frozenset({"ki"}))
    run(context)

    with django_assert_num_queries(0):
        for seed in range(20):
            run(context, seed=seed)


def test_one_redis_round_trip_per_decision(monkeypatch):
    slots = [SlotFactory.create() for _ in range(4)]
    for n in range(10):
        CampaignFactory.create(
            slots=slots, daily_cap=100, frequency_cap=3, goal_impressions=1000 + n
        )
    own = Engine(counters=get_counters)
    own.decide(page(*slots), now=NOW, rng=random.Random(1))  # builds the snapshot
    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counted(self, command, *args, **kwargs):
        sent.append(command)
        return original(self, command, *args, **kwargs)

    # Every round trip, a single command or a pipeline, is one send of packed commands.
    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)

    for seed in range(10):
        # The first reads the goal totals too; the others find them still fresh.
        own.decide(page(*slots, visitor_key="r"), now=NOW, rng=random.Random(seed))

    assert len(sent) == 10


def test_version_bump_rebuilds_the_snapshot(slot):
    run(page(slot))
    campaign = CampaignFactory.create(slots=[slot])
    # the test transaction never commits, so nothing bumped the version yet
    assert run(page(slot)).slots["sidebar-top"].campaign is None

    bump_version()

    assert run(page(slot)).slots["sidebar-top"].campaign.id == campaign.pk


def test_explain_lists_every_candidate_of_the_slot(slot):
    chosen = CampaignFactory.create(kind=Campaign.Kind.SPONSORSHIP, slots=[slot])
    lost = CampaignFactory.create(kind=Campaign.Kind.SPONSORSHIP, slots=[slot], weight=1)
    lower = CampaignFactory.create(slots=[slot])
    off = CampaignFactory.create(slots=[slot], languages=["en"])
    chosen.weight = 10_000
    Campaign.objects.filter(pk=chosen.pk).update(weight=10_000)

    decision = run(page(slot), explain=True)

    reasons = {v.campaign.id: v.reason for v in decision.slots["sidebar-top"].verdicts}
    assert reasons == {
        chosen.pk: Reason.CHOSEN,
        lost.pk: Reason.LOST_LOTTERY,
        lower.pk: Reason.OUTRANKED,
        off.pk: Reason.LANGUAGE,
    }
    assert all(v.label for v in decision.slots["sidebar-top"].verdicts)


def test_record_served_counts_campaign_promotion_and_visitor(slot):
    campaign = CampaignFactory.create(slots=[slot])
    decision = run(page(slot, consent=True, visitor_key="reader-a"))

    record_served(decision, now=NOW)
    record_served(decision, now=NOW)

    promotion = decision.slots["sidebar-top"].promotion
    assert get_counters().read(
        [
            keys.served_today(DAY, campaign.pk),
            keys.served_total(campaign.pk),
            keys.promotion_served(promotion.pk),
            keys.frequency(DAY, "reader-a", campaign.pk),
        ]
    ) == [2, 2, 2, 2]


def test_previews_are_not_counted(slot):
    campaign = CampaignFactory.create(slots=[slot])

    record_served(run(page(slot, preview=True)), now=NOW)

    assert get_counters().read([keys.served_total(campaign.pk)]) == [0]


def test_goal_totals_may_be_a_few_seconds_old_but_caps_never(slot):
    from datetime import timedelta

    from ads.decision import SLOW_TTL

    campaign = CampaignFactory.create(slots=[slot], goal_impressions=1000, daily_cap=100)
    assert run(page(slot)).slots["sidebar-top"].campaign is not None
    get_counters().set({keys.served_total(campaign.pk): 1000})

    soon = decide(page(slot), now=NOW + timedelta(seconds=1), rng=random.Random(1))
    later = decide(
        page(slot), now=NOW + timedelta(seconds=SLOW_TTL + 1), rng=random.Random(1), explain=True
    )
    assert soon.slots["sidebar-top"].campaign is not None
    assert reason_of(later, "sidebar-top", campaign) == Reason.GOAL_REACHED


@pytest.fixture
def sends(monkeypatch) -> list[bytes]:
    """The decisions' reads of live counters from here on: one per round trip."""
    sent: list[bytes] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counted(self, command, *args, **kwargs):
        packed = b"".join(command) if isinstance(command, list) else command
        if b"MGET\r\n" in packed or b"HGETALL\r\n" in packed:
            sent.append(packed)
        return original(self, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    return sent


def cached_engine() -> Engine:
    return Engine(counters=get_counters, live_ttl=1.0)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_served_counts_read_a_moment_ago_are_used_without_a_round_trip(slot, sends):
    campaign = CampaignFactory.create(slots=[slot], daily_cap=1000, goal_impressions=10**6)
    own = cached_engine()
    own.decide(page(slot), now=at(0), rng=random.Random(1))
    read = len(sends)
    get_counters().set({keys.served_today(DAY, campaign.pk): 1000})

    soon = own.decide(page(slot), now=at(0.5), rng=random.Random(1))
    later = own.decide(page(slot), now=at(1.5), rng=random.Random(1), explain=True)

    assert len(sends) == read + 1  # only the later one read
    assert soon.slots["sidebar-top"].campaign is not None  # on the count of a moment ago
    assert reason_of(later, "sidebar-top", campaign) == Reason.DAILY_CAP


def test_a_campaign_near_its_daily_cap_is_read_when_drawn(slot, sends):
    campaign = CampaignFactory.create(slots=[slot], daily_cap=1000, goal_impressions=10**6)
    # Within 5 %: near, as long as the process has not seen how fast it is served.
    get_counters().set({keys.served_today(DAY, campaign.pk): 960})
    own = cached_engine()
    assert own.decide(page(slot), now=at(0), rng=random.Random(1)).slots["sidebar-top"].campaign
    get_counters().set({keys.served_today(DAY, campaign.pk): 1000})
    read = len(sends)

    capped = own.decide(page(slot), now=at(0.1), rng=random.Random(1))

    assert len(sends) == read + 1
    assert capped.slots["sidebar-top"].campaign is None


def reads_of(campaign, sent: list[bytes]) -> int:
    return sum(keys.served_today(DAY, campaign.pk).encode() in packed for packed in sent)


def read_at_0_and_2(slot, first: dict, then: dict) -> Engine:
    """An engine that read the served counts (by campaign) ``first`` at 0 s and
    ``then`` at 2 s: it knows how fast each campaign is served."""
    own = cached_engine()
    for seconds, counts in ((0, first), (2, then)):
        get_counters().set({keys.served_today(DAY, c.pk): n for c, n in counts.items()})
        own.decide(page(slot), now=at(seconds), rng=random.Random(1))
    return own


def test_near_its_cap_is_what_the_site_serves_of_a_campaign_before_the_next_read(slot, sends):
    slow = CampaignFactory.create(slots=[slot], daily_cap=1000)
    fast = CampaignFactory.create(slots=[slot], daily_cap=100_000)
    # The slow one is served once a second, the fast one 20,000 times a second (40,000
    # a read, twice over: within 80,000 of its cap).
    own = read_at_0_and_2(slot, {slow: 960, fast: 50_000}, {slow: 962, fast: 90_000})
    count = len(sends)

    chosen = [
        own.decide(page(slot), now=at(2 + n / 10), rng=random.Random(n)).slots["sidebar-top"]
        for n in range(1, 9)
    ]

    drawn_fast = sum(c.campaign is not None and c.campaign.id == fast.pk for c in chosen)
    assert 0 < drawn_fast < 8
    assert len(sends) == count + drawn_fast  # read when a draw picked it (and still under)
    assert reads_of(fast, sends[count:]) == drawn_fast  # 10 % from its cap, but served fast
    assert reads_of(slow, sends[count:]) == 0  # 4 % from its cap, but served slowly


def test_a_campaign_served_slowly_is_near_at_the_last_page_views_of_its_cap(slot, sends):
    campaign = CampaignFactory.create(slots=[slot], daily_cap=1000)
    own = read_at_0_and_2(slot, {campaign: 970}, {campaign: 981})  # 20 left: NEAR_CAP_MIN
    get_counters().set({keys.served_today(DAY, campaign.pk): 1000})
    count = len(sends)

    capped = own.decide(page(slot), now=at(2.1), rng=random.Random(1))

    assert len(sends) == count + 1
    assert capped.slots["sidebar-top"].campaign is None


def test_counts_put_back_lower_give_no_rate_but_the_share_of_the_cap(slot, sends):
    campaign = CampaignFactory.create(slots=[slot], daily_cap=1000)
    own = read_at_0_and_2(slot, {campaign: 970}, {campaign: 955})  # put back by hand
    count = len(sends)

    own.decide(page(slot), now=at(2.1), rng=random.Random(1))

    assert reads_of(campaign, sends[count:]) == 1  # within 5 %: near


def test_a_rate_is_measured_over_at_least_a_ttl(slot, sends):
    campaign = CampaignFactory.create(slots=[slot], daily_cap=1000)
    store = get_counters()
    store.set({keys.served_today(DAY, campaign.pk): 955})
    own = cached_engine()
    own.decide(page(slot), now=at(0), rng=random.Random(1))
    # Another read a moment later (as a second thread's would be): no rate from it,
    # and not what the next read measures against.
    own.decide(page(slot), now=at(0.01), rng=random.Random(1), explain=True)
    own._live = None  # (as if that thread had read the counts again)
    own.decide(page(slot), now=at(0.02), rng=random.Random(1))
    count = len(sends)
    own.decide(page(slot), now=at(0.03), rng=random.Random(1))
    assert reads_of(campaign, sends[count:]) == 1  # no rate: within 5 %

    store.set({keys.served_today(DAY, campaign.pk): 957})  # 2 in 1.5 s, since the first
    own.decide(page(slot), now=at(1.5), rng=random.Random(1))
    count = len(sends)
    own.decide(page(slot), now=at(1.6), rng=random.Random(1))
    assert reads_of(campaign, sends[count:]) == 0


def test_a_rate_outlives_a_new_snapshot_but_not_a_long_pause(slot, sends):
    from ads.decision import RATE_WINDOW

    campaign = CampaignFactory.create(slots=[slot], daily_cap=1000)
    other = SlotFactory.create(key="other")
    store = get_counters()
    store.set({keys.served_today(DAY, campaign.pk): 945})
    own = cached_engine()
    own.decide(page(slot), now=at(0), rng=random.Random(1))
    bump_version()  # (a save elsewhere: the snapshot is built anew)
    CampaignFactory.create(slots=[other])
    store.set({keys.served_today(DAY, campaign.pk): 955})  # 5 a second
    own.decide(page(slot), now=at(2), rng=random.Random(1))
    count = len(sends)
    own.decide(page(slot), now=at(2.5), rng=random.Random(1))
    assert reads_of(campaign, sends[count:]) == 0  # within 5 %, but not within 20

    store.set({keys.served_today(DAY, campaign.pk): 956})
    own.decide(page(slot), now=at(3 + RATE_WINDOW), rng=random.Random(1))  # rate unknown
    count = len(sends)
    own.decide(page(slot), now=at(3.5 + RATE_WINDOW), rng=random.Random(1))
    assert reads_of(campaign, sends[count:]) == 1  # within 5 % again


def test_a_readers_frequency_counts_are_read_on_every_decision(slot, sends):
    campaign = CampaignFactory.create(slots=[slot], frequency_cap=2)
    reader = page(slot, consent=True, visitor_key="reader-a")
    own = cached_engine()
    assert own.decide(reader, now=at(0), rng=random.Random(1)).slots["sidebar-top"].campaign
    get_counters().set({keys.frequency(DAY, "reader-a", campaign.pk): 2})
    read = len(sends)

    capped = own.decide(reader, now=at(0.1), rng=random.Random(1))

    assert len(sends) == read + 1
    assert capped.slots["sidebar-top"].campaign is None


def test_a_readers_counts_are_read_without_served_counts_read_a_moment_ago(slot, sends):
    CampaignFactory.create(slots=[slot], frequency_cap=5, daily_cap=1000)
    reader = page(slot, consent=True, visitor_key="reader-a")
    own = cached_engine()
    own.decide(reader, now=at(0), rng=random.Random(1))
    own.decide(reader, now=at(0.1), rng=random.Random(1))
    own.decide(reader, now=at(1.5), rng=random.Random(1))

    first, second, third = sends[-3:]
    assert b":served:" in first
    assert b":served:" not in second  # only the version and the reader's hash
    assert b"HGETALL" in second
    assert b":served:" in third  # a second later: read again


def test_an_explanation_always_reads_the_counters(slot, sends):
    CampaignFactory.create(slots=[slot], daily_cap=1000)
    own = cached_engine()
    own.decide(page(slot), now=at(0), rng=random.Random(1))
    read = len(sends)

    own.decide(page(slot), now=at(0.1), rng=random.Random(1), explain=True)

    assert len(sends) == read + 1


def test_an_explanation_of_a_later_moment_does_not_keep_decisions_from_reading(slot):
    campaign = CampaignFactory.create(slots=[slot], daily_cap=1000)
    own = cached_engine()
    own.decide(page(slot), now=at(0), rng=random.Random(1))
    # An editor asks about half an hour later (the same Berlin hour, the same page)...
    own.decide(page(slot), now=at(1800), rng=random.Random(1), explain=True)
    # ...and then the campaign reaches its cap.
    get_counters().set({keys.served_today(DAY, campaign.pk): 1000})

    later = own.decide(page(slot), now=at(1.5), rng=random.Random(1))

    assert later.slots["sidebar-top"].campaign is None  # read again: capped


def test_a_new_snapshot_version_is_seen_once_the_counts_are_read_again(slot):
    own = cached_engine()
    own.decide(page(slot), now=at(0), rng=random.Random(1))
    campaign = CampaignFactory.create(slots=[slot])
    bump_version()

    soon = own.decide(page(slot), now=at(0.5), rng=random.Random(1))
    later = own.decide(page(slot), now=at(1.5), rng=random.Random(1))

    assert soon.slots["sidebar-top"].campaign is None  # the snapshot of a moment ago
    chosen = later.slots["sidebar-top"].campaign
    assert chosen is not None
    assert chosen.id == campaign.pk


def test_with_no_time_to_live_every_decision_reads(slot, sends):
    CampaignFactory.create(slots=[slot], daily_cap=1000)
    own = Engine(counters=get_counters, live_ttl=0.0)
    own.decide(page(slot), now=at(0), rng=random.Random(1))  # builds the snapshot
    read = len(sends)

    for n in range(3):
        own.decide(page(slot), now=at(n * 0.01), rng=random.Random(1))

    assert len(sends) == read + 3


def test_start_and_end_are_checked_on_every_decision_not_memoised(slot):
    from datetime import timedelta

    campaign = CampaignFactory.create(
        slots=[slot], starts_at=NOW + timedelta(minutes=1), ends_at=NOW + timedelta(minutes=2)
    )

    before = decide(page(slot), now=NOW, rng=random.Random(1), explain=True)
    during = decide(page(slot), now=NOW + timedelta(seconds=90), rng=random.Random(1))
    after = decide(page(slot), now=NOW + timedelta(minutes=3), rng=random.Random(1), explain=True)

    assert reason_of(before, "sidebar-top", campaign) == Reason.NOT_STARTED
    chosen = during.slots["sidebar-top"].campaign
    assert chosen is not None
    assert chosen.id == campaign.pk
    assert reason_of(after, "sidebar-top", campaign) == Reason.ENDED


def filled_as_if_read_first(
    engine: Engine, reader: PageContext, rng: random.Random, **counts: Any
) -> Decision:
    """What the engine's fill at 0.1 s makes of ``counts`` read first (``Counts`` fields
    besides the served counts and totals the engine holds): on verdicts and pools of its
    own, so that the engine's shared ones are checked too."""
    now = at(0.1)
    snap = engine.snapshot(now=now)
    local = now.astimezone(BERLIN)
    live = engine._live
    assert live is not None
    return _fill(
        snap,
        reader,
        targeted=snap.targeted(reader, local.weekday(), local.hour, DAY, now=now),
        timed={},
        counts=Counts(served=live.served, totals=engine._slow.values, **counts),
        day_elapsed=day_fraction(now),
        rng=rng,
        explain=False,
        dynamics={},
        pools={},
    )


def test_a_readers_page_filled_while_the_counts_come_is_the_one_they_make(monkeypatch):
    """A consented reader's page is filled while their frequency counts are on their way
    (assumed none) and filled again should they change the outcome: either way it is
    the decision that the same draws make on the counts read."""
    slots = [SlotFactory.create(allows_repeats=True) for _ in range(2)]
    capped = [
        CampaignFactory.create(slots=slots, frequency_cap=cap, promotions=2) for cap in (1, 2, 3)
    ]
    CampaignFactory.create(slots=slots, promotions=2)  # no cap
    reader = page(*slots, consent=True, visitor_key="reader-a")
    asking = cached_engine()
    asking.decide(page(*slots), now=at(0), rng=random.Random(1))  # served counts, read
    outcomes = []
    confirmed_by = Counts.confirmed_by

    def spied(counts, frequency):
        outcomes.append(confirmed_by(counts, frequency))
        return outcomes[-1]

    monkeypatch.setattr(Counts, "confirmed_by", spied)
    # The reader has seen none; the first once; the second once (a second time on this
    # page reaches its cap); the third twice; all of them up to their caps.
    for seen in ({}, {0: 1}, {1: 1}, {2: 2}, {0: 1, 1: 2, 2: 3}):
        frequency = {c.pk: seen.get(n, 0) for n, c in enumerate(capped)}
        get_counters().set({keys.frequency(DAY, "reader-a", c): n for c, n in frequency.items()})
        for seed in range(25):
            got = asking.decide(reader, now=at(0.1), rng=random.Random(seed))
            draws = random.Random(random.Random(seed).getrandbits(64))
            expected = filled_as_if_read_first(asking, reader, draws, frequency=frequency)
            assert [(d.campaign, d.promotion) for d in got.slots.values()] == [
                (d.campaign, d.promotion) for d in expected.slots.values()
            ], (seen, seed)

    assert True in outcomes  # decisions that stood...
    assert False in outcomes  # ...and decisions made again on the counts read
    assert len(outcomes) == 5 * 25  # every one of them filled while the counts came


def test_a_readers_counts_come_in_one_round_trip_while_the_page_is_filled(slot, sends):
    CampaignFactory.create(slots=[slot], frequency_cap=2)
    reader = page(slot, consent=True, visitor_key="reader-a")
    own = cached_engine()
    own.decide(page(slot), now=at(0), rng=random.Random(1))
    read = len(sends)

    own.decide(reader, now=at(0.1), rng=random.Random(1))

    assert len(sends) == read + 1
    assert b"HGETALL" in sends[-1]
    assert b"MGET\r\n" not in sends[-1]


def test_served_counts_are_read_once_for_every_page_of_the_process(sends):
    first, second = SlotFactory.create(key="first"), SlotFactory.create(key="second")
    mine = CampaignFactory.create(slots=[first], daily_cap=1000)
    other = CampaignFactory.create(slots=[second], daily_cap=1000)
    own = cached_engine()
    own.decide(page(first), now=at(0), rng=random.Random(1))
    read, count = sends[-1], len(sends)

    own.decide(page(second), now=at(0.5), rng=random.Random(1))

    # The first page's read took the other page's campaign too: the second read nothing.
    assert len(sends) == count
    assert keys.served_today(DAY, mine.pk).encode() in read
    assert keys.served_today(DAY, other.pk).encode() in read


def near_and_far_from_the_cap(slot) -> tuple[Campaign, Campaign, Engine]:
    """Two campaigns capped at 1,000 a day, served 990 and 10 times, and an engine that
    read those counts at 0 s: the first is near its cap."""
    near = CampaignFactory.create(slots=[slot], daily_cap=1000)
    far = CampaignFactory.create(slots=[slot], daily_cap=1000)
    get_counters().set({keys.served_today(DAY, near.pk): 990, keys.served_today(DAY, far.pk): 10})
    own = cached_engine()
    own.decide(page(slot), now=at(0), rng=random.Random(1))
    return near, far, own


def test_only_the_campaigns_near_their_cap_are_read_anew(slot, sends):
    near, far, own = near_and_far_from_the_cap(slot)
    get_counters().set({keys.served_today(DAY, near.pk): 1000})
    count = len(sends)

    for n in range(5):
        decision = own.decide(page(slot), now=at(0.1 + n / 10), rng=random.Random(n))
        chosen = decision.slots["sidebar-top"].campaign
        assert chosen is not None
        assert chosen.id == far.pk  # the other one is capped

    # Read by the first draw that picked it (then refused, and the draw made again); the
    # decisions after it knew it was capped.
    assert len(sends) == count + 1
    assert all(keys.served_today(DAY, near.pk).encode() in sent for sent in sends[count:])
    assert not any(keys.served_today(DAY, far.pk).encode() in sent for sent in sends[count:])


def test_a_campaign_near_its_cap_is_read_only_for_the_pages_whose_draw_picks_it(slot, sends):
    near, _far, own = near_and_far_from_the_cap(slot)
    count = len(sends)

    chosen = [
        own.decide(page(slot), now=at(0.01 * n), rng=random.Random(n)).slots["sidebar-top"]
        for n in range(1, 41)
    ]

    picked = sum(c.campaign is not None and c.campaign.id == near.pk for c in chosen)
    assert 5 < picked < 35  # both are drawn: near is still under its cap
    assert len(sends) == count + picked
    assert all(keys.served_today(DAY, near.pk).encode() in sent for sent in sends[count:])


def test_a_capped_campaign_drawn_leaves_the_others_their_chances(slot, sends):
    near = CampaignFactory.create(slots=[slot], daily_cap=1000, weight=2)
    light = CampaignFactory.create(slots=[slot], weight=1)
    heavy = CampaignFactory.create(slots=[slot], weight=3)
    get_counters().set({keys.served_today(DAY, near.pk): 990})
    own = cached_engine()
    own.decide(page(slot), now=at(0), rng=random.Random(0))
    get_counters().set({keys.served_today(DAY, near.pk): 1000})  # capped since the read
    count = len(sends)
    rng = random.Random(5)

    shown: Counter[int | None] = Counter()
    for _ in range(2000):
        chosen = own.decide(page(slot), now=at(0.5), rng=rng).slots["sidebar-top"].campaign
        shown[chosen.id if chosen else None] += 1

    assert shown[near.pk] == 0
    # As if it were not there: 1 to 3, whatever its own weight.
    assert abs(shown[light.pk] / 2000 - 0.25) < 0.035
    assert abs(shown[heavy.pk] / 2000 - 0.75) < 0.035
    # Read by the first decision that drew it; the others knew it was capped.
    assert len(sends) == count + 1


def test_a_capped_campaign_is_refused_where_campaigns_start_within_the_hour(slot, sends):
    near = CampaignFactory.create(slots=[slot], daily_cap=1000, weight=100)
    other = CampaignFactory.create(slots=[slot], weight=100)
    # Starts in an hour: every decision checks its start, and draws without a pool.
    CampaignFactory.create(slots=[slot], starts_at=NOW + timedelta(hours=1))
    get_counters().set({keys.served_today(DAY, near.pk): 990})
    own = cached_engine()
    own.decide(page(slot), now=at(0), rng=random.Random(0))
    get_counters().set({keys.served_today(DAY, near.pk): 1000})
    count = len(sends)

    for n in range(20):
        chosen = own.decide(page(slot), now=at(0.5), rng=random.Random(n)).slots["sidebar-top"]
        assert chosen.campaign is not None
        assert chosen.campaign.id == other.pk

    assert len(sends) == count + 1


def test_a_readers_page_reads_the_campaigns_near_their_cap_with_the_readers_counts(slot, sends):
    near = CampaignFactory.create(slots=[slot], daily_cap=1000, frequency_cap=3)
    get_counters().set({keys.served_today(DAY, near.pk): 990})
    reader = page(slot, consent=True, visitor_key="reader-a")
    own = cached_engine()
    assert own.decide(reader, now=at(0), rng=random.Random(1)).slots["sidebar-top"].campaign
    get_counters().set({keys.served_today(DAY, near.pk): 1000})
    count = len(sends)

    capped = own.decide(reader, now=at(0.1), rng=random.Random(1))

    assert len(sends) == count + 1  # one round trip: the reader's hash and the count
    assert keys.served_today(DAY, near.pk).encode() in sends[-1]
    assert b"HGETALL" in sends[-1]
    assert capped.slots["sidebar-top"].campaign is None


def test_a_readers_page_with_a_campaign_near_its_cap_is_the_one_its_count_makes(sends):
    """A reader's page is filled while their counts and those of the campaigns near their
    cap come (assumed below it): the decision is the one the same draws make on the
    counts read, whether the campaign is still under its cap or reached it."""
    slots = [SlotFactory.create(allows_repeats=True) for _ in range(2)]
    near = CampaignFactory.create(slots=slots, daily_cap=1000, frequency_cap=3, promotions=2)
    others = [CampaignFactory.create(slots=slots, promotions=2) for _ in range(2)]
    get_counters().set({keys.served_today(DAY, near.pk): 990})
    reader = page(*slots, consent=True, visitor_key="reader-a")
    asking = cached_engine()
    asking.decide(page(*slots), now=at(0), rng=random.Random(1))  # served counts, read

    shown: dict[int, set[int]] = {}
    for served_now in (999, 1000):  # one page view left; none
        get_counters().set({keys.served_today(DAY, near.pk): served_now})
        count = len(sends)
        shown[served_now] = set()
        for seed in range(25):
            got = asking.decide(reader, now=at(0.1), rng=random.Random(seed))
            draws = random.Random(random.Random(seed).getrandbits(64))
            fresh = _Near((near.pk,), set(), fresh={near.pk: served_now})
            expected = filled_as_if_read_first(asking, reader, draws, frequency={}, near=fresh)
            assert [(d.campaign, d.promotion) for d in got.slots.values()] == [
                (d.campaign, d.promotion) for d in expected.slots.values()
            ], (served_now, seed)
            shown[served_now] |= {d.campaign.id for d in got.slots.values() if d.campaign}
        assert len(sends) == count + 25  # one round trip each: the reader's and the count
        assert all(keys.served_today(DAY, near.pk).encode() in sent for sent in sends[count:])

    assert shown[999] == {near.pk, *(c.pk for c in others)}
    assert shown[1000] == {c.pk for c in others}


@pytest.fixture
def unfrozen():
    import gc

    yield gc
    gc.unfreeze()  # the rest of the suite as it was


def tracked(gc, thing) -> bool:
    """Whether the collector's walks reach ``thing`` (frozen objects are not listed)."""
    return any(seen is thing for seen in gc.get_objects())


class _Cycle:
    def __init__(self) -> None:
        self.itself = self


def test_a_snapshot_is_kept_out_of_the_collectors_walks_until_the_next(slot, unfrozen):
    import weakref

    from ads.decision import build_snapshot

    CampaignFactory.create(slots=[slot])
    planted: list[weakref.ref[_Cycle]] = []

    def build(version, *, now):
        snapshot = build_snapshot(version, now=now)
        # Cyclic garbage that only this snapshot holds, there before the freeze.
        snapshot.rendered[("garbage",)] = cycle = _Cycle()
        planted.append(weakref.ref(cycle))
        return snapshot

    own = Engine(counters=get_counters, build=build, freeze=True)
    unfrozen.unfreeze()
    first = own.snapshot(now=NOW)
    assert unfrozen.get_freeze_count() > 0
    assert not tracked(unfrozen, first)  # frozen: no walk reaches it
    del first
    unfrozen.collect()
    assert planted[0]() is not None  # frozen, so not collected

    bump_version()
    second = own.snapshot(now=NOW, version=get_counters().read([keys.VERSION_KEY])[0])

    assert planted[0]() is None  # collected with the next snapshot, not kept for good
    assert planted[1]() is not None
    assert not tracked(unfrozen, second)


def test_without_the_freeze_a_snapshot_is_left_to_the_collector(slot, unfrozen):
    unfrozen.unfreeze()
    snapshot = Engine(counters=get_counters, freeze=False).snapshot(now=NOW)

    assert unfrozen.get_freeze_count() == 0
    assert tracked(unfrozen, snapshot)


def test_served_counts_of_yesterday_are_not_used_today(slot, sends):
    campaign = CampaignFactory.create(slots=[slot], daily_cap=1000)
    own = cached_engine()
    # 23:59:59.8 and 00:00:00.1 in Berlin (UTC+2 in June).
    before = datetime(2026, 6, 10, 21, 59, 59, 800_000, tzinfo=UTC)
    own.decide(page(slot), now=before, rng=random.Random(1))
    count = len(sends)

    own.decide(page(slot), now=before + timedelta(seconds=0.3), rng=random.Random(1))

    assert len(sends) == count + 1
    assert keys.served_today(DAY + timedelta(days=1), campaign.pk).encode() in sends[-1]


def test_one_draw_per_slot_picks_as_the_lottery_among_what_fits(monkeypatch):
    """With counts read a moment ago a slot is filled by one draw among the campaigns
    of its tier (``_Pool``), and drawn again among those that fit when the one drawn
    does not: each pair of campaigns comes as often as the plain lottery makes it."""
    first, second = SlotFactory.create(key="first"), SlotFactory.create(key="second")
    # Each with creatives to spare: only the advertiser rule keeps one off the second slot.
    weight_of = {
        CampaignFactory.create(slots=[first, second], weight=weight, promotions=2).pk: weight
        for weight in (6, 3, 1)
    }
    draws = []
    draw = _Pool.draw

    def counted(pool, rng):
        draws.append(1)
        return draw(pool, rng)

    monkeypatch.setattr(_Pool, "draw", counted)
    own = cached_engine()
    own.decide(page(first, second), now=at(0), rng=random.Random(1))
    rng = random.Random(5)
    times = 4000
    pairs: Counter[tuple[int, ...]] = Counter()
    for _ in range(times):
        filled = own.decide(page(first, second), now=at(0.5), rng=rng).slots.values()
        pairs[tuple(d.campaign.id if d.campaign else 0 for d in filled)] += 1

    # The second slot cannot take the first one's advertiser: it draws again.
    for (one, two), seen in pairs.items():
        a, b = weight_of[one], weight_of[two]
        expected = a / 10 * b / (10 - a)
        assert abs(seen / times - expected) < 0.025, (a, b, seen / times, expected)
    assert len(pairs) == 6
    assert len(draws) == 2 * (times + 1)  # every slot of every page began with one draw


def test_a_campaign_added_without_a_new_version_is_read_after_forget(slot):
    own = cached_engine()
    own.decide(page(slot), now=at(0), rng=random.Random(1))
    campaign = CampaignFactory.create(slots=[slot], daily_cap=5)
    get_counters().set({keys.served_today(DAY, campaign.pk): 5})
    own.forget()  # rebuilt under the same version

    later = own.decide(page(slot), now=at(2), rng=random.Random(1))

    assert later.slots["sidebar-top"].campaign is None  # its count was read: capped


@pytest.mark.parametrize(
    ("utc", "fraction"),
    [
        (datetime(2026, 6, 10, 10, 0, tzinfo=UTC), 0.5),  # 12:00 in summer
        (datetime(2026, 1, 10, 17, 0, tzinfo=UTC), 0.75),  # 18:00 in winter
        (datetime(2026, 3, 29, 10, 0, tzinfo=UTC), 0.5),  # noon, the clocks went forward
        (datetime(2026, 10, 25, 11, 0, tzinfo=UTC), 0.5),  # noon, the clocks went back
        (datetime(2026, 6, 9, 22, 0, 0, 864_000, tzinfo=UTC), 0.00001),
    ],
)
def test_the_days_fraction_is_the_time_on_the_wall_in_berlin(utc, fraction):
    assert day_fraction(utc) == pytest.approx(fraction)
