"""From events to rollups: hour and day x campaign x promotion x slot, exactly once.

The flush reads the event stream from the last id it committed, adds the batch to the
rollups with ``INSERT ... ON CONFLICT DO UPDATE`` and moves its cursor in the same
transaction. A worker killed mid-flush commits nothing, so the next flush reads the same
events again; a flush retried after its commit finds the cursor moved and counts nothing
twice. Flushed events are then trimmed from the stream (raw events are not kept).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

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
from .tracking import CLICK, SERVED, STREAM, VIEW, Event

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 50_000
_ROWS_PER_STATEMENT = 1_000
_COLUMN = {SERVED: 0, VIEW: 1, CLICK: 2}

HourCell = tuple[dt.datetime, int, int, int]
DayCell = tuple[dt.date, int, int, int]


@dataclass
class FlushReport:
    events: int = 0
    batches: int = 0
    last_id: str = ""


def _upsert(table: str, key_columns: Sequence[str], add_columns: Sequence[str], rows: list) -> None:
    """Insert rows, or add their counts to the rows that exist (PostgreSQL and SQLite)."""
    if not rows:
        return
    qn = connection.ops.quote_name
    columns = [*key_columns, *add_columns]
    updates = ", ".join(f"{qn(c)} = {qn(table)}.{qn(c)} + EXCLUDED.{qn(c)}" for c in add_columns)
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start : start + _ROWS_PER_STATEMENT]
            sql = (
                f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) "  # noqa: S608
                f"VALUES {', '.join([row_sql] * len(chunk))} "
                f"ON CONFLICT ({', '.join(qn(c) for c in key_columns)}) DO UPDATE SET {updates}"
            )
            cursor.execute(sql, [value for row in chunk for value in row])


def _new_visitors(pairs: set[tuple[str, str]], day: dt.date) -> Counter[str]:
    """Insert (cell, visitor) pairs not seen before; count the new ones per cell."""
    found: Counter[str] = Counter()
    if not pairs:
        return found
    qn = connection.ops.quote_name
    table = qn(VisitorSeen._meta.db_table)
    ordered = sorted(pairs)
    day_value = connection.ops.adapt_datefield_value(day)
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), _ROWS_PER_STATEMENT):
            chunk = ordered[start : start + _ROWS_PER_STATEMENT]
            sql = (
                f"INSERT INTO {table} ({qn('cell')}, {qn('visitor_key')}, {qn('day')}) "  # noqa: S608
                f"VALUES {', '.join(['(%s, %s, %s)'] * len(chunk))} "
                f"ON CONFLICT ({qn('cell')}, {qn('visitor_key')}) DO NOTHING RETURNING {qn('cell')}"
            )
            cursor.execute(sql, [v for cell, visitor in chunk for v in (cell, visitor, day_value)])
            found.update(row[0] for row in cursor.fetchall())
    return found


def apply(events: Iterable[Event]) -> int:
    """Add events to the rollups; call inside the transaction that records progress."""
    hourly: dict[HourCell, list[int]] = defaultdict(lambda: [0, 0, 0])
    daily: dict[DayCell, list[int]] = defaultdict(lambda: [0, 0, 0])
    filtered: Counter[tuple[dt.datetime, dt.date, int, str, str]] = Counter()
    visitors: dict[dt.date, set[tuple[str, str]]] = defaultdict(set)
    hours: dict[int, tuple[dt.datetime, dt.date]] = {}
    count = 0
    for event in events:
        count += 1
        bucket = event.at - event.at % 3600
        if bucket not in hours:
            hour = dt.datetime.fromtimestamp(bucket, tz=dt.UTC)
            hours[bucket] = (hour, hour.astimezone(BERLIN).date())
        hour, day = hours[bucket]
        if event.reason:
            filtered[(hour, day, event.campaign, event.event, event.reason)] += 1
            continue
        column = _COLUMN[event.event]
        hourly[(hour, event.campaign, event.promotion, event.slot)][column] += 1
        daily[(day, event.campaign, event.promotion, event.slot)][column] += 1
        if event.visitor:
            ids = f"{event.campaign}:{event.promotion}:{event.slot}"
            visitors[day].add((f"h{bucket}:{ids}", event.visitor))
            visitors[day].add((f"d{day.isoformat()}:{ids}", event.visitor))
    _drop_vanished(hourly, daily)
    new: Counter[str] = Counter()
    for day, pairs in visitors.items():
        new.update(_new_visitors(pairs, day))
    ops = connection.ops
    hour_rows = []
    for (hour, campaign, promotion, slot), (served, views, clicks) in hourly.items():
        unique = new[f"h{int(hour.timestamp())}:{campaign}:{promotion}:{slot}"]
        hour_rows.append(
            (ops.adapt_datetimefield_value(hour), campaign, promotion, slot, served, views,
             clicks, unique)
        )  # fmt: skip
    day_rows = []
    for (day, campaign, promotion, slot), (served, views, clicks) in daily.items():
        unique = new[f"d{day.isoformat()}:{campaign}:{promotion}:{slot}"]
        day_rows.append(
            (ops.adapt_datefield_value(day), campaign, promotion, slot, served, views, clicks,
             unique)
        )  # fmt: skip
    counted = ("served", "views", "clicks", "unique_visitors")
    id_columns = ("campaign_id", "promotion_id", "slot_id")
    _upsert(HourlyRollup._meta.db_table, ("hour", *id_columns), counted, hour_rows)
    _upsert(DailyRollup._meta.db_table, ("day", *id_columns), counted, day_rows)
    _upsert_filtered(filtered)
    return count


def _upsert_filtered(filtered: Counter[tuple[dt.datetime, dt.date, int, str, str]]) -> None:
    ops = connection.ops
    qn = ops.quote_name
    table = qn(FilteredRollup._meta.db_table)
    rows = [
        (ops.adapt_datetimefield_value(hour), ops.adapt_datefield_value(day), campaign, event,
         reason, n)
        for (hour, day, campaign, event, reason), n in filtered.items()
    ]  # fmt: skip
    if not rows:
        return
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start : start + _ROWS_PER_STATEMENT]
            sql = (
                f"INSERT INTO {table} (hour, day, campaign_id_seen, event, reason, count) "  # noqa: S608
                f"VALUES {', '.join(['(%s, %s, %s, %s, %s, %s)'] * len(chunk))} "
                "ON CONFLICT (hour, campaign_id_seen, event, reason) "
                f"DO UPDATE SET count = {table}.count + EXCLUDED.count"
            )
            cursor.execute(sql, [value for row in chunk for value in row])


def _drop_vanished(*cells: dict[Any, list[int]]) -> None:
    """Events of campaigns deleted since they were served have nothing left to bill."""
    campaigns = {cell[1] for table in cells for cell in table}
    existing = set(Campaign.objects.filter(pk__in=campaigns).values_list("pk", flat=True))
    if existing == campaigns:
        return
    logger.warning("dropping events of deleted campaigns %s", sorted(campaigns - existing))
    for table in cells:
        for cell in [cell for cell in table if cell[1] not in existing]:
            del table[cell]


def flush(*, batch: int = DEFAULT_BATCH, max_batches: int | None = None) -> FlushReport:
    """Move events from the Redis stream into the rollups, exactly once."""
    client = redis_client()
    report = FlushReport()
    FlushCursor.objects.get_or_create(stream=STREAM)
    while max_batches is None or report.batches < max_batches:
        with transaction.atomic():
            # The row lock makes concurrent flushes take turns; the second one then
            # starts after the first one's last id.
            cursor = FlushCursor.objects.select_for_update().get(stream=STREAM)
            entries: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(  # type: ignore[assignment]
                STREAM, min=f"({cursor.last_id}", count=batch
            )
            if not entries:
                break
            apply(Event.decode(fields[b"e"]) for _id, fields in entries)
            cursor.last_id = entries[-1][0].decode()
            cursor.events += len(entries)
            cursor.save(update_fields=["last_id", "events", "updated_at"])
        # Only after the commit: what is trimmed is safely in the rollups.
        client.xtrim(STREAM, minid=cursor.last_id, approximate=False)
        report.events += len(entries)
        report.batches += 1
        report.last_id = cursor.last_id
        if len(entries) < batch:
            break
    return report


def forget_old_visitors(*, today: dt.date) -> int:
    """Visitor keys change daily; the pairs of past days can never match again."""
    deleted, _ = VisitorSeen.objects.filter(day__lt=today - dt.timedelta(days=1)).delete()
    return deleted
