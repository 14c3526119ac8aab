"""Signals only to invalidate caches: any change the decision depends on bumps the
snapshot version, after the transaction commits so rebuilt snapshots see it."""

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from promotions.models import Image, Promotion, Rendition, Slot

from .counters import bump_version
from .models import Campaign, CampaignPromotion

_SENDERS = (Campaign, CampaignPromotion, Promotion, Slot, Image, Rendition)


def _bump_on_commit(**kwargs: Any) -> None:
    transaction.on_commit(bump_version)


for sender in _SENDERS:
    post_save.connect(_bump_on_commit, sender=sender, dispatch_uid=f"ads-bump-{sender.__name__}")
    post_delete.connect(
        _bump_on_commit, sender=sender, dispatch_uid=f"ads-bump-del-{sender.__name__}"
    )


@receiver(m2m_changed, sender=Campaign.slots.through)
def _slots_changed(**kwargs: Any) -> None:
    _bump_on_commit()
