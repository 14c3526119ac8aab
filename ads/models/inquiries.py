"""Prospects asking "Werbung auf diesem Portal?", and their way through sales."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from promotions.models import Slot

from .campaigns import Advertiser


class Inquiry(models.Model):
    """An advertising inquiry from the portal's form or the API."""

    class Status(models.TextChoices):
        NEW = "new", _("Neu")
        CONTACTED = "contacted", _("Kontaktiert")
        OFFER_SENT = "offer_sent", _("Angebot geschickt")
        WON = "won", _("Gewonnen")
        LOST = "lost", _("Verloren")
        SPAM = "spam", _("Spam")

    class Budget(models.TextChoices):
        UNKNOWN = "unknown", _("Noch offen")
        UP_TO_1K = "up_to_1k", _("bis 1.000 €")
        UP_TO_5K = "up_to_5k", _("1.000 bis 5.000 €")
        UP_TO_20K = "up_to_20k", _("5.000 bis 20.000 €")
        ABOVE_20K = "above_20k", _("über 20.000 €")

    name = models.CharField(_("Name"), max_length=120)
    company = models.CharField(_("Firma"), max_length=200)
    email = models.EmailField(_("E-Mail"))
    phone = models.CharField(_("Telefon"), max_length=40, blank=True)
    message = models.TextField(_("Nachricht"), max_length=4000)
    budget = models.CharField(
        _("Budget"), max_length=10, choices=Budget.choices, default=Budget.UNKNOWN
    )
    desired_slots = models.ManyToManyField(
        Slot, blank=True, related_name="+", verbose_name=_("Gewünschte Plätze")
    )
    period_start = models.DateField(_("Gewünschter Beginn"), null=True, blank=True)
    period_end = models.DateField(_("Gewünschtes Ende"), null=True, blank=True)
    consent_to_contact = models.BooleanField(_("Einverstanden mit Kontaktaufnahme"))
    status = models.CharField(
        _("Status"), max_length=10, choices=Status.choices, default=Status.NEW, db_index=True
    )
    notes = models.TextField(_("Notizen"), blank=True)
    advertiser = models.ForeignKey(
        Advertiser,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inquiries",
        verbose_name=_("Werbekunde"),
    )
    mails_sent_at = models.DateTimeField(_("Mails verschickt am"), null=True, editable=False)
    created_at = models.DateTimeField(_("Eingegangen am"), auto_now_add=True)
    updated_at = models.DateTimeField(_("Geändert am"), auto_now=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        verbose_name = _("Anfrage")
        verbose_name_plural = _("Anfragen")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(consent_to_contact=True),
                name="inquiry_consents_to_contact",
                violation_error_message=_("Ohne Einverständnis dürfen wir nicht antworten."),
            ),
            models.CheckConstraint(
                condition=Q(period_start__isnull=True)
                | Q(period_end__isnull=True)
                | Q(period_end__gte=models.F("period_start")),
                name="inquiry_period_in_order",
                violation_error_message=_("Das Ende liegt vor dem Beginn."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} ({self.name})"
