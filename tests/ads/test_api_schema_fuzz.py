"""schemathesis against the live OpenAPI schema: no 5xx, responses as documented."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.throttling import SimpleRateThrottle
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ads.models import AdvertiserAPIKey
from tests.factories import CampaignFactory, SlotFactory

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


@pytest.fixture
def keep_connection():
    """The WSGI handler closes the database connection after each request; inside a
    test transaction that would end the test (Django's test client does the same)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def generous_throttle():
    """Hypothesis sends far more than a client would; the throttle has its own test."""
    rates = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = {**rates, "advertiser": "100000/min"}
    yield
    SimpleRateThrottle.THROTTLE_RATES = rates


@pytest.fixture
def api_key(db, keep_connection, generous_throttle):
    campaign = CampaignFactory.create(slots=[SlotFactory.create(key="sidebar-top")])
    _key, secret = AdvertiserAPIKey.objects.create_key(name="Fuzz", advertiser=campaign.advertiser)
    return secret


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_keeps_its_schema(case, api_key):
    case.call_and_validate(
        headers={"Authorization": f"Api-Key {api_key}"},
        checks=[content_type_conformance, response_schema_conformance, status_code_conformance],
    )
