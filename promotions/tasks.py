"""Background work for images: renditions are made before anyone asks for them."""

from collections.abc import Iterable

from celery import shared_task

from .models import Image, Promotion, Slot
from .renditions import DENSITIES, get_rendition
from .specs import RenditionSpec


def _slot_specs(slots: Iterable[Slot]) -> list[RenditionSpec]:
    return [spec.scaled(density) for slot in slots for spec in slot.specs for density in DENSITIES]


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def pregenerate_renditions(image_id: int, slot_id: int | None = None) -> int:
    """Make the renditions (1x and 2x) one image needs in every slot, or in one slot.

    Idempotent: existing renditions are kept. Returns how many specs were covered.
    """
    image = Image.objects.filter(pk=image_id).first()
    if image is None:
        return 0
    slots = Slot.objects.all() if slot_id is None else Slot.objects.filter(pk=slot_id)
    specs = _slot_specs(slots)
    for spec in specs:
        get_rendition(image, spec)
    return len(specs)


@shared_task
def pregenerate_slot_renditions(slot_id: int) -> int:
    """After a slot's specs changed: queue renditions for every approved promotion's image."""
    image_ids = set(
        Promotion.objects.approved().exclude(image=None).values_list("image_id", flat=True)
    )
    for image_id in image_ids:
        pregenerate_renditions.delay(image_id, slot_id)
    return len(image_ids)
