from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from portal.models import Announcement, Article, SiteSettings
from tests.factories import AnnouncementFactory, ArticleFactory, SiteSettingsFactory

NOW = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def test_published_excludes_drafts_and_scheduled_articles():
    visible = ArticleFactory.create(published_at=NOW - timedelta(hours=1))
    ArticleFactory.create(status=Article.Status.DRAFT, published_at=NOW - timedelta(hours=1))
    ArticleFactory.create(published_at=NOW + timedelta(hours=1))

    assert list(Article.objects.published(NOW)) == [visible]


def test_published_lists_newest_first():
    older = ArticleFactory.create(published_at=NOW - timedelta(days=2))
    newer = ArticleFactory.create(published_at=NOW - timedelta(days=1))

    assert list(Article.objects.published(NOW)) == [newer, older]


def test_published_article_without_date_is_refused_by_the_database():
    with pytest.raises(IntegrityError):
        ArticleFactory.create(status=Article.Status.PUBLISHED, published_at=None)


def test_published_article_without_date_is_a_form_error():
    article = ArticleFactory.build(status=Article.Status.PUBLISHED, published_at=None)

    with pytest.raises(ValidationError) as excinfo:
        article.clean()

    assert "published_at" in excinfo.value.message_dict


def test_article_url_uses_the_german_path():
    assert ArticleFactory.create(slug="ki-buendnis-mit-japan").get_absolute_url() == (
        "/artikel/ki-buendnis-mit-japan/"
    )


def test_current_announcements_respect_the_validity_window():
    running = AnnouncementFactory.create(starts_at=NOW - timedelta(days=1), ends_at=None)
    AnnouncementFactory.create(starts_at=NOW + timedelta(days=1))
    AnnouncementFactory.create(starts_at=NOW - timedelta(days=3), ends_at=NOW - timedelta(days=2))

    assert list(Announcement.objects.current(NOW)) == [running]


def test_announcement_ending_before_it_starts_is_refused():
    with pytest.raises(IntegrityError):
        AnnouncementFactory.create(starts_at=NOW, ends_at=NOW - timedelta(minutes=1))


def test_announcement_link_must_be_a_path_or_http_url():
    announcement = AnnouncementFactory.build(link_url="javascript:alert(1)")

    with pytest.raises(ValidationError) as excinfo:
        announcement.full_clean()

    assert "link_url" in excinfo.value.message_dict


def test_issn_with_a_wrong_check_digit_is_refused():
    site_settings = SiteSettingsFactory.build(issn="2943-8919")

    with pytest.raises(ValidationError) as excinfo:
        site_settings.full_clean()

    assert "issn" in excinfo.value.message_dict


def test_issn_is_stored_in_its_canonical_form():
    site_settings = SiteSettingsFactory.build(issn="29438918")

    site_settings.full_clean()

    assert site_settings.issn == "2943-8918"


def test_site_settings_stay_a_single_row():
    SiteSettingsFactory.create(site_name="Erste")
    SiteSettings(site_name="Zweite").save()

    assert SiteSettings.objects.count() == 1
    assert SiteSettings.objects.get().site_name == "Zweite"


def test_current_site_settings_follow_a_save():
    site_settings = SiteSettingsFactory.create(site_name="Vorher")
    assert SiteSettings.current().site_name == "Vorher"

    site_settings.site_name = "Nachher"
    site_settings.save()

    assert SiteSettings.current().site_name == "Nachher"


def test_current_site_settings_without_a_row_are_unsaved_defaults():
    assert SiteSettings.current().site_name == "Litfass"
    assert not SiteSettings.objects.exists()
