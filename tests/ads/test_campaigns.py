from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from ads.campaigns import (
    CampaignStateError,
    do_duplicate,
    do_end,
    do_launch,
    do_pause,
    do_resume,
)
from ads.models import Campaign, CampaignPromotion
from tests.factories import AdvertiserFactory, CampaignFactory, SlotFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
RUNNING = {"starts_at": NOW - timedelta(days=1), "ends_at": NOW + timedelta(days=9)}
LATER = {"starts_at": NOW + timedelta(days=1), "ends_at": NOW + timedelta(days=9)}
OVER = {"starts_at": NOW - timedelta(days=9), "ends_at": NOW - timedelta(days=1)}
Status = Campaign.Status


def stored(campaign: Campaign) -> tuple[str, str]:
    """Status and pause reason as saved, not as held by the instance."""
    fresh = Campaign.objects.get(pk=campaign.pk)
    return fresh.status, fresh.pause_reason


@pytest.mark.parametrize(
    ("dates", "expected"),
    [(RUNNING, Status.LIVE), (LATER, Status.SCHEDULED)],
    ids=["running", "later"],
)
def test_launch_takes_a_draft_live_or_scheduled_by_its_dates(dates, expected):
    draft = CampaignFactory.create(status=Status.DRAFT, **dates)

    do_launch(draft, now=NOW)

    assert stored(draft) == (expected, "")


@pytest.mark.parametrize("status", [Status.SCHEDULED, Status.LIVE, Status.PAUSED, Status.COMPLETED])
def test_launch_refuses_campaigns_that_are_not_drafts(status):
    launched = CampaignFactory.create(status=status, **RUNNING)

    with pytest.raises(CampaignStateError):
        do_launch(launched, now=NOW)

    assert stored(launched)[0] == status


def test_launch_refuses_a_draft_without_promotions():
    empty = CampaignFactory.create(status=Status.DRAFT, promotions=0, **RUNNING)

    with pytest.raises(CampaignStateError, match="keine Promotion"):
        do_launch(empty, now=NOW)

    assert stored(empty)[0] == Status.DRAFT


@pytest.mark.parametrize("status", [Status.SCHEDULED, Status.LIVE])
def test_pause_stops_a_scheduled_or_live_campaign_by_hand(status):
    running = CampaignFactory.create(status=status, **RUNNING)

    do_pause(running, now=NOW)

    assert stored(running) == (Status.PAUSED, Campaign.PauseReason.MANUAL)


@pytest.mark.parametrize("status", [Status.DRAFT, Status.PAUSED, Status.COMPLETED])
def test_pause_refuses_campaigns_that_do_not_run(status):
    idle = CampaignFactory.create(status=status, **RUNNING)

    with pytest.raises(CampaignStateError):
        do_pause(idle, now=NOW)

    assert stored(idle)[0] == status


@pytest.mark.parametrize(
    ("dates", "expected"),
    [(RUNNING, Status.LIVE), (LATER, Status.SCHEDULED), (OVER, Status.COMPLETED)],
    ids=["running", "later", "over"],
)
def test_resume_returns_to_the_status_the_dates_say(dates, expected):
    paused = CampaignFactory.create(
        status=Status.PAUSED, pause_reason=Campaign.PauseReason.MANUAL, **dates
    )

    do_resume(paused, now=NOW)

    assert stored(paused) == (expected, "")


@pytest.mark.parametrize("status", [Status.DRAFT, Status.SCHEDULED, Status.LIVE, Status.COMPLETED])
def test_resume_refuses_campaigns_that_are_not_paused(status):
    unpaused = CampaignFactory.create(status=status, **RUNNING)

    with pytest.raises(CampaignStateError):
        do_resume(unpaused, now=NOW)

    assert stored(unpaused)[0] == status


@pytest.mark.parametrize("status", [Status.DRAFT, Status.SCHEDULED, Status.LIVE, Status.PAUSED])
def test_end_completes_a_campaign(status):
    ending = CampaignFactory.create(
        status=status,
        pause_reason=Campaign.PauseReason.MANUAL if status == Status.PAUSED else "",
        **RUNNING,
    )

    do_end(ending, now=NOW)

    assert stored(ending) == (Status.COMPLETED, "")


def test_end_refuses_a_completed_campaign():
    completed = CampaignFactory.create(status=Status.COMPLETED, **OVER)

    with pytest.raises(CampaignStateError):
        do_end(completed, now=NOW)


@pytest.fixture
def original():
    return CampaignFactory.create(
        name="Herbst",
        status=Status.PAUSED,
        pause_reason=Campaign.PauseReason.DAILY_CAP,
        pacing=Campaign.Pacing.EVEN,
        pacing_daily_target=500,
        daily_cap=800,
        goal_impressions=10_000,
        slots=[SlotFactory.create(), SlotFactory.create()],
        include_tags=["ki"],
        exclude_sections=["politik"],
        languages=["de"],
        devices=["mobile"],
        weekdays=[0, 1],
        hours=[8, 9],
        competitive_category="buecher",
        promotions=2,
        **RUNNING,
    )


def test_duplicate_is_a_draft_named_as_a_copy(original):
    copy = do_duplicate(original, now=NOW)

    stored_copy = Campaign.objects.get(pk=copy.pk)
    assert stored_copy.pk != original.pk
    assert stored_copy.name == "Kopie von Herbst"
    assert (stored_copy.status, stored_copy.pause_reason) == (Status.DRAFT, "")
    assert stored_copy.pacing_daily_target is None


def test_duplicate_keeps_slots_and_targeting(original):
    copy = Campaign.objects.get(pk=do_duplicate(original, now=NOW).pk)

    assert set(copy.slots.all()) == set(original.slots.all())
    for field in (
        "advertiser_id",
        "kind",
        "starts_at",
        "ends_at",
        "goal_impressions",
        "daily_cap",
        "pacing",
        "include_tags",
        "exclude_tags",
        "include_sections",
        "exclude_sections",
        "languages",
        "devices",
        "weekdays",
        "hours",
        "competitive_category",
        "weight",
        "rotation",
    ):
        assert getattr(copy, field) == getattr(original, field), field


def test_duplicate_has_no_promotions_and_leaves_the_original_alone(original):
    copy = do_duplicate(original, now=NOW)

    assert not copy.campaign_promotions.exists()
    assert CampaignPromotion.objects.filter(campaign=original).count() == 2
    assert stored(original) == (Status.PAUSED, Campaign.PauseReason.DAILY_CAP)


def test_duplicate_of_a_campaign_with_the_longest_name_fits_the_name_field():
    longest = Campaign._meta.get_field("name").max_length
    assert longest is not None
    original = CampaignFactory.create(name="x" * longest, promotions=0)

    copy = Campaign.objects.get(pk=do_duplicate(original, now=NOW).pk)

    assert len(copy.name) == longest
    assert copy.name.startswith("Kopie von x")


def valid(**fields) -> Campaign:
    """An unsaved campaign that passes validation unless ``fields`` break it."""
    values = {
        "advertiser": AdvertiserFactory.create(),
        "name": "Herbst",
        "pacing": Campaign.Pacing.ASAP,
        **RUNNING,
        **fields,
    }
    return Campaign(**values)


def errors_of(campaign: Campaign) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as invalid:
        campaign.full_clean()
    return invalid.value.message_dict


def test_valid_campaign_passes_validation():
    valid().full_clean()


def test_house_campaign_may_run_without_end():
    valid(kind=Campaign.Kind.HOUSE, ends_at=None).full_clean()


def test_paid_campaign_needs_an_end():
    assert list(errors_of(valid(ends_at=None))) == ["ends_at"]


@pytest.mark.parametrize("offset", [timedelta(0), -timedelta(hours=1)], ids=["equal", "before"])
def test_end_must_be_after_start(offset):
    campaign = valid(starts_at=NOW, ends_at=NOW + offset)

    assert list(errors_of(campaign)) == ["ends_at"]


def test_even_pacing_needs_a_goal_or_a_daily_cap():
    assert list(errors_of(valid(pacing=Campaign.Pacing.EVEN))) == ["pacing"]


@pytest.mark.parametrize(
    "fields", [{"goal_impressions": 1000}, {"daily_cap": 100}], ids=["goal", "daily-cap"]
)
def test_even_pacing_with_goal_or_daily_cap_is_valid(fields):
    valid(pacing=Campaign.Pacing.EVEN, **fields).full_clean()


def test_even_pacing_house_campaign_needs_neither():
    valid(kind=Campaign.Kind.HOUSE, pacing=Campaign.Pacing.EVEN).full_clean()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("weekdays", [7]),
        ("weekdays", [-1]),
        ("weekdays", ["1"]),
        ("weekdays", 1),
        ("hours", [24]),
        ("hours", ["8"]),
        ("devices", ["watch"]),
        ("devices", "mobile"),
        ("languages", ["fr"]),
        ("languages", [["de"]]),
        ("include_tags", [1]),
        ("exclude_tags", [None]),
        ("include_sections", "politik"),
        ("exclude_sections", [{"slug": "sport"}]),
    ],
)
def test_bad_targeting_lists_are_refused(field, value):
    assert list(errors_of(valid(**{field: value}))) == [field]


def test_good_targeting_lists_pass():
    valid(
        weekdays=[0, 6],
        hours=[0, 23],
        devices=["desktop", "tablet", "mobile"],
        languages=["de", "en"],
        include_tags=["ki"],
        exclude_tags=["krieg"],
        include_sections=["politik"],
        exclude_sections=["sport"],
    ).full_clean()


def test_database_refuses_a_paid_campaign_without_end():
    with pytest.raises(IntegrityError, match="campaign_paid_has_end"), transaction.atomic():
        valid(ends_at=None).save()


def test_database_refuses_an_end_before_the_start():
    with pytest.raises(IntegrityError, match="campaign_ends_after_start"), transaction.atomic():
        valid(starts_at=NOW, ends_at=NOW - timedelta(hours=1)).save()


def test_database_accepts_a_house_campaign_without_end():
    valid(kind=Campaign.Kind.HOUSE, ends_at=None).save()

    assert Campaign.objects.filter(kind=Campaign.Kind.HOUSE, ends_at=None).exists()


def test_constraints_are_checked_as_non_field_errors_when_fields_pass():
    campaign = valid(ends_at=None)

    with pytest.raises(ValidationError) as invalid:
        campaign.validate_constraints()

    assert list(invalid.value.message_dict) == [NON_FIELD_ERRORS]
