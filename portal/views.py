import random

from django.contrib.flatpages.views import flatpage
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from taggit.models import Tag

from ads.decision import PageContext, berlin_day, decide
from ads.devices import device_class
from ads.forms import InquiryForm
from ads.inquiries import InquiryRefused, Sender, do_submit_inquiry
from ads.models import Inquiry
from ads.problems import problem
from ads.tracking import record_served, refusal
from ads.visitors import client_address, visitor_key_for

from . import consent
from .forms import ConsentForm
from .models import Article

ARTICLES_PER_PAGE = 10
# The thank-you page shows the prospect what we received, for an hour, from a signed id in
# its address: no cookie needed.
THANKS_SALT = "litfass.portal.inquiry-thanks"
THANKS_MAX_AGE = 60 * 60
ARTICLE_SLOTS = ("sidebar-top", "article-end-1", "article-end-2")
_lottery = random.Random()  # noqa: S311  (a lottery among campaigns, not a secret)


def home(request: HttpRequest) -> HttpResponse:
    articles = Article.objects.published(timezone.now()).with_relations()
    page = Paginator(articles, ARTICLES_PER_PAGE).get_page(request.GET.get("seite"))
    return render(request, "portal/home.html", {"page": page})


def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    article = get_object_or_404(Article.objects.with_relations(), slug=slug)
    now = timezone.now()
    is_preview = not article.is_visible(now)
    # Drafts and scheduled articles are visible to editors only, as a preview.
    if is_preview and not request.user.is_staff:
        return render(request, "404.html", status=404)
    page_user_agent = request.headers.get("User-Agent", "")
    chosen: consent.Consent = request.consent  # type: ignore[attr-defined]
    consented = chosen.statistics or chosen.marketing
    page = PageContext(
        slot_keys=ARTICLE_SLOTS,
        article_id=article.pk,
        tags=frozenset(tag.slug for tag in article.tags.all()),
        section=article.section.slug if article.section else "",
        language=get_language(),
        device=device_class(page_user_agent),
        consent=consented,
        visitor_key=visitor_key_for(request, consented=consented, day=berlin_day(now)),
        preview=is_preview,
    )
    decision = decide(page, now=now, rng=_lottery, skip_unknown=True)
    # Editors looking at the site are not an audience: what they see is never billed.
    refuse = "staff" if request.user.is_staff else refusal(page_user_agent)
    nonces = record_served(decision, now=now, refuse=refuse)
    return render(
        request,
        "portal/article_detail.html",
        {"article": article, "is_preview": is_preview, "decision": decision, "nonces": nonces},
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: problem+json for the API, the portal's page for readers."""
    if request.path.startswith("/api/"):
        return problem(404, _("Nicht gefunden."))
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500: problem+json for the API, the portal's static page for readers."""
    if request.path.startswith("/api/"):
        return problem(500, _("Interner Fehler."))
    return defaults.server_error(request)


def tag_detail(request: HttpRequest, slug: str) -> HttpResponse:
    tag = get_object_or_404(Tag, slug=slug)
    articles = Article.objects.published(timezone.now()).filter(tags=tag).with_relations()
    page = Paginator(articles, ARTICLES_PER_PAGE).get_page(request.GET.get("seite"))
    return render(request, "portal/tag_detail.html", {"tag": tag, "page": page})


def page(request: HttpRequest, url: str) -> HttpResponse:
    """An editor-maintained page (imprint, privacy, advertising), kept as a flat page."""
    return flatpage(request, url)


@require_http_methods(["GET", "POST"])
def inquiry(request: HttpRequest) -> HttpResponse:
    """The inquiry form ("Werbung auf diesem Portal?"). Refused spam gets a polite
    message and the form again, never the reason."""
    now = timezone.now()
    if request.method == "GET":
        return render(request, "portal/inquiry_form.html", {"form": InquiryForm(now=now)})
    form = InquiryForm(request.POST, now=now)
    if form.is_valid():
        sender = Sender(
            ip_address=client_address(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
        try:
            stored = do_submit_inquiry(
                form.save(commit=False),
                slots=form.cleaned_data["desired_slots"],
                sender=sender,
                guard=form.guard,
                now=now,
            )
        except InquiryRefused:
            context = {"form": form.restamped(now=now), "refused": True}
            return render(request, "portal/inquiry_form.html", context, status=400)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            token = signing.dumps(stored.pk, salt=THANKS_SALT)
            response = redirect(f"{reverse('portal:inquiry-thanks')}?{urlencode({'t': token})}")
            response.status_code = 303
            return response
    return render(request, "portal/inquiry_form.html", {"form": form}, status=400)


def inquiry_thanks(request: HttpRequest) -> HttpResponse:
    try:
        pk = signing.loads(request.GET.get("t", ""), salt=THANKS_SALT, max_age=THANKS_MAX_AGE)
    except signing.BadSignature:
        pk = None
    received = Inquiry.objects.filter(pk=pk).first() if isinstance(pk, int) else None
    return render(request, "portal/inquiry_thanks.html", {"inquiry": received})


@csrf_exempt  # checked by origin instead: no CSRF cookie before the reader chose
@require_http_methods(["GET", "POST"])
def consent_settings(request: HttpRequest) -> HttpResponse:
    """The second consent layer; also where the banner's form posts to.

    Without JavaScript the form posts here and the reader is sent back to the page they
    came from; ``litfass-consent.js`` posts with ``Accept: application/json`` instead and
    gets JSON, so the page does not reload.
    """
    wants_json = "application/json" in request.headers.get("Accept", "")
    if request.method == "GET":
        current: consent.Consent = request.consent  # type: ignore[attr-defined]
        form = ConsentForm(
            initial={
                "choice": ConsentForm.SELECTION,
                "statistics": current.statistics,
                "marketing": current.marketing,
                "next": _safe_next(request, request.GET.get("next")),
            }
        )
        return render(request, "portal/consent_settings.html", {"form": form})

    if not consent.is_same_origin(request):
        return HttpResponseForbidden(
            _("Die Einwilligung kann nur auf dieser Website gegeben werden.")
        )
    form = ConsentForm(request.POST)
    if not form.is_valid():
        if wants_json:
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        return render(request, "portal/consent_settings.html", {"form": form}, status=400)

    chosen = form.to_consent()
    response: HttpResponse
    if wants_json:
        response = JsonResponse(
            {
                "revision": chosen.revision,
                "statistics": chosen.statistics,
                "marketing": chosen.marketing,
            }
        )
    else:
        response = redirect(_safe_next(request, form.cleaned_data["next"]), permanent=False)
        response.status_code = 303
    consent.store(response, chosen)
    return response


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("portal:home")
