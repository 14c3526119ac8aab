"""Counting what readers were shown, saw and clicked: nonces, events, filtering.

Each filled slot gets a nonce that carries the facts needed to count it (campaign,
promotion, slot, destination, served time, visitor key when consented) and lives two
hours; in Redis the nonces of one page view share one record (``nonce_record``). Served
events are recorded with the decision; a view and a click count once per nonce, decided
by an atomic check-and-set in Redis (``HSETNX`` inside one Lua script), never by a read
followed by a write. Every refused event is recorded too, with its reason, so reports
show invalid traffic instead of hiding it.

With Redis, events are appended to one stream in the same round trip; Celery beat
flushes the stream into the rollups (``ads.rollups``). Without Redis (the embedded
default) the same functions write nonces and rollups to the database directly.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import counters as keys
from . import wire
from .counters import DAY_TTL, DatabaseCounters, redis_client
from .decision import Decision, berlin_day
from .devices import is_bot
from .models import FilterReason, Nonce
from .visitors import sender_digest

NONCE_TTL = dt.timedelta(hours=2)
STREAM = f"{keys.PREFIX}:events"
# A page has a handful of slots, each one view and maybe one click: a visitor (IP and
# user agent) sending more than this per minute is a script.
RATE_WINDOW_SECONDS = 60

SERVED, VIEW, CLICK = "served", "view", "click"
PLACEHOLDER = "__litfass_nonce__"


@dataclass(frozen=True, slots=True)
class Event:
    """One served, view or click event; ``reason`` is empty when it counts."""

    event: str
    campaign: int
    promotion: int
    slot: int
    at: int
    visitor: str = ""
    reason: str = ""

    def encode(self) -> str:
        return (
            f"{self.event}|{self.campaign}|{self.promotion}|{self.slot}|{self.at}|"
            f"{self.visitor}|{self.reason}"
        )

    @classmethod
    def decode(cls, raw: bytes | str) -> Event:
        text = raw.decode() if isinstance(raw, bytes) else raw
        event, campaign, promotion, slot, at, visitor, reason = text.split("|")
        return cls(event, int(campaign), int(promotion), int(slot), int(at), visitor, reason)

    @classmethod
    def decode_entry(cls, raw: bytes | str) -> list[Event]:
        """The events of one stream entry: a page view's served events share one, a
        line each (``ENTRY_SEPARATOR``); views and clicks have one of their own."""
        text = raw.decode() if isinstance(raw, bytes) else raw
        return [cls.decode(line) for line in text.split(ENTRY_SEPARATOR)]


# Between the events of one stream entry.
ENTRY_SEPARATOR = "\n"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to a view or click: counted (``reason == ""``) or refused."""

    reason: str
    destination: str

    @property
    def counted(self) -> bool:
        return not self.reason


@functools.cache
def _signer(secret: str) -> hmac.HMAC:
    """HMAC-SHA256 under ``secret`` over the nonce prefix: copied for each nonce, so the
    key is prepared once per process instead of once per nonce."""
    return hmac.new(secret.encode(), b"litfass-nonce:", hashlib.sha256)


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _urlsafe(data: bytes) -> bytes:
    """``base64.urlsafe_b64encode`` without its Python wrappers."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE)


def _signature(token: bytes) -> bytes:
    mac = _signer(settings.SECRET_KEY).copy()
    mac.update(token)
    return _urlsafe(mac.digest()[:9])


def new_nonce() -> str:
    """128 random bits, a slot's place and a signature, so forged nonces are refused
    without a lookup: the one nonce of a page view with one filled slot."""
    return new_nonces(1)[0]


class _Randomness:
    """The operating system's randomness, read in chunks: a read is a system call, and
    on a virtual machine each costs more than making the nonces. Every process reads
    its own (a forked child drops what its parent had read)."""

    CHUNK = 4096

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.chunk = b""
        self.used = 0

    def take(self, count: int) -> bytes:
        with self.lock:
            if self.used + count > len(self.chunk):
                self.chunk = secrets.token_bytes(max(self.CHUNK, count))
                self.used = 0
            start = self.used
            self.used += count
            return self.chunk[start : self.used]


_randomness = _Randomness()


def _fresh_randomness() -> None:
    global _randomness
    _randomness = _Randomness()


os.register_at_fork(after_in_child=_fresh_randomness)


# A page view's nonces: the page's 128 random bits (22 characters), then the filled
# slot's place among them (one of these characters), then the signature of the page's
# bits. The place is not signed: a page's nonces all go to the one reader who holds
# the page; a place that is none of these is refused without a lookup, one the page did
# not fill where it is looked up. (The page's own fields in its record are upper case,
# so no place can name them.)
PAGE_TOKEN_LENGTH = 22
_PLACES = b"0123456789abcdefghijklmnopqrstuvwxyz"


def new_nonces(count: int) -> list[str]:
    """The nonces of one page view's ``count`` filled slots: 16 bytes of randomness
    never used before for the page, signed once, and each slot's place."""
    if not 0 < count <= len(_PLACES):
        raise ValueError(f"1 to {len(_PLACES)} nonces per page view, not {count}")
    page = _urlsafe(_randomness.take(16))[:-2]  # no "==" padding
    signature = b"." + _signature(page)
    return [(page + bytes((place,)) + signature).decode() for place in _PLACES[:count]]


def check_nonce(nonce: str) -> bool:
    """Whether ``nonce`` is well signed: a page's (its token the page's bits and a
    place), or one made before pages shared a signature (its token signed whole)."""
    token, _dot, signature = nonce.encode().partition(b".")
    if len(token) == PAGE_TOKEN_LENGTH + 1:
        if token[PAGE_TOKEN_LENGTH:] not in _PLACES:
            return False
        token = token[:PAGE_TOKEN_LENGTH]
    return bool(token) and len(nonce) <= 64 and hmac.compare_digest(signature, _signature(token))


def nonce_key(nonce: str) -> str:
    """The Redis hash that holds ``nonce`` (``nonce_record``)."""
    return nonce_record(nonce)[0]


def nonce_record(nonce: str) -> tuple[str, str]:
    """The Redis hash that holds ``nonce`` and its field in it. A page view's nonces
    share a record: its token, and the field of each slot's place. A nonce issued
    before pages shared one (its token is the page's alone) has a record of its own
    and no field: it is counted as before until it expires."""
    token = nonce.partition(".")[0]
    if len(token) == PAGE_TOKEN_LENGTH + 1:
        return f"{keys.PREFIX}:nonce:{token[:-1]}", token[-1]
    return f"{keys.PREFIX}:nonce:{nonce}", ""


def rate_key(ip_address: str, user_agent: str, *, now: dt.datetime) -> str:
    """A per-minute key for rate limiting: a keyed hash, never the IP address itself."""
    digest = sender_digest("rate", berlin_day(now), ip_address, user_agent)
    return f"{keys.PREFIX}:rate:{digest}:{int(now.timestamp()) // RATE_WINDOW_SECONDS}"


def refusal(user_agent: str) -> str:
    """The reason to refuse every event from this user agent, or ``""``."""
    if not user_agent.strip():
        return FilterReason.NO_USER_AGENT
    if is_bot(user_agent):
        return FilterReason.BOT
    return ""


class Served(NamedTuple):
    """One filled slot of a page view, as recorded. (A named tuple: a frozen dataclass
    takes several times as long to make, and a page makes one per slot.)"""

    nonce: str
    campaign: int
    promotion: int
    slot: int
    destination: str


def served_increments(items: list[Served], *, visitor: str, day: dt.date) -> dict[str, int]:
    """The live counters a page view adds to: served per campaign today and in all,
    per promotion, and (with consent) per reader today. The served script does the same
    in Redis."""
    increments: dict[str, int] = {}
    for item in items:
        names = [
            keys.served_today(day, item.campaign),
            keys.served_total(item.campaign),
            keys.promotion_served(item.promotion),
        ]
        if visitor:
            names.append(keys.frequency(day, visitor, item.campaign))
        for name in names:
            increments[name] = increments.get(name, 0) + 1
    return increments


class EventStore(Protocol):
    def served(self, items: list[Served], *, now: dt.datetime, visitor: str, reason: str) -> None:
        """Record ``items``, the filled slots of one page view (their nonces from one
        ``new_nonces``), as served (or refused with ``reason``), with their nonces, and
        add them to the live counters unless refused."""

    def track(
        self, event: str, nonce: str, *, now: dt.datetime, refuse: str, rate: str
    ) -> Outcome: ...

    def refused(self, event: str, reason: str, *, now: dt.datetime) -> None: ...


# One round trip for a view or a click: look the nonce up, apply the rate limit, set the
# event on the nonce only if it is not set yet (HSETNX: concurrent duplicates count
# once), append the event (or its refusal) to the stream and count clicks. A nonce is
# the field ARGV[9] of its page's record (``nonce_record``): "c|p|s|destination"; the
# served time, visitor key and refusal are the page's (T, V, X). One issued before
# pages shared a record (ARGV[9] empty) has a record of its own, a field for each fact
# (c, p, s, d, t, v, x).
_TRACK = """
local ev, ts, place = ARGV[1], ARGV[2], ARGV[9]
local c, p, s, d, v, x
if place == '' then
  local f = redis.call('HMGET', KEYS[1], 'c', 'p', 's', 'd', 'v', 'x')
  c, p, s, d, v, x = f[1], f[2], f[3], f[4], f[5], f[6]
else
  local f = redis.call('HMGET', KEYS[1], place, 'V', 'X')
  if f[1] then c, p, s, d = string.match(f[1], '^(%d+)|(%d+)|(%d+)|(.*)$') end
  v, x = f[2], f[3]
end
if not c then
  redis.call('XADD', KEYS[2], '*', 'e', ev .. '|0|0|0|' .. ts .. '||unknown_nonce')
  return {'unknown_nonce', ''}
end
v, x = v or '', x or ''
local reason = ARGV[3]
if reason == '' then reason = x end
if reason == '' then
  local n = redis.call('INCR', KEYS[3])
  if n == 1 then redis.call('EXPIRE', KEYS[3], ARGV[8]) end
  if n > tonumber(ARGV[4]) then reason = 'rate_limit' end
end
if reason == '' and redis.call('HSETNX', KEYS[1], ev .. place, ts) == 0 then
  reason = 'replay'
end
local head = ev .. '|' .. c .. '|' .. p .. '|' .. s .. '|' .. ts .. '|'
if reason ~= '' then
  redis.call('XADD', KEYS[2], '*', 'e', head .. '|' .. reason)
  return {reason, d}
end
redis.call('XADD', KEYS[2], '*', 'e', head .. v .. '|')
if ev == 'click' then
  redis.call('INCR', ARGV[5] .. 'total:clicks:' .. c)
  redis.call('INCR', ARGV[5] .. 'total:promotion-clicks:' .. p)
  local today = ARGV[5] .. ARGV[6] .. ':clicks:' .. c
  redis.call('INCR', today)
  redis.call('EXPIRE', today, ARGV[7])
end
return {'', d}
"""


# One script for a page view's filled slots: their nonces in one record (KEYS[2], two
# hours to live: the page's served time, visitor key and refusal as T, V and X, and for
# each slot's place "c|p|s|destination"), their served events and, unless refused, the live
# counters they add to (the names of ``ads.counters``; a day's counters expire). The
# served events go into one stream entry, a line each (``Event.decode_entry``). Sent
# without waiting for its answer (``RedisEventStore.served``).
_SERVED = """
local nonce_ttl, day_ttl, prefix, day = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local visitor, reason, ts = ARGV[5], ARGV[6], ARGV[7]
local today = prefix .. day .. ':'
local record = {'T', ts}
if visitor ~= '' then record[#record + 1] = 'V'; record[#record + 1] = visitor end
if reason ~= '' then record[#record + 1] = 'X'; record[#record + 1] = reason end
local events = {}
local reader = ''
for i = 8, #ARGV, 5 do
  local c, p, s = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  record[#record + 1] = ARGV[i]
  record[#record + 1] = c .. '|' .. p .. '|' .. s .. '|' .. ARGV[i + 4]
  events[#events + 1] =
    'served|' .. c .. '|' .. p .. '|' .. s .. '|' .. ts .. '|' .. visitor .. '|' .. reason
  if reason == '' then
    if redis.call('INCR', today .. 'served:' .. c) == 1 then
      redis.call('EXPIRE', today .. 'served:' .. c, day_ttl)
    end
    redis.call('INCR', prefix .. 'total:served:' .. c)
    redis.call('INCR', prefix .. 'total:promotion-served:' .. p)
    if visitor ~= '' and redis.call('HINCRBY', today .. 'freq:' .. visitor, c, 1) == 1 then
      reader = today .. 'freq:' .. visitor  -- a new field, maybe a new hash
    end
  end
end
if reader ~= '' then redis.call('EXPIRE', reader, day_ttl) end
if #events > 0 then
  redis.call('HSET', KEYS[2], unpack(record))
  redis.call('EXPIRE', KEYS[2], nonce_ttl)
  redis.call('XADD', KEYS[1], '*', 'e', table.concat(events, '\\n'))
end
return 0
"""


class RedisEventStore:
    def __init__(self) -> None:
        self.client = redis_client()
        # On the thread's own connection, like the served script: Redis runs what one
        # connection sends in order, so a view sees the nonce its thread recorded.
        self._track = wire.Script(self.client, _TRACK)
        self._served = wire.Script(self.client, _SERVED)

    def served(self, items: list[Served], *, now: dt.datetime, visitor: str, reason: str) -> None:
        args: list[str | int] = [
            int(NONCE_TTL.total_seconds()),
            int(DAY_TTL.total_seconds()),
            f"{keys.PREFIX}:",
            berlin_day(now).isoformat(),
            visitor,
            reason,
            int(now.timestamp()),
        ]
        records = set()
        for item in items:
            record, place = nonce_record(item.nonce)
            records.add(record)
            args += [place, item.campaign, item.promotion, item.slot, item.destination]
        if len(records) != 1 or not place:
            raise ValueError("the nonces of one page view (``new_nonces``) expected")
        # Sent without waiting for the answer (``wire.Script.send``): the page goes out
        # while Redis records it.
        self._served.send([STREAM, record], args)

    def track(self, event: str, nonce: str, *, now: dt.datetime, refuse: str, rate: str) -> Outcome:
        record, place = nonce_record(nonce)
        reason, destination = self._track(
            [record, STREAM, rate],
            [
                event,
                int(now.timestamp()),
                refuse,
                settings.LITFASS_TRACKING_RATE_LIMIT,
                f"{keys.PREFIX}:",
                berlin_day(now).isoformat(),
                int(DAY_TTL.total_seconds()),
                RATE_WINDOW_SECONDS,
                place,
            ],
        )
        return Outcome(reason.decode(), destination.decode())

    def refused(self, event: str, reason: str, *, now: dt.datetime) -> None:
        self.client.xadd(
            STREAM, {"e": Event(event, 0, 0, 0, int(now.timestamp()), "", reason).encode()}
        )


class DatabaseEventStore:
    """The embedded default: nonces in the database, events straight into the rollups."""

    def __init__(self) -> None:
        self.counters = DatabaseCounters()

    def served(self, items: list[Served], *, now: dt.datetime, visitor: str, reason: str) -> None:
        from .rollups import apply

        at = int(now.timestamp())
        with transaction.atomic():
            Nonce.objects.bulk_create(
                [
                    Nonce(
                        key=item.nonce,
                        campaign_id_seen=item.campaign,
                        promotion_id_seen=item.promotion,
                        slot_id_seen=item.slot,
                        destination=item.destination,
                        visitor_key=visitor,
                        flag=reason,
                        expires_at=now + NONCE_TTL,
                    )
                    for item in items
                ]
            )
            apply(
                [Event(SERVED, i.campaign, i.promotion, i.slot, at, visitor, reason) for i in items]
            )
            if not reason:
                day = berlin_day(now)
                self.counters.add(
                    served_increments(items, visitor=visitor, day=day),
                    expiring=keys.day_prefix(day),
                    ttl=DAY_TTL,
                )

    def track(self, event: str, nonce: str, *, now: dt.datetime, refuse: str, rate: str) -> Outcome:
        from .rollups import apply

        at = int(now.timestamp())
        with transaction.atomic():
            found = Nonce.objects.filter(key=nonce, expires_at__gt=now).first()
            if found is None:
                apply([Event(event, 0, 0, 0, at, "", FilterReason.UNKNOWN_NONCE)])
                return Outcome(FilterReason.UNKNOWN_NONCE, "")
            reason = refuse or found.flag
            if not reason:
                self.counters.add({rate: 1}, expiring=rate, ttl=dt.timedelta(minutes=2))
                if self.counters.read([rate])[0] > settings.LITFASS_TRACKING_RATE_LIMIT:
                    reason = FilterReason.RATE_LIMIT
            field = "viewed" if event == VIEW else "clicked"
            # The conditional UPDATE is the check-and-set: only one request flips it.
            if not reason and not Nonce.objects.filter(key=nonce, **{field: False}).update(
                **{field: True}
            ):
                reason = FilterReason.REPLAY
            ids = (found.campaign_id_seen, found.promotion_id_seen, found.slot_id_seen)
            apply([Event(event, *ids, at, "" if reason else found.visitor_key, reason)])
            if not reason and event == CLICK:
                campaign, promotion = ids[0], ids[1]
                self.counters.add(
                    {
                        keys.clicks_total(campaign): 1,
                        keys.promotion_clicks(promotion): 1,
                        keys.clicks_today(berlin_day(now), campaign): 1,
                    },
                    expiring=keys.day_prefix(berlin_day(now)),
                    ttl=DAY_TTL,
                )
            return Outcome(reason, found.destination)

    def refused(self, event: str, reason: str, *, now: dt.datetime) -> None:
        from .rollups import apply

        apply([Event(event, 0, 0, 0, int(now.timestamp()), "", reason)])


def event_store() -> EventStore:
    return RedisEventStore() if settings.REDIS_URL else DatabaseEventStore()


_store: EventStore | None = None


def _current_store() -> EventStore:
    global _store
    if _store is None:
        _store = event_store()
    return _store


def record_served(decision: Decision, *, now: dt.datetime, refuse: str = "") -> dict[str, str]:
    """Give each filled slot a nonce and record it as served, in one script call (sent
    without waiting for its answer with Redis; see ``RedisEventStore.served``).

    ``refuse`` (preview, staff, bot, no user agent) records the slots as refused instead:
    they get nonces, so their views and clicks are refused with the same reason.
    Returns the nonces by slot key.
    """
    filled = [(key, d) for key, d in decision.slots.items() if d.campaign and d.promotion]
    if not filled:
        return {}
    reason = refuse or (FilterReason.PREVIEW if decision.page.preview else "")
    nonces = new_nonces(len(filled))
    items = [
        Served(
            nonce=nonce,
            campaign=decided.campaign.id,  # type: ignore[union-attr]
            promotion=decided.promotion.pk,  # type: ignore[union-attr]
            slot=decided.slot.pk,
            destination=decided.promotion.destination_url,  # type: ignore[union-attr]
        )
        for (_key, decided), nonce in zip(filled, nonces, strict=True)
    ]
    _current_store().served(items, now=now, visitor=decision.page.visitor_key or "", reason=reason)
    return {key: item.nonce for (key, _d), item in zip(filled, items, strict=True)}


def record_event(
    event: str,
    nonce: str,
    *,
    now: dt.datetime | None = None,
    user_agent: str,
    ip_address: str,
) -> Outcome:
    """Count a view or click of ``nonce`` once, or record why not."""
    now = now or timezone.now()
    if not check_nonce(nonce):
        _current_store().refused(event, FilterReason.UNKNOWN_NONCE, now=now)
        return Outcome(FilterReason.UNKNOWN_NONCE, "")
    return _current_store().track(
        event,
        nonce,
        now=now,
        refuse=refusal(user_agent),
        rate=rate_key(ip_address, user_agent, now=now),
    )
