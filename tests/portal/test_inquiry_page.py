import re
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from ads.inquiries import FormGuard, check_form_guard, form_stamp
from ads.models import Inquiry
from portal.celery import app
from portal.views import THANKS_SALT
from tests.factories import ArticleFactory, InquiryFactory, SlotFactory

pytestmark = pytest.mark.django_db

URL = "/werbung/anfrage/"
HOSTILE = '<script>alert("x")</script>'
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture
def eager_tasks():
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def answers(**changes) -> dict[str, object]:
    """What a person sends: a form rendered half a minute ago, the honeypot empty."""
    return {
        "company": "Nordlicht Cloud GmbH",
        "name": "Jana Berger",
        "email": "jana@nordlicht.example",
        "phone": "+49 40 1234567",
        "budget": "up_to_5k",
        "period_start": "2026-09-01",
        "period_end": "2026-09-30",
        "message": "Wir möchten im Herbst unsere KI-Plattform vorstellen.",
        "consent_to_contact": "on",
        "website": "",
        "stamp": form_stamp(now=timezone.now() - timedelta(seconds=30)),
        **changes,
    }


def send(client, data, **extra):
    return client.post(URL, data, headers={"user-agent": USER_AGENT}, **extra)


def test_url_is_the_german_one():
    assert reverse("portal:inquiry") == URL


def test_form_page_shows_the_form_with_its_guards(client):
    SlotFactory.create(key="sidebar-top", name="Seitenleiste oben")

    response = client.get(URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert '<form method="post" action="/werbung/anfrage/"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert re.search(r'class="inquiry-form__trap" aria-hidden="true">.*name="website"', html)
    assert 'type="hidden" name="stamp"' in html
    assert 'type="checkbox" name="desired_slots"' in html
    assert "Seitenleiste oben" in html
    assert 'type="date" name="period_start"' in html
    assert 'href="/datenschutz/">Datenschutzerklärung</a>' in html
    assert 'href="/werbung/">Mediadaten</a>' in html


def test_form_page_exists_in_english(client):
    assert client.get("/en" + URL).status_code == 200


def test_a_person_sends_an_inquiry_and_sees_thanks(
    client, eager_tasks, django_capture_on_commit_callbacks
):
    slot = SlotFactory.create(key="sidebar-top")

    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, answers(desired_slots=[slot.pk]))

    assert response.status_code == 303
    assert response["Location"].startswith("/werbung/anfrage/danke/?t=")
    inquiry = Inquiry.objects.get()
    assert (inquiry.company, inquiry.budget) == ("Nordlicht Cloud GmbH", "up_to_5k")
    assert list(inquiry.desired_slots.all()) == [slot]
    assert len(mail.outbox) == 2
    thanks = client.get(response["Location"])
    assert "Guten Tag Jana Berger" in thanks.content.decode()


def test_thank_you_page_escapes_what_the_prospect_typed(client):
    sent = send(client, answers(name='Tom & "Jerry"', company="A > B & Co."))
    thanks = client.get(sent["Location"]).content.decode()

    assert "Tom &amp; &quot;Jerry&quot;" in thanks
    assert "A &gt; B &amp; Co." in thanks


def test_thank_you_page_escapes_stored_markup(client):
    inquiry = InquiryFactory.create(name=HOSTILE, company=HOSTILE)
    token = signing.dumps(inquiry.pk, salt=THANKS_SALT)

    html = client.get(reverse("portal:inquiry-thanks"), {"t": token}).content.decode()

    assert HOSTILE not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


@pytest.mark.parametrize("token", ["", "forged", signing.dumps(1, salt="other")])
def test_thank_you_page_without_a_valid_token_shows_no_inquiry(client, token):
    InquiryFactory.create(name="Jana Berger")

    response = client.get(reverse("portal:inquiry-thanks"), {"t": token})

    assert response.status_code == 200
    assert "Jana Berger" not in response.content.decode()


REFUSED = "Ihre Anfrage konnte gerade nicht angenommen werden."


@pytest.mark.parametrize(
    "changes",
    [
        lambda now: {"website": "https://spam.example"},
        lambda now: {"stamp": form_stamp(now=now)},
        lambda now: {"stamp": "forged"},
        lambda now: {"stamp": ""},
        lambda now: {"stamp": form_stamp(now=now - timedelta(days=1, minutes=1))},
    ],
    ids=["honeypot", "too-fast", "forged-stamp", "no-stamp", "old-stamp"],
)
def test_spam_gets_a_polite_message_and_nothing_is_stored(client, changes):
    response = send(client, answers(**changes(timezone.now())))

    html = response.content.decode()
    assert response.status_code == 400
    assert REFUSED in html
    assert not Inquiry.objects.exists()
    for reason in ("honeypot", "too_fast", "signature", "expired"):
        assert reason not in html


def test_a_refused_person_can_send_the_same_answers_again(client):
    response = send(client, answers(stamp="forged"))

    form = response.context["form"]
    assert form["company"].value() == "Nordlicht Cloud GmbH"
    assert form["website"].value() == ""
    # A fresh stamp, not the refused one echoed back: half a minute later it passes.
    stamp = form["stamp"].value()
    later = timezone.now() + timedelta(seconds=30)
    check_form_guard(FormGuard(honeypot="", stamp=stamp), now=later)  # raises if refused


def test_the_page_applies_the_rate_limit(client, settings):
    settings.LITFASS_INQUIRY_RATE_LIMIT = 2
    assert [send(client, answers()).status_code for _ in range(2)] == [303, 303]

    response = send(client, answers())

    assert response.status_code == 400
    assert REFUSED in response.content.decode()
    assert Inquiry.objects.count() == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"email": "kein-mail"}, "Bitte geben Sie eine gültige E-Mail-Adresse an."),
        ({"message": HOSTILE}, "Bitte ohne HTML"),
        ({"company": "x" * 201}, "höchstens 200 Zeichen"),
        ({"message": "x" * 4001}, "höchstens 4000 Zeichen"),
        ({"consent_to_contact": ""}, "Ohne Ihr Einverständnis dürfen wir Ihnen nicht antworten."),
        ({"period_end": "2026-08-01"}, "Das Ende liegt vor dem Beginn."),
    ],
    ids=["email", "html", "long-company", "long-message", "consent", "period"],
)
def test_form_errors_are_shown_next_to_their_field(client, changes, message):
    response = send(client, answers(**changes))

    field = next(iter(changes))
    assert response.status_code == 400
    assert message in str(response.context["form"][field].errors)
    assert "Bitte prüfen Sie die markierten Angaben." in response.content.decode()
    assert HOSTILE not in response.content.decode()
    assert not Inquiry.objects.exists()


def test_inquiry_block_and_slot_fallback_link_the_form(client):
    SlotFactory.create(key="sidebar-top")
    article = ArticleFactory.create()

    html = client.get(f"/artikel/{article.slug}/").content.decode()

    assert html.count(f'href="{URL}"') == 2


def test_article_pages_set_no_csrf_cookie(client):
    article = ArticleFactory.create()

    response = client.get(f"/artikel/{article.slug}/")

    assert "csrftoken" not in response.cookies


def test_password_reset_pages_load(client):
    assert client.get(reverse("portal:password-reset")).status_code == 200
    assert client.get(reverse("portal:password-reset-done")).status_code == 200
    assert client.get(reverse("portal:password-reset-complete")).status_code == 200


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_person_fills_in_the_form_in_a_browser(browser, live_server, settings):
    settings.LITFASS_INQUIRY_MIN_SECONDS = 1
    SlotFactory.create(key="sidebar-top", name="Seitenleiste oben")
    page = browser.new_context(locale="de-DE").new_page()
    page.goto(live_server.url + URL)

    trap = page.locator("input[name=website]").bounding_box()
    assert trap is None or trap["x"] + trap["width"] <= 0  # off screen, where people never look
    page.get_by_label("Firma").fill("Nordlicht Cloud GmbH")
    page.get_by_label("Name").fill("Jana Berger")
    page.get_by_label("E-Mail").fill("jana@nordlicht.example")
    page.get_by_label("Seitenleiste oben").check()
    page.get_by_label("Nachricht").fill("Wir möchten im Herbst unsere KI-Plattform vorstellen.")
    page.get_by_label("Ja, Sie dürfen mich zu dieser Anfrage kontaktieren.").check()
    page.get_by_label("Gewünschter Beginn").fill("2026-09-30")
    page.get_by_label("Gewünschtes Ende").fill("2026-09-01")
    page.wait_for_timeout(1100)
    page.get_by_role("button", name="Anfrage senden").click()
    assert page.get_by_text("Das Ende liegt vor dem Beginn.").is_visible()
    page.get_by_label("Gewünschtes Ende").fill("2026-10-31")
    page.get_by_role("button", name="Anfrage senden").click()

    page.wait_for_url("**/werbung/anfrage/danke/**")
    assert "Guten Tag Jana Berger" in page.content()
    assert Inquiry.objects.get().company == "Nordlicht Cloud GmbH"
