"""The ads models, one module per capability; import them from here."""

from .api import AdvertiserAPIKey
from .campaigns import Advertiser, Campaign, CampaignPromotion, CampaignQuerySet, Membership
from .counting import (
    DailyRollup,
    FilteredRollup,
    FilterReason,
    FlushCursor,
    HourlyRollup,
    LiveCounter,
    Nonce,
    RollupBase,
    VisitorSeen,
)
from .inquiries import Inquiry

__all__ = [
    "Advertiser",
    "AdvertiserAPIKey",
    "Campaign",
    "CampaignPromotion",
    "CampaignQuerySet",
    "DailyRollup",
    "FilterReason",
    "FilteredRollup",
    "FlushCursor",
    "HourlyRollup",
    "Inquiry",
    "LiveCounter",
    "Membership",
    "Nonce",
    "RollupBase",
    "VisitorSeen",
]
