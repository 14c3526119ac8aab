"""Reports: served, views, clicks and filtered events over time, read from the rollups only.

Buckets are calendar periods (hour, day, month) in the report's time zone, Europe/Berlin
unless asked otherwise. They are computed from the hourly rollups, so any zone works and
daylight saving time is exact: a Berlin day has 23, 24 or 25 hours. An hourly rollup cell
belongs to the bucket in which its hour starts. Hour buckets are the rollups' UTC hours
shown in the report's zone; in the few zones whose offset is not a whole number of hours
(India, Nepal, parts of Australia) they therefore start at half past.

The requested range is widened to whole buckets: ``start`` rounds down to the start of its
bucket, the exclusive ``end`` rounds up. Every bucket is in the report, with zeros where
nothing was counted.

Filtered events (bots, replays, previews, …) are counted per hour, campaign and reason
only: an event refused by tracking has no trustworthy promotion or slot. Hence:

- grouped by campaign, each campaign's buckets carry its filtered events;
- grouped by promotion or slot, the groups' ``filtered`` is ``None``; filtered events are
  shown for the whole selection only (``overall`` and ``filtered_by_reason``);
- without a campaign filter the overall figures include events whose nonce was unknown
  (no campaign); with one, only the chosen campaigns' events.

Unique visitors are unique per hourly rollup cell (hour × campaign × promotion × slot)
and cannot be added up across hours: a reader who comes back counts again. Reports show
them only at hour granularity, as the sum of the bucket's cells (a reader seen in two
slots in one hour counts twice), and never in totals.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncMonth
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from promotions.models import Promotion, Slot

from .decision import BERLIN
from .models import Campaign, FilteredRollup, FilterReason, HourlyRollup

HOUR, DAY, MONTH = "hour", "day", "month"
GRANULARITIES = (HOUR, DAY, MONTH)
GROUP_BY = ("campaign", "promotion", "slot")
GRANULARITY_CHOICES = [(HOUR, _lazy("Stunden")), (DAY, _lazy("Tage")), (MONTH, _lazy("Monate"))]
GROUP_BY_CHOICES = [
    ("campaign", _lazy("Kampagne")),
    ("promotion", _lazy("Promotion")),
    ("slot", _lazy("Slot")),
]
# Longer ranges would make pages of thousands of points and unbounded queries.
MAX_DAYS = {HOUR: 31, DAY: 366, MONTH: 366}


class ReportParamError(ValueError):
    """The report cannot be built with these parameters; the message says why."""


class InvalidRangeError(ReportParamError):
    pass


class RangeTooLongError(ReportParamError):
    pass


class UnknownGranularityError(ReportParamError):
    pass


class UnknownGroupByError(ReportParamError):
    pass


class UnknownTimeZoneError(ReportParamError):
    pass


class UnknownCampaignsError(ReportParamError):
    pass


@dataclass(frozen=True)
class ReportParams:
    """Checked report parameters; ``campaign_ids`` is ``None`` for all campaigns."""

    campaign_ids: tuple[int, ...] | None
    start: dt.datetime
    end: dt.datetime
    granularity: str
    group_by: str
    tz: zoneinfo.ZoneInfo


@dataclass(kw_only=True)
class Counts:
    served: int = 0
    views: int = 0
    clicks: int = 0
    # None where filtered events cannot be attributed (see the module docstring).
    filtered: int | None = 0
    # None except in hour buckets (see the module docstring).
    unique_visitors: int | None = None

    @property
    def click_rate(self) -> float | None:
        """Clicks per served impression; ``None`` when nothing was served."""
        return self.clicks / self.served if self.served else None

    def add(self, other: Counts) -> None:
        self.served += other.served
        self.views += other.views
        self.clicks += other.clicks
        if self.filtered is not None and other.filtered is not None:
            self.filtered += other.filtered
        if self.unique_visitors is not None and other.unique_visitors is not None:
            self.unique_visitors += other.unique_visitors


@dataclass(kw_only=True)
class Bucket(Counts):
    start: dt.datetime  # aware, in the report's time zone


@dataclass(kw_only=True)
class Series:
    """One group's buckets and totals; ``key`` is the campaign, promotion or slot id."""

    key: int | None
    label: str
    buckets: list[Bucket]
    totals: Counts


@dataclass(kw_only=True)
class Report:
    """A report as built by :func:`build_report`; ``start`` and ``end`` are the range
    widened to whole buckets, in the report's time zone."""

    campaign_ids: tuple[int, ...] | None
    start: dt.datetime
    end: dt.datetime
    granularity: str
    group_by: str
    tz: zoneinfo.ZoneInfo
    series: list[Series]
    overall: Series
    # Reason -> one count per bucket, for the whole selection; only reasons that occur.
    filtered_by_reason: dict[str, list[int]] = field(default_factory=dict)

    @property
    def bucket_starts(self) -> list[dt.datetime]:
        return [bucket.start for bucket in self.overall.buckets]


@functools.cache
def _known_zones() -> frozenset[str]:
    # Only IANA names, which PostgreSQL knows too; Debian adds its "localtime" link.
    return frozenset(zoneinfo.available_timezones() - {"localtime"})


def check_time_zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone called ``name``, e.g. ``Europe/Berlin``."""
    if name not in _known_zones():
        raise UnknownTimeZoneError(_("Unbekannte Zeitzone „%(name)s“.") % {"name": name})
    return zoneinfo.ZoneInfo(name)


def check_report_params(
    *,
    campaign_ids: Sequence[int] | None = None,
    start: dt.datetime,
    end: dt.datetime,
    granularity: str,
    group_by: str,
    tz: zoneinfo.ZoneInfo | str = BERLIN,
) -> ReportParams:
    """Check report parameters; raises a :class:`ReportParamError` with a German message.

    An empty ``campaign_ids`` selects no campaign (and gives an empty report); ``None``
    selects all. The range limit counts calendar days in ``tz``.
    """
    if granularity not in GRANULARITIES:
        raise UnknownGranularityError(
            _("Unbekannte Einteilung „%(value)s“; möglich sind: %(allowed)s.")
            % {"value": granularity, "allowed": ", ".join(GRANULARITIES)}
        )
    if group_by not in GROUP_BY:
        raise UnknownGroupByError(
            _("Unbekannte Gruppierung „%(value)s“; möglich sind: %(allowed)s.")
            % {"value": group_by, "allowed": ", ".join(GROUP_BY)}
        )
    zone = check_time_zone(tz if isinstance(tz, str) else str(tz.key))
    if start.utcoffset() is None or end.utcoffset() is None:
        raise InvalidRangeError(_("Beginn und Ende brauchen eine Zeitzone."))
    # In UTC: Python compares two times of one zone by wall clock, ignoring DST.
    if end.astimezone(dt.UTC) <= start.astimezone(dt.UTC):
        raise InvalidRangeError(_("Das Ende muss nach dem Beginn liegen."))
    # Wall-clock time, so a 31-day October is 31 days although it has 745 hours.
    wall = end.astimezone(zone).replace(tzinfo=None) - start.astimezone(zone).replace(tzinfo=None)
    if wall > dt.timedelta(days=MAX_DAYS[granularity]):
        raise RangeTooLongError(
            _("Bei dieser Einteilung sind höchstens %(days)d Tage möglich.")
            % {"days": MAX_DAYS[granularity]}
        )
    ids = None if campaign_ids is None else tuple(sorted({int(pk) for pk in campaign_ids}))
    return ReportParams(
        campaign_ids=ids, start=start, end=end, granularity=granularity, group_by=group_by, tz=zone
    )


def _local_start(day: dt.date, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first instant of a local calendar day, in UTC.

    Where a zone skips midnight, ``fold=0`` puts the skipped wall time at the instant
    of the jump, which is where that day begins; PostgreSQL's truncation agrees.
    """
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)


def _floor(moment: dt.datetime, granularity: str, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    if granularity == HOUR:
        return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    day = moment.astimezone(tz).date()
    return _local_start(day if granularity == DAY else day.replace(day=1), tz)


def _next(bucket: dt.datetime, granularity: str, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    if granularity == HOUR:
        return bucket + dt.timedelta(hours=1)
    day = bucket.astimezone(tz).date()
    if granularity == DAY:
        return _local_start(day + dt.timedelta(days=1), tz)
    year, month = divmod(day.year * 12 + day.month, 12)
    return _local_start(dt.date(year, month + 1, 1), tz)


def _ceil(moment: dt.datetime, granularity: str, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    floor = _floor(moment, granularity, tz)
    return floor if floor == moment else _next(floor, granularity, tz)


def _bucketed(rows: QuerySet[Any], granularity: str, tz: zoneinfo.ZoneInfo) -> QuerySet[Any]:
    if granularity == HOUR:
        return rows.annotate(bucket=F("hour"))
    trunc = TruncDay if granularity == DAY else TruncMonth
    return rows.annotate(bucket=trunc("hour", tzinfo=tz))


def _labels(group_by: str, keys: Iterable[int]) -> dict[int, str]:
    wanted = set(keys)
    if not wanted:
        return {}
    if group_by == "campaign":
        return dict(Campaign.objects.filter(pk__in=wanted).values_list("pk", "name"))
    if group_by == "promotion":
        return dict(Promotion.objects.filter(pk__in=wanted).values_list("pk", "title"))
    return dict(Slot.objects.filter(pk__in=wanted).values_list("pk", "name"))


def _check_campaigns(campaign_ids: tuple[int, ...] | None) -> dict[int, str]:
    """The chosen campaigns' names; every one of them must exist."""
    if campaign_ids is None:
        return {}
    known = dict(Campaign.objects.filter(pk__in=campaign_ids).values_list("pk", "name"))
    missing = sorted(set(campaign_ids) - known.keys())
    if missing:
        raise UnknownCampaignsError(
            _("Unbekannte Kampagnen: %(ids)s.") % {"ids": ", ".join(map(str, missing))}
        )
    return known


def _rows(
    params: ReportParams, *, first: dt.datetime, stop: dt.datetime
) -> tuple[QuerySet[Any], QuerySet[Any]]:
    """Counted and refused events summed per bucket in SQL: one row per bucket and group
    (and campaign and reason), however many hours a bucket has."""
    counted = HourlyRollup.objects.filter(hour__gte=first, hour__lt=stop)
    refused = FilteredRollup.objects.filter(hour__gte=first, hour__lt=stop)
    if params.campaign_ids is not None:
        counted = counted.filter(campaign_id__in=params.campaign_ids)
        refused = refused.filter(campaign_id_seen__in=params.campaign_ids)
    counted_rows = (
        _bucketed(counted, params.granularity, params.tz)
        .values("bucket", f"{params.group_by}_id")
        .annotate(
            served_sum=Sum("served"),
            views_sum=Sum("views"),
            clicks_sum=Sum("clicks"),
            visitors_sum=Sum("unique_visitors"),
        )
        .order_by()
    )
    refused_rows = (
        _bucketed(refused, params.granularity, params.tz)
        .values("bucket", "campaign_id_seen", "reason")
        .annotate(count_sum=Sum("count"))
        .order_by()
    )
    return counted_rows, refused_rows


def build_report(
    *,
    campaign_ids: Sequence[int] | None = None,
    start: dt.datetime,
    end: dt.datetime,
    granularity: str,
    group_by: str,
    tz: zoneinfo.ZoneInfo = BERLIN,
) -> Report:
    """Served, views, clicks, click rate and filtered events per group and bucket.

    ``campaign_ids``: the campaigns to report on, ``None`` for all (an empty sequence
    selects none). ``start`` and ``end`` are aware datetimes, ``end`` exclusive; the range
    is widened to whole buckets. ``granularity`` is ``"hour"``, ``"day"`` or ``"month"``,
    ``group_by`` is ``"campaign"``, ``"promotion"`` or ``"slot"``; buckets are calendar
    periods in ``tz``. Groups are ordered by label; grouped by campaign with an explicit
    ``campaign_ids``, every chosen campaign is a group even without counts.

    Raises :class:`ReportParamError` (a ``ValueError``) with a German message for bad
    parameters or unknown campaigns. Reads only the rollups, in at most three queries.
    """
    params = check_report_params(
        campaign_ids=campaign_ids,
        start=start,
        end=end,
        granularity=granularity,
        group_by=group_by,
        tz=tz,
    )
    tz = params.tz
    known = _check_campaigns(params.campaign_ids)
    first = _floor(params.start, granularity, tz)
    stop = _ceil(params.end, granularity, tz)
    starts = [first]
    while (following := _next(starts[-1], granularity, tz)) < stop:
        starts.append(following)
    index = {bucket: i for i, bucket in enumerate(starts)}
    counted_rows, refused_rows = _rows(params, first=first, stop=stop)

    hourly = granularity == HOUR
    by_campaign = group_by == "campaign"

    def empty_buckets(*, filtered: bool) -> list[Bucket]:
        return [
            Bucket(
                start=bucket.astimezone(tz),
                filtered=0 if filtered else None,
                unique_visitors=0 if hourly else None,
            )
            for bucket in starts
        ]

    groups: dict[int, list[Bucket]] = defaultdict(lambda: empty_buckets(filtered=by_campaign))
    if by_campaign and params.campaign_ids is not None:
        # Every chosen campaign is a group, counted or not.
        for pk in params.campaign_ids:
            groups[pk] = empty_buckets(filtered=True)
    for row in counted_rows:
        bucket = groups[row[f"{group_by}_id"]][index[row["bucket"].astimezone(dt.UTC)]]
        bucket.served += row["served_sum"]
        bucket.views += row["views_sum"]
        bucket.clicks += row["clicks_sum"]
        if hourly:
            bucket.unique_visitors = row["visitors_sum"]

    overall = empty_buckets(filtered=True)
    reasons: dict[str, list[int]] = {}
    for row in refused_rows:
        at, n = index[row["bucket"].astimezone(dt.UTC)], row["count_sum"]
        overall[at].filtered = (overall[at].filtered or 0) + n
        reasons.setdefault(row["reason"], [0] * len(starts))[at] += n
        # Campaigns with filtered events only are groups too; 0 is "no campaign known".
        if by_campaign and row["campaign_id_seen"]:
            bucket = groups[row["campaign_id_seen"]][at]
            bucket.filtered = (bucket.filtered or 0) + n

    # With chosen campaigns their names are known already.
    chosen = by_campaign and params.campaign_ids is not None
    labels = known if chosen else _labels(group_by, groups)
    series = []
    # Groups without a label belong to campaigns deleted since (filtered events keep
    # their campaign id without a foreign key): they count in the overall figures only.
    for key in groups.keys() & labels.keys():
        buckets = groups[key]
        totals = Counts(filtered=0 if by_campaign else None)
        for bucket, whole in zip(buckets, overall, strict=True):
            totals.add(bucket)
            whole.served += bucket.served
            whole.views += bucket.views
            whole.clicks += bucket.clicks
            if whole.unique_visitors is not None:
                whole.unique_visitors += bucket.unique_visitors or 0
        series.append(Series(key=key, label=labels[key], buckets=buckets, totals=totals))
    series.sort(key=lambda s: (s.label.casefold(), s.key or 0))
    overall_totals = Counts()
    for bucket in overall:
        overall_totals.add(bucket)
    return Report(
        campaign_ids=params.campaign_ids,
        start=first.astimezone(tz),
        end=stop.astimezone(tz),
        granularity=granularity,
        group_by=group_by,
        tz=tz,
        series=series,
        overall=Series(key=None, label=_("Gesamt"), buckets=overall, totals=overall_totals),
        filtered_by_reason={
            reason: reasons[reason] for reason in sorted(reasons, key=_reason_order)
        },
    )


def _reason_order(reason: str) -> int:
    order = FilterReason.values
    return order.index(reason) if reason in order else len(order)


def _counts_dict(counts: Counts) -> dict[str, Any]:
    return {
        "served": counts.served,
        "views": counts.views,
        "clicks": counts.clicks,
        "click_rate": counts.click_rate,
        "filtered": counts.filtered,
        "unique_visitors": counts.unique_visitors,
    }


def _series_dict(series: Series) -> dict[str, Any]:
    return {
        "key": series.key,
        "label": series.label,
        "buckets": [
            {"start": bucket.start.isoformat(), **_counts_dict(bucket)} for bucket in series.buckets
        ],
        "totals": _counts_dict(series.totals),
    }


def report_as_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data: ISO 8601 times with offsets, ids, labels, counts.

    ``click_rate`` is a share (0.0123, not 1.23 %) or ``None``; ``filtered`` and
    ``unique_visitors`` are ``None`` where the module docstring says why.
    """
    reasons = dict(FilterReason.choices)
    return {
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "time_zone": report.tz.key,
        "granularity": report.granularity,
        "group_by": report.group_by,
        "campaign_ids": None if report.campaign_ids is None else list(report.campaign_ids),
        "buckets": [start.isoformat() for start in report.bucket_starts],
        "series": [_series_dict(series) for series in report.series],
        "overall": _series_dict(report.overall),
        "filtered_by_reason": [
            {"reason": reason, "label": str(reasons.get(reason, reason)), "counts": counts}
            for reason, counts in report.filtered_by_reason.items()
        ],
    }


# Spreadsheets run a cell starting with one of these as a formula; names come from
# advertisers too.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def report_csv(report: Report, *, delimiter: str = ",", bom: bool = False) -> str:
    """The report as CSV: a header, then per group one row per bucket (its start in
    ISO 8601 with offset) and a totals row, and a last row with the overall totals.

    For German Excel pass ``delimiter=";"`` and ``bom=True``: with ``;`` the click rate
    (a share, e.g. ``0,0123``) gets a decimal comma. Empty cells mean "not known" (see
    the module docstring); labels that a spreadsheet would run as a formula get a
    leading apostrophe.
    """
    decimal = "," if delimiter == ";" else "."

    def numbers(counts: Counts) -> list[str | int]:
        rate = counts.click_rate
        return [
            counts.served,
            counts.views,
            counts.clicks,
            "" if rate is None else f"{rate:.4f}".replace(".", decimal),
            "" if counts.filtered is None else counts.filtered,
            "" if counts.unique_visitors is None else counts.unique_visitors,
        ]

    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(
        [
            str(dict(GROUP_BY_CHOICES)[report.group_by]),
            "ID",
            _("Beginn"),
            _("Ausgeliefert"),
            _("Sichtbar"),
            _("Klicks"),
            _("Klickrate"),
            _("Ungültig"),
            _("Leser (mit Einwilligung)"),
        ]
    )
    for series in report.series:
        label = _text(series.label)
        for bucket in series.buckets:
            writer.writerow([label, series.key, bucket.start.isoformat(), *numbers(bucket)])
        writer.writerow([label, series.key, _("Summe"), *numbers(series.totals)])
    writer.writerow([report.overall.label, "", _("Summe"), *numbers(report.overall.totals)])
    return ("\ufeff" if bom else "") + out.getvalue()
