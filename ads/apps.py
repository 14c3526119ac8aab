from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AdsConfig(AppConfig):
    """Advertisers, campaigns, the decision engine, tracking, reports and inquiries."""

    name = "ads"
    verbose_name = _("Anzeigen")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the receivers)
