"""The baseline every benchmark is compared against: Django's cheapest useful response."""

from django.http import HttpRequest, JsonResponse


def baseline_view(request: HttpRequest) -> JsonResponse:
    """No database, no template, no session: what remains is gunicorn, WSGI and middleware."""
    return JsonResponse({"ok": True})
