"""Reviewing promotions: only approved promotions are ever shown."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .models import Promotion


def check_rejection_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Bitte einen Grund angeben."), code="reason_required")
    return reason


@transaction.atomic
def do_approve(promotion_ids: Iterable[int], *, now: datetime) -> int:
    """Approve promotions; returns how many changed."""
    return (
        Promotion.objects.filter(pk__in=list(promotion_ids))
        .exclude(review_status=Promotion.ReviewStatus.APPROVED)
        .update(review_status=Promotion.ReviewStatus.APPROVED, rejection_reason="", reviewed_at=now)
    )


@transaction.atomic
def do_reject(promotion_ids: Iterable[int], *, reason: str, now: datetime) -> int:
    """Reject promotions with a reason the advertiser will see; returns how many changed."""
    reason = check_rejection_reason(reason)
    return Promotion.objects.filter(pk__in=list(promotion_ids)).update(
        review_status=Promotion.ReviewStatus.REJECTED, rejection_reason=reason, reviewed_at=now
    )
