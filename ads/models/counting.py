"""What was counted: live counters (embedded), nonces, rollups and the flush cursor."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from promotions.models import Promotion, Slot

from .campaigns import Campaign


class LiveCounter(models.Model):
    """Counters in the database, for the embedded default without Redis.

    With Redis (production) the same keys live there; see ``ads.counters``.
    """

    key = models.CharField(max_length=200, primary_key=True)
    value = models.BigIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("Zähler")
        verbose_name_plural = _("Zähler")

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class FilterReason(models.TextChoices):
    """Why an event was not counted; reports show these instead of hiding them."""

    BOT = "bot", _("Bot")
    NO_USER_AGENT = "no_user_agent", _("Ohne User-Agent")
    UNKNOWN_NONCE = "unknown_nonce", _("Unbekannte oder abgelaufene Nonce")
    REPLAY = "replay", _("Wiederholung")
    RATE_LIMIT = "rate_limit", _("Zu viele Anfragen")
    PREVIEW = "preview", _("Vorschau")
    STAFF = "staff", _("Redaktion")


class RollupBase(models.Model):
    """Counts of one campaign's promotion in one slot for one period."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="+", verbose_name=_("Kampagne")
    )
    promotion = models.ForeignKey(
        Promotion, on_delete=models.CASCADE, related_name="+", verbose_name=_("Promotion")
    )
    slot = models.ForeignKey(
        Slot, on_delete=models.CASCADE, related_name="+", verbose_name=_("Slot")
    )
    served = models.PositiveBigIntegerField(_("Ausgeliefert"), default=0)
    views = models.PositiveBigIntegerField(_("Sichtbar"), default=0)
    clicks = models.PositiveBigIntegerField(_("Klicks"), default=0)
    unique_visitors = models.PositiveBigIntegerField(_("Leser (mit Einwilligung)"), default=0)

    class Meta:
        abstract = True


class HourlyRollup(RollupBase):
    hour = models.DateTimeField(_("Stunde"), help_text=_("Beginn der Stunde (UTC)."))

    class Meta:
        verbose_name = _("Stundenwerte")
        verbose_name_plural = _("Stundenwerte")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["hour", "campaign", "promotion", "slot"], name="hourly_rollup_cell"
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["campaign", "hour"])]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.campaign_id}/{self.promotion_id}/{self.slot_id}"


class DailyRollup(RollupBase):
    day = models.DateField(_("Tag"), help_text=_("Kalendertag in Europe/Berlin."))

    class Meta:
        verbose_name = _("Tageswerte")
        verbose_name_plural = _("Tageswerte")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["day", "campaign", "promotion", "slot"], name="daily_rollup_cell"
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["campaign", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.campaign_id}/{self.promotion_id}/{self.slot_id}"


class FilteredRollup(models.Model):
    """Refused events per hour, event kind and reason; the campaign when it was known."""

    hour = models.DateTimeField(_("Stunde"))
    day = models.DateField(_("Tag"), help_text=_("Kalendertag in Europe/Berlin."))
    campaign_id_seen = models.PositiveIntegerField(
        _("Kampagne"), default=0, help_text=_("0, wenn die Nonce unbekannt war.")
    )
    event = models.CharField(_("Ereignis"), max_length=10)
    reason = models.CharField(_("Grund"), max_length=20, choices=FilterReason.choices)
    count = models.PositiveBigIntegerField(_("Anzahl"), default=0)

    class Meta:
        verbose_name = _("Ungültige Ereignisse")
        verbose_name_plural = _("Ungültige Ereignisse")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["hour", "campaign_id_seen", "event", "reason"], name="filtered_rollup_cell"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.event} {self.reason}: {self.count}"


class VisitorSeen(models.Model):
    """Which visitor keys a rollup cell has counted, so unique visitors count once.

    Visitor keys change every day, so rows of past days are deleted by the flush.
    """

    cell = models.CharField(max_length=80)
    visitor_key = models.CharField(max_length=32)
    day = models.DateField(db_index=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["cell", "visitor_key"], name="visitor_seen_once"),
        ]

    def __str__(self) -> str:
        return f"{self.cell} {self.visitor_key}"


class FlushCursor(models.Model):
    """How far the flush has read the event stream; moved in the same transaction as the
    rollups it wrote, so a flush is exactly once."""

    stream = models.CharField(max_length=100, primary_key=True)
    last_id = models.CharField(max_length=40, default="0-0")
    events = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.stream} @ {self.last_id}"


class Nonce(models.Model):
    """A filled slot's nonce in the database: only for the embedded default without
    Redis, where it stands in for the Redis hash of the same name."""

    key = models.CharField(max_length=64, primary_key=True)
    campaign_id_seen = models.PositiveIntegerField()
    promotion_id_seen = models.PositiveIntegerField()
    slot_id_seen = models.PositiveIntegerField()
    destination = models.URLField(max_length=2000)
    visitor_key = models.CharField(max_length=32, blank=True)
    flag = models.CharField(max_length=20, blank=True)
    viewed = models.BooleanField(default=False)
    clicked = models.BooleanField(default=False)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.key
