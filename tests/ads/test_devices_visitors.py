import datetime as dt
import re

import pytest
from django.test import RequestFactory

from ads.devices import device_class
from ads.visitors import visitor_key, visitor_key_for

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"
)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)

IP = "203.0.113.47"
DAY = dt.date(2026, 6, 10)


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (IPHONE, "mobile"),
        (IPAD, "tablet"),
        (ANDROID_TABLET, "tablet"),
        (ANDROID_PHONE, "mobile"),
        (DESKTOP, "desktop"),
        ("", "desktop"),
    ],
    ids=["iphone", "ipad", "android-tablet", "android-phone", "desktop", "empty"],
)
def test_device_class_from_user_agent(user_agent, expected):
    assert device_class(user_agent) == expected


def test_visitor_key_is_stable_within_a_day():
    assert visitor_key(IP, DESKTOP, day=DAY) == visitor_key(IP, DESKTOP, day=DAY)


def test_visitor_key_changes_with_the_day():
    assert visitor_key(IP, DESKTOP, day=DAY) != visitor_key(
        IP, DESKTOP, day=DAY + dt.timedelta(days=1)
    )


def test_visitor_key_differs_by_ip_address():
    assert visitor_key(IP, DESKTOP, day=DAY) != visitor_key("203.0.113.48", DESKTOP, day=DAY)


def test_visitor_key_differs_by_user_agent():
    assert visitor_key(IP, DESKTOP, day=DAY) != visitor_key(IP, IPHONE, day=DAY)


def test_visitor_key_is_32_hex_digits_without_the_ip_address():
    key = visitor_key(IP, DESKTOP, day=DAY)

    assert re.fullmatch(r"[0-9a-f]{32}", key)
    assert IP not in key
    assert IP.replace(".", "") not in key


def test_visitor_key_for_is_none_without_consent():
    request = RequestFactory().get("/", REMOTE_ADDR=IP, headers={"user-agent": DESKTOP})

    assert visitor_key_for(request, consented=False, day=DAY) is None


def test_visitor_key_for_uses_remote_address_and_user_agent_with_consent():
    request = RequestFactory().get("/", REMOTE_ADDR=IP, headers={"user-agent": DESKTOP})

    assert visitor_key_for(request, consented=True, day=DAY) == visitor_key(IP, DESKTOP, day=DAY)
