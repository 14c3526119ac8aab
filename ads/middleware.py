"""The view beacon and the decision endpoint, answered before most of the middleware.

Both are on every page view's path and need no session, language cookie, user, messages
or consent: what they count or decide comes with the request. So they skip the
middleware below them, and each sits where what it does need has run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import get_script_prefix, reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers

from .views import decisions, track_view

PREFIX = "/t/v/"


class ViewBeaconMiddleware:
    """``/t/v/<nonce>``: the nonce carries everything it counts. Sit it right after
    ``SecurityMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(PREFIX) and "/" not in path[len(PREFIX) :]:
            return track_view(request, path[len(PREFIX) :])
        return self.get_response(request)


@functools.cache
def _decisions_path() -> str:
    """The endpoint's path as ``path_info`` has it: without the script prefix (a site
    served below a path) that ``reverse`` puts in front."""
    return "/" + reverse("api:decisions")[len(get_script_prefix()) :]


class DecisionMiddleware:
    """``POST /api/v1/decisions``: the body says which page, language and consent. Sit it
    right after ``CorsMiddleware``, so pages on other sites get their CORS headers (and
    preflights their answer) as before; the security headers come from above too. Its
    error messages speak the language ``LocaleMiddleware`` would have chosen."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == _decisions_path():
            language = translation.get_language_from_request(request)
            if language == translation.get_language():
                response = decisions(request)
            else:
                with translation.override(language):
                    response = decisions(request)
            if response.has_header("Vary"):
                patch_vary_headers(response, ("Accept-Language",))
            else:
                response["Vary"] = "Accept-Language"
            return response
        return self.get_response(request)
