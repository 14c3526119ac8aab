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
