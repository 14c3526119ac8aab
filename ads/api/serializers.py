"""Input and output shapes of the advertiser API; validation delegates to the models."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from promotions.models import Image, Promotion, Rendition, Slot

from ..models import Campaign


def _raise_as_drf(error: DjangoValidationError) -> None:
    if hasattr(error, "error_dict"):
        raise serializers.ValidationError(error.message_dict) from error
    raise serializers.ValidationError(error.messages) from error


class SlotKeyField(serializers.SlugRelatedField[Slot]):
    """A slot by its key; anything that is not a slug is refused before the lookup
    (PostgreSQL refuses NUL bytes in queries with an error, not an empty result)."""

    def to_internal_value(self, data: Any) -> Slot:
        if not isinstance(data, str) or not _SLUG.fullmatch(data):
            self.fail("does_not_exist", slug_name=self.slug_field, value=str(data)[:50])
        return super().to_internal_value(data)


_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")


class CampaignSerializer(serializers.ModelSerializer[Campaign]):
    slots = SlotKeyField(
        slug_field="key", queryset=Slot.objects.all(), many=True, help_text=_("Slot-Schlüssel.")
    )
    include_tags = serializers.ListField(
        child=serializers.SlugField(max_length=100), max_length=50, required=False
    )
    exclude_tags = serializers.ListField(
        child=serializers.SlugField(max_length=100), max_length=50, required=False
    )
    include_sections = serializers.ListField(
        child=serializers.SlugField(max_length=80), max_length=50, required=False
    )
    exclude_sections = serializers.ListField(
        child=serializers.SlugField(max_length=80), max_length=50, required=False
    )
    languages = serializers.ListField(
        child=serializers.ChoiceField(choices=[code for code, _name in settings.LANGUAGES]),
        required=False,
    )
    devices = serializers.ListField(
        child=serializers.ChoiceField(choices=Campaign.Device.choices), required=False
    )
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), max_length=7, required=False
    )
    hours = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=23), max_length=24, required=False
    )

    class Meta:
        model = Campaign
        fields = (
            "id",
            "name",
            "kind",
            "status",
            "pause_reason",
            "starts_at",
            "ends_at",
            "goal_impressions",
            "goal_clicks",
            "daily_cap",
            "pacing",
            "frequency_cap",
            "slots",
            "include_tags",
            "exclude_tags",
            "include_sections",
            "exclude_sections",
            "languages",
            "devices",
            "weekdays",
            "hours",
            "competitive_category",
            "weight",
            "rotation",
            "created_at",
            "updated_at",
        )
        # The publisher decides the tier (sponsorship, standard) when it launches.
        read_only_fields = ("kind", "status", "pause_reason", "created_at", "updated_at")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None and self.instance.status != Campaign.Status.DRAFT:
            changing = set(attrs) - {"name"}
            if changing:
                raise serializers.ValidationError(
                    {
                        field: [_("Nach dem Start nur über die Redaktion änderbar.")]
                        for field in sorted(changing)
                    }
                )
        candidate = Campaign(
            **{
                **({} if self.instance is None else self._current_values()),
                **{k: v for k, v in attrs.items() if k != "slots"},
            }
        )
        candidate.advertiser_id = 0  # checked by the view; clean() does not need it
        try:
            candidate.clean()
        except DjangoValidationError as error:
            _raise_as_drf(error)
        return attrs

    def _current_values(self) -> dict[str, Any]:
        assert self.instance is not None  # noqa: S101  (only called for updates)
        return {
            field.name: getattr(self.instance, field.name)
            for field in Campaign._meta.concrete_fields
            if field.name not in ("id", "advertiser")
        }


class RenditionSerializer(serializers.ModelSerializer[Rendition]):
    url = serializers.CharField(read_only=True)

    class Meta:
        model = Rendition
        fields = ("spec", "url", "width", "height")


class ImageSerializer(serializers.ModelSerializer[Image]):
    renditions = RenditionSerializer(many=True, read_only=True)

    class Meta:
        model = Image
        fields = (
            "id",
            "title",
            "width",
            "height",
            "format",
            "byte_size",
            "created_at",
            "renditions",
        )


class PromotionSerializer(serializers.ModelSerializer[Promotion]):
    campaign = serializers.PrimaryKeyRelatedField(
        queryset=Campaign.objects.none(),
        source="campaign_link.campaign",
        help_text=_("Eine eigene Kampagne."),
    )
    upload = serializers.FileField(
        write_only=True,
        required=False,
        help_text=_("Bild (JPEG, PNG, WebP, AVIF); wird geprüft und erst nach Freigabe gezeigt."),
    )
    image = ImageSerializer(read_only=True)

    class Meta:
        model = Promotion
        fields = (
            "id",
            "campaign",
            "title",
            "text",
            "alt_text",
            "call_to_action",
            "destination_url",
            "upload",
            "image",
            "review_status",
            "rejection_reason",
            "created_at",
        )
        read_only_fields = ("review_status", "rejection_reason", "created_at")

    def __init__(self, *args: Any, campaigns: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if campaigns is not None:
            self.fields["campaign"].queryset = campaigns  # type: ignore[attr-defined]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("upload") is not None and not attrs.get("alt_text", "").strip():
            raise serializers.ValidationError({"alt_text": [_("Bitte das Bild kurz beschreiben.")]})
        return attrs
