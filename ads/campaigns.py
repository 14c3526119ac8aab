"""What editors and advertisers do to campaigns: launch, pause, resume, end, duplicate.

Status is never set by hand: these functions and the rotation task keep it true.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.db import transaction
from django.utils.translation import gettext as _

from promotions.models import Image, Promotion
from promotions.uploads import check_image_upload, do_store_image

from . import counters as keys
from .counters import Counters, get_counters
from .decision import berlin_day
from .models import Campaign, CampaignPromotion


class CampaignStateError(ValueError):
    """The campaign is not in a status that allows this."""


def scheduled_status(campaign: Campaign, now: dt.datetime) -> str:
    """The status a running (not paused) campaign has at ``now`` by its dates alone."""
    if campaign.ends_at is not None and now >= campaign.ends_at:
        return Campaign.Status.COMPLETED
    if now < campaign.starts_at:
        return Campaign.Status.SCHEDULED
    return Campaign.Status.LIVE


def _set_status(campaign: Campaign, status: str, pause_reason: str = "") -> Campaign:
    campaign.status = status
    campaign.pause_reason = pause_reason
    campaign.save(update_fields=["status", "pause_reason", "updated_at"])
    return campaign


def do_launch(campaign: Campaign, *, now: dt.datetime) -> Campaign:
    """Take a draft live (or scheduled, if it starts later)."""
    if campaign.status != Campaign.Status.DRAFT:
        raise CampaignStateError(_("Nur Entwürfe können gestartet werden."))
    if not campaign.campaign_promotions.exists():
        raise CampaignStateError(_("Die Kampagne hat noch keine Promotion."))
    if campaign.ends_at is not None and campaign.ends_at <= now:
        raise CampaignStateError(_("Das Ende der Kampagne liegt schon in der Vergangenheit."))
    return _set_status(campaign, scheduled_status(campaign, now))


def do_pause(campaign: Campaign, *, now: dt.datetime) -> Campaign:
    if campaign.status not in (Campaign.Status.SCHEDULED, Campaign.Status.LIVE):
        raise CampaignStateError(_("Nur geplante oder laufende Kampagnen können pausieren."))
    return _set_status(campaign, Campaign.Status.PAUSED, Campaign.PauseReason.MANUAL)


def do_resume(campaign: Campaign, *, now: dt.datetime) -> Campaign:
    if campaign.status != Campaign.Status.PAUSED:
        raise CampaignStateError(_("Nur pausierte Kampagnen können fortgesetzt werden."))
    return _set_status(campaign, scheduled_status(campaign, now))


def do_end(campaign: Campaign, *, now: dt.datetime) -> Campaign:
    if campaign.status == Campaign.Status.COMPLETED:
        raise CampaignStateError(_("Die Kampagne ist schon beendet."))
    return _set_status(campaign, Campaign.Status.COMPLETED)


@transaction.atomic
def do_duplicate(campaign: Campaign, *, now: dt.datetime) -> Campaign:
    """A draft copy with the same targeting and slots; promotions are not copied, since
    each promotion belongs to one campaign."""
    slots = list(campaign.slots.all())
    copy = Campaign.objects.get(pk=campaign.pk)
    copy.pk = None
    # The prefix must not push a long name past the column's length.
    max_length = Campaign._meta.get_field("name").max_length
    copy.name = (_("Kopie von %(name)s") % {"name": campaign.name})[:max_length]
    copy.status = Campaign.Status.DRAFT
    copy.pause_reason = ""
    copy.pacing_daily_target = None
    copy.save()
    copy.slots.set(slots)
    return copy


@dataclass(frozen=True)
class Progress:
    """How far a campaign is, from the live counters, against its goal and its schedule."""

    served: int
    clicks: int
    served_today: int
    goal: int | None
    done: float | None
    scheduled: float | None

    @property
    def pace(self) -> float | None:
        """Delivered share over scheduled share: 1.0 is on time, below is behind."""
        if self.done is None or not self.scheduled:
            return None
        return self.done / self.scheduled


def campaign_progress(
    campaigns: Sequence[Campaign], *, now: dt.datetime, counters: Counters | None = None
) -> dict[int, Progress]:
    """Progress of many campaigns with one read of the counters."""
    counters = counters or get_counters()
    day = berlin_day(now)
    wanted = []
    for campaign in campaigns:
        wanted += [
            keys.served_total(campaign.pk),
            keys.clicks_total(campaign.pk),
            keys.served_today(day, campaign.pk),
        ]
    values = iter(counters.read(wanted))
    progress = {}
    for campaign in campaigns:
        served, clicks, today = next(values), next(values), next(values)
        goal = campaign.goal_impressions or campaign.goal_clicks
        reached = served if campaign.goal_impressions else clicks
        scheduled = None
        if campaign.ends_at is not None:
            total = (campaign.ends_at - campaign.starts_at).total_seconds()
            elapsed = (min(now, campaign.ends_at) - campaign.starts_at).total_seconds()
            scheduled = max(0.0, min(1.0, elapsed / total))
        progress[campaign.pk] = Progress(
            served=served,
            clicks=clicks,
            served_today=today,
            goal=goal,
            done=min(1.0, reached / goal) if goal else None,
            scheduled=scheduled,
        )
    return progress


@transaction.atomic
def do_add_promotion(
    campaign: Campaign, *, upload: IO[bytes] | None, fields: dict[str, Any]
) -> Promotion:
    """A new promotion of ``campaign``, waiting for review; the image is checked like
    every upload (type, size, pixels) and stored once per content."""
    image = None
    if upload is not None:
        checked = check_image_upload(upload)
        image, _created = do_store_image(checked, image=Image(title=fields.get("title", "")))
    promotion = Promotion(**fields, image=image, review_status=Promotion.ReviewStatus.PENDING)
    promotion.full_clean()
    promotion.save()
    CampaignPromotion.objects.create(campaign=campaign, promotion=promotion)
    return promotion
