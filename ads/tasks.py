from celery import shared_task
from django.utils import timezone

from .decision import berlin_day
from .rollups import flush, forget_old_visitors
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


@shared_task(acks_late=True, ignore_result=True)
def flush_events() -> int:
    """Every 10 s from beat: move counted events from Redis into the rollups, in batches.

    Exactly once whatever happens to the worker (see ``ads.rollups.flush``); a killed
    flush is simply done again by the next one, seconds later.
    """
    from django.conf import settings

    if not settings.REDIS_URL:
        return 0  # embedded: the tracking endpoints write the rollups themselves
    report = flush(batch=settings.LITFASS_FLUSH_BATCH)
    forget_old_visitors(today=berlin_day(timezone.now()))
    return report.events
