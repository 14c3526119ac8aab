import pytest
from django.core.management import call_command

from promotions.models import Rendition
from promotions.tasks import pregenerate_renditions, pregenerate_slot_renditions
from tests.factories import PromotionFactory, PromotionImageFactory, SlotFactory

pytestmark = pytest.mark.django_db


def test_pregeneration_makes_1x_and_2x_for_every_slot_spec():
    SlotFactory.create(rendition_specs="fill-100x80|format-webp, fill-100x80|format-jpeg")
    image = PromotionImageFactory.create(width=400, height=300)

    assert pregenerate_renditions(image.pk) == 4

    specs = set(Rendition.objects.filter(image=image).values_list("spec", flat=True))
    assert specs == {
        "fill-100x80|format-webp",
        "fill-200x160|format-webp",
        "fill-100x80|format-jpeg",
        "fill-200x160|format-jpeg",
    }


def test_pregeneration_is_idempotent():
    SlotFactory.create()
    image = PromotionImageFactory.create()
    pregenerate_renditions(image.pk)
    count = Rendition.objects.count()

    pregenerate_renditions(image.pk)

    assert Rendition.objects.count() == count


def test_pregeneration_of_a_deleted_image_does_nothing():
    assert pregenerate_renditions(987654) == 0


def test_slot_change_queues_images_of_approved_promotions():
    slot = SlotFactory.create()
    PromotionFactory.create()
    PromotionFactory.create(review_status="draft")

    assert pregenerate_slot_renditions(slot.pk) == 1


def test_regenerate_command_fills_every_missing_rendition(capsys):
    SlotFactory.create(rendition_specs="fill-50x50|format-jpeg")
    PromotionImageFactory.create_batch(3)

    call_command("regenerate_renditions")

    assert Rendition.objects.count() == 6
    assert "3 images × 2 specs ready." in capsys.readouterr().out


def test_uploading_an_image_has_a_worker_make_its_renditions(celery_worker):
    SlotFactory.create(rendition_specs="fill-100x80|format-webp")

    image = PromotionImageFactory.create(width=400, height=300)

    celery_worker(lambda: Rendition.objects.filter(image=image).count() == 2)
