from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.conf import settings
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from promotions.models import Slot

from .models import Campaign

WEEKDAYS = [
    (0, _("Montag")),
    (1, _("Dienstag")),
    (2, _("Mittwoch")),
    (3, _("Donnerstag")),
    (4, _("Freitag")),
    (5, _("Samstag")),
    (6, _("Sonntag")),
]
HOURS = [(hour, f"{hour:02d}") for hour in range(24)]


class SlugListField(forms.CharField):
    """Comma-separated slugs, e.g. hashtags or section keys, stored as a list."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 2000)
        kwargs.setdefault("help_text", _("Kommagetrennt, z. B. „ki, japan“; leer heißt: alle."))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        items = [item.strip().lstrip("#") for item in text.split(",") if item.strip()]
        slugs = [slugify(item) for item in items]
        if any(not slug for slug in slugs):
            raise forms.ValidationError(_("Nur Buchstaben, Ziffern und Bindestriche."))
        return sorted(set(slugs))


def _multiple(choices: list[tuple[Any, Any]], label: Any, *, coerce: Any = str) -> Any:
    return forms.TypedMultipleChoiceField(
        choices=choices,
        coerce=coerce,
        required=False,
        label=label,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Nichts angekreuzt heißt: alle."),
    )


class CampaignForm(forms.ModelForm[Campaign]):
    include_tags = SlugListField(label=_("Nur bei Hashtags"))
    exclude_tags = SlugListField(label=_("Nie bei Hashtags"))
    include_sections = SlugListField(label=_("Nur in Rubriken"))
    exclude_sections = SlugListField(label=_("Nie in Rubriken"))
    languages = _multiple(list(settings.LANGUAGES), _("Sprachen"))
    devices = _multiple(Campaign.Device.choices, _("Geräte"))
    weekdays = _multiple(WEEKDAYS, _("Wochentage (Europe/Berlin)"), coerce=int)
    hours = _multiple(HOURS, _("Stunden (Europe/Berlin)"), coerce=int)

    class Meta:
        model = Campaign
        fields = (
            "advertiser",
            "name",
            "kind",
            "starts_at",
            "ends_at",
            "goal_impressions",
            "goal_clicks",
            "daily_cap",
            "pacing",
            "frequency_cap",
            "weight",
            "rotation",
            "competitive_category",
            "slots",
            "include_tags",
            "exclude_tags",
            "include_sections",
            "exclude_sections",
            "languages",
            "devices",
            "weekdays",
            "hours",
        )
        widgets: ClassVar = {"slots": forms.CheckboxSelectMultiple}


class ExplainForm(forms.Form):
    """A page context, as an editor describes it, for the explainer."""

    slot = forms.ModelChoiceField(Slot.objects.all(), label=_("Slot"), to_field_name="key")
    tags = SlugListField(label=_("Hashtags der Seite"))
    section = forms.SlugField(label=_("Rubrik"), required=False)
    language = forms.ChoiceField(
        choices=settings.LANGUAGES, initial=settings.LANGUAGE_CODE, label=_("Sprache")
    )
    device = forms.ChoiceField(
        choices=Campaign.Device.choices, initial=Campaign.Device.DESKTOP, label=_("Gerät")
    )
    consent = forms.BooleanField(
        required=False,
        label=_("Leser hat eingewilligt"),
        help_text=_("Dann gilt das Kontaktlimit pro Leser statt einmal pro Seite."),
    )
    at = forms.DateTimeField(
        required=False,
        label=_("Zeitpunkt"),
        help_text=_("Leer heißt: jetzt."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
