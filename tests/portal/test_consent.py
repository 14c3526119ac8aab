import pytest
from django.test import Client, RequestFactory

from portal import consent
from portal.consent import ConsentMiddleware
from tests.factories import ArticleFactory


@pytest.fixture
def client():
    """A browser on our own pages: it says where its posts come from, as browsers do."""
    return Client(headers={"Origin": "http://testserver"})


COOKIE = "litfass_consent"


def test_no_cookie_means_no_decision_yet():
    assert consent.parse_cookie(None) == consent.undecided()


@pytest.mark.parametrize(
    ("value", "statistics", "marketing"),
    [("1:", False, False), ("1:statistics", True, False), ("1:marketing.statistics", True, True)],
)
def test_cookie_of_the_current_revision_is_read(value, statistics, marketing):
    read = consent.parse_cookie(value)

    assert read.decided
    assert (read.statistics, read.marketing) == (statistics, marketing)


@pytest.mark.parametrize(
    "value", ["0:statistics", "2:", "kaputt", "1:statistics.spionage", ":", "²:", "9" * 5000 + ":"]
)
def test_outdated_or_malformed_cookie_asks_again(value):
    assert not consent.parse_cookie(value).decided


def test_cookie_round_trips():
    chosen = consent.decide([consent.MARKETING])

    assert consent.parse_cookie(chosen.to_cookie()) == chosen


def test_necessary_is_always_allowed():
    assert consent.decide([]).allows(consent.NECESSARY)
    assert not consent.decide([]).allows(consent.STATISTICS)


def test_raising_the_revision_asks_every_reader_again(settings):
    value = consent.decide([consent.STATISTICS]).to_cookie()

    settings.LITFASS_CONSENT_REVISION = 2

    assert not consent.parse_cookie(value).decided


def test_middleware_makes_consent_readable_for_every_request():
    request = RequestFactory().get("/", HTTP_COOKIE=f"{COOKIE}=1:statistics")
    seen = {}

    def view(req):
        seen["consent"] = req.consent
        return None

    ConsentMiddleware(view)(request)

    assert seen["consent"].statistics
    assert not seen["consent"].marketing


@pytest.mark.django_db
def test_banner_shows_until_the_reader_decides(client):
    article = ArticleFactory.create()

    assert "data-consent-banner" in client.get(article.get_absolute_url()).content.decode()
    client.cookies[COOKIE] = "1:"
    assert "data-consent-banner" not in client.get(article.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_banner_shows_again_after_a_revision_change(client, settings):
    article = ArticleFactory.create()
    client.cookies[COOKIE] = "1:statistics"
    settings.LITFASS_CONSENT_REVISION = 2

    assert "data-consent-banner" in client.get(article.get_absolute_url()).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("choice", "cookie"),
    [("all", "1:marketing.statistics"), ("necessary", "1:")],
)
def test_form_post_without_javascript_stores_choice_and_returns(client, choice, cookie):
    response = client.post("/cookie-einstellungen/", {"choice": choice, "next": "/artikel/x/"})

    assert response.status_code == 303
    assert response["Location"] == "/artikel/x/"
    assert response.cookies[COOKIE].value == cookie
    assert response.cookies[COOKIE]["samesite"] == "Lax"
    assert response.cookies[COOKIE]["max-age"] == 31536000


@pytest.mark.django_db
def test_selection_stores_only_the_ticked_categories(client):
    response = client.post(
        "/cookie-einstellungen/", {"choice": "selection", "statistics": "on", "next": "/"}
    )

    assert response.cookies[COOKIE].value == "1:statistics"


@pytest.mark.django_db
def test_javascript_post_answers_json_without_redirect(client):
    response = client.post(
        "/cookie-einstellungen/", {"choice": "all"}, HTTP_ACCEPT="application/json"
    )

    assert response.status_code == 200
    assert response.json() == {"revision": 1, "statistics": True, "marketing": True}
    assert response.cookies[COOKIE].value == "1:marketing.statistics"


@pytest.mark.django_db
def test_foreign_next_url_is_not_followed(client):
    response = client.post(
        "/cookie-einstellungen/", {"choice": "necessary", "next": "https://evil.example/"}
    )

    assert response["Location"] == "/"


@pytest.mark.django_db
def test_unknown_choice_is_a_form_error_and_sets_nothing(client):
    response = client.post("/cookie-einstellungen/", {"choice": "alles"})

    assert response.status_code == 400
    assert "Bitte wählen Sie eine der Schaltflächen." in response.content.decode()
    assert COOKIE not in response.cookies


@pytest.mark.django_db
def test_unknown_choice_from_javascript_gets_json_errors(client):
    response = client.post(
        "/cookie-einstellungen/", {"choice": "alles"}, HTTP_ACCEPT="application/json"
    )

    assert response.status_code == 400
    assert "choice" in response.json()["errors"]
    assert COOKIE not in response.cookies


@pytest.mark.django_db
def test_settings_page_shows_the_current_choice_for_withdrawal(client):
    client.cookies[COOKIE] = "1:statistics"

    response = client.get("/cookie-einstellungen/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="statistics" checked' in html
    assert 'name="marketing" checked' not in html


@pytest.mark.django_db
def test_withdrawing_replaces_the_earlier_consent(client):
    client.cookies[COOKIE] = "1:marketing.statistics"

    response = client.post("/cookie-einstellungen/", {"choice": "necessary"})

    assert response.cookies[COOKIE].value == "1:"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Referer": "https://evil.example/page"},
        {"Referer": "http://testserver.evil.example/"},
        {},
    ],
    ids=["origin", "fetch-site", "referer", "lookalike-referer", "no-evidence"],
)
def test_consent_cannot_be_given_from_another_site(headers):
    response = Client(headers=headers).post("/cookie-einstellungen/", {"choice": "all"})

    assert response.status_code == 403
    assert COOKIE not in response.cookies


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "same-origin"}, {"Referer": "http://testserver/artikel/x/"}],
)
def test_consent_from_our_own_pages_without_origin_header(headers):
    response = Client(headers=headers).post("/cookie-einstellungen/", {"choice": "all"})

    assert response.status_code == 303


@pytest.mark.django_db
def test_pages_set_no_cookie_before_the_choice(client):
    article = ArticleFactory.create()

    assert not client.get(article.get_absolute_url()).cookies
