"""Advertisers and their campaigns: who pays for which slot, when and how often."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from promotions.models import Promotion, Slot


class Advertiser(models.Model):
    """A company that books campaigns; the publisher itself runs the house campaigns."""

    name = models.CharField(_("Name"), max_length=200, unique=True)
    contact_name = models.CharField(_("Ansprechpartner"), max_length=200, blank=True)
    contact_email = models.EmailField(_("E-Mail"), blank=True)
    contact_phone = models.CharField(_("Telefon"), max_length=50, blank=True)
    billing_address = models.TextField(_("Rechnungsanschrift"), max_length=1000, blank=True)
    is_publisher = models.BooleanField(
        _("Ist der Verlag selbst"),
        default=False,
        help_text=_("Der Verlag bucht Hauskampagnen für eigene Angebote."),
    )
    members: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Membership",
        related_name="advertisers",
        verbose_name=_("Mitglieder"),
    )
    created_at = models.DateTimeField(_("Angelegt am"), auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["name"]
        verbose_name = _("Werbekunde")
        verbose_name_plural = _("Werbekunden")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["is_publisher"],
                condition=Q(is_publisher=True),
                name="advertiser_one_publisher",
                violation_error_message=_("Es gibt schon einen Verlag."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user acting for an advertiser, with what they may do."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("Administration")
        MANAGER = "manager", _("Kampagnen verwalten")
        REPORTER = "reporter", _("Berichte lesen")

    advertiser = models.ForeignKey(
        Advertiser,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("Werbekunde"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("Benutzer"),
    )
    role = models.CharField(_("Rolle"), max_length=10, choices=Role.choices)

    class Meta:
        verbose_name = _("Mitgliedschaft")
        verbose_name_plural = _("Mitgliedschaften")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["advertiser", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.advertiser} ({self.get_role_display()})"


class CampaignQuerySet(models.QuerySet["Campaign"]):
    def deliverable(self) -> CampaignQuerySet:
        """Campaigns the decision engine considers: live, or scheduled to start.

        Scheduled ones are included so they start on the second, not when the rotation
        task next runs; the engine checks start and end itself.
        """
        return self.filter(status__in=[Campaign.Status.SCHEDULED, Campaign.Status.LIVE])

    def live(self, now: dt.datetime) -> CampaignQuerySet:
        return self.filter(status=Campaign.Status.LIVE, starts_at__lte=now).filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=now)
        )


class Campaign(models.Model):
    """A booking: which promotions run in which slots, when, for whom and how often."""

    class Kind(models.TextChoices):
        SPONSORSHIP = "sponsorship", _("Sponsoring")
        STANDARD = "standard", _("Standard")
        HOUSE = "house", _("Haus")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Entwurf")
        SCHEDULED = "scheduled", _("Geplant")
        LIVE = "live", _("Läuft")
        PAUSED = "paused", _("Pausiert")
        COMPLETED = "completed", _("Beendet")

    class PauseReason(models.TextChoices):
        NONE = "", _("–")
        MANUAL = "manual", _("Von Hand")
        DAILY_CAP = "daily_cap", _("Tageslimit erreicht")

    class Pacing(models.TextChoices):
        EVEN = "even", _("Gleichmäßig über die Laufzeit")
        ASAP = "asap", _("So schnell wie möglich")

    class Rotation(models.TextChoices):
        EVEN = "even", _("Gleichmäßig")
        WEIGHTED = "weighted", _("Nach Gewicht")
        OPTIMISED = "optimised", _("Nach Klickrate optimiert (Thompson-Sampling)")

    class Device(models.TextChoices):
        DESKTOP = "desktop", _("Desktop")
        TABLET = "tablet", _("Tablet")
        MOBILE = "mobile", _("Smartphone")

    # Higher tiers win every slot they are eligible for.
    TIERS: ClassVar[dict[str, int]] = {Kind.SPONSORSHIP: 3, Kind.STANDARD: 2, Kind.HOUSE: 1}

    advertiser = models.ForeignKey(
        Advertiser,
        on_delete=models.PROTECT,
        related_name="campaigns",
        verbose_name=_("Werbekunde"),
    )
    name = models.CharField(_("Name"), max_length=200)
    kind = models.CharField(
        _("Art"),
        max_length=12,
        choices=Kind.choices,
        default=Kind.STANDARD,
        help_text=_("Sponsoring geht vor Standard, Standard vor Haus."),
    )
    status = models.CharField(
        _("Status"),
        max_length=10,
        choices=Status.choices,
        default=Status.DRAFT,
        db_index=True,
        editable=False,
    )
    pause_reason = models.CharField(
        _("Pausiert wegen"),
        max_length=10,
        choices=PauseReason.choices,
        blank=True,
        editable=False,
    )
    starts_at = models.DateTimeField(_("Beginn"))
    ends_at = models.DateTimeField(
        _("Ende"), null=True, blank=True, help_text=_("Leer nur für Hauskampagnen.")
    )
    goal_impressions = models.PositiveIntegerField(_("Ziel: Einblendungen"), null=True, blank=True)
    goal_clicks = models.PositiveIntegerField(_("Ziel: Klicks"), null=True, blank=True)
    daily_cap = models.PositiveIntegerField(
        _("Tageslimit"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Höchstens so viele Einblendungen pro Tag (Europe/Berlin)."),
    )
    pacing = models.CharField(
        _("Auslieferung"), max_length=4, choices=Pacing.choices, default=Pacing.EVEN
    )
    pacing_daily_target = models.PositiveIntegerField(
        _("Tagesziel (Pacing)"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Vom System jede Minute neu berechnet."),
    )
    frequency_cap = models.PositiveSmallIntegerField(
        _("Kontaktlimit pro Leser und Tag"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Nur mit Einwilligung des Lesers messbar; ohne sie höchstens einmal pro Seite."
        ),
    )
    slots = models.ManyToManyField(
        Slot, related_name="+", verbose_name=_("Slots"), help_text=_("Wo die Kampagne läuft.")
    )
    include_tags = models.JSONField(
        _("Nur bei Hashtags"),
        default=list,
        blank=True,
        help_text=_("Slugs; leer heißt: bei allen."),
    )
    exclude_tags = models.JSONField(_("Nie bei Hashtags"), default=list, blank=True)
    include_sections = models.JSONField(
        _("Nur in Rubriken"), default=list, blank=True, help_text=_("Slugs; leer heißt: in allen.")
    )
    exclude_sections = models.JSONField(_("Nie in Rubriken"), default=list, blank=True)
    languages = models.JSONField(
        _("Sprachen"), default=list, blank=True, help_text=_("Leer heißt: alle.")
    )
    devices = models.JSONField(
        _("Geräte"), default=list, blank=True, help_text=_("Leer heißt: alle.")
    )
    weekdays = models.JSONField(
        _("Wochentage"),
        default=list,
        blank=True,
        help_text=_("0 = Montag … 6 = Sonntag, Europe/Berlin; leer heißt: alle."),
    )
    hours = models.JSONField(
        _("Stunden"),
        default=list,
        blank=True,
        help_text=_("0 … 23, Europe/Berlin; leer heißt: rund um die Uhr."),
    )
    competitive_category = models.SlugField(
        _("Wettbewerbskategorie"),
        max_length=50,
        blank=True,
        help_text=_("Zwei Kampagnen derselben Kategorie erscheinen nie auf einer Seite."),
    )
    weight = models.PositiveSmallIntegerField(
        _("Gewicht"),
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(10_000)],
        help_text=_("Anteil in der Verlosung innerhalb der Stufe."),
    )
    rotation = models.CharField(
        _("Motivwechsel"), max_length=10, choices=Rotation.choices, default=Rotation.EVEN
    )
    created_at = models.DateTimeField(_("Angelegt am"), auto_now_add=True)
    updated_at = models.DateTimeField(_("Geändert am"), auto_now=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["-starts_at", "name"]
        verbose_name = _("Kampagne")
        verbose_name_plural = _("Kampagnen")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                name="campaign_ends_after_start",
                violation_error_message=_("Das Ende muss nach dem Beginn liegen."),
            ),
            models.CheckConstraint(
                condition=Q(kind="house") | Q(ends_at__isnull=False),
                name="campaign_paid_has_end",
                violation_error_message=_("Bezahlte Kampagnen brauchen ein Ende."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, object] = {}
        if self.kind != self.Kind.HOUSE and self.ends_at is None:
            errors["ends_at"] = _("Bezahlte Kampagnen brauchen ein Ende.")
        if self.ends_at and self.starts_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("Das Ende muss nach dem Beginn liegen.")
        if (
            self.pacing == self.Pacing.EVEN
            and self.kind != self.Kind.HOUSE
            and not (self.goal_impressions or self.daily_cap)
        ):
            errors["pacing"] = _(
                "Gleichmäßig ausliefern braucht ein Einblendungsziel oder ein Tageslimit."
            )
        errors.update(self._clean_lists())
        if errors:
            raise ValidationError(errors)

    def _clean_lists(self) -> dict[str, object]:
        errors: dict[str, object] = {}
        for field, allowed in (
            ("weekdays", range(7)),
            ("hours", range(24)),
            ("devices", self.Device.values),
            ("languages", [code for code, _name in settings.LANGUAGES]),
        ):
            values = getattr(self, field)
            # ``True in range(7)`` and ``8.0 in range(24)`` hold: compare types too.
            if not isinstance(values, list) or any(
                type(value) is not type(allowed[0]) or value not in allowed for value in values
            ):
                errors[field] = _("Ungültige Auswahl: %(values)s") % {"values": values}
        for field in ("include_tags", "exclude_tags", "include_sections", "exclude_sections"):
            values = getattr(self, field)
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                errors[field] = _("Eine Liste von Slugs erwartet.")
        return errors

    @property
    def tier(self) -> int:
        return self.TIERS[self.kind]


class CampaignPromotion(models.Model):
    """A promotion (creative) of a campaign; each promotion belongs to one campaign."""

    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="campaign_promotions",
        verbose_name=_("Kampagne"),
    )
    promotion = models.OneToOneField(
        Promotion,
        on_delete=models.CASCADE,
        related_name="campaign_link",
        verbose_name=_("Promotion"),
    )
    weight = models.PositiveSmallIntegerField(
        _("Gewicht"),
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(10_000)],
        help_text=_("Nur beim Motivwechsel „Nach Gewicht“."),
    )

    class Meta:
        verbose_name = _("Promotion der Kampagne")
        verbose_name_plural = _("Promotions der Kampagne")

    def __str__(self) -> str:
        return f"{self.campaign}: {self.promotion}"
