"""Reports as JSON-ready data and as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.utils.translation import gettext as _

from ..models import FilterReason
from .build import Counts, Report, Series
from .params import GROUP_BY_CHOICES


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
    ``unique_visitors`` are ``None`` where the package docstring says why.
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
    the package docstring); labels that a spreadsheet would run as a formula get a
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
