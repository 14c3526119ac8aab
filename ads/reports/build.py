"""Building reports from the rollups: buckets by calendar, sums in SQL, zero filling.

See the package docstring for how buckets, filtered events and unique visitors work.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncMonth
from django.utils.translation import gettext as _

from promotions.models import Promotion, Slot

from ..decision import BERLIN
from ..models import Campaign, DailyRollup, FilteredRollup, FilterReason, HourlyRollup
from .params import DAY, HOUR, ReportParams, UnknownCampaignsError, check_report_params


@dataclass(kw_only=True)
class Counts:
    served: int = 0
    views: int = 0
    clicks: int = 0
    # None where filtered events cannot be attributed (see the package docstring).
    filtered: int | None = 0
    # None except in hour buckets (see the package docstring).
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
    # In UTC: Python never finds a time of a repeated hour equal to one in another zone.
    return floor if floor == moment.astimezone(dt.UTC) else _next(floor, granularity, tz)


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


def campaign_totals(campaign_ids: Sequence[int]) -> dict[int, Counts]:
    """Served, views and clicks over all of each campaign's rollups, and its filtered
    events; zeros for campaigns without counts. Two queries, however many campaigns."""
    totals = {pk: Counts() for pk in campaign_ids}
    counted = (
        DailyRollup.objects.filter(campaign_id__in=totals)
        .values("campaign_id")
        .annotate(served_sum=Sum("served"), views_sum=Sum("views"), clicks_sum=Sum("clicks"))
        .order_by()
    )
    for row in counted:
        counts = totals[row["campaign_id"]]
        counts.served, counts.views = row["served_sum"], row["views_sum"]
        counts.clicks = row["clicks_sum"]
    refused = (
        FilteredRollup.objects.filter(campaign_id_seen__in=totals)
        .values("campaign_id_seen")
        .annotate(count_sum=Sum("count"))
        .order_by()
    )
    for row in refused:
        totals[row["campaign_id_seen"]].filtered = row["count_sum"]
    return totals


def _reason_order(reason: str) -> int:
    order = FilterReason.values
    return order.index(reason) if reason in order else len(order)
