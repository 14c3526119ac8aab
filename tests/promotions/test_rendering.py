import pytest

from promotions.models import Promotion, Slot
from promotions.rendering import render_slot
from tests.factories import PromotionFactory, SlotFactory

pytestmark = pytest.mark.django_db


def test_filled_slot_shows_label_picture_and_link():
    slot = SlotFactory.create(label="Anzeige")
    promotion = PromotionFactory.create(
        title="KI ist Chefsache!", alt_text="Buchcover", destination_url="https://b.example/ki"
    )

    html = render_slot(slot, promotion)

    assert '<p class="slot__label">Anzeige</p>' in html
    assert 'href="https://b.example/ki" rel="sponsored noopener"' in html
    assert '<source type="image/webp" srcset="' in html
    assert 'width="300" height="250" alt="Buchcover" loading="lazy"' in html
    assert " 2x" in html
    assert "KI ist Chefsache!" in html
    assert "Mehr Infos" in html
    assert f'style="--slot-width: {slot.width}; --slot-height: {slot.height};"' in html


def test_slot_above_the_fold_loads_its_image_at_once():
    html = render_slot(SlotFactory.create(above_the_fold=True), PromotionFactory.create())

    assert 'fetchpriority="high"' in html
    assert 'loading="lazy"' not in html


@pytest.mark.parametrize("status", [Promotion.ReviewStatus.DRAFT, Promotion.ReviewStatus.PENDING])
def test_unapproved_promotion_is_never_shown(status):
    html = render_slot(
        SlotFactory.create(), PromotionFactory.create(title="Geheim", review_status=status)
    )

    assert "Geheim" not in html
    assert "Werbung auf diesem Portal?" in html


def test_preview_shows_an_unapproved_promotion():
    promotion = PromotionFactory.create(title="Entwurf", review_status="draft")

    html = render_slot(SlotFactory.create(), promotion, preview=True)

    assert "Entwurf" in html
    assert "data-preview" in html


def test_house_fallback_shows_the_house_promotion():
    house = PromotionFactory.create(title="Hausbuch")
    slot = SlotFactory.create(fallback=Slot.Fallback.HOUSE, house_promotion=house)

    assert "Hausbuch" in render_slot(slot, None)


def test_inquiry_fallback_links_the_inquiry_page():
    html = render_slot(SlotFactory.create(), None, inquiry_url="/werbung/")

    assert "Werbung auf diesem Portal?" in html
    assert 'href="/werbung/"' in html


def test_empty_fallback_keeps_the_reserved_box():
    slot = SlotFactory.create(fallback=Slot.Fallback.EMPTY, width=728, height=90)

    html = render_slot(slot, None)

    assert 'class="slot slot--empty"' in html
    assert "--slot-width: 728; --slot-height: 90;" in html


def test_text_promotion_without_image_renders():
    html = render_slot(SlotFactory.create(), PromotionFactory.create(image=None, title="Nur Text"))

    assert "Nur Text" in html
    assert "<picture" not in html


def test_hostile_text_is_escaped():
    promotion = PromotionFactory.create(
        title='<script>alert("t")</script>', alt_text='" onerror="alert(1)'
    )

    html = render_slot(SlotFactory.create(), promotion)

    assert "<script>" not in html
    assert 'alt="&quot; onerror=&quot;alert(1)"' in html
