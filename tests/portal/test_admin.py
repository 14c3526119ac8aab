import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from ads.models import Advertiser, AdvertiserAPIKey
from portal.demo import load_demo
from portal.models import SiteSettings
from promotions.models import Promotion, PromotionReview
from tests.factories import InquiryFactory, PromotionFactory, StaffFactory

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)


@pytest.fixture
def editor(client):
    load_demo(now=timezone.now(), admin_username="demo-admin")
    Group.objects.get_or_create(name="Redaktion")
    PromotionFactory.create(title="Wartet", review_status=Promotion.ReviewStatus.PENDING)
    publisher = Advertiser.objects.get(is_publisher=True)
    AdvertiserAPIKey.objects.create_key(name="Reporting", advertiser=publisher)
    InquiryFactory.create()
    client.force_login(StaffFactory.create())
    return client


def _url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_changelist_loads(editor, model):
    response = editor.get(_url(model, "changelist"))

    assert response.status_code == 200


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_change_form_loads(editor, model):
    obj = model._default_manager.first()

    response = editor.get(_url(model, "change", obj.pk))

    assert response.status_code == 200


@pytest.mark.parametrize(
    "model",
    [model for model in REGISTERED if model not in (SiteSettings, PromotionReview)],
    ids=lambda model: model._meta.label,
)
def test_add_form_loads(editor, model):
    assert editor.get(_url(model, "add")).status_code == 200


def test_review_queue_has_no_add_form(editor):
    assert editor.get(_url(PromotionReview, "add")).status_code == 403


def test_site_settings_cannot_be_added_twice_or_deleted(editor):
    assert editor.get(_url(SiteSettings, "add")).status_code == 403
    assert editor.get(_url(SiteSettings, "delete", 1)).status_code == 403


def test_article_changelist_search_and_filters(editor):
    response = editor.get(
        reverse("admin:portal_article_changelist"),
        {"q": "Japan", "status__exact": "published"},
    )

    assert response.status_code == 200
    assert "KI-Bündnis mit Japan" in response.content.decode()


def test_article_changelist_links_a_preview(editor):
    response = editor.get(reverse("admin:portal_article_changelist"))

    assert 'href="/artikel/ki-buendnis-mit-japan/" target="_blank"' in response.content.decode()


def test_article_changelist_query_count_does_not_grow_with_rows(
    editor, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        editor.get(reverse("admin:portal_article_changelist"))


def test_saving_an_invalid_issn_in_admin_is_a_form_error(editor):
    response = editor.post(
        _url(SiteSettings, "change", 1),
        {"site_name": "KI Expertenforum", "issn": "1234-5678"},
    )

    assert response.status_code == 200
    assert "ist keine gültige ISSN" in response.content.decode()
    assert SiteSettings.objects.get().issn == "2943-8918"
