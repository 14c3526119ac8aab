"""The view beacon, answered before the rest of the middleware stack."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .views import track_view

PREFIX = "/t/v/"


class ViewBeaconMiddleware:
    """``/t/v/<nonce>`` needs no session, language, user, messages or consent: the nonce
    carries everything it counts. Every page view sends a few of these, so they skip the
    middleware below this one (sit it right after ``SecurityMiddleware``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(PREFIX) and "/" not in path[len(PREFIX) :]:
            return track_view(request, path[len(PREFIX) :])
        return self.get_response(request)
