"""Reports cover the years 2000 to 2099 in the report's zone: dates outside are refused
with a message (400 problem+json in the API, a form error in the admin), never a 500
from dates Python cannot represent."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import translation

from ads.models import AdvertiserAPIKey
from ads.reports import (
    FIRST_YEAR,
    LAST_YEAR,
    OutOfRangeError,
    ReportParamError,
    build_report,
    check_report_params,
)
from tests.factories import AdvertiserFactory, CampaignFactory, StaffFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14
PAGO_PAGO = ZoneInfo("Pacific/Pago_Pago")  # UTC-11
MESSAGE = "Berichte sind nur für die Jahre 2000 bis 2099 möglich."
PROBLEM = "application/problem+json"
GRANULARITIES = ["hour", "day", "month"]


def test_the_years_are_2000_to_2099():
    assert (FIRST_YEAR, LAST_YEAR) == (2000, 2099)


# Start and (exclusive) end: at the ends of Python's calendar, just outside the years,
# and backwards ranges with one end far outside.
OUT_OF_RANGE = {
    "first-day-berlin": (datetime(1, 1, 1, tzinfo=BERLIN), datetime(1, 1, 2, tzinfo=BERLIN)),
    "first-day-utc": (datetime(1, 1, 1, tzinfo=UTC), datetime(1, 1, 2, tzinfo=UTC)),
    "first-day-plus-14": (
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
        datetime(1, 1, 2, tzinfo=timezone(timedelta(hours=14))),
    ),
    "last-day-berlin": (
        datetime(9999, 12, 30, tzinfo=BERLIN),
        datetime(9999, 12, 31, tzinfo=BERLIN),
    ),
    "last-instant-utc": (
        datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ),
    "last-day-minus-11": (
        datetime(9999, 12, 30, tzinfo=timezone(timedelta(hours=-11))),
        datetime(9999, 12, 31, tzinfo=timezone(timedelta(hours=-11))),
    ),
    "just-before-2000": (
        datetime(1999, 12, 31, tzinfo=BERLIN),
        datetime(2000, 1, 2, tzinfo=BERLIN),
    ),
    "just-after-2099": (datetime(2099, 12, 31, tzinfo=BERLIN), datetime(2100, 1, 2, tzinfo=BERLIN)),
    "backwards-from-9999": (
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2050, 1, 1, tzinfo=BERLIN),
    ),
    "backwards-to-year-1": (
        datetime(2050, 1, 1, tzinfo=BERLIN),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
    ),
}


@pytest.mark.parametrize("zone", [BERLIN, KIRITIMATI, PAGO_PAGO, ZoneInfo("UTC")], ids=str)
@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize(("start", "end"), OUT_OF_RANGE.values(), ids=OUT_OF_RANGE.keys())
def test_reports_outside_the_years_are_refused(start, end, granularity, zone):
    with pytest.raises(OutOfRangeError, match=MESSAGE) as refused:
        build_report(start=start, end=end, granularity=granularity, group_by="campaign", tz=zone)

    assert isinstance(refused.value, ReportParamError)


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        # The years are the report zone's calendar years.
        (PAGO_PAGO, datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 2, tzinfo=UTC)),
        (KIRITIMATI, datetime(2099, 12, 31, tzinfo=UTC), datetime(2099, 12, 31, 12, tzinfo=UTC)),
    ],
    ids=["1999-in-pago-pago", "2100-in-kiritimati"],
)
def test_the_years_are_counted_in_the_report_zone(zone, start, end):
    with pytest.raises(OutOfRangeError, match=MESSAGE):
        check_report_params(start=start, end=end, granularity="day", group_by="slot", tz=zone)

    assert check_report_params(start=start, end=end, granularity="day", group_by="slot")


@pytest.mark.parametrize("zone", [BERLIN, KIRITIMATI, PAGO_PAGO], ids=str)
@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_the_first_and_last_days_can_be_reported(granularity, zone):
    """At the edges, rounding to whole buckets (a day, a month past the end) works."""
    days = 31 if granularity == "hour" else 366
    first = datetime(2000, 1, 1, tzinfo=zone)
    last = datetime(2100, 1, 1, tzinfo=zone)

    early = build_report(
        start=first,
        end=first + timedelta(days=days),
        granularity=granularity,
        group_by="campaign",
        tz=zone,
    )
    late = build_report(
        start=last - timedelta(days=days),
        end=last,
        granularity=granularity,
        group_by="campaign",
        tz=zone,
    )
    # A start in the middle of a month still rounds to that month's start.
    mid_month = build_report(
        start=datetime(2099, 12, 15, tzinfo=zone),
        end=datetime(2099, 12, 16, 12, tzinfo=zone),
        granularity=granularity,
        group_by="campaign",
        tz=zone,
    )

    assert early.start == first
    assert late.end == last
    assert mid_month.end <= last


def test_the_message_is_translated():
    with translation.override("en"), pytest.raises(OutOfRangeError) as refused:
        check_report_params(
            start=datetime(1, 1, 1, tzinfo=BERLIN),
            end=datetime(1, 1, 2, tzinfo=BERLIN),
            granularity="day",
            group_by="campaign",
        )

    assert str(refused.value) == "Reports are only possible for the years 2000 to 2099."


@pytest.fixture
def api():
    from django.test import Client

    advertiser = AdvertiserFactory.create()
    CampaignFactory.create(advertiser=advertiser)
    _key, secret = AdvertiserAPIKey.objects.create_key(name="Test", advertiser=advertiser)
    return Client(headers={"Authorization": f"Api-Key {secret}"})


API_OUT_OF_RANGE = {
    "first-day": ("0001-01-01T00:00:00+00:00", "0001-01-02T00:00:00+00:00"),
    "last-day": ("9999-12-30T00:00:00+00:00", "9999-12-31T00:00:00+00:00"),
    "last-day-naive": ("9999-12-30T00:00:00", "9999-12-31T00:00:00"),
    "1999": ("1999-12-31T00:00:00+01:00", "2000-01-02T00:00:00+01:00"),
    "2100": ("2099-12-31T00:00:00+01:00", "2100-01-02T00:00:00+01:00"),
    "backwards-from-9999": ("9999-12-31T00:00:00+00:00", "2050-01-01T00:00:00+00:00"),
}


@pytest.mark.parametrize("tz", ["Europe/Berlin", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize(("start", "end"), API_OUT_OF_RANGE.values(), ids=API_OUT_OF_RANGE.keys())
def test_api_refuses_reports_outside_the_years(api, start, end, granularity, tz):
    query = {"start": start, "end": end, "granularity": granularity, "tz": tz}

    response = api.get("/api/v1/reports", query)

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == 400
    assert body["errors"] == {"params": [MESSAGE]}


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        # Berlin's first hour of year 1 is still year 0 in UTC.
        ("0001-01-01T00:00:00", "0001-01-02T00:00:00", "start"),
        ("9999-12-30T00:00:00+00:00", "9999-12-31T23:30:00-01:00", "end"),
    ],
    ids=["naive-year-1", "offset-year-10000"],
)
def test_api_refuses_times_beyond_the_calendar_as_out_of_range(api, start, end, field):
    response = api.get("/api/v1/reports", {"start": start, "end": end})

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert list(response.json()["errors"]) == [field]


def test_api_reports_the_edge_years(api):
    for start, end in [
        ("2000-01-01T00:00:00+01:00", "2000-02-01T00:00:00+01:00"),
        ("2099-12-01T00:00:00+01:00", "2100-01-01T00:00:00+01:00"),
    ]:
        response = api.get("/api/v1/reports", {"start": start, "end": end, "granularity": "month"})

        assert response.status_code == 200, response.content


REPORTS = reverse("admin:ads_campaign_reports")


@pytest.fixture
def editor(client):
    client.force_login(StaffFactory.create(is_superuser=True))
    return client


@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01", "0001-01-01"),
        ("9999-12-31", "9999-12-31"),
        ("9999-12-30", "9999-12-31"),
        ("1999-12-31", "2000-01-01"),
        ("2099-12-31", "2100-01-01"),
    ],
)
def test_admin_report_outside_the_years_is_a_form_error(editor, start, end, granularity):
    query = {"start": start, "end": end, "granularity": granularity, "group_by": "campaign"}

    response = editor.get(REPORTS, query)

    assert response.status_code == 200
    assert "report" not in response.context
    assert response.context["form"].non_field_errors() == [MESSAGE]
    assert MESSAGE in response.content.decode()


def test_admin_reports_the_first_and_last_days(editor):
    for start, end in [("2000-01-01", "2000-01-31"), ("2099-12-01", "2099-12-31")]:
        query = {"start": start, "end": end, "granularity": "month", "group_by": "campaign"}

        response = editor.get(REPORTS, query)

        assert response.status_code == 200
        assert "report" in response.context, response.context["form"].errors
