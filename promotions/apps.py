from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PromotionsConfig(AppConfig):
    """Slots, promotions (creatives), images and renditions. Knows nothing of money."""

    name = "promotions"
    verbose_name = _("Promotions")
