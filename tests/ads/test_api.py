import re
from datetime import timedelta

import pytest
import yaml
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ads.models import AdvertiserAPIKey, Campaign, Membership
from promotions.models import Promotion
from tests.factories import (
    AdvertiserFactory,
    CampaignFactory,
    MembershipFactory,
    SlotFactory,
    UserFactory,
)
from tests.images import image_bytes, upload

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def api_client(advertiser) -> Client:
    _key, secret = AdvertiserAPIKey.objects.create_key(name="Test", advertiser=advertiser)
    return Client(headers={"Authorization": f"Api-Key {secret}"})


@pytest.fixture
def advertiser():
    return AdvertiserFactory.create(name="Nordlicht Cloud GmbH")


@pytest.fixture
def api(advertiser):
    return api_client(advertiser)


@pytest.fixture
def slot():
    return SlotFactory.create(key="sidebar-top")


DRAFT = {
    "name": "Herbstaktion",
    "starts_at": "2026-10-01T00:00:00+02:00",
    "ends_at": "2026-11-01T00:00:00+01:00",
    "goal_impressions": 100000,
    "pacing": "even",
    "slots": ["sidebar-top"],
    "include_tags": ["ki"],
    "languages": ["de"],
    "weekdays": [0, 1, 2, 3, 4],
}


def test_without_key_is_401_problem(client):
    response = client.get("/api/v1/campaigns")

    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"] == "Api-Key"
    assert response.json()["status"] == 401


@pytest.mark.parametrize("change", ["revoked", "expired", "wrong"])
def test_revoked_expired_or_wrong_keys_are_refused(advertiser, change):
    key, secret = AdvertiserAPIKey.objects.create_key(name="Alt", advertiser=advertiser)
    if change == "revoked":
        key.revoked = True
    if change == "expired":
        key.expiry_date = timezone.now() - timedelta(minutes=1)
    key.save()
    if change == "wrong":
        secret = secret[:-2] + "xx"

    response = Client(headers={"Authorization": f"Api-Key {secret}"}).get("/api/v1/campaigns")

    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM


def test_a_key_acts_for_its_advertiser_not_for_a_login_beside_it(advertiser, rf):
    from rest_framework.request import Request

    from ads.api.auth import AdvertiserKeyAuthentication

    _key, secret = AdvertiserAPIKey.objects.create_key(name="Test", advertiser=advertiser)
    request = rf.get("/api/v1/campaigns", HTTP_AUTHORIZATION=f"Api-Key {secret}")
    request.user = UserFactory.create(is_staff=True)

    found = AdvertiserKeyAuthentication().authenticate(Request(request))

    assert found is not None
    user, key = found
    assert not user.is_authenticated
    assert key.advertiser == advertiser


def test_keys_are_stored_hashed(advertiser):
    key, secret = AdvertiserAPIKey.objects.create_key(name="Test", advertiser=advertiser)

    stored = AdvertiserAPIKey.objects.get(pk=key.pk)
    assert secret not in (stored.hashed_key, stored.id)
    assert secret.split(".")[1] not in stored.hashed_key


def test_create_campaign_as_draft(api, advertiser, slot):
    response = api.post("/api/v1/campaigns", DRAFT, content_type="application/json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["kind"], body["slots"]) == ("draft", "standard", ["sidebar-top"])
    assert body["starts_at"] == "2026-10-01T00:00:00+02:00"  # ISO 8601, Berlin time
    campaign = Campaign.objects.get(pk=body["id"])
    assert campaign.advertiser == advertiser
    assert campaign.weekdays == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ends_at": "2026-09-01T00:00:00Z"}, "ends_at"),
        ({"ends_at": None}, "ends_at"),
        ({"slots": ["nope"]}, "slots"),
        ({"weekdays": [7]}, "weekdays"),
        ({"devices": ["tv"]}, "devices"),
        ({"include_tags": ["<b>"]}, "include_tags"),
        ({"pacing": "even", "goal_impressions": None}, "pacing"),
        ({"status": "live", "name": ""}, "name"),
    ],
)
def test_invalid_campaign_is_400_problem_and_stores_nothing(api, slot, change, field):
    response = api.post("/api/v1/campaigns", {**DRAFT, **change}, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert field in response.json()["errors"]
    assert not Campaign.objects.exists()


def test_status_cannot_be_set_through_the_api(api, slot):
    response = api.post(
        "/api/v1/campaigns", {**DRAFT, "status": "live", "kind": "sponsorship"},
        content_type="application/json",
    )  # fmt: skip

    assert (response.json()["status"], response.json()["kind"]) == ("draft", "standard")


def test_update_a_draft_and_only_the_name_after_launch(api, advertiser, slot):
    draft = CampaignFactory.create(advertiser=advertiser, status=Campaign.Status.DRAFT)
    live = CampaignFactory.create(advertiser=advertiser)

    changed = api.patch(
        f"/api/v1/campaigns/{draft.pk}", {"daily_cap": 500}, content_type="application/json"
    )
    renamed = api.patch(
        f"/api/v1/campaigns/{live.pk}", {"name": "Neu"}, content_type="application/json"
    )
    refused = api.patch(
        f"/api/v1/campaigns/{live.pk}", {"daily_cap": 5}, content_type="application/json"
    )

    assert changed.json()["daily_cap"] == 500
    assert renamed.json()["name"] == "Neu"
    assert refused.status_code == 400
    assert "daily_cap" in refused.json()["errors"]


def test_pause_and_resume(api, advertiser):
    campaign = CampaignFactory.create(advertiser=advertiser)

    paused = api.post(f"/api/v1/campaigns/{campaign.pk}/pause")
    again = api.post(f"/api/v1/campaigns/{campaign.pk}/pause")
    resumed = api.post(f"/api/v1/campaigns/{campaign.pk}/resume")

    assert paused.json()["status"] == "paused"
    assert again.status_code == 400
    assert again["Content-Type"] == PROBLEM
    assert resumed.json()["status"] == "live"


def test_list_filters_and_paginates(api, advertiser):
    CampaignFactory.create(advertiser=advertiser, status=Campaign.Status.PAUSED)
    CampaignFactory.create(advertiser=advertiser)
    CampaignFactory.create()  # another advertiser's

    everything = api.get("/api/v1/campaigns").json()
    paused = api.get("/api/v1/campaigns", {"status": "paused"}).json()

    assert everything["count"] == 2
    assert [c["status"] for c in paused["results"]] == ["paused"]


def test_submit_promotion_with_image_waits_for_review(api, advertiser):
    campaign = CampaignFactory.create(advertiser=advertiser, promotions=0)

    response = api.post(
        "/api/v1/promotions",
        {
            "campaign": campaign.pk,
            "title": "KI ist Chefsache!",
            "alt_text": "Buchcover",
            "destination_url": "https://verlag.example/buch",
            "upload": upload(image_bytes(600, 848), "cover.jpg"),
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["review_status"] == "pending"
    assert body["image"]["width"] == 600
    promotion = Promotion.objects.get(pk=body["id"])
    assert promotion.campaign_link.campaign == campaign


def test_not_an_image_is_refused(api, advertiser):
    campaign = CampaignFactory.create(advertiser=advertiser, promotions=0)

    response = api.post(
        "/api/v1/promotions",
        {
            "campaign": campaign.pk,
            "title": "Kaputt",
            "alt_text": "x",
            "destination_url": "https://verlag.example/",
            "upload": upload(b"<svg onload=alert(1)>", "cover.jpg"),
        },
    )

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert "upload" in response.json()["errors"]
    assert not Promotion.objects.exists()


def test_promotion_for_another_advertisers_campaign_is_refused(api):
    foreign = CampaignFactory.create(promotions=0)

    response = api.post(
        "/api/v1/promotions",
        {"campaign": foreign.pk, "title": "x", "destination_url": "https://a.example/"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "campaign" in response.json()["errors"]


def test_images_of_own_promotions_only(api, advertiser):
    own = CampaignFactory.create(advertiser=advertiser)
    CampaignFactory.create()

    images = api.get("/api/v1/images").json()["results"]

    assert [i["id"] for i in images] == [own.campaign_promotions.get().promotion.image_id]


def test_reporters_read_but_do_not_write(client, advertiser, slot):
    reporter = UserFactory.create()
    MembershipFactory.create(advertiser=advertiser, user=reporter, role=Membership.Role.REPORTER)
    client.force_login(reporter)

    assert client.get("/api/v1/campaigns").status_code == 200
    refused = client.post("/api/v1/campaigns", DRAFT, content_type="application/json")
    assert refused.status_code == 403
    assert refused["Content-Type"] == PROBLEM


def test_users_without_membership_are_refused(client):
    client.force_login(UserFactory.create())

    assert client.get("/api/v1/campaigns").status_code == 403


def test_throttled_per_key_with_retry_after(api, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    rates = {**SimpleRateThrottle.THROTTLE_RATES, "advertiser": "3/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    codes = [api.get("/api/v1/campaigns").status_code for _ in range(4)]
    limited = api.get("/api/v1/campaigns")

    assert codes == [200, 200, 200, 429]
    assert limited["Content-Type"] == PROBLEM
    assert int(limited["Retry-After"]) > 0


def test_callers_without_key_or_login_get_the_anonymous_rate(client, api, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    rates = {**SimpleRateThrottle.THROTTLE_RATES, "advertiser": "5/min", "anon": "2/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    anonymous = [
        client.get("/api/v1/schema/", REMOTE_ADDR="192.0.2.77").status_code for _ in range(3)
    ]
    with_key = [api.get("/api/v1/campaigns").status_code for _ in range(3)]

    assert anonymous == [200, 200, 429]
    assert with_key == [200, 200, 200]


def test_oversized_body_is_a_400_problem(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = api.post(
        "/api/v1/campaigns", {**DRAFT, "name": "x" * 2000}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM


def _schema(client) -> dict:
    return yaml.safe_load(client.get("/api/v1/schema/").content)


def test_every_object_of_another_advertiser_is_404_on_every_method(client, advertiser):
    theirs = CampaignFactory.create(advertiser=advertiser)
    ids = {
        "campaigns": theirs.pk,
        "promotions": theirs.campaign_promotions.get().promotion_id,
        "images": theirs.campaign_promotions.get().promotion.image_id,
    }
    intruder = api_client(AdvertiserFactory.create(name="Konkurrenz AG"))
    checked = []
    for path, operations in _schema(client)["paths"].items():
        if "{id}" not in path:
            continue
        collection = path.split("/")[3]
        url = path.replace("{id}", str(ids[collection]))
        for method in operations:
            if method not in ("get", "put", "patch", "delete", "post"):
                continue
            response = getattr(intruder, method)(url, {}, content_type="application/json")
            assert response.status_code == 404, (method, url, response.status_code)
            checked.append((method, path))

    assert len(checked) >= 6
    assert Campaign.objects.get(pk=theirs.pk).status == Campaign.Status.LIVE


def test_schema_documents_every_operation_with_the_api_key(client):
    schema = _schema(client)

    assert schema["components"]["securitySchemes"]["ApiKey"]["in"] == "header"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), (method, path)


def test_schema_lists_the_errors_each_operation_can_answer(client):
    paths = _schema(client)["paths"]

    campaigns = paths["/api/v1/campaigns/{id}"]["get"]["responses"]
    assert {"400", "401", "403", "404", "429"} <= set(campaigns)
    # Open to everyone: no credentials to refuse, nothing of another advertiser to hide.
    inquiries = paths["/api/v1/inquiries"]["post"]["responses"]
    assert set(inquiries) == {"201", "400", "429"}
    # A plain Django view, not throttled.
    decisions = paths["/api/v1/decisions"]["post"]["responses"]
    assert set(decisions) == {"200", "400"}
    problem = decisions["400"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}


@pytest.mark.parametrize("page", ["docs", "redoc"])
def test_api_docs_are_served_without_a_cdn(client, page):
    html = client.get(reverse(f"api:{page}")).content.decode()

    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    assert not [url for url in assets if url.startswith(("http:", "https:", "//"))]
    for url in assets:
        if url.startswith("/static/"):
            assert client.get(url).status_code == 200, url


def _rollup(campaign, hour, served, clicks):
    from ads.models import HourlyRollup

    link = campaign.campaign_promotions.get()
    HourlyRollup.objects.create(
        hour=hour,
        campaign=campaign,
        promotion=link.promotion,
        slot=campaign.slots.get(),
        served=served,
        views=served // 2,
        clicks=clicks,
    )


REPORT = {"start": "2026-10-01T00:00:00+02:00", "end": "2026-10-04T00:00:00+02:00"}


@pytest.fixture
def reported(advertiser, slot):
    from datetime import UTC, datetime

    campaign = CampaignFactory.create(advertiser=advertiser, name="Herbst", slots=[slot])
    _rollup(campaign, datetime(2026, 10, 1, 10, tzinfo=UTC), 1000, 10)
    _rollup(campaign, datetime(2026, 10, 3, 10, tzinfo=UTC), 500, 5)
    return campaign


def test_report_zero_filled_days_with_totals_and_click_rate(api, reported):
    body = api.get("/api/v1/reports", {**REPORT, "granularity": "day"}).json()

    (series,) = body["series"]
    assert [b["served"] for b in series["buckets"]] == [1000, 0, 500]
    assert series["buckets"][0]["start"] == "2026-10-01T00:00:00+02:00"
    assert series["totals"]["clicks"] == 15
    assert series["totals"]["click_rate"] == pytest.approx(0.01)
    assert body["time_zone"] == "Europe/Berlin"


@pytest.mark.parametrize("how", ["accept", "format"])
def test_report_as_csv_for_german_excel(api, reported, how):
    query = {**REPORT, "delimiter": "semicolon", "bom": "true"}
    if how == "format":
        response = api.get("/api/v1/reports", {**query, "format": "csv"})
    else:
        response = api.get("/api/v1/reports", query, headers={"Accept": "text/csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    assert ";" in text.splitlines()[0]
    assert "Herbst" in text
    assert "attachment" in response["Content-Disposition"]


def test_report_on_another_advertisers_campaign_is_404(reported):
    intruder = api_client(AdvertiserFactory.create(name="Konkurrenz AG"))

    response = intruder.get("/api/v1/reports", {**REPORT, "campaign": reported.pk})

    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM


def test_report_without_campaign_covers_only_own_campaigns(reported):
    intruder = api_client(AdvertiserFactory.create(name="Konkurrenz AG"))

    body = intruder.get("/api/v1/reports", REPORT).json()

    assert body["overall"]["totals"]["served"] == 0


@pytest.mark.parametrize(
    "change",
    [
        {"end": "2026-09-01T00:00:00+02:00"},
        {"granularity": "week"},
        {"group_by": "advertiser"},
        {"tz": "Mars/Olympus"},
        {"start": "gestern"},
    ],
)
def test_report_with_bad_params_is_400_problem(api, reported, change):
    response = api.get("/api/v1/reports", {**REPORT, **change})

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
