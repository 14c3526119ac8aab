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


# What an operation open to everyone (``security: [{}]``) never answers: it takes no
# credentials, and it has no objects of one advertiser to hide from another.
NOT_PUBLIC = frozenset({"401", "403", "404"})


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def add_problem_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Document the problem+json errors each operation can answer."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            public = {} in operation.get("security", ())
            for status, description in ERRORS.items():
                if not (public and status in NOT_PUBLIC):
                    operation["responses"].setdefault(status, _problem(description))
    return result


DECISION_SLOT = {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "label": {"type": "string"},
        "width": {"type": "integer"},
        "height": {"type": "integer"},
        "filled": {"type": "boolean"},
        "fallback": {
            "type": "string",
            "nullable": True,
            "enum": ["house", "inquiry", "empty", None],
        },
        "campaign": {"type": "integer", "nullable": True},
        "promotion": {"type": "object", "nullable": True, "additionalProperties": True},
        "click_url": {"type": "string", "nullable": True},
        "view_url": {"type": "string", "nullable": True},
        "html": {"type": "string"},
    },
    "required": ["key", "filled", "html"],
}
DECISIONS = {
    "post": {
        "operationId": "decisions_create",
        "summary": "Alle Slots einer Seite füllen (öffentlich, ohne Schlüssel)",
        "description": (
            "Für Seiten aus einem Cache und für andere Websites: je Slot das HTML, die "
            "Felder, die Bildgrößen und die Adressen für Sichtkontakt und Klick."
        ),
        "tags": ["decisions"],
        "security": [{}],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "slots": {
                                "type": "array",
                                "items": {"type": "string", "maxLength": 50},
                                "minItems": 1,
                                "maxItems": 20,
                            },
                            "article": {"type": "integer", "minimum": 1, "nullable": True},
                            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 50},
                            "section": {"type": "string", "maxLength": 80},
                            "language": {"type": "string", "enum": ["de", "en"]},
                            "device": {"type": "string", "enum": ["desktop", "tablet", "mobile"]},
                            "consent": {
                                "type": "object",
                                "properties": {
                                    "statistics": {"type": "boolean"},
                                    "marketing": {"type": "boolean"},
                                },
                                "additionalProperties": False,
                            },
                            "preview": {"type": "boolean"},
                        },
                        "required": ["slots"],
                        "additionalProperties": False,
                    },
                    "examples": {
                        "Artikelseite": {
                            "value": {
                                "slots": ["sidebar-top", "article-end-1"],
                                "tags": ["ki", "japan"],
                                "section": "politik",
                                "language": "de",
                                "consent": {"statistics": True, "marketing": False},
                            }
                        }
                    },
                }
            },
        },
        # Its own errors: it is no DRF view, so it is not throttled (see ``add_decisions``).
        "responses": {
            "400": _problem(
                "Ungültige Anfrage: kein JSON-Objekt, zu groß, unbekannte Felder oder Slots "
                "(mit `errors` je Feld)."
            ),
            "200": {
                "description": "Je Slot die Entscheidung.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"slots": {"type": "array", "items": DECISION_SLOT}},
                            "required": ["slots"],
                        }
                    }
                },
            },
        },
    }
}


def add_decisions(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """The decision endpoint is a plain Django view (it is on every page view's path);
    describe it here so the schema lists every endpoint. After ``add_problem_responses``:
    it answers only the errors it lists itself."""
    result.setdefault("paths", {})["/api/v1/decisions"] = DECISIONS
    return result
