from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, cast

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from promotions.models import Slot

from .decision import BERLIN
from .inquiries import HONEYPOT_FIELD, STAMP_FIELD, FormGuard, check_inquiry_data, form_stamp
from .models import Campaign, Inquiry
from .reports import (
    DAY,
    GRANULARITY_CHOICES,
    GROUP_BY_CHOICES,
    ReportParamError,
    ReportParams,
    check_report_days,
    check_report_params,
)

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


class ReportForm(forms.Form):
    """What an editor wants a report on: Berlin calendar days, both included."""

    # Date inputs take ISO dates, whatever the language.
    start = forms.DateField(label=_("Von"), widget=forms.DateInput({"type": "date"}, "%Y-%m-%d"))
    end = forms.DateField(
        label=_("Bis einschließlich"), widget=forms.DateInput({"type": "date"}, "%Y-%m-%d")
    )
    granularity = forms.ChoiceField(choices=GRANULARITY_CHOICES, label=_("Einteilung"))
    group_by = forms.ChoiceField(choices=GROUP_BY_CHOICES, label=_("Gruppiert nach"))
    campaigns = forms.ModelMultipleChoiceField(
        Campaign.objects.order_by("name"),
        required=False,
        label=_("Kampagnen"),
        help_text=_("Keine ausgewählt heißt: alle."),
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )

    params: ReportParams  # set by a successful clean()

    @staticmethod
    def defaults(*, today: dt.date) -> dict[str, str]:
        """The last 30 days by day and campaign."""
        return {
            "start": (today - dt.timedelta(days=29)).isoformat(),
            "end": today.isoformat(),
            "granularity": DAY,
            "group_by": "campaign",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        campaigns = data["campaigns"]
        try:
            check_report_days(data["start"], data["end"])
            day_after = data["end"] + dt.timedelta(days=1)
            self.params = check_report_params(
                campaign_ids=[campaign.pk for campaign in campaigns] if campaigns else None,
                start=dt.datetime.combine(data["start"], dt.time(), tzinfo=BERLIN),
                end=dt.datetime.combine(day_after, dt.time(), tzinfo=BERLIN),
                granularity=data["granularity"],
                group_by=data["group_by"],
            )
        except ReportParamError as refused:
            raise forms.ValidationError(str(refused)) from refused
        return data


class SlotNameChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Slot) -> str:
        return obj.name


class InquiryForm(forms.ModelForm[Inquiry]):
    """The portal's "Werbung auf diesem Portal?" form, with its two spam guards: a
    honeypot field people never see and the signed time the form was rendered at."""

    error_css_class = "field--error"
    required_css_class = "field--required"

    desired_slots = SlotNameChoiceField(
        Slot.objects.order_by("name"),
        required=False,
        label=_("Gewünschte Plätze"),
        widget=forms.CheckboxSelectMultiple,
    )
    website = forms.CharField(
        required=False,
        label=_("Bitte dieses Feld leer lassen"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
    stamp = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = Inquiry
        fields = (
            "company",
            "name",
            "email",
            "phone",
            "budget",
            "desired_slots",
            "period_start",
            "period_end",
            "message",
            "consent_to_contact",
        )
        widgets: ClassVar = {
            "company": forms.TextInput(attrs={"autocomplete": "organization"}),
            "name": forms.TextInput(attrs={"autocomplete": "name"}),
            "email": forms.EmailInput(attrs={"autocomplete": "email"}),
            "phone": forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
            "period_start": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "period_end": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "message": forms.Textarea(attrs={"rows": 6}),
        }
        labels: ClassVar = {
            "consent_to_contact": _("Ja, Sie dürfen mich zu dieser Anfrage kontaktieren.")
        }
        help_texts: ClassVar = {
            "message": _("Was möchten Sie bewerben, und an wen richtet es sich?"),
        }
        error_messages: ClassVar = {
            "email": {"invalid": _("Bitte geben Sie eine gültige E-Mail-Adresse an.")},
            "consent_to_contact": {
                "required": _("Ohne Ihr Einverständnis dürfen wir Ihnen nicht antworten.")
            },
        }

    def __init__(self, *args: Any, now: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[STAMP_FIELD].initial = form_stamp(now=now)
        # Reversed here, not at import: the privacy page's address depends on the language.
        self.fields["consent_to_contact"].help_text = format_html(
            str(
                _(
                    "Wir verwenden Ihre Angaben nur, um Ihre Anfrage zu beantworten. Mehr "
                    'dazu in unserer <a href="{url}">Datenschutzerklärung</a>.'
                )
            ),
            url=reverse("portal:privacy"),
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        try:
            check_inquiry_data(self.cleaned_data)
        except ValidationError as error:
            self.add_error(None, error)
        return self.cleaned_data

    @property
    def guard(self) -> FormGuard:
        return FormGuard(
            honeypot=self.data.get(HONEYPOT_FIELD, ""), stamp=self.data.get(STAMP_FIELD, "")
        )

    def restamped(self, *, now: Any) -> InquiryForm:
        """The same answers with a fresh stamp and an empty honeypot, to send again."""
        data = cast(QueryDict, self.data).copy()
        data[STAMP_FIELD] = form_stamp(now=now)
        data[HONEYPOT_FIELD] = ""
        return InquiryForm(data, now=now)
