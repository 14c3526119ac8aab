from django import forms
from django.utils.translation import gettext_lazy as _

from . import consent


class ConsentForm(forms.Form):
    """The reader's answer to the banner or the settings page."""

    ALL = "all"
    NECESSARY_ONLY = "necessary"
    SELECTION = "selection"

    choice = forms.ChoiceField(
        choices=[
            (ALL, _("Alle erlauben")),
            (NECESSARY_ONLY, _("Nur notwendige")),
            (SELECTION, _("Auswahl speichern")),
        ]
    )
    statistics = forms.BooleanField(label=_("Statistik"), required=False)
    marketing = forms.BooleanField(label=_("Marketing"), required=False)
    next = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)

    def to_consent(self) -> consent.Consent:
        choice = self.cleaned_data["choice"]
        if choice == self.ALL:
            return consent.decide(consent.OPTIONAL_CATEGORIES)
        if choice == self.NECESSARY_ONLY:
            return consent.decide(())
        granted = [name for name in consent.OPTIONAL_CATEGORIES if self.cleaned_data[name]]
        return consent.decide(granted)
