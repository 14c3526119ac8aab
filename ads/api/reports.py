"""``GET /api/v1/reports``: the caller's numbers over time, from the rollups only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import Campaign
from ..reports import (
    DAY,
    GRANULARITIES,
    GROUP_BY,
    ReportParamError,
    build_report,
    report_as_dict,
    report_csv,
)
from .auth import current_advertiser


class CSVRenderer(renderers.BaseRenderer):
    """``Accept: text/csv`` or ``?format=csv``."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        if isinstance(data, str):
            return data.encode(self.charset)
        # Errors stay problem+json, whatever was asked for.
        return renderers.JSONRenderer().render(data)


class ReportDateTimeField(serializers.DateTimeField):
    """DRF's, refusing a time without offset near year 1 or 9999 as out of range, as DRF
    does one with an offset: DRF checks the first by converting it to UTC, which there
    overflows. Reports take only the years 2000 to 2099 (``check_report_params``)."""

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            self.fail("overflow")


class ReportQuery(serializers.Serializer[Any]):
    start = ReportDateTimeField(help_text=_("ISO 8601, z. B. 2026-10-01T00:00:00+02:00."))
    end = ReportDateTimeField(help_text=_("ISO 8601, ausschließlich."))
    granularity = serializers.ChoiceField(choices=GRANULARITIES, default=DAY)
    group_by = serializers.ChoiceField(choices=GROUP_BY, default="campaign")
    tz = serializers.CharField(default="Europe/Berlin", max_length=64)
    campaign = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=200
    )
    delimiter = serializers.ChoiceField(choices=["comma", "semicolon"], default="comma")
    bom = serializers.BooleanField(default=False)


class ReportView(APIView):
    renderer_classes = (renderers.JSONRenderer, renderers.BrowsableAPIRenderer, CSVRenderer)

    @extend_schema(
        summary=_(
            "Bericht: Auslieferungen, Sichtkontakte, Klicks, Klickrate, ungültige Ereignisse"
        ),
        parameters=[
            ReportQuery,
            OpenApiParameter(
                "campaign", OpenApiTypes.INT, many=True, description=_("Nur diese Kampagnen.")
            ),
            OpenApiParameter("format", str, enum=["json", "csv"], description=_("Oder Accept.")),
        ],
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description=_("Reihen je Gruppe mit lückenlosen Zeitabschnitten und Summen."),
                examples=[
                    OpenApiExample(
                        "Tage",
                        value={
                            "granularity": "day",
                            "group_by": "campaign",
                            "time_zone": "Europe/Berlin",
                            "series": [
                                {
                                    "key": 1,
                                    "label": "Herbstaktion",
                                    "buckets": [
                                        {
                                            "start": "2026-10-01T00:00:00+02:00",
                                            "served": 1200,
                                            "views": 800,
                                            "clicks": 12,
                                            "click_rate": 0.01,
                                            "filtered": 30,
                                            "unique_visitors": None,
                                        }
                                    ],
                                }
                            ],
                        },
                    )
                ],
            ),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV"),
        },
    )
    def get(self, request: Request) -> Response:
        params_in: dict[str, Any] = request.query_params.dict()
        if "campaign" in request.query_params:
            params_in["campaign"] = request.query_params.getlist("campaign")
        query = ReportQuery(data=params_in)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        advertiser = current_advertiser(request)
        own = set(Campaign.objects.filter(advertiser=advertiser).values_list("pk", flat=True))
        wanted = set(data.get("campaign") or own)
        if not wanted <= own:
            raise Http404
        try:
            # Checks its parameters itself (``check_report_params``).
            report = build_report(
                campaign_ids=sorted(wanted),
                start=data["start"],
                end=data["end"],
                granularity=data["granularity"],
                group_by=data["group_by"],
                tz=data["tz"],
            )
        except ReportParamError as refused:
            raise serializers.ValidationError({"params": [str(refused)]}) from refused
        if request.accepted_renderer.format == "csv":
            delimiter = ";" if data["delimiter"] == "semicolon" else ","
            name = f"litfass-{timezone.localdate():%Y-%m-%d}.csv"
            return Response(
                report_csv(report, delimiter=delimiter, bom=data["bom"]),
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return Response(report_as_dict(report))
