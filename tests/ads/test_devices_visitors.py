import datetime as dt
import re

import pytest
from django.test import RequestFactory

from ads.devices import device_class
from ads.visitors import client_address, visitor_key, visitor_key_for

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


def test_visitor_key_is_hmac_sha256_of_address_and_agent_under_the_days_salt():
    """A reader's counts of the day are kept under this key: across a deploy during the
    day it must stay what it is."""
    import hashlib
    import hmac

    from ads.visitors import daily_salt

    for day in (DAY, DAY + dt.timedelta(days=1)):
        mac = hmac.new(daily_salt(day), f"{IP}\n{DESKTOP}".encode(), hashlib.sha256)
        assert visitor_key(IP, DESKTOP, day=day) == mac.hexdigest()[:32]


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


PROXY = "127.0.0.1"


def forwarded(chain, peer=PROXY):
    headers = {"user-agent": DESKTOP}
    if chain is not None:
        headers["x-forwarded-for"] = chain
    return RequestFactory().get("/", REMOTE_ADDR=peer, headers=headers)


@pytest.mark.parametrize(
    ("proxies", "chain", "expected"),
    [
        (0, None, PROXY),
        # Without proxies of our own, anyone can send the header: it is ignored.
        (0, "198.51.100.7", PROXY),
        (1, "198.51.100.7", "198.51.100.7"),
        # Entries left of the ones our proxies wrote came with the request: forged.
        (1, "192.0.2.66, 198.51.100.7", "198.51.100.7"),
        (2, "192.0.2.66, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
        (1, " 2001:db8::7 ", "2001:db8::7"),
        # Fewer entries than proxies: the request did not come through them all.
        (2, "198.51.100.7", PROXY),
        (1, None, PROXY),
        (1, "", PROXY),
    ],
)
def test_client_address_is_the_entry_the_outermost_proxy_wrote(settings, proxies, chain, expected):
    settings.LITFASS_PROXY_COUNT = proxies

    assert client_address(forwarded(chain)) == expected


def test_readers_behind_the_proxy_get_keys_of_their_own(settings):
    settings.LITFASS_PROXY_COUNT = 1
    one, other = forwarded("198.51.100.7"), forwarded("198.51.100.8")
    forged = forwarded("192.0.2.66, 198.51.100.7")

    key = visitor_key_for(one, consented=True, day=DAY)

    assert key == visitor_key("198.51.100.7", DESKTOP, day=DAY)
    assert visitor_key_for(other, consented=True, day=DAY) != key
    assert visitor_key_for(forged, consented=True, day=DAY) == key
