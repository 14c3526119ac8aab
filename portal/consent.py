"""The reader's cookie consent: categories, the cookie format, and ``request.consent``.

The choice lives in one first-party cookie, ``<revision>:<granted categories>``, for example
``1:marketing.statistics`` or ``1:`` (necessary only); the dot, unlike a comma, needs no
quoting in a cookie value. A cookie of another revision counts
as no choice at all, so readers are asked again whenever the categories change. The
cookie is readable by JavaScript on purpose: pages served from a cache must be able to
learn the choice without asking the server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

NECESSARY = "necessary"
STATISTICS = "statistics"
MARKETING = "marketing"

# (key, label, description); necessary is always granted and cannot be declined.
CATEGORIES: tuple[tuple[str, Promise, Promise], ...] = (
    (
        NECESSARY,
        _("Notwendig"),
        _("Für den Betrieb der Website nötig, etwa um diese Auswahl zu speichern."),
    ),
    (
        STATISTICS,
        _("Statistik"),
        _("Anonyme Reichweitenmessung: wie oft Inhalte und Promotions gesehen werden."),
    ),
    (
        MARKETING,
        _("Marketing"),
        _("Begrenzt, wie oft Ihnen dieselbe Promotion gezeigt wird."),
    ),
)
OPTIONAL_CATEGORIES = frozenset({STATISTICS, MARKETING})
_REVISION = re.compile(r"[0-9]{1,6}")


@dataclass(frozen=True, slots=True)
class Consent:
    """What the reader allowed. ``decided`` is False until they chose for this revision."""

    decided: bool
    granted: frozenset[str]
    revision: int

    @property
    def statistics(self) -> bool:
        return STATISTICS in self.granted

    @property
    def marketing(self) -> bool:
        return MARKETING in self.granted

    def allows(self, category: str) -> bool:
        return category == NECESSARY or category in self.granted

    def to_cookie(self) -> str:
        return f"{self.revision}:{'.'.join(sorted(self.granted))}"


def current_revision() -> int:
    return int(settings.LITFASS_CONSENT_REVISION)


def undecided() -> Consent:
    return Consent(decided=False, granted=frozenset(), revision=current_revision())


def decide(granted: Iterable[str]) -> Consent:
    """A fresh choice for the current revision; unknown categories are dropped."""
    return Consent(
        decided=True,
        granted=frozenset(granted) & OPTIONAL_CATEGORIES,
        revision=current_revision(),
    )


def parse_cookie(value: str | None) -> Consent:
    """Read the consent cookie; anything malformed or outdated means no choice yet."""
    if not value:
        return undecided()
    revision_text, sep, granted_text = value.partition(":")
    # ASCII digits only: str.isdigit() accepts "²", which int() then refuses.
    if (
        not sep
        or not _REVISION.fullmatch(revision_text)
        or int(revision_text) != current_revision()
    ):
        return undecided()
    granted = {part for part in granted_text.split(".") if part}
    if not granted <= OPTIONAL_CATEGORIES:
        return undecided()
    return decide(granted)


def consent_from_request(request: HttpRequest) -> Consent:
    return parse_cookie(request.COOKIES.get(settings.LITFASS_CONSENT_COOKIE))


def is_same_origin(request: HttpRequest) -> bool:
    """Whether the browser says this request comes from our own pages.

    The consent form must not be submittable from other sites (consent has to be given
    freely), but a CSRF token would need a cookie of its own before the reader chose.
    Browsers send ``Origin`` with every POST (``Sec-Fetch-Site`` and ``Referer`` are
    the fallbacks), so the request itself tells where it came from.
    """
    own = f"{request.scheme}://{request.get_host()}"
    trusted = {own, *settings.CSRF_TRUSTED_ORIGINS}
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return origin in trusted
    if site := request.headers.get("Sec-Fetch-Site"):
        return site in ("same-origin", "none")
    referer = request.headers.get("Referer", "")
    return any(referer == base or referer.startswith(base + "/") for base in trusted)


def store(response: HttpResponse, consent: Consent) -> None:
    """Write the choice into the consent cookie of ``response``."""
    response.set_cookie(
        settings.LITFASS_CONSENT_COOKIE,
        consent.to_cookie(),
        max_age=settings.LITFASS_CONSENT_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=False,
        samesite="Lax",
    )


class ConsentMiddleware:
    """Makes the reader's current consent available as ``request.consent``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.consent = consent_from_request(request)  # type: ignore[attr-defined]
        return self.get_response(request)
