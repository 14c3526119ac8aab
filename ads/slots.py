"""A decided slot as HTML (for pages) and as data (for the decision API).

Rendering a slot through the template costs more than the decision itself, and a slot
with a given promotion always looks the same, so the HTML is kept in the snapshot it
was decided from and thrown away with it.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from django.urls import reverse
from django.utils import translation
from django.utils.translation import get_language

from promotions.rendering import picture_for, render_slot

from .decision import Decision, SlotDecision
from .tracking import PLACEHOLDER


@functools.cache
def _tracking_patterns() -> tuple[str, str]:
    return (
        reverse("track-click", args=[PLACEHOLDER]),
        reverse("track-view", args=[PLACEHOLDER]),
    )


def tracking_urls(nonce: str, *, base: str = "") -> tuple[str, str]:
    """The click and view URLs of a nonce; ``base`` makes them absolute."""
    click, view = _tracking_patterns()
    return base + click.replace(PLACEHOLDER, nonce), base + view.replace(PLACEHOLDER, nonce)


def slot_html(
    decision: Decision, key: str, *, inquiry_url: str, nonce: str | None = None, base: str = ""
) -> str:
    """The HTML of slot ``key`` as decided: its promotion, or its fallback; with the
    nonce's click and view URLs when the slot was counted."""
    decided = decision.slots[key]
    preview = decision.page.preview
    promotion_id = decided.promotion.pk if decided.promotion is not None else None
    tracked = bool(nonce) and decided.campaign is not None
    memo_key = ("html", key, promotion_id, get_language(), preview, inquiry_url, tracked, base)
    html = decision.snapshot.rendered.get(memo_key)
    if html is None:
        click_url, view_url = tracking_urls(PLACEHOLDER, base=base) if tracked else ("", "")
        html = str(
            render_slot(
                decided.slot,
                decided.promotion,
                inquiry_url=inquiry_url,
                preview=preview,
                click_url=click_url,
                view_url=view_url,
            )
        )
        decision.snapshot.rendered[memo_key] = html
    return html.replace(PLACEHOLDER, nonce) if tracked and nonce else html


def slot_data(decision: Decision, key: str) -> dict[str, Any]:
    """The structured fields of a decided slot, for pages that render it themselves.

    Kept with the snapshot like the HTML; callers must not change the dict."""
    decided = decision.slots[key]
    memo_key = (
        "data",
        key,
        decided.promotion.pk if decided.promotion else None,
        decided.campaign.id if decided.campaign else None,
    )
    data = decision.snapshot.rendered.get(memo_key)
    if data is None:
        data = decision.snapshot.rendered[memo_key] = _slot_data(decided)
    return data


def _slot_data(decided: SlotDecision) -> dict[str, Any]:
    slot, promotion = decided.slot, decided.promotion
    data: dict[str, Any] = {
        "key": slot.key,
        "label": slot.label,
        "width": slot.width,
        "height": slot.height,
        "filled": decided.campaign is not None,
        "fallback": decided.fallback or None,
        "campaign": decided.campaign.id if decided.campaign else None,
        "promotion": None,
    }
    if promotion is not None:
        picture = picture_for(slot, promotion)
        data["promotion"] = {
            "id": promotion.pk,
            "title": promotion.title,
            "text": promotion.text,
            "call_to_action": promotion.call_to_action,
            "alt_text": promotion.alt_text,
            "destination_url": promotion.destination_url,
            "picture": None
            if picture is None
            else {
                "src": picture.src,
                "srcset": picture.srcset,
                "width": picture.width,
                "height": picture.height,
                "sources": [
                    {"type": source.mime_type, "srcset": source.srcset}
                    for source in picture.sources
                ],
            },
        }
    return data


def slot_json(
    decision: Decision,
    key: str,
    *,
    language: str,
    inquiry_url: str,
    nonce: str | None = None,
    base: str = "",
) -> str:
    """Slot ``key`` as the decision API answers it in ``language``: the structured
    fields, the tracking URLs and the HTML, as one JSON object.

    Encoded once per snapshot, slot, promotion, language and base URL, with a placeholder
    where the nonce goes: a page view only puts its nonces in, it encodes (and activates
    its language for) nothing."""
    decided = decision.slots[key]
    tracked = bool(nonce) and decided.campaign is not None
    memo_key = (
        "json",
        key,
        decided.promotion.pk if decided.promotion else None,
        decided.campaign.id if decided.campaign else None,
        language,
        decision.page.preview,
        inquiry_url,
        tracked,
        base,
    )
    parts = decision.snapshot.rendered.get(memo_key)
    if parts is None:
        click_url, view_url = tracking_urls(PLACEHOLDER, base=base) if tracked else (None, None)
        placeholder = PLACEHOLDER if tracked else None
        with translation.override(language):
            html = slot_html(decision, key, inquiry_url=inquiry_url, nonce=placeholder, base=base)
        fields = {**slot_data(decision, key), "click_url": click_url, "view_url": view_url}
        encoded = json.dumps({**fields, "html": html}, separators=(",", ":"))
        # Kept split where the nonce goes: joining is cheaper than searching ~2 KB.
        parts = decision.snapshot.rendered[memo_key] = tuple(encoded.split(PLACEHOLDER))
    return (nonce if tracked and nonce else PLACEHOLDER).join(parts)
