"""The rotation: keeps every campaign's status true and its pacing current.

Runs every minute from Celery beat. Each change is a conditional UPDATE (``WHERE status
= <what we saw>``), so two workers running it at once change each campaign once and
the second finds nothing left to do.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db.models import Q, Sum
from django.utils import timezone

from . import counters as keys
from .counters import DAY_TTL, RESTORED_KEY, Counters, bump_version, get_counters
from .decision import berlin_day
from .models import Campaign, CampaignPromotion, DailyRollup, LiveCounter

logger = logging.getLogger(__name__)


@dataclass
class RotationReport:
    started: list[int] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)
    capped: list[int] = field(default_factory=list)
    uncapped: list[int] = field(default_factory=list)
    repaced: list[int] = field(default_factory=list)
    version: int | None = None
    # Live counters raised to the rollups' (``restore_from_rollups``); ``None`` when
    # they had not been lost.
    restored: int | None = None

    @property
    def changed(self) -> bool:
        return any((self.started, self.completed, self.capped, self.uncapped, self.repaced))


def _move(ids: list[int], from_status: str, to_status: str, pause_reason: str = "") -> list[int]:
    moved = []
    for pk in ids:
        if Campaign.objects.filter(pk=pk, status=from_status).update(
            status=to_status, pause_reason=pause_reason, updated_at=timezone.now()
        ):
            moved.append(pk)
    return moved


def daily_target(goal: int, delivered_before_today: int, *, days_left: int) -> int:
    """Even pacing: what is left of the goal, spread over the days left (today included)."""
    remaining = max(0, goal - delivered_before_today)
    return -(-remaining // max(1, days_left))


def rotate(*, now: dt.datetime, counters: Counters | None = None) -> RotationReport:
    """Start, complete, cap and uncap campaigns and recompute pacing; bump the version
    when anything changed."""
    counters = counters or get_counters()
    today = berlin_day(now)
    report = RotationReport()
    ended = Q(ends_at__isnull=False, ends_at__lte=now)

    # Past their end: completed, whatever they were doing.
    for status in (Campaign.Status.SCHEDULED, Campaign.Status.LIVE, Campaign.Status.PAUSED):
        ids = list(Campaign.objects.filter(ended, status=status).values_list("pk", flat=True))
        report.completed += _move(ids, status, Campaign.Status.COMPLETED)

    ids = list(
        Campaign.objects.filter(status=Campaign.Status.SCHEDULED, starts_at__lte=now)
        .exclude(ended)
        .values_list("pk", flat=True)
    )
    report.started += _move(ids, Campaign.Status.SCHEDULED, Campaign.Status.LIVE)

    running = list(
        Campaign.objects.filter(
            Q(status=Campaign.Status.LIVE)
            | Q(status=Campaign.Status.PAUSED, pause_reason=Campaign.PauseReason.DAILY_CAP)
        ).exclude(ended)
    )
    if not counters.read([RESTORED_KEY])[0]:
        # Every campaign that may deliver again: the paused by hand too.
        active = Campaign.objects.filter(
            status__in=(Campaign.Status.LIVE, Campaign.Status.PAUSED, Campaign.Status.SCHEDULED)
        ).values_list("pk", flat=True)
        report.restored = restore_from_rollups(list(active), today=today, counters=counters)
        counters.set({RESTORED_KEY: int(now.timestamp())})
    wanted: list[str] = []
    for campaign in running:
        wanted += [
            keys.served_today(today, campaign.pk),
            keys.served_total(campaign.pk),
            keys.clicks_total(campaign.pk),
        ]
    counts = dict(zip(wanted, counters.read(wanted), strict=True))
    for campaign in running:
        served_today = counts[keys.served_today(today, campaign.pk)]
        served_total = counts[keys.served_total(campaign.pk)]
        clicks_total = counts[keys.clicks_total(campaign.pk)]
        reached = (campaign.goal_impressions and served_total >= campaign.goal_impressions) or (
            campaign.goal_clicks and clicks_total >= campaign.goal_clicks
        )
        if reached:
            report.completed += _move([campaign.pk], campaign.status, Campaign.Status.COMPLETED)
            continue
        over_cap = campaign.daily_cap is not None and served_today >= campaign.daily_cap
        if campaign.status == Campaign.Status.LIVE and over_cap:
            report.capped += _move(
                [campaign.pk],
                Campaign.Status.LIVE,
                Campaign.Status.PAUSED,
                Campaign.PauseReason.DAILY_CAP,
            )
        elif campaign.status == Campaign.Status.PAUSED and not over_cap:
            report.uncapped += _move([campaign.pk], Campaign.Status.PAUSED, Campaign.Status.LIVE)
        target = _pacing_target(campaign, served_today, served_total, today=today)
        if target != campaign.pacing_daily_target and Campaign.objects.filter(
            pk=campaign.pk
        ).exclude(pacing_daily_target=target).update(pacing_daily_target=target):
            report.repaced.append(campaign.pk)

    LiveCounter.objects.filter(expires_at__lte=now).delete()
    if report.changed:
        report.version = bump_version()
    return report


def restore_from_rollups(ids: list[int], *, today: dt.date, counters: Counters) -> int:
    """Raise the live counters of the campaigns ``ids`` and their promotions to at least what
    the rollups hold: served and clicks in all and today.

    Needed when Redis lost its data (restarted without persistence, flushed): the
    counters would start again from zero, and a campaign would deliver its goal or its
    daily cap once more. The rotation notices by ``RESTORED_KEY`` being gone and calls
    this before it reads them. What was not flushed yet is lost with Redis (the README
    on persistence), and so are the readers' frequency counts of the day."""
    rollups = DailyRollup.objects.filter(campaign_id__in=ids)
    floors: dict[str, int] = {}
    for row in rollups.values("campaign_id").annotate(served=Sum("served"), clicks=Sum("clicks")):
        floors[keys.served_total(row["campaign_id"])] = row["served"]
        floors[keys.clicks_total(row["campaign_id"])] = row["clicks"]
    for row in (
        rollups.filter(day=today)
        .values("campaign_id")
        .annotate(served=Sum("served"), clicks=Sum("clicks"))
    ):
        floors[keys.served_today(today, row["campaign_id"])] = row["served"]
        floors[keys.clicks_today(today, row["campaign_id"])] = row["clicks"]
    promotions = CampaignPromotion.objects.filter(campaign_id__in=ids).values("promotion_id")
    for row in (
        DailyRollup.objects.filter(promotion_id__in=promotions)
        .values("promotion_id")
        .annotate(served=Sum("served"), clicks=Sum("clicks"))
    ):
        floors[keys.promotion_served(row["promotion_id"])] = row["served"]
        floors[keys.promotion_clicks(row["promotion_id"])] = row["clicks"]
    raised = counters.raise_to(
        {key: floor for key, floor in floors.items() if floor},
        expiring=keys.day_prefix(today),
        ttl=DAY_TTL,
    )
    if raised:
        logger.warning(
            "The live counters were lost (Redis restarted without persistence, or "
            "flushed): %d of them raised to what the rollups hold",
            raised,
        )
    return raised


def _pacing_target(
    campaign: Campaign, served_today: int, served_total: int, *, today: dt.date
) -> int | None:
    if campaign.pacing != Campaign.Pacing.EVEN or campaign.ends_at is None:
        return campaign.daily_cap if campaign.pacing == Campaign.Pacing.EVEN else None
    if not campaign.goal_impressions:
        return campaign.daily_cap
    days_left = (berlin_day(campaign.ends_at - dt.timedelta(microseconds=1)) - today).days + 1
    target = daily_target(
        campaign.goal_impressions, served_total - served_today, days_left=days_left
    )
    return min(target, campaign.daily_cap) if campaign.daily_cap else target
