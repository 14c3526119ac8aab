from smtplib import SMTPException

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


# A mail server that is down or refuses for a while: retry for some hours (the backoff
# doubles from a minute up to an hour, with jitter), then give up. The inquiry is stored
# either way, and its mails_sent_at stays empty.
_MAIL_RETRY = {
    "autoretry_for": (SMTPException, OSError),
    "retry_backoff": 60,
    "retry_backoff_max": 60 * 60,
    "max_retries": 10,
}


@shared_task(acks_late=True, ignore_result=True, **_MAIL_RETRY)
def send_inquiry_mails(inquiry_id: int) -> bool:
    """Tell sales about a new inquiry and confirm it to the prospect; once (idempotent:
    ``Inquiry.mails_sent_at`` records that they went out)."""
    # ads.inquiries enqueues this task, so it is imported here, not at the top.
    from .inquiries import do_send_inquiry_mails

    return do_send_inquiry_mails(inquiry_id, now=timezone.now())


@shared_task(acks_late=True, ignore_result=True, **_MAIL_RETRY)
def send_invitation_mail(user_id: int, advertiser_id: int) -> bool:
    """Invite a new advertiser's administrator to set a password."""
    from .inquiries import do_send_invitation

    return do_send_invitation(user_id, advertiser_id)


@shared_task(acks_late=True, ignore_result=True)
def send_missed_inquiry_mails() -> int:
    """Every 15 minutes from beat: queue the mails of inquiries whose mails never went
    out (the broker was down when they came in, or every retry failed)."""
    from .inquiries import unsent_inquiry_ids

    ids = unsent_inquiry_ids(now=timezone.now())
    for inquiry_id in ids:
        send_inquiry_mails.delay(inquiry_id)
    return len(ids)
