"""The visitor key: who a reader is today, without a cookie and without the IP address.

A keyed hash of IP address and user agent under a random salt that exists for one day
(Europe/Berlin). Yesterday's keys cannot be linked to today's, and nobody can recompute
a key later, not even with the secret key, once the salt has expired. It is only derived
when the reader consented to statistics or marketing.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from .counters import redis_client

SALT_TTL = dt.timedelta(days=2)
_salts: dict[dt.date, bytes] = {}


def daily_salt(day: dt.date) -> bytes:
    salt = _salts.get(day)
    if salt is None:
        key = f"litfass:ads:visitor-salt:{day.isoformat()}"
        candidate = secrets.token_hex(32)
        # Set only when absent, so all processes agree on the first one written; with
        # Redis in the event store, which is never evicted like a cache.
        if settings.REDIS_URL:
            client = redis_client()
            client.set(key, candidate, nx=True, ex=SALT_TTL)
            salt = bytes(client.get(key) or candidate.encode())  # type: ignore[arg-type]
        else:
            cache.add(key, candidate, timeout=int(SALT_TTL.total_seconds()))
            salt = str(cache.get(key)).encode()
        _salts.clear()
        _salts[day] = salt
    return salt


@functools.lru_cache(maxsize=4)
def _keyed(salt: bytes) -> hmac.HMAC:
    """HMAC-SHA256 under ``salt``, prepared once and copied for each key."""
    return hmac.new(salt, digestmod=hashlib.sha256)


def visitor_key(ip_address: str, user_agent: str, *, day: dt.date) -> str:
    """A short keyed hash; the same reader on the same day gets the same key."""
    mac = _keyed(daily_salt(day)).copy()
    mac.update(f"{ip_address}\n{user_agent}".encode())
    return mac.hexdigest()[:32]


def client_address(request: HttpRequest) -> str:
    """The reader's IP address: the peer's, or, behind ``LITFASS_PROXY_COUNT`` reverse
    proxies, the one the outermost of them added to ``X-Forwarded-For``.

    Each proxy appends the address it was connected from, so the last entries are the
    ones our own proxies wrote and the entry before them is the reader's; anything
    further left came with the request and anyone can forge it. A request that has
    fewer entries than proxies did not pass through them all: then the peer counts.
    Behind a proxy the peer is the proxy itself, and every reader would otherwise
    share its address: one visitor key per browser version, one rate limit for all.
    (DRF's throttles read the same entry: ``NUM_PROXIES`` is set alike.)"""
    meta = request.META
    proxies = settings.LITFASS_PROXY_COUNT
    if proxies:
        forwarded = meta.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if len(forwarded) >= proxies:
            address = forwarded[-proxies].strip()
            if address:
                return address
    return str(meta.get("REMOTE_ADDR", ""))


def visitor_key_for(request: HttpRequest, *, consented: bool, day: dt.date) -> str | None:
    """The reader's visitor key, or ``None`` without consent; the IP address is used
    here and nowhere stored."""
    if not consented:
        return None
    return visitor_key(client_address(request), request.META.get("HTTP_USER_AGENT", ""), day=day)


def sender_digest(purpose: str, period: object, ip_address: str, user_agent: str) -> str:
    """A keyed hash of one sender (IP address and user agent) for rate limiting, that
    changes with ``period``: counters can be kept under it, the IP address never is."""
    message = f"litfass-{purpose}:{period}:{ip_address}\n{user_agent}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:24]
