import json
from datetime import timedelta
from typing import cast

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from ads import counters as keys
from ads.counters import PREFIX, get_counters, redis_client
from ads.decision import berlin_day
from ads.models import Campaign
from ads.views import MAX_SLOTS
from ads.visitors import visitor_key
from promotions.models import Rendition
from tests.factories import CampaignFactory, SlotFactory

pytestmark = pytest.mark.django_db

URL = reverse("api:decisions")
PROBLEM = "application/problem+json"
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
IP = "203.0.113.9"


def ask(client, body, *, user_agent=DESKTOP, **extra):
    """POST ``body`` (JSON-encoded unless it is already bytes or str)."""
    if not isinstance(body, bytes | str):
        body = json.dumps(body)
    return client.post(
        URL,
        body,
        content_type="application/json",
        headers={"user-agent": user_agent},
        REMOTE_ADDR=IP,
        **extra,
    )


def assert_problem(response, status=400):
    assert response.status_code == status
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["title"]
    return body


def running(**fields) -> Campaign:
    now = timezone.now()
    return CampaignFactory.create(
        starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30), **fields
    )


def served(campaign: Campaign) -> list[int]:
    promotion = campaign.campaign_promotions.get().promotion
    return get_counters().read(
        [
            keys.served_today(berlin_day(timezone.now()), campaign.pk),
            keys.served_total(campaign.pk),
            keys.promotion_served(promotion.pk),
        ]
    )


def frequency_keys() -> list[str]:
    """The frequency counters in Redis: a hash per reader and day, a field per campaign."""
    client = redis_client()
    return sorted(
        f"{hash_key.decode()}#{field.decode()}"
        for hash_key in client.scan_iter(f"{PREFIX}:*:freq:*")
        for field in cast(list[bytes], client.hkeys(hash_key))
    )


@pytest.fixture
def slot():
    return SlotFactory.create(key="sidebar-top")


@pytest.fixture
def campaign(slot):
    return running(slots=[slot])


def test_filled_slot_has_promotion_fields_picture_and_html(client, campaign):
    response = ask(client, {"slots": ["sidebar-top"]})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    # Answered above CommonMiddleware, so the view sets it: else the body goes chunked.
    assert response["Content-Length"] == str(len(response.content))
    (filled,) = response.json()["slots"]
    promotion = campaign.campaign_promotions.get().promotion
    assert filled["key"] == "sidebar-top"
    assert (filled["width"], filled["height"]) == (300, 250)
    assert filled["filled"] is True
    assert filled["fallback"] is None
    assert filled["campaign"] == campaign.pk
    assert filled["promotion"]["id"] == promotion.pk
    assert filled["promotion"]["title"] == promotion.title
    assert filled["promotion"]["destination_url"] == promotion.destination_url
    assert promotion.title in filled["html"]
    assert 'class="slot slot--filled"' in filled["html"]


def test_filled_slot_picture_points_at_the_slots_renditions(client, campaign):
    response = ask(client, {"slots": ["sidebar-top"]})

    picture = response.json()["slots"][0]["promotion"]["picture"]
    image = campaign.campaign_promotions.get().promotion.image
    jpeg = Rendition.objects.get(image=image, spec="fill-300x250|format-jpeg")
    webp = Rendition.objects.get(image=image, spec="fill-300x250|format-webp")
    assert picture["src"] == jpeg.url
    assert (picture["width"], picture["height"]) == (300, 250)
    assert picture["srcset"].startswith(f"{jpeg.url} 1x")
    assert picture["sources"] == [{"type": "image/webp", "srcset": picture["sources"][0]["srcset"]}]
    assert picture["sources"][0]["srcset"].startswith(f"{webp.url} 1x")
    assert jpeg.url in response.json()["slots"][0]["html"]


def test_unfilled_slot_answers_with_its_fallback(client, campaign):
    SlotFactory.create(key="footer")

    response = ask(client, {"slots": ["sidebar-top", "footer"]})

    filled, empty = response.json()["slots"]
    assert filled["key"] == "sidebar-top"
    assert empty["key"] == "footer"
    assert empty["filled"] is False
    assert empty["fallback"] == "inquiry"
    assert empty["campaign"] is None
    assert empty["promotion"] is None
    assert 'class="slot slot--inquiry"' in empty["html"]


def test_slots_answer_in_the_order_asked(client, campaign):
    SlotFactory.create(key="footer")

    response = ask(client, {"slots": ["footer", "sidebar-top"]})

    assert [s["key"] for s in response.json()["slots"]] == ["footer", "sidebar-top"]


def test_plain_text_body_is_read_as_json(client, campaign):
    # Browsers send text/plain cross-origin without a preflight request.
    response = client.post(
        URL,
        '{"slots": ["sidebar-top"]}',
        content_type="text/plain",
        headers={"user-agent": DESKTOP},
    )

    assert response.status_code == 200
    assert response.json()["slots"][0]["filled"] is True


def test_served_counters_are_incremented(client, campaign):
    ask(client, {"slots": ["sidebar-top"]})
    ask(client, {"slots": ["sidebar-top"]})

    assert served(campaign) == [2, 2, 2]


def test_previews_are_not_counted(client, campaign):
    response = ask(client, {"slots": ["sidebar-top"], "preview": True})

    assert response.json()["slots"][0]["filled"] is True
    assert "data-preview" in response.json()["slots"][0]["html"]
    assert served(campaign) == [0, 0, 0]


@pytest.mark.parametrize(
    "user_agent",
    ["", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"],
    ids=["no-user-agent", "bot"],
)
def test_requests_without_a_browser_are_not_counted(client, campaign, user_agent):
    response = ask(client, {"slots": ["sidebar-top"]}, user_agent=user_agent)

    assert response.json()["slots"][0]["filled"] is True
    assert served(campaign) == [0, 0, 0]


def test_warm_decision_request_runs_no_sql(client, campaign, django_assert_num_queries):
    ask(client, {"slots": ["sidebar-top"]})

    with django_assert_num_queries(0):
        response = ask(client, {"slots": ["sidebar-top"]})

    assert response.json()["slots"][0]["filled"] is True


@pytest.mark.parametrize(
    ("user_agent", "fields", "filled"),
    [
        (IPHONE, {}, True),
        (DESKTOP, {}, False),
        (DESKTOP, {"device": "mobile"}, True),
        (IPHONE, {"device": "desktop"}, False),
    ],
    ids=["phone-agent", "desktop-agent", "device-given", "device-overrides-agent"],
)
def test_device_comes_from_the_user_agent_unless_given(client, slot, user_agent, fields, filled):
    running(slots=[slot], devices=["mobile"])

    response = ask(client, {"slots": ["sidebar-top"], **fields}, user_agent=user_agent)

    assert response.json()["slots"][0]["filled"] is filled


@pytest.mark.parametrize("consent", [{"statistics": True}, {"marketing": True}])
def test_visitor_is_counted_by_key_with_consent(client, campaign, consent):
    ask(client, {"slots": ["sidebar-top"], "consent": consent})

    day = berlin_day(timezone.now())
    assert frequency_keys() == [keys.frequency(day, visitor_key(IP, DESKTOP, day=day), campaign.pk)]


@pytest.mark.parametrize(
    "fields",
    [{}, {"consent": {}}, {"consent": {"statistics": False, "marketing": False}}],
    ids=["no-consent-field", "empty-consent", "declined"],
)
def test_visitor_key_is_not_derived_without_consent(client, campaign, fields):
    ask(client, {"slots": ["sidebar-top"], **fields})

    assert served(campaign)[1] == 1
    assert frequency_keys() == []


@pytest.mark.parametrize(
    ("fields", "text", "path"),
    [
        ({}, "Werbung auf diesem Portal?", "/werbung/anfrage/"),
        ({"language": "de"}, "Werbung auf diesem Portal?", "/werbung/anfrage/"),
        ({"language": "en"}, "Advertise on this portal?", "/en/werbung/anfrage/"),
    ],
    ids=["default", "de", "en"],
)
def test_inquiry_fallback_follows_the_language(client, slot, fields, text, path):
    response = ask(client, {"slots": ["sidebar-top"], **fields})

    html = response.json()["slots"][0]["html"]
    assert text in html
    assert f'href="http://testserver{path}"' in html


def test_each_language_gets_its_own_fallback_from_one_snapshot(client, slot):
    german = ask(client, {"slots": ["sidebar-top"], "language": "de"})
    english = ask(client, {"slots": ["sidebar-top"], "language": "en"})

    assert "Werbung auf diesem Portal?" in german.json()["slots"][0]["html"]
    assert "Advertise on this portal?" in english.json()["slots"][0]["html"]


@pytest.mark.parametrize(
    "body",
    [b"{slots", b'{"slots": ["sidebar-top"]', b"", b'{"slots": ["\xff"]}'],
    ids=["garbage", "truncated", "empty", "not-utf-8"],
)
def test_invalid_json_is_refused(client, slot, body):
    problem = assert_problem(ask(client, body))

    assert problem["title"] == "Ungültiges JSON."


def test_deeply_nested_json_is_refused(client, slot):
    depth = settings.LITFASS_DECISION_MAX_BYTES // 2
    body = "[" * depth + "]" * depth

    problem = assert_problem(ask(client, body))

    assert problem["title"] == "Ungültiges JSON."


@pytest.mark.parametrize("body", ["[]", '["sidebar-top"]', '"sidebar-top"', "1", "null"])
def test_body_must_be_a_json_object(client, slot, body):
    problem = assert_problem(ask(client, body))

    assert list(problem["errors"]) == [""]


@pytest.mark.parametrize(
    "slots",
    [
        None,
        [],
        ["sidebar-top", "sidebar-top"],
        [f"slot-{n}" for n in range(MAX_SLOTS + 1)],
        "sidebar-top",
        ["sidebar-top", 1],
        [""],
        ["x" * 51],
    ],
    ids=["missing", "empty", "duplicate", "too-many", "not-a-list", "not-strings", "blank", "long"],
)
def test_slots_must_be_a_short_list_of_distinct_keys(client, slot, slots):
    body = {} if slots is None else {"slots": slots}

    problem = assert_problem(ask(client, body))

    assert list(problem["errors"]) == ["slots"]


def test_twenty_slots_are_allowed(client):
    for n in range(MAX_SLOTS):
        SlotFactory.create(key=f"slot-{n}")

    response = ask(client, {"slots": [f"slot-{n}" for n in range(MAX_SLOTS)]})

    assert response.status_code == 200
    assert len(response.json()["slots"]) == MAX_SLOTS


def test_unknown_slots_are_listed(client, slot):
    problem = assert_problem(ask(client, {"slots": ["nope", "sidebar-top", "zilch"]}))

    assert problem["errors"] == {"slots": ["nope", "zilch"]}
    assert "nope, zilch" in problem["detail"]


def test_unknown_fields_are_listed(client, slot):
    problem = assert_problem(ask(client, {"slots": ["sidebar-top"], "foo": 1, "bar": 2}))

    assert list(problem["errors"]) == ["unknown"]
    assert "bar, foo" in problem["errors"]["unknown"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("article", "5"),
        ("article", True),
        ("article", 0),
        ("article", 1.5),
        ("tags", "ki"),
        ("tags", [1]),
        ("tags", [""]),
        ("tags", [f"tag-{n}" for n in range(51)]),
        ("section", 5),
        ("section", "x" * 81),
        ("language", "fr"),
        ("language", None),
        ("language", ["de"]),
        ("language", {"de": True}),
        ("device", "watch"),
        ("device", ["mobile"]),
        ("consent", True),
        ("consent", []),
        ("consent", {"statistics": "yes"}),
        ("consent", {"tracking": True}),
        ("preview", "true"),
        ("preview", 1),
    ],
)
def test_wrong_values_are_refused_by_field(client, slot, field, value):
    problem = assert_problem(ask(client, {"slots": ["sidebar-top"], field: value}))

    assert list(problem["errors"]) == [field]
    assert problem["errors"][field]


def test_every_wrong_field_is_reported_at_once(client, slot):
    problem = assert_problem(
        ask(client, {"slots": [], "article": -1, "language": "fr", "preview": "no"})
    )

    assert set(problem["errors"]) == {"slots", "article", "language", "preview"}


def padded(size: int) -> bytes:
    """A valid decision request of exactly ``size`` bytes."""
    body = b'{"slots": ["sidebar-top"]}'
    return body + b" " * (size - len(body))


def test_body_of_the_maximum_size_is_accepted(client, slot):
    response = ask(client, padded(settings.LITFASS_DECISION_MAX_BYTES))

    assert response.status_code == 200


def test_body_over_the_maximum_size_is_refused(client, slot):
    limit = settings.LITFASS_DECISION_MAX_BYTES

    problem = assert_problem(ask(client, padded(limit + 1)))

    assert problem["title"] == "Anfrage zu groß."
    assert str(limit) in problem["detail"]


def test_body_over_the_maximum_size_is_refused_whatever_content_length_claims(client, slot):
    limit = settings.LITFASS_DECISION_MAX_BYTES

    problem = assert_problem(ask(client, padded(limit * 2), CONTENT_LENGTH=str(limit * 100)))

    assert problem["title"] == "Anfrage zu groß."


def test_body_is_read_only_as_far_as_content_length_says(client, slot):
    body = padded(settings.LITFASS_DECISION_MAX_BYTES * 2)

    problem = assert_problem(ask(client, body, CONTENT_LENGTH="10"))

    assert problem["title"] == "Ungültiges JSON."


def test_body_without_content_length_is_not_read(client, slot):
    problem = assert_problem(ask(client, padded(100), CONTENT_LENGTH=""))

    assert problem["title"] == "Ungültiges JSON."


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_only_post_is_allowed(client, method):
    response = getattr(client, method)(URL)

    problem = assert_problem(response, status=405)
    assert response["Allow"] == "POST"
    assert "POST" in problem["title"]


def test_cors_preflight_from_another_origin_is_allowed_without_credentials(client):
    response = client.options(
        URL,
        headers={
            "origin": "https://andere-zeitung.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "content-type" in response["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response


def test_cross_origin_decision_is_readable_without_credentials(client, campaign):
    response = ask(client, {"slots": ["sidebar-top"]}, HTTP_ORIGIN="https://andere-zeitung.example")

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.parametrize(
    "path", [reverse("admin:login"), reverse("portal:advertise"), f"{URL}/extra"]
)
def test_other_urls_get_no_cors_headers(client, path):
    response = client.options(
        path,
        headers={
            "origin": "https://andere-zeitung.example",
            "access-control-request-method": "POST",
        },
    )

    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Methods" not in response


def test_errors_speak_the_language_the_reader_accepts(client, slot):
    english = ask(client, "{", HTTP_ACCEPT_LANGUAGE="en")
    german = ask(client, "{", HTTP_ACCEPT_LANGUAGE="de")

    assert english.status_code == german.status_code == 400
    assert english.json()["title"] == "Invalid JSON."
    assert german.json()["title"] == "Ungültiges JSON."
    assert "Accept-Language" in english["Vary"]


def test_a_decision_sets_no_cookie_and_keeps_the_security_headers(client, campaign):
    response = ask(client, {"slots": ["sidebar-top"]})

    assert response.status_code == 200
    assert not response.cookies
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/json"


def test_the_decision_middleware_knows_its_path_below_a_script_prefix():
    from django.urls import get_script_prefix, set_script_prefix

    from ads.middleware import _decisions_path

    before = get_script_prefix()
    _decisions_path.cache_clear()
    set_script_prefix("/magazin/")
    try:
        # what the request's path_info is for https://example.org/magazin/api/v1/decisions
        assert _decisions_path() == "/api/v1/decisions"
    finally:
        set_script_prefix(before)
        _decisions_path.cache_clear()
