import re
from datetime import date, timedelta
from smtplib import SMTPException
from urllib.parse import urlsplit

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission, User
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.mail.backends.locmem import EmailBackend
from django.core.signing import TimestampSigner
from django.urls import reverse
from django.utils import timezone

from ads.inquiries import (
    FormGuard,
    InquiryConversionError,
    InquiryRefused,
    Sender,
    do_convert_to_advertiser,
    do_submit_inquiry,
    form_stamp,
    rate_key,
)
from ads.models import Advertiser, Inquiry, Membership
from ads.tasks import send_inquiry_mails
from portal.celery import app
from tests.factories import (
    AdvertiserFactory,
    InquiryFactory,
    SlotFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
SENDER = Sender(
    ip_address="203.0.113.7",
    user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
)
HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def eager_tasks():
    """Tasks enqueued on commit run at once, in this process, as in the embedded default."""
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def guard(*, now=NOW, age=timedelta(seconds=30), honeypot="", stamp=None) -> FormGuard:
    return FormGuard(honeypot=honeypot, stamp=stamp or form_stamp(now=now - age))


def submit(*, sender=SENDER, now=NOW, slots=(), form=True, **fields) -> Inquiry:
    return do_submit_inquiry(
        InquiryFactory.build(**fields),
        slots=slots,
        sender=sender,
        guard=guard(now=now) if form else None,
        now=now,
    )


def refused_reason(**kwargs) -> str:
    with pytest.raises(InquiryRefused) as refused:
        do_submit_inquiry(
            InquiryFactory.build(), sender=SENDER, guard=guard(**kwargs), now=NOW, slots=()
        )
    return refused.value.reason


# Submitting and the mails


def test_submission_is_stored_and_both_mails_go_out_after_commit(
    eager_tasks, django_capture_on_commit_callbacks, settings
):
    settings.LITFASS_SALES_EMAIL = "werbung@kiexpertenforum.example"
    slot = SlotFactory.create(name="Seitenleiste oben")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        inquiry = submit(
            slots=[slot], company="Nordlicht Cloud GmbH", email="jana@nordlicht.example"
        )

    assert len(callbacks) == 1
    inquiry.refresh_from_db()
    assert inquiry.status == Inquiry.Status.NEW
    assert list(inquiry.desired_slots.all()) == [slot]
    assert inquiry.mails_sent_at is not None
    to_sales, to_prospect = mail.outbox
    assert to_sales.to == ["werbung@kiexpertenforum.example"]
    assert to_sales.reply_to == ["jana@nordlicht.example"]
    assert to_sales.subject == "Neue Werbeanfrage: Nordlicht Cloud GmbH"
    assert "Seitenleiste oben" in to_sales.body
    assert f"/admin/ads/inquiry/{inquiry.pk}/change/" in to_sales.body
    assert to_prospect.to == ["jana@nordlicht.example"]
    assert to_prospect.reply_to == ["werbung@kiexpertenforum.example"]
    assert "vielen Dank für Ihre Anfrage" in to_prospect.body


def test_nothing_is_mailed_before_the_inquiry_is_committed(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submit()

    assert len(callbacks) == 1
    assert mail.outbox == []


def test_confirmation_repeats_nothing_the_sender_typed(
    eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submit(
            name="Billige Pillen", company="Pillen-Shop", message="Kaufen Sie bei pillen.example"
        )

    to_sales, to_prospect = mail.outbox
    assert "Kaufen Sie bei pillen.example" in to_sales.body
    for typed in ("Billige Pillen", "Pillen-Shop", "pillen.example"):
        assert typed not in f"{to_prospect.subject}\n{to_prospect.body}"


def test_a_line_break_in_the_company_cannot_add_mail_headers():
    inquiry = InquiryFactory.create(company="Firma\nBcc: opfer@example.org")

    send_inquiry_mails.apply(args=[inquiry.pk])

    to_sales = mail.outbox[0]
    assert to_sales.subject == "Neue Werbeanfrage: Firma Bcc: opfer@example.org"
    assert to_sales.message()["Bcc"] is None


def test_mails_are_sent_once_however_often_the_task_runs():
    inquiry = InquiryFactory.create()

    assert send_inquiry_mails.apply(args=[inquiry.pk]).result is True
    assert send_inquiry_mails.apply(args=[inquiry.pk]).result is False

    assert len(mail.outbox) == 2


def test_mail_task_for_a_deleted_inquiry_does_nothing():
    assert send_inquiry_mails.apply(args=[987654]).result is False
    assert mail.outbox == []


class FlakyBackend(EmailBackend):
    """The mail server refuses the first ``failures`` connections, then takes mail."""

    failures = 1
    attempts = 0

    def send_messages(self, messages):
        FlakyBackend.attempts += 1
        if FlakyBackend.attempts <= FlakyBackend.failures:
            raise SMTPException("421 try again later")
        return super().send_messages(messages)


@pytest.fixture
def flaky_mail(settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.attempts = 0
    # Run in this process, a retry is applied at once instead of raised to the caller.
    app.conf.task_eager_propagates = False
    yield FlakyBackend
    app.conf.task_eager_propagates = True
    FlakyBackend.failures = 1


def test_mail_task_retries_when_the_mail_server_refuses(flaky_mail):
    inquiry = InquiryFactory.create()

    result = send_inquiry_mails.apply(args=[inquiry.pk])

    assert result.successful()
    assert flaky_mail.attempts == 2
    assert len(mail.outbox) == 2
    inquiry.refresh_from_db()
    assert inquiry.mails_sent_at is not None


def test_mail_server_down_for_good_keeps_the_inquiry(flaky_mail):
    flaky_mail.failures = 1000
    inquiry = InquiryFactory.create()

    result = send_inquiry_mails.apply(args=[inquiry.pk])

    assert result.failed()
    assert isinstance(result.result, SMTPException)
    assert flaky_mail.attempts == 1 + send_inquiry_mails.max_retries
    inquiry.refresh_from_db()
    assert inquiry.mails_sent_at is None


def test_a_submission_survives_its_mails_failing(
    eager_tasks, flaky_mail, django_capture_on_commit_callbacks
):
    flaky_mail.failures = 1000

    with django_capture_on_commit_callbacks(execute=True):
        inquiry = submit()

    assert Inquiry.objects.get(pk=inquiry.pk).mails_sent_at is None


def test_a_worker_sends_the_mails_of_a_committed_inquiry(celery_worker):
    inquiry = submit()

    celery_worker(lambda: Inquiry.objects.get(pk=inquiry.pk).mails_sent_at is not None)


# Spam guards: each refuses and stores nothing


def test_a_filled_honeypot_is_refused():
    assert refused_reason(honeypot="https://spam.example") == InquiryRefused.HONEYPOT
    assert not Inquiry.objects.exists()


def test_a_form_sent_back_too_fast_is_refused(settings):
    settings.LITFASS_INQUIRY_MIN_SECONDS = 3

    assert refused_reason(age=timedelta(seconds=2)) == InquiryRefused.TOO_FAST
    assert not Inquiry.objects.exists()


def test_a_form_older_than_a_day_is_refused():
    assert refused_reason(age=timedelta(days=1, seconds=1)) == InquiryRefused.EXPIRED
    assert not Inquiry.objects.exists()


@pytest.mark.parametrize(
    "stamp",
    [
        "garbage",
        "inquiry:1abcde:forged-signature",
        form_stamp(now=NOW - timedelta(minutes=5)).replace("inquiry", "inquirx"),
        " ",
    ],
    ids=["garbage", "forged", "tampered", "blank"],
)
def test_a_form_stamp_we_did_not_sign_is_refused(stamp):
    assert refused_reason(stamp=stamp) == InquiryRefused.BAD_SIGNATURE
    assert not Inquiry.objects.exists()


def test_a_stamp_signed_for_something_else_is_refused():
    assert refused_reason(stamp=TimestampSigner().sign("inquiry")) == InquiryRefused.BAD_SIGNATURE


def test_the_rate_limit_refuses_the_sixth_inquiry_of_an_hour(settings):
    settings.LITFASS_INQUIRY_RATE_LIMIT = 5
    start = NOW.replace(minute=0, second=0)
    for minute in range(5):
        submit(now=start + timedelta(minutes=minute))

    with pytest.raises(InquiryRefused) as refused:
        submit(now=start + timedelta(minutes=30))

    assert refused.value.reason == InquiryRefused.RATE_LIMIT
    assert refused.value.retry_after == 30 * 60
    assert Inquiry.objects.count() == 5
    submit(now=start + timedelta(hours=1))
    assert Inquiry.objects.count() == 6


def test_the_rate_limit_counts_each_sender_apart(settings):
    settings.LITFASS_INQUIRY_RATE_LIMIT = 1
    submit()

    submit(sender=Sender(ip_address="198.51.100.1", user_agent=SENDER.user_agent))
    submit(sender=Sender(ip_address=SENDER.ip_address, user_agent="curl/8.5.0"))

    with pytest.raises(InquiryRefused):
        submit()


def test_without_a_form_only_the_rate_limit_guards(settings):
    settings.LITFASS_INQUIRY_RATE_LIMIT = 1

    submit(form=False)

    with pytest.raises(InquiryRefused):
        submit(form=False)


def test_invalid_submissions_do_not_use_up_the_rate_limit(settings):
    settings.LITFASS_INQUIRY_RATE_LIMIT = 1
    for _ in range(3):
        with pytest.raises(ValidationError):
            submit(email="kein-mail")

    submit()


def test_the_rate_key_holds_no_ip_address():
    key = rate_key(SENDER, now=NOW)

    assert SENDER.ip_address not in key
    assert key != rate_key(SENDER, now=NOW + timedelta(hours=1))


# Validation


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "kein-mail"}, "email"),
        ({"name": '<a href="https://spam.example">Jana</a>'}, "name"),
        ({"company": "Firma</b>"}, "company"),
        ({"message": HOSTILE}, "message"),
        ({"message": "Hallo <!-- versteckt -->"}, "message"),
        ({"company": "x" * 201}, "company"),
        ({"name": ""}, "name"),
        ({"message": "x" * 4001}, "message"),
        ({"phone": "1" * 41}, "phone"),
        ({"consent_to_contact": False}, "consent_to_contact"),
        ({"period_start": date(2026, 9, 30), "period_end": date(2026, 9, 1)}, "period_end"),
    ],
    ids=[
        "email",
        "link",
        "closing-tag",
        "script",
        "comment",
        "long-company",
        "empty-name",
        "long-message",
        "long-phone",
        "no-consent",
        "period-order",
    ],
)
def test_invalid_inquiries_are_refused_with_field_errors(fields, field):
    with pytest.raises(ValidationError) as invalid:
        submit(**fields)

    assert field in invalid.value.message_dict
    assert not Inquiry.objects.exists()


def test_angle_brackets_that_are_not_markup_are_fine():
    inquiry = submit(message="Budget <5.000 €, Reichweite > 10.000, a < b")

    assert inquiry.pk


def test_what_the_sender_cannot_set_is_reset():
    advertiser = AdvertiserFactory.create()

    inquiry = submit(status=Inquiry.Status.WON, notes="VIP", advertiser=advertiser)

    assert (inquiry.status, inquiry.notes, inquiry.advertiser) == (Inquiry.Status.NEW, "", None)


# Converting into an advertiser


def _set_password_path(body) -> str:
    found = re.search(r"https?://\S+/konto/passwort/neu/\S+/", str(body))
    assert found, body
    return urlsplit(found.group(0)).path


def test_converting_makes_an_advertiser_with_its_admin_and_invites_them(
    client, eager_tasks, django_capture_on_commit_callbacks
):
    inquiry = InquiryFactory.create(
        company="Nordlicht Cloud GmbH",
        name="Jana Berger",
        email="Jana.Berger@Nordlicht.example",
        phone="+49 40 1234567",
    )

    with django_capture_on_commit_callbacks(execute=True):
        conversion = do_convert_to_advertiser(inquiry, now=NOW)

    advertiser = conversion.advertiser
    assert conversion.created
    assert (advertiser.name, advertiser.contact_name, advertiser.contact_phone) == (
        "Nordlicht Cloud GmbH",
        "Jana Berger",
        "+49 40 1234567",
    )
    user = User.objects.get(username="Jana.Berger@nordlicht.example")
    assert not user.has_usable_password()
    assert Membership.objects.get(advertiser=advertiser, user=user).role == Membership.Role.ADMIN
    inquiry.refresh_from_db()
    assert (inquiry.advertiser, inquiry.status) == (advertiser, Inquiry.Status.WON)
    (invitation,) = mail.outbox
    assert invitation.to == ["Jana.Berger@nordlicht.example"]
    assert "Nordlicht Cloud GmbH" in invitation.body

    form = client.get(_set_password_path(invitation.body), follow=True)
    assert form.context["validlink"]
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Litfass-Säule-2026", "new_password2": "Litfass-Säule-2026"},
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Litfass-Säule-2026")


def test_the_password_set_link_works_once(client, eager_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        do_convert_to_advertiser(InquiryFactory.create(), now=NOW)
    path = _set_password_path(mail.outbox[0].body)
    form = client.get(path, follow=True)
    client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Plakat-2026!", "new_password2": "Plakat-2026!"},
    )

    again = client.get(path, follow=True)

    assert not again.context["validlink"]


def test_converting_reuses_an_existing_user_and_keeps_their_password(
    eager_tasks, django_capture_on_commit_callbacks
):
    user = UserFactory.create(username="jana@nordlicht.example")

    with django_capture_on_commit_callbacks(execute=True):
        conversion = do_convert_to_advertiser(
            InquiryFactory.create(email="jana@nordlicht.example"), now=NOW
        )

    assert conversion.user == user
    user.refresh_from_db()
    assert user.check_password("correct horse battery staple")
    assert Membership.objects.filter(user=user, role=Membership.Role.ADMIN).count() == 1


def test_an_advertiser_of_that_name_is_linked_not_duplicated(django_capture_on_commit_callbacks):
    existing = AdvertiserFactory.create(name="Nordlicht Cloud GmbH")
    inquiry = InquiryFactory.create(company="nordlicht cloud gmbh")

    with django_capture_on_commit_callbacks(execute=True):
        conversion = do_convert_to_advertiser(inquiry, now=NOW)

    assert (conversion.created, conversion.advertiser) == (False, existing)
    inquiry.refresh_from_db()
    assert (inquiry.advertiser, inquiry.status) == (existing, Inquiry.Status.NEW)
    assert Advertiser.objects.count() == 1
    assert not User.objects.exists()
    assert mail.outbox == []


def test_an_inquiry_is_converted_once():
    inquiry = InquiryFactory.create()
    do_convert_to_advertiser(inquiry, now=NOW)

    with pytest.raises(InquiryConversionError):
        do_convert_to_advertiser(inquiry, now=NOW)

    assert Advertiser.objects.count() == 1


def test_spam_is_not_converted():
    with pytest.raises(InquiryConversionError):
        do_convert_to_advertiser(InquiryFactory.create(status=Inquiry.Status.SPAM), now=NOW)

    assert not Advertiser.objects.exists()


# Admin

CHANGELIST = reverse("admin:ads_inquiry_changelist")


@pytest.fixture
def editor(client):
    client.force_login(StaffFactory.create())
    return client


def test_admin_change_page_escapes_what_the_prospect_sent(editor):
    inquiry = InquiryFactory.create(name=HOSTILE, company=HOSTILE, message=HOSTILE)

    html = editor.get(reverse("admin:ads_inquiry_change", args=[inquiry.pk])).content.decode()

    assert HOSTILE not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_admin_changelist_escapes_and_filters(editor):
    InquiryFactory.create(company=HOSTILE, status=Inquiry.Status.NEW)
    InquiryFactory.create(company="Verloren AG", status=Inquiry.Status.LOST)

    html = editor.get(CHANGELIST, {"status__exact": "new"}).content.decode()

    assert HOSTILE not in html
    assert "&lt;script&gt;" in html
    assert "Verloren AG" not in html


def test_admin_search_finds_by_company_and_email(editor):
    InquiryFactory.create(company="Nordlicht Cloud GmbH", email="jana@nordlicht.example")
    InquiryFactory.create(company="Akademie e. V.", email="info@akademie.example")

    html = editor.get(CHANGELIST, {"q": "nordlicht"}).content.decode()

    assert "Nordlicht Cloud GmbH" in html
    assert "Akademie e. V." not in html


def test_admin_changelist_queries_do_not_grow_with_rows(editor, django_assert_max_num_queries):
    InquiryFactory.create_batch(20)

    with django_assert_max_num_queries(10):
        editor.get(CHANGELIST)


def test_admin_changes_status_and_notes_but_not_what_was_sent(editor):
    inquiry = InquiryFactory.create(company="Nordlicht Cloud GmbH")

    response = editor.post(
        reverse("admin:ads_inquiry_change", args=[inquiry.pk]),
        {"company": "Geändert", "status": Inquiry.Status.CONTACTED, "notes": "Angerufen."},
    )

    assert response.status_code == 302
    inquiry.refresh_from_db()
    assert (inquiry.company, inquiry.status, inquiry.notes) == (
        "Nordlicht Cloud GmbH",
        Inquiry.Status.CONTACTED,
        "Angerufen.",
    )


def convert(editor, *inquiries):
    return editor.post(
        CHANGELIST,
        {"action": "convert_to_advertiser", ACTION_CHECKBOX_NAME: [i.pk for i in inquiries]},
        follow=True,
    )


def test_admin_action_converts_and_says_so(editor, eager_tasks, django_capture_on_commit_callbacks):
    inquiry = InquiryFactory.create(company="Nordlicht Cloud GmbH", email="jana@nordlicht.example")

    with django_capture_on_commit_callbacks(execute=True):
        html = convert(editor, inquiry).content.decode()

    assert "„Nordlicht Cloud GmbH“ ist jetzt Werbekunde" in html
    assert Advertiser.objects.filter(name="Nordlicht Cloud GmbH").exists()
    assert mail.outbox[0].to == ["jana@nordlicht.example"]


def test_admin_action_reports_existing_advertisers_and_refusals(editor):
    AdvertiserFactory.create(name="Nordlicht Cloud GmbH")
    linked = InquiryFactory.create(company="Nordlicht Cloud GmbH")
    spam = InquiryFactory.create(company=HOSTILE, status=Inquiry.Status.SPAM)

    html = convert(editor, linked, spam).content.decode()

    assert "Es gibt schon den Werbekunden „Nordlicht Cloud GmbH“" in html
    assert "Als Spam markierte Anfragen werden nicht umgewandelt." in html
    assert HOSTILE not in html
    assert Advertiser.objects.count() == 1


def test_admin_action_needs_the_right_to_add_advertisers(client):
    clerk = UserFactory.create(is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_inquiry", "change_inquiry"])
    )
    client.force_login(clerk)
    inquiry = InquiryFactory.create()

    convert(client, inquiry)

    assert not Advertiser.objects.exists()


# API


API = reverse("api:inquiries")
API_BODY = {
    "company": "Nordlicht Cloud GmbH",
    "name": "Jana Berger",
    "email": "jana@nordlicht.example",
    "message": "Wir möchten im Herbst unsere KI-Plattform vorstellen.",
    "budget": "up_to_5k",
    "desired_slots": ["sidebar-top"],
    "period_start": "2026-09-01",
    "period_end": "2026-09-30",
    "consent_to_contact": True,
}


def post_api(client, body, **headers):
    return client.post(
        API,
        body,
        content_type="application/json",
        headers={"user-agent": SENDER.user_agent, **headers},
        REMOTE_ADDR=SENDER.ip_address,
    )


def test_api_stores_an_inquiry_without_a_key(client, django_capture_on_commit_callbacks):
    SlotFactory.create(key="sidebar-top")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_api(client, API_BODY)

    assert response.status_code == 201
    body = response.json()
    inquiry = Inquiry.objects.get()
    assert body["id"] == inquiry.pk
    assert body["desired_slots"] == ["sidebar-top"]
    assert {"status", "notes", "advertiser", "mails_sent_at"}.isdisjoint(body)
    assert inquiry.status == Inquiry.Status.NEW
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "kein-mail"}, "email"),
        ({"message": HOSTILE}, "message"),
        ({"company": "x" * 201}, "company"),
        ({"message": "x" * 4001}, "message"),
        ({"consent_to_contact": False}, "consent_to_contact"),
        ({"period_end": "2026-08-01"}, "period_end"),
        ({"desired_slots": ["gibt-es-nicht"]}, "desired_slots"),
        ({"budget": "unendlich"}, "budget"),
    ],
    ids=["email", "html", "long", "long-message", "consent", "period", "slot", "budget"],
)
def test_api_refuses_invalid_inquiries_with_field_errors(client, change, field):
    SlotFactory.create(key="sidebar-top")

    response = post_api(client, {**API_BODY, **change})

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Inquiry.objects.exists()


def test_api_ignores_what_the_sender_cannot_set(client):
    response = post_api(client, {**API_BODY, "desired_slots": [], "status": "won", "notes": "x"})

    assert response.status_code == 201
    assert Inquiry.objects.get().status == Inquiry.Status.NEW


def test_api_refuses_slot_keys_that_are_not_slugs(client):
    response = post_api(client, {**API_BODY, "desired_slots": ["side\x00bar"]})

    assert response.status_code == 400
    assert "desired_slots" in response.json()["errors"]
    assert not Inquiry.objects.exists()


def test_api_applies_the_rate_limit(client, settings):
    settings.LITFASS_INQUIRY_RATE_LIMIT = 2
    body = {**API_BODY, "desired_slots": []}
    assert [post_api(client, body).status_code for _ in range(2)] == [201, 201]

    response = post_api(client, body)

    assert response.status_code == 429
    assert int(response["Retry-After"]) <= 3600
    assert Inquiry.objects.count() == 2


def test_overdue_unsent_mails_are_found_for_another_try():
    from datetime import timedelta

    from django.utils import timezone

    from ads.inquiries import unsent_inquiry_ids

    now = timezone.now()

    def made(minutes_ago, **fields):
        inquiry = InquiryFactory.create(**fields)
        Inquiry.objects.filter(pk=inquiry.pk).update(
            created_at=now - timedelta(minutes=minutes_ago)
        )
        return inquiry

    overdue = made(30)
    made(5)  # its first attempt is still under way
    made(30, mails_sent_at=now)
    made(30, status=Inquiry.Status.SPAM)
    made(60 * 24 * 8)  # too old to still write to

    assert unsent_inquiry_ids(now=now) == [overdue.pk]
