"""Report parameters and their checks: what may be asked for, with German refusals."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from ..decision import BERLIN

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
# Reports cover these calendar years (both included) in the report's time zone: the
# portal has counted nothing before and will not for a while after. The limit also keeps
# the range's rounding to whole buckets (up to a month past the end, in any zone) far
# from the ends of Python's calendar (years 1 to 9999), where dates overflow.
FIRST_YEAR, LAST_YEAR = 2000, 2099


class ReportParamError(ValueError):
    """The report cannot be built with these parameters; the message says why."""


class InvalidRangeError(ReportParamError):
    pass


class RangeTooLongError(ReportParamError):
    pass


class OutOfRangeError(ReportParamError):
    """A date outside the years :data:`FIRST_YEAR` to :data:`LAST_YEAR`."""


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


@functools.cache
def _known_zones() -> frozenset[str]:
    # Only IANA names, which PostgreSQL knows too; Debian adds its "localtime" link.
    return frozenset(zoneinfo.available_timezones() - {"localtime"})


def check_time_zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone called ``name``, e.g. ``Europe/Berlin``."""
    if name not in _known_zones():
        raise UnknownTimeZoneError(_("Unbekannte Zeitzone „%(name)s“.") % {"name": name})
    return zoneinfo.ZoneInfo(name)


def _out_of_range() -> OutOfRangeError:
    return OutOfRangeError(
        _("Berichte sind nur für die Jahre %(first)d bis %(last)d möglich.")
        % {"first": FIRST_YEAR, "last": LAST_YEAR}
    )


def check_report_days(first: dt.date, last: dt.date) -> None:
    """Refuse calendar days (``last`` included) outside the reported years, before
    anything computes the day after ``last``, which 9999-12-31 does not have."""
    if first.year < FIRST_YEAR or last.year > LAST_YEAR:
        raise _out_of_range()


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
    selects all. The range limit counts calendar days in ``tz``, and the range must lie
    within the years :data:`FIRST_YEAR` to :data:`LAST_YEAR` in ``tz``.
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
    # Both ends, before anything converts them to another zone: near years 1 and 9999 a
    # conversion overflows, comparing aware datetimes does not.
    earliest = dt.datetime(FIRST_YEAR, 1, 1, tzinfo=zone)
    latest = dt.datetime(LAST_YEAR + 1, 1, 1, tzinfo=zone)
    if not (earliest <= start <= latest and earliest <= end <= latest):
        raise _out_of_range()
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
