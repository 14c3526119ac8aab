import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ads.reports import (
    InvalidRangeError,
    RangeTooLongError,
    ReportParamError,
    UnknownCampaignsError,
    UnknownGranularityError,
    UnknownGroupByError,
    UnknownTimeZoneError,
    build_report,
    check_report_params,
    report_as_dict,
    report_csv,
)
from tests.factories import (
    CampaignFactory,
    FilteredRollupFactory,
    HourlyRollupFactory,
    PromotionFactory,
    SlotFactory,
)

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")


def berlin(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=BERLIN)


def report(**kwargs):
    params = {"granularity": "day", "group_by": "campaign", **kwargs}
    return build_report(**params)


def served_per_bucket(series) -> list[int]:
    return [bucket.served for bucket in series.buckets]


def test_day_buckets_are_zero_filled():
    cell = HourlyRollupFactory.create(hour=berlin(2026, 6, 11, 9), served=7)

    result = report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 13))

    (series,) = result.series
    assert series.key == cell.campaign_id
    assert [b.start for b in series.buckets] == [
        berlin(2026, 6, 10),
        berlin(2026, 6, 11),
        berlin(2026, 6, 12),
    ]
    assert served_per_bucket(series) == [0, 7, 0]
    assert all(b.start.tzinfo is BERLIN for b in series.buckets)


def test_range_is_widened_to_whole_buckets():
    HourlyRollupFactory.create(hour=berlin(2026, 6, 10, 1), served=3)

    result = report(start=berlin(2026, 6, 10, 12), end=berlin(2026, 6, 11, 6))

    assert (result.start, result.end) == (berlin(2026, 6, 10), berlin(2026, 6, 12))
    assert served_per_bucket(result.series[0]) == [3, 0]


def test_spring_forward_day_in_berlin_has_23_hour_buckets():
    result = report(start=berlin(2026, 3, 29), end=berlin(2026, 3, 30), granularity="hour")

    starts = result.bucket_starts
    assert len(starts) == 23
    assert [s.strftime("%H:%M%z") for s in starts[:4]] == [
        "00:00+0100",
        "01:00+0100",
        "03:00+0200",
        "04:00+0200",
    ]


def test_fall_back_day_in_berlin_has_25_hour_buckets():
    result = report(start=berlin(2026, 10, 25), end=berlin(2026, 10, 26), granularity="hour")

    starts = result.bucket_starts
    assert len(starts) == 25
    assert [s.strftime("%H:%M%z") for s in starts[1:5]] == [
        "01:00+0200",
        "02:00+0200",
        "02:00+0100",
        "03:00+0100",
    ]


@pytest.mark.parametrize(
    ("day", "hours"),
    [((2026, 3, 29), 23), ((2026, 6, 10), 24), ((2026, 10, 25), 25)],
    ids=["spring-forward", "summer", "fall-back"],
)
def test_a_berlin_day_collects_the_hours_it_has(day, hours):
    campaign = CampaignFactory.create()
    slot = SlotFactory.create()
    midnight = berlin(*day).astimezone(UTC)
    for n in range(-3, 30):
        HourlyRollupFactory.create(
            hour=midnight + timedelta(hours=n), campaign=campaign, slot=slot, served=1
        )

    result = report(start=midnight, end=midnight + timedelta(hours=hours))

    assert len(result.bucket_starts) == 1
    assert result.overall.totals.served == hours


def test_month_buckets_follow_the_berlin_calendar():
    campaign = CampaignFactory.create()
    slot = SlotFactory.create()
    # 23:00 UTC on 31 January is midnight of 1 February in Berlin.
    HourlyRollupFactory.create(
        hour=datetime(2026, 1, 31, 23, tzinfo=UTC), campaign=campaign, slot=slot, served=5
    )
    HourlyRollupFactory.create(
        hour=datetime(2026, 1, 31, 22, tzinfo=UTC), campaign=campaign, slot=slot, served=2
    )
    # The last hour of March runs on summer time.
    HourlyRollupFactory.create(
        hour=datetime(2026, 3, 31, 21, tzinfo=UTC), campaign=campaign, slot=slot, served=4
    )

    result = report(start=berlin(2026, 1, 1), end=berlin(2026, 4, 1), granularity="month")

    assert result.bucket_starts == [berlin(2026, 1, 1), berlin(2026, 2, 1), berlin(2026, 3, 1)]
    assert served_per_bucket(result.series[0]) == [2, 5, 4]
    assert result.end == berlin(2026, 4, 1)
    assert result.end.utcoffset() == timedelta(hours=2)


def test_days_in_another_time_zone():
    campaign = CampaignFactory.create()
    slot = SlotFactory.create()
    # 04:00 UTC on 2 March: still 1 March in New York, already 2 March in Berlin.
    HourlyRollupFactory.create(
        hour=datetime(2026, 3, 2, 4, tzinfo=UTC), campaign=campaign, slot=slot, served=1
    )
    HourlyRollupFactory.create(
        hour=datetime(2026, 3, 2, 6, tzinfo=UTC), campaign=campaign, slot=slot, served=10
    )
    start = datetime(2026, 3, 1, tzinfo=NEW_YORK)

    in_new_york = report(start=start, end=start + timedelta(days=2), tz=NEW_YORK)
    in_berlin = report(start=berlin(2026, 3, 1), end=berlin(2026, 3, 3))

    assert in_new_york.bucket_starts[0] == start
    assert in_new_york.bucket_starts[0].utcoffset() == timedelta(hours=-5)
    assert served_per_bucket(in_new_york.series[0]) == [1, 10]
    assert served_per_bucket(in_berlin.series[0]) == [0, 11]


def test_spring_forward_day_in_new_york_has_23_hours():
    start = datetime(2026, 3, 8, tzinfo=NEW_YORK)

    result = report(start=start, end=start + timedelta(days=1), granularity="hour", tz=NEW_YORK)

    assert len(result.bucket_starts) == 23
    assert result.bucket_starts[2].strftime("%H:%M%z") == "03:00-0400"


def test_hour_buckets_in_a_half_hour_zone_are_the_rollup_hours():
    HourlyRollupFactory.create(hour=datetime(2026, 6, 10, 4, tzinfo=UTC), served=3)
    start = datetime(2026, 6, 10, 9, 30, tzinfo=KOLKATA)

    result = report(start=start, end=start + timedelta(hours=2), granularity="hour", tz=KOLKATA)

    assert [s.strftime("%H:%M") for s in result.bucket_starts] == ["09:30", "10:30"]
    assert served_per_bucket(result.series[0]) == [3, 0]


def test_group_by_campaign_labels_and_orders_by_name():
    slot = SlotFactory.create()
    zeta = CampaignFactory.create(name="Zeta")
    alpha = CampaignFactory.create(name="alpha")
    HourlyRollupFactory.create(campaign=zeta, slot=slot, served=1)
    HourlyRollupFactory.create(campaign=alpha, slot=slot, served=2)

    result = report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 11))

    assert [(s.key, s.label, s.totals.served) for s in result.series] == [
        (alpha.pk, "alpha", 2),
        (zeta.pk, "Zeta", 1),
    ]


def test_group_by_promotion():
    first, second = PromotionFactory.create(title="Buch"), PromotionFactory.create(title="Kurs")
    campaign = CampaignFactory.create(promotions=[first, second])
    slot = SlotFactory.create()
    HourlyRollupFactory.create(campaign=campaign, promotion=first, slot=slot, served=4)
    HourlyRollupFactory.create(campaign=campaign, promotion=second, slot=slot, served=6)

    result = report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 11), group_by="promotion")

    assert [(s.key, s.label, s.totals.served) for s in result.series] == [
        (first.pk, "Buch", 4),
        (second.pk, "Kurs", 6),
    ]


def test_group_by_slot_adds_up_campaigns_in_the_slot():
    sidebar, footer = SlotFactory.create(name="Seitenleiste"), SlotFactory.create(name="Fuß")
    HourlyRollupFactory.create(slot=sidebar, served=1)
    HourlyRollupFactory.create(slot=sidebar, served=2)
    HourlyRollupFactory.create(slot=footer, served=5)

    result = report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 11), group_by="slot")

    assert [(s.key, s.label, s.totals.served) for s in result.series] == [
        (footer.pk, "Fuß", 5),
        (sidebar.pk, "Seitenleiste", 3),
    ]
    assert result.overall.totals.served == 8


def test_totals_and_click_rate():
    campaign = CampaignFactory.create()
    slot = SlotFactory.create()
    HourlyRollupFactory.create(
        campaign=campaign, slot=slot, hour=berlin(2026, 6, 10, 9), served=100, views=60, clicks=3
    )
    HourlyRollupFactory.create(
        campaign=campaign, slot=slot, hour=berlin(2026, 6, 11, 9), served=300, views=200, clicks=1
    )

    result = report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 13))

    (series,) = result.series
    assert [b.click_rate for b in series.buckets] == [0.03, 1 / 300, None]
    totals = series.totals
    assert (totals.served, totals.views, totals.clicks) == (400, 260, 4)
    assert totals.click_rate == 0.01
    assert result.overall.totals.click_rate == 0.01


def test_campaign_filter_keeps_chosen_campaigns_even_without_counts():
    chosen, quiet = CampaignFactory.create(name="Gebucht"), CampaignFactory.create(name="Still")
    HourlyRollupFactory.create(campaign=chosen, served=9)
    HourlyRollupFactory.create(served=50)

    result = report(
        start=berlin(2026, 6, 10), end=berlin(2026, 6, 11), campaign_ids=[quiet.pk, chosen.pk]
    )

    assert [(s.label, s.totals.served) for s in result.series] == [("Gebucht", 9), ("Still", 0)]
    assert result.overall.totals.served == 9


def test_an_empty_campaign_filter_selects_nothing():
    HourlyRollupFactory.create(served=9)

    result = report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 11), campaign_ids=[])

    assert result.series == []
    assert result.overall.totals.served == 0


def test_unknown_campaigns_are_refused():
    with pytest.raises(UnknownCampaignsError, match="Unbekannte Kampagnen: 999999"):
        report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 11), campaign_ids=[999999])


def test_filtered_events_count_per_campaign_and_overall():
    campaign = CampaignFactory.create()
    HourlyRollupFactory.create(campaign=campaign, served=10)
    FilteredRollupFactory.create(campaign_id_seen=campaign.pk, reason="bot", count=4)
    FilteredRollupFactory.create(campaign_id_seen=campaign.pk, reason="replay", count=1)
    FilteredRollupFactory.create(campaign_id_seen=0, reason="unknown_nonce", count=7)

    result = report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 11))

    (series,) = result.series
    assert series.totals.filtered == 5
    assert result.overall.totals.filtered == 12
    assert result.filtered_by_reason == {"bot": [4], "unknown_nonce": [7], "replay": [1]}


def test_filtered_events_of_chosen_campaigns_leave_out_unknown_nonces():
    campaign = CampaignFactory.create()
    FilteredRollupFactory.create(campaign_id_seen=campaign.pk, count=4)
    FilteredRollupFactory.create(campaign_id_seen=0, count=7)

    result = report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 11), campaign_ids=[campaign.pk])

    assert result.series[0].totals.filtered == 4
    assert result.overall.totals.filtered == 4


def test_a_campaign_with_only_filtered_events_is_a_group():
    bots_only = CampaignFactory.create(name="Nur Bots")
    FilteredRollupFactory.create(campaign_id_seen=bots_only.pk, count=3)

    result = report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 11))

    assert [(s.label, s.totals.served, s.totals.filtered) for s in result.series] == [
        ("Nur Bots", 0, 3)
    ]


@pytest.mark.parametrize("group_by", ["promotion", "slot"])
def test_filtered_events_are_not_attributed_to_promotions_or_slots(group_by):
    cell = HourlyRollupFactory.create(served=10)
    FilteredRollupFactory.create(campaign_id_seen=cell.campaign_id, count=4)

    result = report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 11), group_by=group_by)

    (series,) = result.series
    assert series.totals.filtered is None
    assert series.buckets[0].filtered is None
    assert result.overall.totals.filtered == 4
    assert result.overall.buckets[0].filtered == 4


def test_unique_visitors_only_in_hour_buckets():
    campaign = CampaignFactory.create()
    HourlyRollupFactory.create(campaign=campaign, served=5, unique_visitors=3)
    HourlyRollupFactory.create(campaign=campaign, served=5, unique_visitors=2)
    at = datetime(2026, 6, 10, 10, tzinfo=UTC)

    hourly = report(start=at, end=at + timedelta(hours=1), granularity="hour")
    daily = report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 11))

    assert hourly.series[0].buckets[0].unique_visitors == 5
    assert hourly.overall.buckets[0].unique_visitors == 5
    assert hourly.series[0].totals.unique_visitors is None
    assert daily.series[0].buckets[0].unique_visitors is None


def test_report_reads_in_a_bounded_number_of_queries(django_assert_max_num_queries):
    campaigns = CampaignFactory.create_batch(5)
    slot = SlotFactory.create()
    for campaign in campaigns:
        for day in range(1, 29):
            HourlyRollupFactory.create(
                campaign=campaign, slot=slot, hour=berlin(2026, 2, day, 12), served=1
            )
            FilteredRollupFactory.create(
                campaign_id_seen=campaign.pk, hour=berlin(2026, 2, day, 12)
            )

    for group_by in ("campaign", "promotion", "slot"):
        with django_assert_max_num_queries(3):
            result = report(start=berlin(2026, 2, 1), end=berlin(2026, 3, 1), group_by=group_by)
        assert result.overall.totals.served == 140
    with django_assert_max_num_queries(3):
        report(
            start=berlin(2026, 2, 1),
            end=berlin(2026, 3, 1),
            campaign_ids=[c.pk for c in campaigns],
        )


def test_report_as_dict_is_json():
    cell = HourlyRollupFactory.create(served=4, clicks=1)
    FilteredRollupFactory.create(campaign_id_seen=cell.campaign_id, count=2)

    data = json.loads(
        json.dumps(report_as_dict(report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 11))))
    )

    assert data["buckets"] == ["2026-06-10T00:00:00+02:00"]
    assert data["time_zone"] == "Europe/Berlin"
    assert data["series"][0]["totals"] == {
        "served": 4,
        "views": 0,
        "clicks": 1,
        "click_rate": 0.25,
        "filtered": 2,
        "unique_visitors": None,
    }
    assert data["filtered_by_reason"] == [{"reason": "bot", "label": "Bot", "counts": [2]}]


def test_csv_for_german_excel():
    campaign = CampaignFactory.create(name="Herbst")
    HourlyRollupFactory.create(campaign=campaign, served=400, clicks=5, views=300)
    FilteredRollupFactory.create(campaign_id_seen=campaign.pk, count=2)
    result = report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 12))

    text = report_csv(result, delimiter=";", bom=True)

    assert text.startswith("\ufeffKampagne;ID;Beginn;")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert rows[1:] == [
        ["Herbst", str(campaign.pk), "2026-06-10T00:00:00+02:00", "400", "300", "5", "0,0125",
         "2", ""],
        ["Herbst", str(campaign.pk), "2026-06-11T00:00:00+02:00", "0", "0", "0", "", "0", ""],
        ["Herbst", str(campaign.pk), "Summe", "400", "300", "5", "0,0125", "2", ""],
        ["Gesamt", "", "Summe", "400", "300", "5", "0,0125", "2", ""],
    ]  # fmt: skip


def test_csv_defaults_to_commas_and_decimal_points():
    HourlyRollupFactory.create(served=400, clicks=5)

    text = report_csv(report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 11)))

    assert not text.startswith("\ufeff")
    assert text.splitlines()[1].endswith(",400,0,5,0.0125,0,")


def test_csv_defuses_labels_a_spreadsheet_would_run():
    HourlyRollupFactory.create(campaign=CampaignFactory.create(name="=HYPERLINK(1)"), served=1)

    text = report_csv(report(start=berlin(2026, 6, 10), end=berlin(2026, 6, 11)))

    assert text.splitlines()[1].startswith("'=HYPERLINK(1)")


VALID: dict[str, Any] = {
    "start": berlin(2026, 6, 1),
    "end": berlin(2026, 7, 1),
    "granularity": "day",
    "group_by": "campaign",
}


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"end": berlin(2026, 6, 1)}, InvalidRangeError, "Ende muss nach dem Beginn"),
        ({"end": berlin(2026, 5, 1)}, InvalidRangeError, "Ende muss nach dem Beginn"),
        ({"start": datetime(2026, 6, 1)}, InvalidRangeError, "Zeitzone"),  # noqa: DTZ001
        ({"end": berlin(2027, 6, 3)}, RangeTooLongError, "höchstens 366 Tage"),
        ({"granularity": "hour", "end": berlin(2026, 7, 3)}, RangeTooLongError, "31 Tage"),
        ({"granularity": "week"}, UnknownGranularityError, "Unbekannte Einteilung „week“"),
        ({"group_by": "advertiser"}, UnknownGroupByError, "Unbekannte Gruppierung"),
        ({"tz": "Europe/Atlantis"}, UnknownTimeZoneError, "Unbekannte Zeitzone"),
        ({"tz": "localtime"}, UnknownTimeZoneError, "Unbekannte Zeitzone"),
    ],
    ids=[
        "empty",
        "backwards",
        "naive",
        "too-long",
        "too-many-hours",
        "granularity",
        "group-by",
        "time-zone",
        "not-iana",
    ],
)
def test_check_report_params_refuses(change, error, message):
    with pytest.raises(error, match=message) as refused:
        check_report_params(**{**VALID, **change})

    assert isinstance(refused.value, ReportParamError)
    assert isinstance(refused.value, ValueError)


def test_a_31_day_month_with_hours_is_allowed_across_the_clock_change():
    params = check_report_params(
        start=berlin(2026, 10, 1), end=berlin(2026, 11, 1), granularity="hour", group_by="slot"
    )

    assert params.end.astimezone(UTC) - params.start.astimezone(UTC) == timedelta(days=31, hours=1)


def test_check_report_params_takes_time_zone_names():
    params = check_report_params(**VALID, tz="America/New_York")

    assert params.tz == NEW_YORK


def test_build_report_checks_its_params():
    with pytest.raises(InvalidRangeError):
        report(start=berlin(2026, 6, 2), end=berlin(2026, 6, 1))


def test_day_buckets_across_the_clock_change_start_at_local_midnight():
    result = report(start=berlin(2026, 10, 24), end=berlin(2026, 10, 27))

    assert [s.isoformat() for s in result.bucket_starts] == [
        "2026-10-24T00:00:00+02:00",
        "2026-10-25T00:00:00+02:00",
        "2026-10-26T00:00:00+01:00",
    ]


def test_the_repeated_hour_of_the_fall_back_night_is_a_range():
    first = datetime(2026, 10, 25, 2, 0, tzinfo=BERLIN)
    second = first.replace(fold=1)

    result = report(start=first, end=second, granularity="hour")

    assert [s.utcoffset() for s in result.bucket_starts] == [timedelta(hours=2)]
