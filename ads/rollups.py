"""From events to rollups: hour and day x campaign x promotion x slot, exactly once.

The flush reads the event stream from the last id it committed, adds the batch to the
rollups with ``INSERT ... ON CONFLICT DO UPDATE`` and moves its cursor in the same
transaction. A worker killed mid-flush commits nothing, so the next flush reads the same
events again; a flush retried after its commit finds the cursor moved and counts nothing
twice. Flushed events are then trimmed from the stream (raw events are not kept). A
stream entry holds one event, or a page view's served events, a line each: a flush
worker must be at least as new as the web processes that write the stream.

Speed comes from counting cells, not events: a batch of 200,000 events over 10,000
cells writes 20,000 rows, each in one statement per table (PostgreSQL's ``unnest`` of
arrays, so nothing is parsed per row), and the events are aggregated straight from the
stream's bytes without building an object per event.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from django.db import connection, transaction

from promotions.models import Promotion, Slot

from .counters import redis_client
from .decision import BERLIN
from .models import (
    Campaign,
    DailyRollup,
    FilteredRollup,
    FlushCursor,
    HourlyRollup,
    VisitorSeen,
)
from .tracking import CLICK, ENTRY_SEPARATOR, SERVED, STREAM, VIEW, Event

_SEPARATOR = ENTRY_SEPARATOR.encode()

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 200_000
_ROWS_PER_STATEMENT = 1_000  # SQLite (embedded) only: it has no arrays
_COLUMN = {SERVED.encode(): 0, VIEW.encode(): 1, CLICK.encode(): 2}

# (hour start as epoch seconds, campaign, promotion, slot)
Cell = tuple[int, int, int, int]


@dataclass
class FlushReport:
    events: int = 0
    batches: int = 0
    last_id: str = ""


@functools.cache
def _stream_client() -> redis.Redis:
    """A client that hands ``XRANGE`` replies over as they come: turning each entry into
    a dict would cost more than everything else the flush does with it."""
    # The event store's connection pool (and its settings), with its own reply handling.
    client = redis.Redis(connection_pool=redis_client().connection_pool)
    client.set_response_callback("XRANGE", lambda response, **options: response)
    return client


@functools.cache
def _berlin_day(hour: int) -> dt.date:
    return dt.datetime.fromtimestamp(hour, tz=dt.UTC).astimezone(BERLIN).date()


def _hour(hour: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(hour, tz=dt.UTC)


def apply(events: Iterable[Event]) -> int:
    """Add events to the rollups; call inside the transaction that records progress."""
    return apply_encoded(event.encode().encode() for event in events)


def apply_encoded(raws: Iterable[bytes]) -> int:
    """Add events, as ``Event.encode`` wrote them (a stream entry may hold several, a
    line each: ``Event.decode_entry``), to the rollups; returns how many."""
    counted: Counter[tuple[int, bytes, bytes, bytes, bytes]] = Counter()
    refused: Counter[tuple[int, bytes, bytes, bytes]] = Counter()
    visitors: set[tuple[int, bytes, bytes, bytes, bytes]] = set()
    count = 0
    for line in (line for raw in raws for line in raw.split(_SEPARATOR)):
        count += 1
        kind, campaign, promotion, slot, at, visitor, reason = line.split(b"|")
        hour = int(at) // 3600 * 3600
        if reason:
            refused[(hour, campaign, kind, reason)] += 1
            continue
        counted[(hour, campaign, promotion, slot, kind)] += 1
        if visitor:
            visitors.add((hour, campaign, promotion, slot, visitor))

    hourly: dict[Cell, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (hour, campaign, promotion, slot, kind), n in counted.items():
        hourly[(hour, int(campaign), int(promotion), int(slot))][_COLUMN[kind]] += n
    _drop_vanished(hourly)
    new_visitors = _new_visitors(visitors)
    daily: dict[tuple[dt.date, int, int, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (hour, c, p, s), counts in hourly.items():
        counts[3] = new_visitors[("h", hour, c, p, s)]
        day = _berlin_day(hour)
        totals = daily[(day, c, p, s)]
        for column in range(3):
            totals[column] += counts[column]
        totals[3] = new_visitors[("d", day, c, p, s)]
    counts_columns = ("served", "views", "clicks", "unique_visitors")
    ids = ("campaign_id", "promotion_id", "slot_id")
    _upsert(
        HourlyRollup._meta.db_table,
        (("hour", "timestamptz"), *((c, "bigint") for c in ids)),
        counts_columns,
        [(_hour(h), c, p, s, *n) for (h, c, p, s), n in hourly.items()],
    )
    _upsert(
        DailyRollup._meta.db_table,
        (("day", "date"), *((c, "bigint") for c in ids)),
        counts_columns,
        [(d, c, p, s, *n) for (d, c, p, s), n in daily.items()],
    )
    _upsert(
        FilteredRollup._meta.db_table,
        (("hour", "timestamptz"), ("campaign_id_seen", "bigint"), ("event", "text"),
         ("reason", "text")),
        ("count",),
        [
            (_hour(hour), int(campaign), kind.decode(), reason.decode(), n)
            for (hour, campaign, kind, reason), n in refused.items()
        ],
        extra={"day": "date"},
        extra_values=[_berlin_day(hour) for (hour, _c, _k, _r) in refused],
    )  # fmt: skip
    return count


def _adapt(value: Any) -> Any:
    ops = connection.ops
    if isinstance(value, dt.datetime):
        return ops.adapt_datetimefield_value(value)
    if isinstance(value, dt.date):
        return ops.adapt_datefield_value(value)
    return value


def _upsert(
    table: str,
    keys: Sequence[tuple[str, str]],
    counts: Sequence[str],
    rows: list[tuple[Any, ...]],
    *,
    extra: dict[str, str] | None = None,
    extra_values: list[Any] | None = None,
) -> None:
    """Insert rows (key columns, then counts), or add their counts to existing rows.

    ``extra`` columns are set on insert only (e.g. the day of an hour).
    """
    if not rows:
        return
    extra = extra or {}
    if extra:
        assert extra_values is not None  # noqa: S101
        rows = [(*row, value) for row, value in zip(rows, extra_values, strict=True)]
    qn = connection.ops.quote_name
    names = [name for name, _type in keys]
    columns = [*names, *counts, *extra]
    types = [kind for _name, kind in keys] + ["bigint"] * len(counts) + list(extra.values())
    updates = ", ".join(f"{qn(c)} = {qn(table)}.{qn(c)} + EXCLUDED.{qn(c)}" for c in counts)
    head = f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) "
    tail = f" ON CONFLICT ({', '.join(qn(c) for c in names)}) DO UPDATE SET {updates}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{kind}[]" for kind in types)
            cursor.execute(
                f"{head}SELECT * FROM unnest({arrays}){tail}",  # noqa: S608
                [list(column) for column in zip(*rows, strict=True)],
            )
            return
        row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start : start + _ROWS_PER_STATEMENT]
            cursor.execute(
                f"{head}VALUES {', '.join([row_sql] * len(chunk))}{tail}",
                [_adapt(value) for row in chunk for value in row],
            )


def _new_visitors(
    visitors: set[tuple[int, bytes, bytes, bytes, bytes]],
) -> Counter[tuple[Any, ...]]:
    """Record each (cell, visitor) pair once per hour and per day; count the pairs not
    seen before, per ``("h", hour, ...)`` and ``("d", day, ...)`` cell."""
    found: Counter[tuple[Any, ...]] = Counter()
    if not visitors:
        return found
    rows = []
    for hour, campaign, promotion, slot, visitor in visitors:
        ids = f"{int(campaign)}:{int(promotion)}:{int(slot)}"
        day = _berlin_day(hour)
        key = visitor.decode()
        rows.append((f"h{hour}:{ids}", key, day))
        rows.append((f"d{day.isoformat()}:{ids}", key, day))
    rows = sorted(set(rows))
    qn = connection.ops.quote_name
    table = qn(VisitorSeen._meta.db_table)
    head = f"INSERT INTO {table} ({qn('cell')}, {qn('visitor_key')}, {qn('day')}) "
    tail = f" ON CONFLICT ({qn('cell')}, {qn('visitor_key')}) DO NOTHING RETURNING {qn('cell')}"
    inserted: list[str] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"{head}SELECT * FROM unnest(%s::text[], %s::text[], %s::date[]){tail}",  # noqa: S608
                [list(column) for column in zip(*rows, strict=True)],
            )
            inserted = [row[0] for row in cursor.fetchall()]
        else:
            for start in range(0, len(rows), _ROWS_PER_STATEMENT):
                chunk = rows[start : start + _ROWS_PER_STATEMENT]
                cursor.execute(
                    f"{head}VALUES {', '.join(['(%s, %s, %s)'] * len(chunk))}{tail}",
                    [_adapt(v) for row in chunk for v in row],
                )
                inserted += [row[0] for row in cursor.fetchall()]
    for cell in inserted:
        scope, c, p, s = cell.split(":")
        kind, when = scope[0], scope[1:]
        moment: Any = int(when) if kind == "h" else dt.date.fromisoformat(when)
        found[(kind, moment, int(c), int(p), int(s))] += 1
    return found


def _drop_vanished(hourly: dict[Cell, list[int]]) -> None:
    """Events of campaigns, promotions or slots deleted since they were served have
    nothing left to bill (and their rows could not be written)."""
    campaigns = {cell[1] for cell in hourly}
    promotions = {cell[2] for cell in hourly}
    slots = {cell[3] for cell in hourly}
    live = (
        set(Campaign.objects.filter(pk__in=campaigns).values_list("pk", flat=True)),
        set(Promotion.objects.filter(pk__in=promotions).values_list("pk", flat=True)),
        set(Slot.objects.filter(pk__in=slots).values_list("pk", flat=True)),
    )
    if live == (campaigns, promotions, slots):
        return
    gone = [
        cell
        for cell in hourly
        if cell[1] not in live[0] or cell[2] not in live[1] or cell[3] not in live[2]
    ]
    logger.warning(
        "dropping events of %d cells whose campaign, promotion or slot is gone", len(gone)
    )
    for cell in gone:
        del hourly[cell]


def flush(*, batch: int = DEFAULT_BATCH, max_batches: int | None = None) -> FlushReport:
    """Move events from the Redis stream into the rollups, exactly once."""
    client = _stream_client()
    report = FlushReport()
    FlushCursor.objects.get_or_create(stream=STREAM)
    while max_batches is None or report.batches < max_batches:
        with transaction.atomic():
            # The row lock makes concurrent flushes take turns; the second one then
            # starts after the first one's last id.
            cursor = FlushCursor.objects.select_for_update().get(stream=STREAM)
            # Raw reply: [[id, [b"e", event]], ...]
            entries: list[list[Any]] = client.xrange(  # type: ignore[assignment]
                STREAM, min=f"({cursor.last_id}", count=batch
            )
            if not entries:
                break
            applied = apply_encoded(fields[1] for _id, fields in entries)
            cursor.last_id = entries[-1][0].decode()
            cursor.events += applied
            cursor.save(update_fields=["last_id", "events", "updated_at"])
        # Only after the commit: what is trimmed is safely in the rollups.
        client.xtrim(STREAM, minid=cursor.last_id, approximate=False)
        report.events += applied
        report.batches += 1
        report.last_id = cursor.last_id
        if len(entries) < batch:
            break
    return report


@dataclass(frozen=True)
class Backlog:
    """What waits in the event stream for the flush (``counting_status``)."""

    entries: int  # in the stream, those flushed but not yet trimmed included
    waiting_since: dt.datetime | None  # the oldest entry after the cursor, when any
    last_flush: dt.datetime | None  # when the flush last moved events
    flushed: int  # events moved into the rollups in all


def backlog() -> Backlog:
    """How far the flush is behind: a stream that only grows means no worker flushes it
    (it is never trimmed otherwise, so that nothing counted is lost)."""
    cursor = FlushCursor.objects.filter(stream=STREAM).first()
    last_id = cursor.last_id if cursor else "0-0"
    client = _stream_client()
    oldest: list[list[Any]] = client.xrange(  # type: ignore[assignment]
        STREAM, min=f"({last_id}", count=1
    )
    waiting_since = None
    if oldest:
        # An entry's id starts with Redis's clock when it was added, in milliseconds.
        milliseconds = int(oldest[0][0].split(b"-")[0])
        waiting_since = dt.datetime.fromtimestamp(milliseconds / 1000, tz=dt.UTC)
    return Backlog(
        entries=int(client.xlen(STREAM)),
        waiting_since=waiting_since,
        last_flush=cursor.updated_at if cursor and cursor.events else None,
        flushed=cursor.events if cursor else 0,
    )


def forget_old_visitors(*, today: dt.date) -> int:
    """Visitor keys change daily; the pairs of past days can never match again."""
    deleted, _ = VisitorSeen.objects.filter(day__lt=today - dt.timedelta(days=1)).delete()
    return deleted
