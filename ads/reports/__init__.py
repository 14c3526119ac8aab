"""Reports: served, views, clicks and filtered events over time, read from the rollups only.

Buckets are calendar periods (hour, day, month) in the report's time zone, Europe/Berlin
unless asked otherwise. They are computed from the hourly rollups, so any zone works and
daylight saving time is exact: a Berlin day has 23, 24 or 25 hours. An hourly rollup cell
belongs to the bucket in which its hour starts. Hour buckets are the rollups' UTC hours
shown in the report's zone; in the few zones whose offset is not a whole number of hours
(India, Nepal, parts of Australia) they therefore start at half past.

The requested range is widened to whole buckets: ``start`` rounds down to the start of its
bucket, the exclusive ``end`` rounds up. Every bucket is in the report, with zeros where
nothing was counted. Reports cover the calendar years ``FIRST_YEAR`` to ``LAST_YEAR``
(2000 to 2099) in the report's zone; a range reaching outside is refused.

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

from .build import Bucket, Counts, Report, Series, build_report, campaign_totals
from .export import report_as_dict, report_csv
from .params import (
    DAY,
    FIRST_YEAR,
    GRANULARITIES,
    GRANULARITY_CHOICES,
    GROUP_BY,
    GROUP_BY_CHOICES,
    HOUR,
    LAST_YEAR,
    MAX_DAYS,
    MONTH,
    InvalidRangeError,
    OutOfRangeError,
    RangeTooLongError,
    ReportParamError,
    ReportParams,
    UnknownCampaignsError,
    UnknownGranularityError,
    UnknownGroupByError,
    UnknownTimeZoneError,
    check_report_days,
    check_report_params,
    check_time_zone,
)

__all__ = [
    "DAY",
    "FIRST_YEAR",
    "GRANULARITIES",
    "GRANULARITY_CHOICES",
    "GROUP_BY",
    "GROUP_BY_CHOICES",
    "HOUR",
    "LAST_YEAR",
    "MAX_DAYS",
    "MONTH",
    "Bucket",
    "Counts",
    "InvalidRangeError",
    "OutOfRangeError",
    "RangeTooLongError",
    "Report",
    "ReportParamError",
    "ReportParams",
    "Series",
    "UnknownCampaignsError",
    "UnknownGranularityError",
    "UnknownGroupByError",
    "UnknownTimeZoneError",
    "build_report",
    "campaign_totals",
    "check_report_days",
    "check_report_params",
    "check_time_zone",
    "report_as_dict",
    "report_csv",
]
