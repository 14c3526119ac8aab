from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from . import consent
from .models import Announcement, SiteSettings


def site(request: HttpRequest) -> dict[str, Any]:
    """Footer settings, the ticker and the consent state for every page."""
    return {
        "site_settings": SiteSettings.current(),
        "announcements": Announcement.objects.current(timezone.now()),
        "consent": getattr(request, "consent", consent.undecided()),
        "consent_categories": consent.CATEGORIES,
    }
