import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from ads import counters as keys
from ads.counters import VERSION_KEY, get_counters
from ads.models import Campaign
from ads.rotation import RotationReport, daily_target, rotate
from ads.tasks import rotate_campaigns
from portal.celery import app
from tests.factories import CampaignFactory, SlotFactory

# A Wednesday, 14:00 in Berlin.
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
DAY = NOW.date()
# Midnight in Berlin is 22:00 UTC in summer: these two are on different Berlin days but
# on the same UTC day.
LATE_EVENING = datetime(2026, 6, 10, 21, 30, tzinfo=UTC)  # 23:30 in Berlin
AFTER_MIDNIGHT = datetime(2026, 6, 10, 22, 30, tzinfo=UTC)  # 00:30 in Berlin, 11 June


def campaign(**fields) -> Campaign:
    fields.setdefault("promotions", 0)
    return CampaignFactory.create(**fields)


def status_of(campaign: Campaign) -> tuple[str, str]:
    campaign.refresh_from_db()
    return campaign.status, campaign.pause_reason


def version() -> int:
    return get_counters().read([VERSION_KEY])[0]


@pytest.mark.django_db
def test_scheduled_campaign_goes_live_at_its_start():
    scheduled = campaign(status=Campaign.Status.SCHEDULED, starts_at=NOW)

    report = rotate(now=NOW)

    assert status_of(scheduled) == (Campaign.Status.LIVE, "")
    assert report.started == [scheduled.pk]


@pytest.mark.django_db
def test_scheduled_campaign_waits_for_its_start():
    scheduled = campaign(status=Campaign.Status.SCHEDULED, starts_at=NOW + timedelta(seconds=1))

    report = rotate(now=NOW)

    assert status_of(scheduled) == (Campaign.Status.SCHEDULED, "")
    assert report.started == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "pause_reason"),
    [
        (Campaign.Status.SCHEDULED, ""),
        (Campaign.Status.LIVE, ""),
        (Campaign.Status.PAUSED, Campaign.PauseReason.MANUAL),
        (Campaign.Status.PAUSED, Campaign.PauseReason.DAILY_CAP),
    ],
)
def test_campaign_past_its_end_is_completed(status, pause_reason):
    ended = campaign(
        status=status,
        pause_reason=pause_reason,
        starts_at=NOW - timedelta(days=10),
        ends_at=NOW,
    )

    report = rotate(now=NOW)

    assert status_of(ended) == (Campaign.Status.COMPLETED, "")
    assert report.completed == [ended.pk]


@pytest.mark.django_db
def test_campaign_before_its_end_keeps_running():
    live = campaign(ends_at=NOW + timedelta(seconds=1))

    rotate(now=NOW)

    assert status_of(live) == (Campaign.Status.LIVE, "")


@pytest.mark.django_db
def test_drafts_are_left_alone():
    draft = campaign(status=Campaign.Status.DRAFT, starts_at=NOW - timedelta(days=1))
    ended_draft = campaign(status=Campaign.Status.DRAFT, ends_at=NOW - timedelta(days=1))

    report = rotate(now=NOW)

    assert status_of(draft)[0] == Campaign.Status.DRAFT
    assert status_of(ended_draft)[0] == Campaign.Status.DRAFT
    assert not report.changed


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("goal", "counter"),
    [("goal_impressions", keys.served_total), ("goal_clicks", keys.clicks_total)],
)
def test_campaign_that_reached_its_goal_is_completed(goal, counter):
    reached = campaign(**{goal: 1000})
    get_counters().set({counter(reached.pk): 1000})

    report = rotate(now=NOW)

    assert status_of(reached) == (Campaign.Status.COMPLETED, "")
    assert report.completed == [reached.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("goal", "counter"),
    [("goal_impressions", keys.served_total), ("goal_clicks", keys.clicks_total)],
)
def test_campaign_short_of_its_goal_keeps_running(goal, counter):
    short = campaign(**{goal: 1000})
    get_counters().set({counter(short.pk): 999})

    rotate(now=NOW)

    assert status_of(short) == (Campaign.Status.LIVE, "")


@pytest.mark.django_db
def test_campaign_paused_for_its_daily_cap_completes_when_the_goal_is_reached():
    capped = campaign(
        status=Campaign.Status.PAUSED,
        pause_reason=Campaign.PauseReason.DAILY_CAP,
        daily_cap=100,
        goal_impressions=1000,
    )
    get_counters().set({keys.served_total(capped.pk): 1000})

    rotate(now=NOW)

    assert status_of(capped) == (Campaign.Status.COMPLETED, "")


@pytest.mark.django_db
def test_campaign_over_its_daily_cap_is_paused():
    capped = campaign(daily_cap=100)
    get_counters().set({keys.served_today(DAY, capped.pk): 100})

    report = rotate(now=NOW)

    assert status_of(capped) == (Campaign.Status.PAUSED, Campaign.PauseReason.DAILY_CAP)
    assert report.capped == [capped.pk]


@pytest.mark.django_db
def test_campaign_under_its_daily_cap_keeps_running():
    below = campaign(daily_cap=100)
    get_counters().set({keys.served_today(DAY, below.pk): 99})

    rotate(now=NOW)

    assert status_of(below) == (Campaign.Status.LIVE, "")


@pytest.mark.django_db
def test_capped_campaign_stays_paused_for_the_rest_of_the_berlin_day():
    capped = campaign(daily_cap=100)
    get_counters().set({keys.served_today(LATE_EVENING.date(), capped.pk): 100})
    rotate(now=LATE_EVENING)

    report = rotate(now=LATE_EVENING + timedelta(minutes=29))

    assert status_of(capped) == (Campaign.Status.PAUSED, Campaign.PauseReason.DAILY_CAP)
    assert report.uncapped == []


@pytest.mark.django_db
def test_capped_campaign_resumes_the_next_berlin_day():
    capped = campaign(daily_cap=100)
    get_counters().set({keys.served_today(LATE_EVENING.date(), capped.pk): 100})
    rotate(now=LATE_EVENING)

    report = rotate(now=AFTER_MIDNIGHT)

    assert status_of(capped) == (Campaign.Status.LIVE, "")
    assert report.uncapped == [capped.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("daily_cap", [None, 100])
def test_manually_paused_campaign_is_not_resumed(daily_cap):
    paused = campaign(
        status=Campaign.Status.PAUSED,
        pause_reason=Campaign.PauseReason.MANUAL,
        daily_cap=daily_cap,
    )

    report = rotate(now=NOW)

    assert status_of(paused) == (Campaign.Status.PAUSED, Campaign.PauseReason.MANUAL)
    assert report.uncapped == []


def test_daily_target_spreads_what_is_left_over_the_days_left():
    assert daily_target(10_000, 2_500, days_left=10) == 750


def test_daily_target_rounds_up():
    assert daily_target(10, 0, days_left=3) == 4


def test_daily_target_is_zero_once_the_goal_is_delivered():
    assert daily_target(1_000, 1_200, days_left=5) == 0


def test_daily_target_on_the_last_day_is_all_that_is_left():
    assert daily_target(1_000, 400, days_left=0) == 600


# Ends at midnight in Berlin at the end of 19 June: 10 to 19 June is 10 days, today included.
ENDS = datetime(2026, 6, 19, 22, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_even_pacing_target_from_goal_delivered_before_today_and_days_left():
    paced = campaign(pacing=Campaign.Pacing.EVEN, goal_impressions=10_000, ends_at=ENDS)
    # 3000 in total, 500 of them today: 2500 before today, 7500 left over 10 days
    get_counters().set({keys.served_total(paced.pk): 3_000, keys.served_today(DAY, paced.pk): 500})

    report = rotate(now=NOW)

    paced.refresh_from_db()
    assert paced.pacing_daily_target == 750
    assert report.repaced == [paced.pk]


@pytest.mark.django_db
def test_even_pacing_target_is_capped_by_the_daily_cap():
    paced = campaign(
        pacing=Campaign.Pacing.EVEN, goal_impressions=10_000, daily_cap=600, ends_at=ENDS
    )

    rotate(now=NOW)

    paced.refresh_from_db()
    assert paced.pacing_daily_target == 600


@pytest.mark.django_db
def test_even_pacing_without_goal_targets_the_daily_cap():
    paced = campaign(pacing=Campaign.Pacing.EVEN, daily_cap=600)

    rotate(now=NOW)

    paced.refresh_from_db()
    assert paced.pacing_daily_target == 600


@pytest.mark.django_db
def test_asap_pacing_has_no_daily_target():
    asap = campaign(pacing=Campaign.Pacing.ASAP, pacing_daily_target=500, goal_impressions=10)

    rotate(now=NOW)

    asap.refresh_from_db()
    assert asap.pacing_daily_target is None


def mixed_campaigns() -> list[Campaign]:
    return [
        campaign(status=Campaign.Status.SCHEDULED, starts_at=NOW - timedelta(minutes=1)),
        campaign(ends_at=NOW - timedelta(minutes=1), starts_at=NOW - timedelta(days=1)),
        campaign(daily_cap=10),
        campaign(pacing=Campaign.Pacing.EVEN, goal_impressions=10_000, ends_at=ENDS),
    ]


@pytest.mark.django_db
def test_rotation_bumps_the_version_when_something_changed():
    mixed_campaigns()
    before = version()

    report = rotate(now=NOW)

    assert report.changed
    assert report.version == version() == before + 1


@pytest.mark.django_db
def test_second_rotation_changes_nothing():
    campaigns = mixed_campaigns()
    get_counters().set({keys.served_today(DAY, campaigns[2].pk): 10})
    rotate(now=NOW)
    after_first = list(Campaign.objects.order_by("pk").values())
    before = version()

    report = rotate(now=NOW + timedelta(minutes=1))

    assert report == RotationReport()
    assert not report.changed
    assert report.version is None
    assert version() == before
    assert list(Campaign.objects.order_by("pk").values()) == after_first


@pytest.mark.django_db
def test_rotation_with_nothing_to_do_does_not_bump_the_version():
    campaign()
    before = version()

    report = rotate(now=NOW)

    assert not report.changed
    assert version() == before


def rotate_in_thread(barrier: threading.Barrier, reports: list[RotationReport]) -> None:
    try:
        barrier.wait(timeout=10)
        reports.append(rotate(now=NOW))
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_concurrent_rotations_move_each_campaign_once():
    starting = [
        campaign(status=Campaign.Status.SCHEDULED, starts_at=NOW - timedelta(minutes=1)).pk
        for _ in range(40)
    ]
    ending = [
        campaign(starts_at=NOW - timedelta(days=1), ends_at=NOW - timedelta(minutes=1)).pk
        for _ in range(40)
    ]
    capping = [campaign(daily_cap=5).pk for _ in range(40)]
    get_counters().set({keys.served_today(DAY, pk): 5 for pk in capping})
    barrier = threading.Barrier(2)
    reports: list[RotationReport] = []
    threads = [threading.Thread(target=rotate_in_thread, args=(barrier, reports)) for _ in range(2)]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(reports) == 2
    started = reports[0].started + reports[1].started
    completed = reports[0].completed + reports[1].completed
    capped = reports[0].capped + reports[1].capped
    assert sorted(started) == sorted(starting)
    assert sorted(completed) == sorted(ending)
    assert sorted(capped) == sorted(capping)
    assert Campaign.objects.filter(pk__in=starting, status=Campaign.Status.LIVE).count() == 40
    assert Campaign.objects.filter(pk__in=capping, status=Campaign.Status.PAUSED).count() == 40


def test_rotation_is_scheduled_every_minute():
    entries = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == rotate_campaigns.name
    ]

    assert rotate_campaigns.name == "ads.tasks.rotate_campaigns"
    assert [entry["schedule"] for entry in entries] == [60]
    assert app.conf.beat_schedule == settings.CELERY_BEAT_SCHEDULE


@pytest.mark.django_db(transaction=True)
def test_worker_rotation_takes_a_due_campaign_live(celery_worker):
    now = timezone.now()
    due = campaign(
        status=Campaign.Status.SCHEDULED,
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(days=1),
    )

    rotate_campaigns.delay()

    celery_worker(lambda: status_of(due)[0] == Campaign.Status.LIVE)


def rollup(campaign: Campaign, day, *, served: int, clicks: int = 0) -> None:
    from ads.models import DailyRollup

    link = campaign.campaign_promotions.get()
    DailyRollup.objects.create(
        day=day,
        campaign=campaign,
        promotion=link.promotion,
        slot=campaign.slots.first() or SlotFactory.create(),
        served=served,
        clicks=clicks,
    )


@pytest.mark.django_db
def test_counters_redis_lost_are_raised_to_the_rollups_so_a_reached_goal_holds():
    reached = campaign(goal_impressions=100, daily_cap=50, promotions=1)
    rollup(reached, DAY - timedelta(days=1), served=60, clicks=3)
    rollup(reached, DAY, served=40, clicks=2)
    promotion = reached.campaign_promotions.get().promotion_id
    # Redis lost everything: no live counter, no sign that they were ever restored.

    report = rotate(now=NOW)

    assert status_of(reached) == (Campaign.Status.COMPLETED, "")
    assert report.restored == 6
    assert get_counters().read(
        [
            keys.served_total(reached.pk),
            keys.clicks_total(reached.pk),
            keys.served_today(DAY, reached.pk),
            keys.clicks_today(DAY, reached.pk),
            keys.promotion_served(promotion),
            keys.promotion_clicks(promotion),
        ]
    ) == [100, 5, 40, 2, 100, 5]
    # Today's keys expire like the ones page views make.
    ttl = keys.redis_client().ttl(keys.served_today(DAY, reached.pk))
    assert 0 < ttl <= keys.DAY_TTL.total_seconds()


@pytest.mark.django_db
def test_a_restore_raises_counters_and_never_lowers_one():
    running = campaign(goal_impressions=1000, promotions=1)
    paused = campaign(
        goal_impressions=1000,
        promotions=1,
        status=Campaign.Status.PAUSED,
        pause_reason=Campaign.PauseReason.MANUAL,
    )
    rollup(running, DAY, served=100)
    rollup(paused, DAY, served=70)
    # Counted since the last flush: more than the rollups hold.
    get_counters().set({keys.served_total(running.pk): 130})

    report = rotate(now=NOW)

    assert get_counters().read([keys.served_total(running.pk)]) == [130]
    # Paused by hand, it may be resumed: its counts are back too.
    assert get_counters().read([keys.served_total(paused.pk)]) == [70]
    # The running one: today's and its promotion's; the paused one: all three.
    assert report.restored == 5


@pytest.mark.django_db
def test_counters_are_restored_only_after_they_were_lost():
    running = campaign(goal_impressions=1000, promotions=1)
    rollup(running, DAY, served=100)
    first = rotate(now=NOW)
    # Lower than the rollups, but not lost (say, a flush that ran ahead): left alone.
    get_counters().set({keys.served_total(running.pk): 90})

    second = rotate(now=NOW + timedelta(minutes=1))

    assert first.restored == 3
    assert second.restored is None
    assert get_counters().read([keys.served_total(running.pk)]) == [90]


@pytest.mark.django_db
def test_the_database_counters_raise_too():
    from ads.counters import DatabaseCounters

    counters = DatabaseCounters()
    counters.set({"a": 5, "b": 20})

    raised = counters.raise_to({"a": 10, "b": 10, "c": 3}, expiring="c", ttl=timedelta(days=1))

    assert raised == 2
    assert counters.read(["a", "b", "c"]) == [10, 20, 3]
