"""Advertising inquiries ("Werbung auf diesem Portal?"): spam guards, submission, mails,
and turning a won prospect into an advertiser.

A submission passes three guards before anything is stored: the form's honeypot stays
empty, the form was rendered a few seconds (and at most a day) before it came back, and
the sender (a keyed hash of IP address and user agent, never the address itself) has
not sent too many this hour. The API has no form, so only the rate limit applies there.
Refused submissions raise ``InquiryRefused`` with a reason for the logs; senders are
only ever told, politely, that it did not work.

Mails go out from Celery after the inquiry is committed, so a mail server that is down
delays them but never loses an inquiry.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sites.models import Site
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from promotions.models import Slot

from .models import Advertiser, Inquiry, Membership
from .tasks import send_inquiry_mails, send_invitation_mail
from .visitors import sender_digest

logger = logging.getLogger(__name__)

HONEYPOT_FIELD = "website"
STAMP_FIELD = "stamp"
STAMP_MAX_AGE = dt.timedelta(days=1)
RATE_WINDOW_SECONDS = 60 * 60
# What a browser would parse as the start of a tag, a comment or a processing
# instruction: "<a", "</", "<!--", "<?php". "< 5.000 €" or "<5" stay plain text.
_MARKUP = re.compile(r"<[a-zA-Z/!?]")
_SUBMITTED_TEXT = ("name", "company", "email", "phone", "message")


class InquiryRefused(Exception):
    """A submission refused by a spam guard. ``reason`` is for logs, never for senders."""

    HONEYPOT = "honeypot"
    TOO_FAST = "too_fast"
    EXPIRED = "expired"
    BAD_SIGNATURE = "bad_signature"
    RATE_LIMIT = "rate_limit"

    def __init__(self, reason: str, *, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class InquiryConversionError(ValueError):
    """The inquiry cannot become an advertiser (already linked, spam, …)."""


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent a submission, for the rate limit only: neither is stored."""

    ip_address: str
    user_agent: str


@dataclass(frozen=True, slots=True)
class FormGuard:
    """What the portal form carries besides the inquiry: the honeypot and the stamp."""

    honeypot: str
    stamp: str


class _Stamp(signing.TimestampSigner):
    """A ``TimestampSigner`` on the caller's clock, like every other domain function."""

    def __init__(self, *, now: dt.datetime) -> None:
        super().__init__(salt="litfass.inquiries.form-stamp")
        self.now = now

    def timestamp(self) -> str:
        return signing.b62_encode(int(self.now.timestamp()))

    def issued_at(self, stamp: str) -> dt.datetime:
        """When ``stamp`` was signed; ``BadSignature`` unless we signed it."""
        signed = signing.Signer.unsign(self, stamp)
        _value, timestamp = signed.rsplit(self.sep, 1)
        return dt.datetime.fromtimestamp(signing.b62_decode(timestamp), tz=dt.UTC)


def form_stamp(*, now: dt.datetime) -> str:
    """The signed time a form is rendered at; it comes back with the submission."""
    return _Stamp(now=now).sign("inquiry")


def check_form_guard(guard: FormGuard, *, now: dt.datetime) -> None:
    """Refuse a filled-in honeypot and a stamp that is forged, too fresh or too old."""
    if guard.honeypot.strip():
        raise InquiryRefused(InquiryRefused.HONEYPOT)
    try:
        issued = _Stamp(now=now).issued_at(guard.stamp)
    except (signing.BadSignature, ValueError):
        raise InquiryRefused(InquiryRefused.BAD_SIGNATURE) from None
    age = now - issued
    if age < dt.timedelta(seconds=settings.LITFASS_INQUIRY_MIN_SECONDS):
        raise InquiryRefused(InquiryRefused.TOO_FAST)
    if age > STAMP_MAX_AGE:
        raise InquiryRefused(InquiryRefused.EXPIRED)


def rate_key(sender: Sender, *, now: dt.datetime) -> str:
    """The cache key counting one sender's submissions this hour: a keyed hash that
    changes every hour, never the IP address itself."""
    window = int(now.timestamp()) // RATE_WINDOW_SECONDS
    digest = sender_digest("inquiry-rate", window, sender.ip_address, sender.user_agent)
    return f"litfass:inquiries:rate:{digest}:{window}"


def check_rate_limit(sender: Sender, *, now: dt.datetime) -> None:
    """Count one submission of ``sender``; refuse it past the limit for this hour."""
    key = rate_key(sender, now=now)
    cache.add(key, 0, timeout=RATE_WINDOW_SECONDS + 60)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        cache.add(key, 1, timeout=RATE_WINDOW_SECONDS + 60)
        count = 1
    if count > settings.LITFASS_INQUIRY_RATE_LIMIT:
        retry_after = RATE_WINDOW_SECONDS - int(now.timestamp()) % RATE_WINDOW_SECONDS
        raise InquiryRefused(InquiryRefused.RATE_LIMIT, retry_after=retry_after)


def contains_markup(text: str) -> bool:
    """Inquiries are plain text: markup in them is spam or an attack on whoever reads it."""
    return bool(_MARKUP.search(text))


def check_inquiry_data(data: Mapping[str, Any]) -> None:
    """The rules beyond each field's type, as field errors: plain text within the
    lengths, consent to be contacted, a period that ends after it starts.

    ``data`` holds a submission's values by field name; missing ones are not checked.
    """
    errors: dict[str, list[str]] = {}
    for field in _SUBMITTED_TEXT:
        value = data.get(field)
        if not isinstance(value, str):
            continue
        max_length = getattr(Inquiry._meta.get_field(field), "max_length", None)
        if max_length and len(value) > max_length:
            errors.setdefault(field, []).append(
                _("Höchstens %(count)d Zeichen.") % {"count": max_length}
            )
        if contains_markup(value):
            errors.setdefault(field, []).append(_("Bitte ohne HTML („<…>“) schreiben."))
    if "consent_to_contact" in data and data["consent_to_contact"] is not True:
        errors["consent_to_contact"] = [
            _("Ohne Ihr Einverständnis dürfen wir Ihnen nicht antworten.")
        ]
    start, end = data.get("period_start"), data.get("period_end")
    if start and end and end < start:
        errors["period_end"] = [_("Das Ende liegt vor dem Beginn.")]
    if errors:
        raise ValidationError(errors)


def check_inquiry(inquiry: Inquiry) -> None:
    """Everything a stored inquiry must satisfy, as field errors."""
    errors: dict[str, list[str]] = {}
    try:
        inquiry.full_clean(validate_constraints=False)
    except ValidationError as error:
        errors = dict(error.message_dict)
    values = {field.attname: getattr(inquiry, field.attname) for field in Inquiry._meta.fields}
    try:
        check_inquiry_data(values)
    except ValidationError as error:
        # A field the model already found wrong keeps that one message.
        for field, messages in error.message_dict.items():
            errors.setdefault(field, messages)
    if errors:
        raise ValidationError(errors)


def do_submit_inquiry(
    inquiry: Inquiry,
    *,
    slots: Iterable[Slot] = (),
    sender: Sender,
    guard: FormGuard | None,
    now: dt.datetime,
) -> Inquiry:
    """Check and store a prospect's inquiry; the mails go out once it is committed.

    ``guard`` is the portal form's honeypot and stamp (``None`` for the API, which has
    no form). Raises ``InquiryRefused`` (stores nothing) or ``ValidationError``.
    """
    inquiry.status = Inquiry.Status.NEW
    inquiry.notes = ""
    inquiry.advertiser = None
    inquiry.mails_sent_at = None
    try:
        if guard is not None:
            check_form_guard(guard, now=now)
        check_inquiry(inquiry)
        # Counted last: a sender correcting a typo has not used up an attempt.
        check_rate_limit(sender, now=now)
    except InquiryRefused as refused:
        logger.info("inquiry refused: %s", refused.reason)
        raise
    with transaction.atomic():
        inquiry.save()
        inquiry.desired_slots.set(slots)
        inquiry_id = inquiry.pk
        # Robust: the inquiry is stored; a broker that is down must not turn the
        # prospect's success into an error page.
        transaction.on_commit(lambda: send_inquiry_mails.delay(inquiry_id), robust=True)
    return inquiry


def _site() -> tuple[str, str]:
    """The portal's name and address for mails, which are sent without a request."""
    site = Site.objects.get_current()
    scheme = "http" if settings.DEBUG else "https"
    return site.name, f"{scheme}://{site.domain}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def do_send_inquiry_mails(inquiry_id: int, *, now: dt.datetime) -> bool:
    """Tell sales about an inquiry and confirm it to the prospect, once.

    Returns ``False`` when there is nothing to do (sent before, or the inquiry is gone).
    Mail errors propagate, so the task retries; a retry after a partial failure may
    repeat the notification to sales, never skip it.
    """
    with transaction.atomic():
        inquiry = (
            Inquiry.objects.select_for_update()
            .filter(pk=inquiry_id, mails_sent_at__isnull=True)
            .first()
        )
        if inquiry is None:
            return False
        site_name, site_url = _site()
        with translation.override(settings.LANGUAGE_CODE):
            context = {
                "inquiry": inquiry,
                "slots": ", ".join(slot.name for slot in inquiry.desired_slots.all()),
                "site_name": site_name,
                "site_url": site_url,
                "admin_url": site_url + reverse("admin:ads_inquiry_change", args=[inquiry.pk]),
            }
            to_sales = EmailMessage(
                subject=_("Neue Werbeanfrage: %(company)s")
                % {"company": _one_line(inquiry.company)},
                body=render_to_string("ads/mail/inquiry_sales.txt", context),
                to=[settings.LITFASS_SALES_EMAIL],
                reply_to=[inquiry.email],
            )
            # Nothing the sender typed goes into the confirmation: the form must not
            # become a way to mail arbitrary text to arbitrary addresses.
            to_prospect = EmailMessage(
                subject=_("Ihre Anfrage bei %(site)s") % {"site": site_name},
                body=render_to_string("ads/mail/inquiry_confirmation.txt", context),
                to=[inquiry.email],
                reply_to=[settings.LITFASS_SALES_EMAIL],
            )
        get_connection().send_messages([to_sales, to_prospect])
        inquiry.mails_sent_at = now
        inquiry.save(update_fields=["mails_sent_at", "updated_at"])
    return True


@dataclass(frozen=True, slots=True)
class Conversion:
    """What converting an inquiry did.

    ``created`` is ``False`` when an advertiser of that name existed: the inquiry was
    linked to it, and nobody was invited.
    """

    advertiser: Advertiser
    created: bool
    user: AbstractUser | None = None


def do_convert_to_advertiser(inquiry: Inquiry, *, now: dt.datetime) -> Conversion:
    """Make a won inquiry an advertiser, with the prospect as its administrator.

    Creates the advertiser from the inquiry's contact details, a user named by the
    e-mail address (reused if it exists, otherwise without a usable password) with an
    admin membership, marks the inquiry won and invites the user by mail to set a
    password. An advertiser of the same name is never duplicated: the inquiry is linked
    to it instead (see ``Conversion.created``).
    """
    User = get_user_model()
    with transaction.atomic():
        inquiry = Inquiry.objects.select_for_update().get(pk=inquiry.pk)
        if inquiry.advertiser_id is not None:
            raise InquiryConversionError(
                _("Die Anfrage ist schon mit einem Werbekunden verknüpft.")
            )
        if inquiry.status == Inquiry.Status.SPAM:
            raise InquiryConversionError(_("Als Spam markierte Anfragen werden nicht umgewandelt."))
        username = User.normalize_username(User.objects.normalize_email(inquiry.email))
        if len(username) > User._meta.get_field("username").max_length:  # type: ignore[operator]
            raise InquiryConversionError(
                _("Die E-Mail-Adresse ist zu lang für einen Benutzernamen.")
            )
        name = _one_line(inquiry.company)
        existing = Advertiser.objects.filter(name__iexact=name).first()
        if existing is not None:
            inquiry.advertiser = existing
            inquiry.save(update_fields=["advertiser", "updated_at"])
            return Conversion(advertiser=existing, created=False)
        try:
            with transaction.atomic():
                advertiser = Advertiser.objects.create(
                    name=name,
                    contact_name=inquiry.name,
                    contact_email=inquiry.email,
                    contact_phone=inquiry.phone,
                )
        except IntegrityError:
            raise InquiryConversionError(
                _("Ein Werbekunde „%(name)s“ wurde gerade angelegt; bitte noch einmal versuchen.")
                % {"name": name}
            ) from None
        user = User.objects.filter(username__iexact=username).first()
        if user is None:
            user = User(username=username, email=username, date_joined=now)
            user.set_unusable_password()
            user.save()
        Membership.objects.create(advertiser=advertiser, user=user, role=Membership.Role.ADMIN)
        inquiry.advertiser = advertiser
        inquiry.status = Inquiry.Status.WON
        inquiry.save(update_fields=["advertiser", "status", "updated_at"])
        user_id, advertiser_id = user.pk, advertiser.pk
        transaction.on_commit(lambda: send_invitation_mail.delay(user_id, advertiser_id))
    return Conversion(advertiser=advertiser, created=True, user=user)


def password_set_url(user: AbstractUser) -> str:
    """A one-time link (Django's password reset token) to set the user's password."""
    _name, site_url = _site()
    with translation.override(settings.LANGUAGE_CODE):
        path = reverse(
            "portal:password-reset-confirm",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
    return site_url + path


def do_send_invitation(user_id: int, advertiser_id: int) -> bool:
    """Invite a member of an advertiser to set a password; ``False`` if either is gone."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    advertiser = Advertiser.objects.filter(pk=advertiser_id).first()
    if user is None or advertiser is None:
        return False
    site_name, _site_url = _site()
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "advertiser": advertiser,
            "user": user,
            "link": password_set_url(user),
            "days": settings.PASSWORD_RESET_TIMEOUT // (24 * 60 * 60),
            "site_name": site_name,
            "sales_email": settings.LITFASS_SALES_EMAIL,
        }
        EmailMessage(
            subject=_("Ihr Zugang als Werbekunde bei %(site)s") % {"site": site_name},
            body=render_to_string("ads/mail/invitation.txt", context),
            to=[user.email or user.get_username()],
            reply_to=[settings.LITFASS_SALES_EMAIL],
        ).send()
    return True


# Long enough for the first attempt and its quick retries to have happened.
MAILS_OVERDUE = dt.timedelta(minutes=15)


def unsent_inquiry_ids(*, now: dt.datetime, limit: int = 100) -> list[int]:
    """Inquiries from the last week whose mails are overdue (never spam)."""
    return list(
        Inquiry.objects.filter(
            mails_sent_at__isnull=True,
            created_at__lt=now - MAILS_OVERDUE,
            created_at__gte=now - dt.timedelta(days=7),
        )
        .exclude(status=Inquiry.Status.SPAM)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
