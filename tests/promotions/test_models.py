import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from promotions.models import Promotion, Slot
from tests.factories import PromotionFactory, SlotFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://b.example/", "data:text/html,x"])
def test_destination_must_be_http_or_https(url):
    promotion = PromotionFactory.build(destination_url=url, image=None)

    with pytest.raises(ValidationError) as excinfo:
        promotion.full_clean()

    assert "destination_url" in excinfo.value.message_dict


def test_database_refuses_a_non_http_destination():
    with pytest.raises(IntegrityError):
        PromotionFactory.create(destination_url="javascript:alert(1)", image=None)


def test_rejection_needs_a_reason():
    with pytest.raises(IntegrityError):
        PromotionFactory.create(review_status=Promotion.ReviewStatus.REJECTED, image=None)


def test_image_needs_alt_text():
    promotion = PromotionFactory.create(alt_text="")

    with pytest.raises(ValidationError) as excinfo:
        promotion.full_clean()

    assert "alt_text" in excinfo.value.message_dict


def test_slot_with_an_invalid_spec_is_a_form_error():
    slot = SlotFactory.build(rendition_specs="fill-300x250|format-bmp")

    with pytest.raises(ValidationError) as excinfo:
        slot.full_clean()

    assert "genau ein Format" in excinfo.value.message_dict["rendition_specs"][0]


def test_house_fallback_needs_a_house_promotion():
    slot = SlotFactory.build(fallback=Slot.Fallback.HOUSE, house_promotion=None)

    with pytest.raises(ValidationError) as excinfo:
        slot.full_clean()

    assert "house_promotion" in excinfo.value.message_dict


def test_approved_lists_only_approved_promotions():
    approved = PromotionFactory.create(image=None)
    PromotionFactory.create(image=None, review_status=Promotion.ReviewStatus.PENDING)

    assert list(Promotion.objects.approved()) == [approved]


def test_page_slots_load_in_a_fixed_number_of_queries(django_assert_num_queries):
    for key in ("a", "b", "c"):
        SlotFactory.create(
            key=key, fallback=Slot.Fallback.HOUSE, house_promotion=PromotionFactory.create()
        )

    with django_assert_num_queries(2):
        slots = Slot.objects.for_page(["a", "b", "c", "unbekannt"])

    assert sorted(slots) == ["a", "b", "c"]
