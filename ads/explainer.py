"""“Why is nothing showing?”: every campaign booked for a slot and why it was or was not
chosen for a given page, including the ones the engine never sees (drafts, paused,
completed)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from .decision import REASON_LABELS, PageContext, Reason, SlotDecision, decide
from .models import Campaign


@dataclass(frozen=True)
class Explanation:
    campaign: Campaign
    reason: Reason
    detail: str

    @property
    def label(self) -> str:
        return str(REASON_LABELS[self.reason])


def explain_slot(
    page: PageContext, *, now: dt.datetime, rng: random.Random
) -> tuple[SlotDecision, list[Explanation]]:
    """Decide the page's (single) slot with reasons for every campaign booked for it."""
    (key,) = page.slot_keys
    decided = decide(page, now=now, rng=rng, explain=True).slots[key]
    reasons = {verdict.campaign.id: verdict.reason for verdict in decided.verdicts}
    booked = Campaign.objects.filter(slots__key=key).select_related("advertiser").distinct()
    explanations = []
    for campaign in booked.order_by("status", "name"):
        if campaign.pk in reasons:
            explanations.append(Explanation(campaign, reasons[campaign.pk], ""))
        else:
            explanations.append(
                Explanation(campaign, Reason.NOT_DELIVERABLE, campaign.get_status_display())
            )
    order = list(Reason)
    explanations.sort(key=lambda e: (order.index(e.reason), -e.campaign.tier, e.campaign.name))
    return decided, explanations
