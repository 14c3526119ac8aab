"""Signals only to invalidate caches."""

from typing import Any

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import SiteSettings


@receiver([post_save, post_delete], sender=SiteSettings)
def forget_site_settings(**kwargs: Any) -> None:
    cache.delete(SiteSettings.CACHE_KEY)
