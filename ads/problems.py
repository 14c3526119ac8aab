"""RFC 9457 problem details: the one shape of every API error."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

CONTENT_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str = "", **extra: Any) -> JsonResponse:
    """A problem+json response; ``type`` stays ``about:blank`` (the status says it all)."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JsonResponse(body, status=status, content_type=CONTENT_TYPE)
