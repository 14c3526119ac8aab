"""Every API error as RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from ..problems import CONTENT_TYPE


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        exc = exceptions.ParseError(_("Die Anfrage ist zu groß."))
    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    body: dict[str, Any] = {"type": "about:blank", "status": response.status_code}
    if isinstance(exc, exceptions.ValidationError):
        body["title"] = _("Ungültige Anfrage.")
        body["errors"] = data if isinstance(data, dict) else {"non_field_errors": data}
    else:
        detail = data.get("detail", "") if isinstance(data, dict) else data
        body["title"] = str(detail) or response.status_text
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            body["detail"] = _("Bitte in %(seconds)d Sekunden wieder versuchen.") % {
                "seconds": int(wait) + 1
            }
    response.data = body
    response.content_type = CONTENT_TYPE
    return response
