import pytest
from django.urls import reverse

from promotions.models import Image, Promotion
from tests.factories import PromotionFactory, PromotionImageFactory, SlotFactory, StaffFactory
from tests.images import image_bytes, png_bomb, upload
from tests.promotions.test_uploads import BAD_INPUT

pytestmark = pytest.mark.django_db


INLINE = {"renditions-TOTAL_FORMS": "0", "renditions-INITIAL_FORMS": "0"}


def _image_form(**fields):
    return {"focal_point_x": "0.5", "focal_point_y": "0.5", "title": "", **INLINE, **fields}


@pytest.fixture
def editor(client):
    client.force_login(StaffFactory.create())
    return client


def test_uploading_an_image_in_admin_stores_it(editor):
    response = editor.post(
        reverse("admin:promotions_image_add"),
        _image_form(upload=upload(image_bytes(800, 600)), title="Cover"),
    )

    assert response.status_code == 302
    image = Image.objects.get()
    assert (image.title, image.width, image.height) == ("Cover", 800, 600)


@pytest.mark.parametrize("case", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_upload_is_a_form_error_and_stores_nothing(editor, settings, case):
    content, _ = BAD_INPUT[case]

    response = editor.post(
        reverse("admin:promotions_image_add"),
        _image_form(upload=upload(content, "datei.jpg"), title="x"),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["upload"]
    assert not Image.objects.exists()
    assert not (settings.MEDIA_ROOT / "images").exists()


def test_bomb_upload_names_the_reason(editor):
    response = editor.post(
        reverse("admin:promotions_image_add"),
        _image_form(upload=upload(png_bomb(), "bombe.png")),
    )

    assert "Das Bild ist zu groß (zu viele Pixel)." in response.content.decode()


def test_uploading_the_same_image_twice_points_to_the_first(editor):
    content = image_bytes(100, 100)
    url = reverse("admin:promotions_image_add")
    editor.post(url, _image_form(upload=upload(content), title="Erstes"))

    response = editor.post(url, _image_form(upload=upload(content), title="Zweites"))

    assert "Dieses Bild ist schon vorhanden" in response.content.decode()
    assert Image.objects.count() == 1


def test_focal_point_is_editable(editor):
    image = PromotionImageFactory.create()

    response = editor.post(
        reverse("admin:promotions_image_change", args=[image.pk]),
        {
            "title": "Cover",
            "focal_point_x": "0.2",
            "focal_point_y": "0.9",
            "renditions-TOTAL_FORMS": "0",
            "renditions-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    image.refresh_from_db()
    assert (image.focal_point_x, image.focal_point_y) == (0.2, 0.9)


def test_focal_point_outside_the_image_is_a_form_error(editor):
    image = PromotionImageFactory.create()

    response = editor.post(
        reverse("admin:promotions_image_change", args=[image.pk]),
        {
            "title": "Cover",
            "focal_point_x": "1.5",
            "focal_point_y": "0.5",
            "renditions-TOTAL_FORMS": "0",
            "renditions-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["focal_point_x"]


def test_promotion_list_shows_thumbnails(editor):
    PromotionFactory.create(title="Mit Bild")

    html = editor.get(reverse("admin:promotions_promotion_changelist")).content.decode()

    assert "/media/renditions/" in html


def test_promotion_list_queries_do_not_grow_with_rows(editor, django_assert_max_num_queries):
    PromotionFactory.create_batch(5)
    editor.get(reverse("admin:promotions_promotion_changelist"))  # thumbnails made once

    with django_assert_max_num_queries(10):
        editor.get(reverse("admin:promotions_promotion_changelist"))


def test_review_queue_lists_only_pending_promotions(editor):
    PromotionFactory.create(title="Wartet", review_status=Promotion.ReviewStatus.PENDING)
    PromotionFactory.create(title="Schon frei")

    html = editor.get(reverse("admin:promotions_promotionreview_changelist")).content.decode()

    assert "Wartet" in html
    assert "Schon frei" not in html


def test_approve_action(editor):
    promotion = PromotionFactory.create(review_status=Promotion.ReviewStatus.PENDING)

    editor.post(
        reverse("admin:promotions_promotionreview_changelist"),
        {"action": "approve", "_selected_action": [promotion.pk]},
    )

    promotion.refresh_from_db()
    assert promotion.review_status == Promotion.ReviewStatus.APPROVED
    assert promotion.reviewed_at is not None


def test_reject_action_asks_for_a_reason_first(editor):
    promotion = PromotionFactory.create(review_status=Promotion.ReviewStatus.PENDING)
    url = reverse("admin:promotions_promotionreview_changelist")

    response = editor.post(url, {"action": "reject", "_selected_action": [promotion.pk]})

    assert response.status_code == 200
    assert "Begründung" in response.content.decode()
    promotion.refresh_from_db()
    assert promotion.review_status == Promotion.ReviewStatus.PENDING


def test_reject_action_with_reason(editor):
    promotion = PromotionFactory.create(review_status=Promotion.ReviewStatus.PENDING)

    editor.post(
        reverse("admin:promotions_promotionreview_changelist"),
        {"action": "reject", "_selected_action": [promotion.pk], "reason": "Unscharfes Bild"},
    )

    promotion.refresh_from_db()
    assert promotion.review_status == Promotion.ReviewStatus.REJECTED
    assert promotion.rejection_reason == "Unscharfes Bild"


def test_reject_with_a_blank_reason_changes_nothing(editor):
    promotion = PromotionFactory.create(review_status=Promotion.ReviewStatus.PENDING)

    response = editor.post(
        reverse("admin:promotions_promotionreview_changelist"),
        {"action": "reject", "_selected_action": [promotion.pk], "reason": "   "},
    )

    assert response.status_code == 200
    promotion.refresh_from_db()
    assert promotion.review_status == Promotion.ReviewStatus.PENDING


def test_slot_preview_renders_a_chosen_promotion_as_the_portal_would(editor):
    slot = SlotFactory.create(label="Anzeige")
    promotion = PromotionFactory.create(title="Noch nicht frei", review_status="pending")

    response = editor.get(
        reverse("admin:promotions_slot_preview", args=[slot.pk]), {"promotion": promotion.pk}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Noch nicht frei" in html
    assert '<p class="slot__label">Anzeige</p>' in html
    assert "promotions/css/slots.css" in html


def test_slot_preview_with_a_bad_promotion_id_is_not_a_500(editor):
    slot = SlotFactory.create()
    url = reverse("admin:promotions_slot_preview", args=[slot.pk])

    assert editor.get(url, {"promotion": "abc"}).status_code == 403
    assert editor.get(url, {"promotion": "999999"}).status_code == 404


def test_slot_preview_needs_staff(client):
    slot = SlotFactory.create()

    response = client.get(reverse("admin:promotions_slot_preview", args=[slot.pk]))

    assert response.status_code == 302
