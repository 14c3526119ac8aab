"""The public decision endpoint, for pages served from a cache and for other sites.

A plain Django view rather than DRF: it is on every page view's path, unauthenticated
and answers with a fixed shape, so content negotiation and authentication classes
would only cost time.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import get_script_prefix, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from .decision import PageContext, UnknownSlots, berlin_day, decide
from .devices import device_class
from .models import Campaign
from .problems import problem
from .slots import slot_json
from .tracking import CLICK, VIEW, record_event, record_served, refusal
from .visitors import client_address, visitor_key_for

MAX_SLOTS = 20
MAX_TAGS = 50
_lottery = random.Random()  # noqa: S311  (a lottery among campaigns, not a secret)
_LANGUAGES = frozenset(code for code, _name in settings.LANGUAGES)
_FIELDS = frozenset(
    ("slots", "article", "tags", "section", "language", "device", "consent", "preview")
)


class InvalidPage(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def _strings(value: Any, *, limit: int, length: int) -> list[str] | None:
    if not isinstance(value, list) or len(value) > limit:
        return None
    if not all(isinstance(item, str) and 0 < len(item) <= length for item in value):
        return None
    return value


def check_page_request(data: Any, request: HttpRequest, *, now: dt.datetime) -> PageContext:
    """The page context from a decision request body, or ``InvalidPage`` saying why."""
    if not isinstance(data, dict):
        raise InvalidPage({"": _("Ein JSON-Objekt erwartet.")})
    errors: dict[str, str] = {}
    unknown = data.keys() - _FIELDS
    if unknown:
        errors["unknown"] = _("Unbekannte Felder: %(fields)s") % {
            "fields": ", ".join(sorted(unknown))
        }
    slots = _strings(data.get("slots"), limit=MAX_SLOTS, length=50)
    if not slots or len(set(slots)) != len(slots):
        errors["slots"] = _("1 bis %(max)d verschiedene Slot-Schlüssel erwartet.") % {
            "max": MAX_SLOTS
        }
    article = data.get("article")
    if article is not None and (type(article) is not int or article < 1):
        errors["article"] = _("Eine positive ganze Zahl erwartet.")
    tags = _strings(data.get("tags", []), limit=MAX_TAGS, length=100)
    if tags is None:
        errors["tags"] = _("Höchstens %(max)d Hashtags erwartet.") % {"max": MAX_TAGS}
    section = data.get("section", "")
    if not isinstance(section, str) or len(section) > 80:
        errors["section"] = _("Ein Rubrik-Kürzel erwartet.")
    language = data.get("language", settings.LANGUAGE_CODE)
    # A list or object is unhashable: ask ``isinstance`` before the set lookup.
    if not isinstance(language, str) or language not in _LANGUAGES:
        errors["language"] = _("Eine dieser Sprachen erwartet: %(codes)s") % {
            "codes": ", ".join(sorted(_LANGUAGES))
        }
    device = data.get("device")
    if device is not None and device not in Campaign.Device.values:
        errors["device"] = _("Eines dieser Geräte erwartet: %(devices)s") % {
            "devices": ", ".join(Campaign.Device.values)
        }
    consent = data.get("consent", {})
    if not isinstance(consent, dict) or not all(
        key in ("statistics", "marketing") and isinstance(value, bool)
        for key, value in consent.items()
    ):
        errors["consent"] = _("Ein Objekt mit „statistics“ und „marketing“ (true/false).")
        consent = {}
    preview = data.get("preview", False)
    if not isinstance(preview, bool):
        errors["preview"] = _("true oder false erwartet.")
    if errors:
        raise InvalidPage(errors)
    consented = bool(consent.get("statistics") or consent.get("marketing"))
    # request.META, not request.headers: building that costs more than reading one.
    user_agent = request.META.get("HTTP_USER_AGENT", "")
    return PageContext(
        slot_keys=tuple(slots or ()),
        article_id=article,
        tags=frozenset(tags or ()),
        section=section,
        language=language,
        device=device or device_class(user_agent),
        consent=consented,
        visitor_key=visitor_key_for(request, consented=consented, day=berlin_day(now)),
        preview=preview,
    )


@csrf_exempt
def decisions(request: HttpRequest) -> HttpResponse:
    """``POST /api/v1/decisions``: fill the slots of one page view."""
    if request.method != "POST":
        response = problem(405, _("Nur POST ist erlaubt."))
        response["Allow"] = "POST"
        return response
    limit = settings.LITFASS_DECISION_MAX_BYTES
    # Read one byte past the limit, whatever Content-Length claims (or if it is missing).
    body = request.read(limit + 1)
    if len(body) > limit:
        return problem(
            400, _("Anfrage zu groß."), _("Höchstens %(bytes)d Bytes.") % {"bytes": limit}
        )
    try:
        data = json.loads(body)
    # Deeply nested arrays fit in the size limit but exhaust the parser's recursion.
    except (ValueError, UnicodeDecodeError, RecursionError):
        return problem(400, _("Ungültiges JSON."))
    now = timezone.now()
    try:
        page = check_page_request(data, request, now=now)
    except InvalidPage as invalid:
        return problem(400, _("Ungültige Anfrage."), errors=invalid.errors)
    try:
        decision = decide(page, now=now, rng=_lottery)
    except UnknownSlots as unknown:
        return problem(
            400,
            _("Unbekannte Slots."),
            _("Diese Slots gibt es nicht: %(keys)s") % {"keys": ", ".join(unknown.keys)},
            errors={"slots": list(unknown.keys)},
        )
    nonces = record_served(
        decision, now=now, refuse=refusal(request.META.get("HTTP_USER_AGENT", ""))
    )
    base = f"{request.scheme}://{request.get_host()}"
    language = page.language
    inquiry_url = base + _inquiry_path(language, get_script_prefix())
    slots = ",".join(
        slot_json(
            decision,
            key,
            language=language,
            inquiry_url=inquiry_url,
            nonce=nonces.get(key),
            base=base,
        )
        for key in decision.slots
    )
    # The slots come encoded from the snapshot (``slot_json``); only the nonces are new.
    body = f'{{"slots":[{slots}]}}'.encode()
    answer = HttpResponse(body, content_type="application/json")
    # CommonMiddleware would set it, but this view is answered above it
    # (``DecisionMiddleware``); without it gunicorn sends the body chunked.
    answer["Content-Length"] = str(len(body))
    return answer


@functools.lru_cache(maxsize=64)
def _inquiry_path(language: str, script_prefix: str) -> str:
    """The inquiry page's path in ``language``: ``reverse`` costs more than the rest of a
    decision's response."""
    with translation.override(language):
        return reverse("portal:inquiry")


def _track(request: HttpRequest, event: str, nonce: str) -> Any:
    meta = request.META  # not request.headers: building that costs more than counting
    return record_event(
        event,
        nonce,
        now=timezone.now(),
        user_agent=meta.get("HTTP_USER_AGENT", ""),
        ip_address=client_address(request),
    )


@csrf_exempt
def track_view(request: HttpRequest, nonce: str) -> HttpResponse:
    """``/t/v/<nonce>``: a viewable impression, sent by ``litfass.js`` (a beacon POST, or a
    GET for an image where beacons are missing). Always 204: the page has nothing to
    learn from whether it counted."""
    if request.method not in ("POST", "GET"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    _track(request, VIEW, nonce)
    return HttpResponse(status=204, headers={"Cache-Control": "no-store"})


def track_click(request: HttpRequest, nonce: str) -> HttpResponse:
    """``/t/c/<nonce>``: count the click once and redirect to the destination stored with
    the nonce. The URL carries no destination, so this can never be an open redirect."""
    outcome = _track(request, CLICK, nonce)
    if not outcome.destination:
        # Unknown or expired: the reader still wants somewhere to go.
        return HttpResponseRedirect(reverse("portal:home"))
    response = HttpResponseRedirect(outcome.destination)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "origin"
    return response
