"""Advertisers' API keys: stored hashed, with an expiry date, revocable."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

from .campaigns import Advertiser


class AdvertiserAPIKey(AbstractAPIKey):
    """A key for ``Authorization: Api-Key <key>``; only its hash is kept."""

    advertiser = models.ForeignKey(
        Advertiser,
        on_delete=models.CASCADE,
        related_name="api_keys",
        verbose_name=_("Werbekunde"),
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("API-Schlüssel")  # type: ignore[assignment]
        verbose_name_plural = _("API-Schlüssel")  # type: ignore[assignment]
