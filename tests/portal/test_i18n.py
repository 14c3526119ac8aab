import shutil
import subprocess
from pathlib import Path

import pytest

from tests.factories import ArticleFactory, SiteSettingsFactory, SlotFactory

LOCALE = Path(__file__).resolve().parents[2] / "portal" / "locale"

pytestmark = pytest.mark.django_db


def test_german_is_the_default(client):
    SiteSettingsFactory.create()
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="").content.decode()

    assert '<html lang="de">' in html
    assert "Werbung auf diesem Portal?" in html
    assert "Alle erlauben" in html


def test_english_renders_under_en(client):
    article = ArticleFactory.create(slug="ki-buendnis-mit-japan")
    SlotFactory.create(key="sidebar-top")

    html = client.get(f"/en{article.get_absolute_url()}").content.decode()

    assert '<html lang="en">' in html
    for expected in (
        "Advertise on this portal?",
        "More info",
        "Allow all",
        "Necessary only",
        "Settings",
        "Cookie settings",
        "Imprint",
        "Privacy",
    ):
        assert expected in html, expected


def test_language_switch_links_to_the_same_page(client):
    article = ArticleFactory.create(slug="abc")

    german = client.get(article.get_absolute_url())
    english = client.get("/en/artikel/abc/")

    assert 'href="/en/artikel/abc/" hreflang="en"' in german.content.decode()
    assert 'href="/artikel/abc/" hreflang="de"' in english.content.decode()
    assert not german.cookies  # switching needs no cookie


@pytest.mark.parametrize("language", ["de", "en"])
def test_every_message_is_translated(language):
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    untranslated = subprocess.run(
        [shutil.which("msgattrib") or "msgattrib", "--untranslated", "--no-obsolete", str(po)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert untranslated == ""


@pytest.mark.parametrize("language", ["de", "en"])
def test_shipped_mo_matches_its_po(language, tmp_path):
    messages = LOCALE / language / "LC_MESSAGES"
    compiled = tmp_path / "django.mo"
    subprocess.run(
        ["msgfmt", "--check-format", "-o", str(compiled), str(messages / "django.po")],
        check=True,
    )

    assert compiled.read_bytes() == (messages / "django.mo").read_bytes()
