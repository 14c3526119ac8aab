import pytest
from django.contrib.auth import authenticate
from django.contrib.flatpages.models import FlatPage
from django.core.management import CommandError, call_command
from django.utils import timezone
from taggit.models import Tag

from portal.demo import REFERENCE_SLUG, load_demo
from portal.models import Announcement, Article, Author, SiteSettings

pytestmark = pytest.mark.django_db

MODELS = (Article, Author, Announcement, SiteSettings, FlatPage, Tag)


def _counts():
    return {model.__name__: model.objects.count() for model in MODELS}


def test_demo_loads_the_reference_article():
    load_demo(now=timezone.now())

    article = Article.objects.get(slug=REFERENCE_SLUG)
    assert article.title == "KI-Bündnis mit Japan"
    assert article.author.name == "Dr. Michael Gebert"
    assert article.tags.count() == 10
    assert Article.objects.published(timezone.now()).count() == 3
    assert SiteSettings.current().issn == "2943-8918"


def test_demo_is_idempotent():
    load_demo(now=timezone.now())
    first = _counts()

    load_demo(now=timezone.now())

    assert _counts() == first


def test_demo_admin_logs_in_with_the_printed_password():
    result = load_demo(now=timezone.now())

    user = authenticate(username=result.admin_username, password=result.admin_password)

    assert user is not None
    assert user.is_superuser


def test_command_prints_the_admin_login(capsys, settings):
    settings.DEBUG = True

    call_command("load_demo")

    out = capsys.readouterr().out
    assert "/artikel/ki-buendnis-mit-japan/" in out
    assert "user 'admin'" in out
    assert "password '" in out


def test_command_refuses_production_without_the_flag(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="allow-production"):
        call_command("load_demo")
