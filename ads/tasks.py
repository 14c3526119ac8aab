from celery import shared_task
from django.utils import timezone

from .rotation import rotate


@shared_task(acks_late=True, ignore_result=True)
def rotate_campaigns() -> dict[str, list[int]]:
    """Every minute from beat: keep campaign status and pacing true (idempotent)."""
    report = rotate(now=timezone.now())
    return {
        "started": report.started,
        "completed": report.completed,
        "capped": report.capped,
        "uncapped": report.uncapped,
    }
