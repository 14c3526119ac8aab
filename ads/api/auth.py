"""Who is calling: an advertiser's API key, or a member's session (browsable API)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, permissions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from ..models import Advertiser, AdvertiserAPIKey, Membership

if TYPE_CHECKING:
    # Not at run time: rest_framework.views imports these classes through the settings.
    from rest_framework.views import APIView

KEYWORD = "Api-Key"


class AdvertiserKeyAuthentication(BaseAuthentication):
    """``Authorization: Api-Key <key>``; the key is stored hashed and may expire or be
    revoked. The request then acts for the key's advertiser."""

    def authenticate(self, request: Request) -> tuple[Any, AdvertiserAPIKey] | None:
        header = request.headers.get("Authorization", "")
        keyword, _space, key = header.partition(" ")
        if keyword != KEYWORD:
            return None
        try:
            api_key = cast(AdvertiserAPIKey, AdvertiserAPIKey.objects.get_from_key(key.strip()))
        except AdvertiserAPIKey.DoesNotExist:
            raise exceptions.AuthenticationFailed(
                _("Unbekannter oder widerrufener Schlüssel.")
            ) from None
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed(_("Der Schlüssel ist abgelaufen."))
        # The key acts for its advertiser alone: not for whoever is logged in beside it
        # (and their session is not even looked up).
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


def _membership(request: Request) -> Membership | None:
    """The member's membership the request acts for (the first by advertiser name, for a
    user who is a member of several); looked up once per request."""
    if not hasattr(request, "_litfass_membership"):
        request._litfass_membership = (  # type: ignore[attr-defined]
            Membership.objects.filter(user_id=cast(int, request.user.pk))
            .select_related("advertiser")
            .order_by("advertiser__name")
            .first()
        )
    return cast(Membership | None, request._litfass_membership)  # type: ignore[attr-defined]


def current_advertiser(request: Request) -> Advertiser | None:
    """The advertiser the request acts for: the key's, or the member's."""
    if isinstance(request.auth, AdvertiserAPIKey):
        return request.auth.advertiser
    if request.user.is_authenticated:
        membership = _membership(request)
        return membership.advertiser if membership else None
    return None


def current_role(request: Request) -> str | None:
    if isinstance(request.auth, AdvertiserAPIKey):
        return Membership.Role.MANAGER
    if request.user.is_authenticated:
        membership = _membership(request)
        return membership.role if membership else None
    return None


class IsAdvertiser(permissions.BasePermission):
    """Any member (or key) reads; reporters may not change anything."""

    message = _("Nur für Werbekunden mit API-Schlüssel oder Mitgliedschaft.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        role = current_role(request)
        if role is None:
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return role in (Membership.Role.ADMIN, Membership.Role.MANAGER)


class AdvertiserRateThrottle(SimpleRateThrottle):
    """Requests per key (or member) and minute; more get 429 with Retry-After. Callers
    without either (the inquiry form's API, the schema) count per address at the
    ``anon`` rate."""

    scope = "advertiser"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if not isinstance(request.auth, AdvertiserAPIKey) and not request.user.is_authenticated:
            # One throttle per request (DRF makes them anew), so it may change its rate.
            self.scope = "anon"
            self.rate = self.get_rate()
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if isinstance(request.auth, AdvertiserAPIKey):
            ident = f"key:{request.auth.prefix}"
        elif request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


__all__ = [
    "AdvertiserKeyAuthentication",
    "AdvertiserRateThrottle",
    "IsAdvertiser",
    "SessionAuthentication",
    "current_advertiser",
]
