from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.flatpages.models import FlatPage
from django.contrib.sites.models import Site
from django.utils import timezone

from portal.models import Article
from promotions.models import Slot
from tests.factories import (
    AnnouncementFactory,
    ArticleFactory,
    PromotionFactory,
    SiteSettingsFactory,
    SlotFactory,
    StaffFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def reference_article():
    SiteSettingsFactory.create()
    AnnouncementFactory.create()
    SlotFactory.create(key="sidebar-top")
    for key, title in (
        ("article-end-1", "KI ist Chefsache!"),
        ("article-end-2", "30 Minuten: ChatGPT"),
    ):
        SlotFactory.create(
            key=key,
            height=390,
            rendition_specs="fill-150x212|format-webp, fill-150x212|format-jpeg",
            fallback=Slot.Fallback.HOUSE,
            house_promotion=PromotionFactory.create(title=title),
        )
    return ArticleFactory.create(
        title="KI-Bündnis mit Japan",
        slug="ki-buendnis-mit-japan",
        subtitle="Neue Ära der technologischen Zusammenarbeit",
        author__name="Dr. Michael Gebert",
        published_at=datetime(2023, 7, 11, 8, 0, tzinfo=UTC),
        body="Absatz.\n\n## Strategischer, geopolitischer Schachzug\n\nNoch ein Absatz.\n",
        tags=["EUJapanPartnership", "TechAlliance"],
    )


def test_article_page_shows_every_element_of_the_reference_page(client, reference_article):
    response = client.get("/artikel/ki-buendnis-mit-japan/")

    assert response.status_code == 200
    html = response.content.decode()
    for expected in (
        "+++ DAS KI EXPERTENFORUM FEIERT SEINEN ERSTEN GEBURTSTAG! +++",
        ">MEHR</a>",
        '<h1 class="article__title">KI-Bündnis mit Japan</h1>',
        "Dr. Michael Gebert",
        "Dienstag, 11. Juli 2023",
        "Neue Ära der technologischen Zusammenarbeit",
        "<h2>Strategischer, geopolitischer Schachzug</h2>",
        'href="/thema/eujapanpartnership/">#EUJapanPartnership</a>',
        'data-slot="sidebar-top"',
        'data-slot="article-end-1"',
        "-Promotion-",
        "KI ist Chefsache!",
        "30 Minuten: ChatGPT",
        "Werbung auf diesem Portal?",
        "Mehr Infos",
        "© 2023-2024 by Turtle-Media. Alle Rechte vorbehalten.",
        "ISSN 2943-8918",
        "Alle erlauben",
        "Nur notwendige",
        "Einstellungen",
        "Cookie-Einstellungen",
    ):
        assert expected in html, expected


def test_slots_carry_their_reserved_size(client, reference_article):
    html = client.get(reference_article.get_absolute_url()).content.decode()

    assert 'data-slot="sidebar-top" style="--slot-width: 300; --slot-height: 250;"' in html
    assert 'data-slot="article-end-1" style="--slot-width: 300; --slot-height: 390;"' in html


def test_book_promotions_have_srcset_and_dimensions(client, reference_article):
    html = client.get(reference_article.get_absolute_url()).content.decode()

    assert html.count('width="150" height="212"') == 2
    assert html.count(" 2x") == 4
    assert html.count('rel="sponsored noopener"') == 2


def test_article_page_query_count_is_fixed(client, reference_article, django_assert_num_queries):
    client.get(reference_article.get_absolute_url())  # renditions are made on first view

    # session-less reader: article, tags, announcements; site settings are cached and
    # the slots come from the decision's snapshot, without SQL
    with django_assert_num_queries(3):
        client.get(reference_article.get_absolute_url())


def test_article_body_escapes_raw_html(client):
    article = ArticleFactory.create(
        body='Text <script>alert("x")</script>\n\n[klick](javascript:alert(1))'
    )

    html = client.get(article.get_absolute_url()).content.decode()

    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript:' not in html


def test_draft_article_is_hidden_from_readers(client):
    draft = ArticleFactory.create(status=Article.Status.DRAFT, published_at=None)

    assert client.get(draft.get_absolute_url()).status_code == 404


def test_scheduled_article_is_hidden_from_readers(client):
    scheduled = ArticleFactory.create(published_at=timezone.now() + timedelta(days=1))

    assert client.get(scheduled.get_absolute_url()).status_code == 404


def test_editor_previews_a_draft(client):
    draft = ArticleFactory.create(status=Article.Status.DRAFT, published_at=None)
    client.force_login(StaffFactory.create())

    response = client.get(draft.get_absolute_url())

    assert response.status_code == 200
    assert "Vorschau: Dieser Artikel ist noch nicht veröffentlicht." in response.content.decode()
    assert '<meta name="robots" content="noindex">' in response.content.decode()


def test_home_lists_only_published_articles(client):
    ArticleFactory.create(title="Sichtbar")
    ArticleFactory.create(title="Geheim", status=Article.Status.DRAFT, published_at=None)

    html = client.get("/").content.decode()

    assert "Sichtbar" in html
    assert "Geheim" not in html


def test_home_paginates(client):
    ArticleFactory.create_batch(11)

    first = client.get("/").content.decode()
    second = client.get("/?seite=2").content.decode()

    assert "Seite 1 von 2" in first
    assert "Seite 2 von 2" in second


def test_tag_page_lists_articles_with_that_hashtag(client):
    ArticleFactory.create(title="Mit Tag", tags=["FutureTech"])
    ArticleFactory.create(title="Ohne Tag", tags=["Anderes"])

    response = client.get("/thema/futuretech/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Artikel zu #FutureTech" in html
    assert "Mit Tag" in html
    assert "Ohne Tag" not in html


def test_unknown_tag_is_not_found(client):
    assert client.get("/thema/gibt-es-nicht/").status_code == 404


def test_unknown_page_renders_the_portal_404(client):
    response = client.get("/gibt-es-nicht/")

    assert response.status_code == 404
    assert "Seite nicht gefunden" in response.content.decode()


@pytest.mark.parametrize(
    ("path", "title"), [("/impressum/", "Impressum"), ("/datenschutz/", "Datenschutzerklärung")]
)
def test_legal_pages_show_their_flat_page(client, path, title):
    page = FlatPage.objects.create(url=path, title=title, content="<p>Inhalt</p>")
    page.sites.add(Site.objects.get_current())

    response = client.get(path)

    assert response.status_code == 200
    assert f"<h1>{title}</h1>" in response.content.decode()


def test_server_error_page_renders_without_a_database(rf, django_assert_num_queries):
    from django.views.defaults import server_error

    with django_assert_num_queries(0):
        response = server_error(rf.get("/"))

    assert response.status_code == 500
    assert "Serverfehler" in response.content.decode()
    assert "Server error" in response.content.decode()
