"""Reports for editors: charts and totals from the rollups, a CSV export, and the
rollup totals on a campaign's change page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from ..decision import berlin_day
from ..forms import ReportForm
from ..models import Campaign
from ..reports import (
    DAY,
    GROUP_BY_CHOICES,
    HOUR,
    Counts,
    Report,
    build_report,
    campaign_totals,
    report_as_dict,
    report_csv,
)


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{number_format(rate * 100, decimal_pos=2)} %"


def _bucket_labels(report: Report) -> list[str]:
    """Bucket starts as editors read them; the repeated hour of a fall-back night gets
    its zone abbreviation."""
    if report.granularity == HOUR:
        shown = [date_format(start, "SHORT_DATETIME_FORMAT") for start in report.bucket_starts]
        return [
            f"{label} {start.tzname()}" if shown.count(label) > 1 else label
            for label, start in zip(shown, report.bucket_starts, strict=True)
        ]
    fmt = "SHORT_DATE_FORMAT" if report.granularity == DAY else "YEAR_MONTH_FORMAT"
    return [date_format(start, fmt) for start in report.bucket_starts]


def _row(label: str, key: int | None, counts: Counts) -> dict[str, Any]:
    return {"label": label, "key": key, "counts": counts, "click_rate": _percent(counts.click_rate)}


def report_view(model_admin: admin.ModelAdmin[Campaign], request: HttpRequest) -> HttpResponse:
    """Charts and totals for a date range; ``?export=csv`` downloads the same as CSV."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    query = request.GET.copy()
    for name, value in ReportForm.defaults(today=berlin_day(timezone.now())).items():
        query.setdefault(name, value)
    form = ReportForm(query)
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "title": _("Berichte"),
        "opts": Campaign._meta,
        "form": form,
    }
    if form.is_valid():
        params = form.params
        report = build_report(
            campaign_ids=params.campaign_ids,
            start=params.start,
            end=params.end,
            granularity=params.granularity,
            group_by=params.group_by,
            tz=params.tz,
        )
        if query.get("export") == "csv":
            return _csv_response(report)
        context.update(
            {
                "report": report,
                "chart_data": {"labels": _bucket_labels(report), "report": report_as_dict(report)},
                "group_label": dict(GROUP_BY_CHOICES)[report.group_by],
                "rows": [_row(s.label, s.key, s.totals) for s in report.series],
                "overall": _row(report.overall.label, None, report.overall.totals),
                "csv_url": "?" + _with_export(query).urlencode(),
            }
        )
    return TemplateResponse(request, "admin/ads/reports.html", context)


def _with_export(query: QueryDict) -> QueryDict:
    exported = query.copy()
    exported["export"] = "csv"
    return exported


def _csv_response(report: Report) -> HttpResponse:
    # Semicolons, decimal commas and a BOM: what German Excel opens without a wizard.
    last_day = report.end - dt.timedelta(microseconds=1)
    name = f"litfass-bericht-{report.start:%Y-%m-%d}-{last_day:%Y-%m-%d}.csv"
    return HttpResponse(
        report_csv(report, delimiter=";", bom=True),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def rollup_delivery(campaign: Campaign) -> SafeString | str:
    """A campaign's counts from the rollups, as reports show them, with a link to its
    report; the live counters shown as progress run ahead until the next flush."""
    if campaign.pk is None:
        return "–"
    counts = campaign_totals([campaign.pk])[campaign.pk]
    shown = _(
        "%(served)s ausgeliefert, %(views)s sichtbar, %(clicks)s Klicks, "
        "Klickrate %(rate)s, %(filtered)s ungültige Ereignisse"
    ) % {
        "served": number_format(counts.served, force_grouping=True),
        "views": number_format(counts.views, force_grouping=True),
        "clicks": number_format(counts.clicks, force_grouping=True),
        "rate": _percent(counts.click_rate),
        "filtered": number_format(counts.filtered or 0, force_grouping=True),
    }
    url = reverse("admin:ads_campaign_reports") + "?" + urlencode({"campaigns": campaign.pk})
    return format_html('{} · <a href="{}">{}</a>', shown, url, _("Bericht"))
