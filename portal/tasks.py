"""Periodic housekeeping for the portal."""

from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def clear_expired_sessions() -> int:
    """Delete expired admin sessions; returns how many were removed. Idempotent."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
