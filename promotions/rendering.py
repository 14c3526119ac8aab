"""What a filled slot looks like: the one place that turns (slot, promotion) into HTML."""

from __future__ import annotations

from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from .models import Promotion, Slot
from .renditions import get_rendition, srcset


@dataclass(frozen=True, slots=True)
class PictureSource:
    mime_type: str
    srcset: str


@dataclass(frozen=True, slots=True)
class Picture:
    """A ``<picture>``: alternative formats first, then the image every browser shows."""

    sources: tuple[PictureSource, ...]
    src: str
    srcset: str
    width: int
    height: int


def picture_for(slot: Slot, promotion: Promotion) -> Picture | None:
    if promotion.image is None:
        return None
    *alternatives, primary = slot.specs
    fallback = get_rendition(promotion.image, primary)
    return Picture(
        sources=tuple(
            PictureSource(mime_type=spec.mime_type, srcset=srcset(promotion.image, spec))
            for spec in alternatives
        ),
        src=fallback.url,
        srcset=srcset(promotion.image, primary),
        width=fallback.width,
        height=fallback.height,
    )


def render_slot(
    slot: Slot,
    promotion: Promotion | None,
    *,
    inquiry_url: str = "",
    preview: bool = False,
    click_url: str = "",
    view_url: str = "",
) -> SafeString:
    """The HTML of a slot: its label and promotion, or its fallback when none is given.

    Always the slot's reserved size, so filling it never shifts the layout. With
    ``click_url`` the link goes there (a counting redirect) instead of straight to the
    destination; ``view_url`` is where the page's script reports a viewable impression.
    """
    if promotion is None and slot.fallback == Slot.Fallback.HOUSE:
        promotion = slot.house_promotion
    if promotion is not None and not promotion.is_approved and not preview:
        promotion = None
    return render_to_string(
        "promotions/slot.html",
        {
            "slot": slot,
            "promotion": promotion,
            "picture": picture_for(slot, promotion) if promotion else None,
            "show_inquiry": promotion is None and slot.fallback == Slot.Fallback.INQUIRY,
            "inquiry_url": inquiry_url,
            "preview": preview,
            "click_url": click_url,
            "view_url": view_url,
        },
    )
