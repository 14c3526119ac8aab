"""The advertiser API's views: scope to the caller's advertiser, call one domain function.

Every queryset is filtered by the advertiser the request acts for, so another
advertiser's campaign, promotion or image answers 404 on every method.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from promotions.models import Image, Promotion

from ..campaigns import CampaignStateError, do_add_promotion, do_pause, do_resume
from ..models import Advertiser, Campaign
from .auth import current_advertiser
from .serializers import CampaignSerializer, ImageSerializer, PromotionSerializer


class Scoped:
    """Views whose objects all belong to the caller's advertiser."""

    def advertiser(self) -> Advertiser | None:
        """The caller's advertiser; ``None`` only while the schema is generated."""
        if getattr(self, "swagger_fake_view", False):
            return None
        advertiser = current_advertiser(self.request)  # type: ignore[attr-defined]
        if advertiser is None:
            raise PermissionDenied(_("Nur für Werbekunden."))
        return advertiser


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    """ISO 8601 with any offset Python accepts; PostgreSQL only takes up to ±15:59."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        return super().filter(qs, value.astimezone(dt.UTC) if value else value)


class CampaignFilter(filters.FilterSet):
    starts_after = UtcDateTimeFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = UtcDateTimeFilter(field_name="starts_at", lookup_expr="lt")

    class Meta:
        model = Campaign
        fields = ("status", "kind", "pacing")


CAMPAIGN_EXAMPLE = OpenApiExample(
    "Entwurf",
    value={
        "name": "Herbstaktion KI-Cloud",
        "starts_at": "2026-10-01T00:00:00+02:00",
        "ends_at": "2026-11-01T00:00:00+01:00",
        "goal_impressions": 100000,
        "pacing": "even",
        "slots": ["sidebar-top"],
        "include_tags": ["ki"],
        "languages": ["de"],
        "devices": ["desktop", "mobile"],
    },
    request_only=True,
)


@extend_schema_view(
    list=extend_schema(summary=_("Eigene Kampagnen")),
    retrieve=extend_schema(summary=_("Eine Kampagne")),
    create=extend_schema(summary=_("Kampagne als Entwurf anlegen"), examples=[CAMPAIGN_EXAMPLE]),
    update=extend_schema(summary=_("Kampagne ändern (nach dem Start nur den Namen)")),
    partial_update=extend_schema(summary=_("Felder einer Kampagne ändern")),
)
class CampaignViewSet(
    Scoped,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Campaign],
):
    queryset = Campaign.objects.none()
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter
    ordering = ("-starts_at",)

    def get_queryset(self) -> QuerySet[Campaign]:
        return (
            Campaign.objects.filter(advertiser=self.advertiser())
            .prefetch_related("slots")
            .order_by("-starts_at", "pk")
        )

    def perform_create(self, serializer: serializers.BaseSerializer[Campaign]) -> None:
        serializer.save(advertiser=self._owner(), status=Campaign.Status.DRAFT)

    def _owner(self) -> Advertiser:
        advertiser = self.advertiser()
        assert advertiser is not None  # noqa: S101  (None only without a request)
        return advertiser

    def _change(self, verb: Any) -> Response:
        campaign = self.get_object()
        try:
            verb(campaign, now=timezone.now())
        except CampaignStateError as refused:
            raise serializers.ValidationError({"status": [str(refused)]}) from refused
        return Response(self.get_serializer(campaign).data)

    @extend_schema(request=None, summary=_("Kampagne pausieren"))
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        return self._change(do_pause)

    @extend_schema(request=None, summary=_("Pausierte Kampagne fortsetzen"))
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return self._change(do_resume)


class PromotionFilter(filters.FilterSet):
    campaign = filters.NumberFilter(field_name="campaign_link__campaign")

    class Meta:
        model = Promotion
        fields = ("review_status",)


@extend_schema_view(
    list=extend_schema(summary=_("Eigene Promotions")),
    retrieve=extend_schema(summary=_("Eine Promotion")),
    create=extend_schema(
        summary=_("Promotion mit Bild einreichen (wartet auf Prüfung)"),
        examples=[
            OpenApiExample(
                "Buch",
                value={
                    "campaign": 1,
                    "title": "KI ist Chefsache!",
                    "text": "Wie Führungskräfte KI in ihr Unternehmen bringen.",
                    "alt_text": "Buchcover",
                    "destination_url": "https://verlag.example/ki-ist-chefsache",
                },
                request_only=True,
            )
        ],
    ),
)
class PromotionViewSet(
    Scoped,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[Promotion],
):
    queryset = Promotion.objects.none()
    serializer_class = PromotionSerializer
    filterset_class = PromotionFilter
    parser_classes = (MultiPartParser, FormParser, JSONParser)

    def get_queryset(self) -> QuerySet[Promotion]:
        return (
            Promotion.objects.filter(campaign_link__campaign__advertiser=self.advertiser())
            .select_related("campaign_link", "image")
            .prefetch_related("image__renditions")
            .order_by("-created_at", "pk")
        )

    def get_serializer(self, *args: Any, **kwargs: Any) -> PromotionSerializer:
        kwargs.setdefault("context", self.get_serializer_context())
        campaigns = Campaign.objects.filter(advertiser=self.advertiser())
        return PromotionSerializer(*args, campaigns=campaigns, **kwargs)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        campaign = data.pop("campaign_link")["campaign"]
        upload = data.pop("upload", None)
        try:
            promotion = do_add_promotion(campaign, upload=upload, fields=data)
        except DjangoValidationError as error:
            detail = (
                error.message_dict if hasattr(error, "error_dict") else {"upload": error.messages}
            )
            raise serializers.ValidationError(detail) from error
        return Response(self.get_serializer(promotion).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary=_("Bilder der eigenen Promotions")),
    retrieve=extend_schema(summary=_("Ein Bild mit seinen Ausspielungsgrößen")),
)
class ImageViewSet(Scoped, viewsets.ReadOnlyModelViewSet[Image]):
    queryset = Image.objects.none()
    serializer_class = ImageSerializer

    def get_queryset(self) -> QuerySet[Image]:
        return (
            Image.objects.filter(promotions__campaign_link__campaign__advertiser=self.advertiser())
            .distinct()
            .prefetch_related("renditions")
            .order_by("-created_at", "pk")
        )
