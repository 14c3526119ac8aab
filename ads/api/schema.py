"""How the OpenAPI schema describes the API key (imported by ``ads.api.urls``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AdvertiserKeyScheme(OpenApiAuthenticationExtension):
    target_class = "ads.api.auth.AdvertiserKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Ein Schlüssel des Werbekunden: "Api-Key <schlüssel>".',
        }


PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": True},
    },
    "required": ["type", "title", "status"],
}
ERRORS = {
    "400": "Ungültige Anfrage (mit `errors` je Feld).",
    "401": "Ohne gültigen API-Schlüssel.",
    "403": "Keine Berechtigung (z. B. Rolle „Berichte lesen“).",
    "404": "Nicht gefunden – auch für Objekte anderer Werbekunden.",
    "429": "Zu viele Anfragen; `Retry-After` sagt, wann wieder.",
}


def add_problem_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Document the problem+json errors every operation can answer."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
    reference = {"$ref": "#/components/schemas/Problem"}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for status, description in ERRORS.items():
                operation["responses"].setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/problem+json": {"schema": reference}},
                    },
                )
    return result
