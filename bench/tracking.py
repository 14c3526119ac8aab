"""The view beacon under load beside the minimal JSON view, and the flush into the rollups.

.venv/bin/python -m bench.tracking [--quick] [--profile]

Builds its own site on PostgreSQL and Redis (a ``litfass_bench_tracking`` database,
Redis dbs 6 and 7), then, in one run:

1. the beacon: wrk against ``POST /t/v/<nonce>`` and the baseline ``/_bench/baseline/``
   on gunicorn with 2 sync workers, rounds interleaved. The nonces (100,000) were issued
   beforehand by ``ads.tracking.record_served`` on real decisions; wrk's Lua script walks
   through them and carries on where the last round stopped, so the first hit on each
   counts and only a pass beyond the end replays. Every request sends a browser's
   User-Agent: a missing or bot one is refused before the nonce is looked up and would
   flatter the figure. Afterwards the stream is read to say how many views counted and
   how many were replays, and the run fails if any was refused for another reason.
2. the flush: 1,000,000 events over 10,000 campaign x promotion x slot cells are appended
   to the stream (as ``ads.tracking.Event.encode`` writes them) and moved into the
   rollups by ``ads.rollups.flush()`` in a worker process, timed; beside it the floor,
   reading the same events from Redis and decoding them without a database. After every
   flush the rollups must add up to exactly the events sent.

Everything the run wrote to Redis and PostgreSQL is removed at the end.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.harness import (
    BASELINE_PATH,
    BENCH_SETTINGS,
    REPO_ROOT,
    BenchError,
    Row,
    compare_http,
    ensure_wrk,
    machine_facts,
    manage,
    markdown_table,
    serve,
)
from bench.services import (
    Services,
    claim_redis,
    drop_database,
    recreate_database,
    redis_client,
    release_redis,
    reset_redis,
    run_worker,
    setup_django_for_worker,
)

MODULE = "bench.tracking"
WORKERS = 2
WRK_THREADS = 2
WRK_CONNECTIONS = 16
NONCES = 100_000
SLOTS_PER_PAGE = 4
FLUSH_EVENTS = 1_000_000
# 250 campaigns x 2 promotions x 20 slots.
FLUSH_CAMPAIGNS, FLUSH_PROMOTIONS_EACH, FLUSH_SLOTS = 250, 2, 20
VISITOR_POOL = 50_000
SEED = 20_260_611

# The flush's two event mixes: without and with visitor keys (unique visitors).
MIXES = ("counts", "visitors")
MIX_LABELS = {
    "counts": "flush: counts only (no visitor keys)",
    "visitors": "flush: half the counted events with visitor keys (unique visitors)",
}

TARGET_BEACON_RATIO = 0.70
TARGET_FLUSH_EVENTS_PER_S = 100_000

# The tracking rate limit counts per IP address and user agent and minute; wrk is one
# address, so it would refuse nearly everything as "rate_limit", a shorter path than a
# reader's. The limit is raised, not removed: the INCR still runs on every request.
RATE_LIMIT_FOR_LOAD = 1_000_000_000

DEFAULT_DATABASE_URL = "postgres://litfass:litfass@127.0.0.1:5432/litfass_bench_tracking"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/6"
DEFAULT_REDIS_CACHE_URL = "redis://127.0.0.1:6379/7"

# Browsers as readers bring them; every one passes the bot filter.
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/123.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1",
)


def _progress(message: str) -> None:
    # stderr, so stdout stays a clean Markdown document.
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def services() -> Services:
    return Services.from_env(
        "LITFASS_BENCH_TRACKING",
        owner=MODULE,
        database_url=DEFAULT_DATABASE_URL,
        redis_url=DEFAULT_REDIS_URL,
        redis_cache_url=DEFAULT_REDIS_CACHE_URL,
    )


# --- worker side: Django is set up ---------------------------------------------------------


def bulk_site(*, campaigns: int, promotions_each: int, slots: int, prefix: str) -> list[Any]:
    """Live campaigns booking every slot, with approved promotions; returns the cells
    (campaign, promotion, slot) as ids."""
    import datetime as dt

    from django.db import transaction
    from django.utils import timezone

    from ads.models import Advertiser, Campaign, CampaignPromotion
    from promotions.models import Promotion, Slot

    now = timezone.now()
    with transaction.atomic():
        slot_rows = Slot.objects.bulk_create(
            [
                Slot(key=f"{prefix}-{n}", name=f"Slot {n}", width=300, height=250)
                for n in range(slots)
            ]
        )
        advertisers = Advertiser.objects.bulk_create(
            [Advertiser(name=f"{prefix} Werbekunde {n} GmbH") for n in range(campaigns)]
        )
        campaign_rows = Campaign.objects.bulk_create(
            [
                Campaign(
                    advertiser=advertiser,
                    name=f"Kampagne {n}",
                    kind=Campaign.Kind.STANDARD,
                    status=Campaign.Status.LIVE,
                    starts_at=now - dt.timedelta(days=1),
                    ends_at=now + dt.timedelta(days=30),
                )
                for n, advertiser in enumerate(advertisers)
            ]
        )
        Campaign.slots.through.objects.bulk_create(
            [
                Campaign.slots.through(campaign_id=campaign.pk, slot_id=slot.pk)
                for campaign in campaign_rows
                for slot in slot_rows
            ]
        )
        promotion_rows = Promotion.objects.bulk_create(
            [
                Promotion(
                    title=f"Angebot {n}",
                    destination_url=f"https://werbekunde.example/angebot/{n}",
                    review_status=Promotion.ReviewStatus.APPROVED,
                )
                for n in range(campaigns * promotions_each)
            ]
        )
        CampaignPromotion.objects.bulk_create(
            [
                CampaignPromotion(campaign=campaign_rows[n // promotions_each], promotion=promo)
                for n, promo in enumerate(promotion_rows)
            ]
        )
    return [
        (campaign_rows[n // promotions_each].pk, promo.pk, slot.pk)
        for n, promo in enumerate(promotion_rows)
        for slot in slot_rows
    ]


def issue_nonces(directory: Path, count: int) -> dict[str, Any]:
    """Decisions for 4-slot pages, recorded as served by ``record_served``: ``count``
    nonces for wrk and a few spare ones for the checks, one per line."""
    import random

    from django.utils import timezone

    from ads.decision import PageContext, berlin_day, decide
    from ads.tracking import record_served
    from ads.visitors import visitor_key

    bulk_site(campaigns=8, promotions_each=2, slots=SLOTS_PER_PAGE, prefix="beacon")
    keys = tuple(f"beacon-{n}" for n in range(SLOTS_PER_PAGE))
    rng = random.Random(SEED)
    started = time.perf_counter()
    nonces: list[str] = []
    now = timezone.now()
    day = berlin_day(now)
    wanted = count + 10
    pages = 0
    while len(nonces) < wanted:
        # Half the readers consented, so their nonces carry a visitor key.
        consent = pages % 2 == 0
        page = PageContext(
            slot_keys=keys,
            consent=consent,
            visitor_key=visitor_key(f"198.51.100.{pages % 250}", "bench", day=day)
            if consent
            else None,
        )
        issued = record_served(decide(page, now=now, rng=rng), now=timezone.now())
        nonces.extend(issued.values())
        pages += 1
    (directory / "nonces.txt").write_text("\n".join(nonces[:count]) + "\n")
    (directory / "spare.txt").write_text("\n".join(nonces[count:]) + "\n")
    return {"nonces": count, "pages": pages, "seconds": round(time.perf_counter() - started, 1)}


def _mix(events: int, *, cells: Sequence[tuple[int, int, int]], visitors: bool) -> dict[str, Any]:
    """The events of one flush run, encoded, and what the rollups must say afterwards.

    62 % served, 33 % views, 2 % clicks, 3 % refused with a reason; with ``visitors``,
    half of the counted events come from consented readers (a pool of visitor keys).
    """
    import random

    from ads.tracking import CLICK, SERVED, VIEW, Event

    rng = random.Random(SEED + visitors)
    hour = 1_781_085_600  # 2026-06-10 10:00 UTC: one hour, one Berlin day
    pool = [f"{rng.getrandbits(128):032x}" for _ in range(VISITOR_POOL)]
    reasons = ("bot", "replay", "unknown_nonce", "no_user_agent", "rate_limit")
    encoded: list[str] = []
    counted: Counter[str] = Counter()
    filtered = 0
    pairs: set[tuple[int, str]] = set()
    for n in range(events):
        index = rng.randrange(len(cells))
        campaign, promotion, slot = cells[index]
        at = hour + n % 3600
        draw = rng.random()
        if draw >= 0.97:
            reason = reasons[n % len(reasons)]
            if reason == "unknown_nonce":
                campaign = promotion = slot = 0
            event = Event(VIEW, campaign, promotion, slot, at, "", reason)
            filtered += 1
        else:
            kind = SERVED if draw < 0.62 else VIEW if draw < 0.95 else CLICK
            visitor = pool[rng.randrange(len(pool))] if visitors and rng.random() < 0.5 else ""
            event = Event(kind, campaign, promotion, slot, at, visitor)
            counted[kind] += 1
            if visitor:
                pairs.add((index, visitor))
        encoded.append(event.encode())
    return {
        "encoded": encoded,
        "served": counted[SERVED],
        "views": counted[VIEW],
        "clicks": counted[CLICK],
        "filtered": filtered,
        "unique": len(pairs),
    }


def _append(client: Any, encoded: Sequence[str]) -> float:
    from ads.tracking import STREAM

    started = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for n, value in enumerate(encoded, start=1):
        pipe.xadd(STREAM, {"e": value})
        if n % 10_000 == 0:
            pipe.execute()
    pipe.execute()
    return time.perf_counter() - started


def _read_only(client: Any, *, after: str, batch: int) -> tuple[int, float]:
    """The floor: the flush's reads and decoding, without a database."""
    from ads.tracking import STREAM, Event

    started = time.perf_counter()
    events = 0
    while True:
        entries = client.xrange(STREAM, min=f"({after}", count=batch)
        if not entries:
            break
        events += sum(len(Event.decode_entry(fields[b"e"])) for _id, fields in entries)
        after = entries[-1][0].decode()
        if len(entries) < batch:
            break
    return events, time.perf_counter() - started


def _totals() -> dict[str, int]:
    from django.db.models import Sum

    from ads.models import DailyRollup, FilteredRollup, HourlyRollup

    hourly = HourlyRollup.objects.aggregate(
        served=Sum("served"),
        views=Sum("views"),
        clicks=Sum("clicks"),
        unique=Sum("unique_visitors"),
    )
    daily = DailyRollup.objects.aggregate(
        served=Sum("served"),
        views=Sum("views"),
        clicks=Sum("clicks"),
        unique=Sum("unique_visitors"),
    )
    filtered = FilteredRollup.objects.aggregate(count=Sum("count"))
    totals = {f"hourly_{k}": v or 0 for k, v in hourly.items()}
    totals.update({f"daily_{k}": v or 0 for k, v in daily.items()})
    totals["filtered"] = filtered["count"] or 0
    return totals


def _verify(expected: dict[str, Any], flushed: int, events: int, client: Any) -> None:
    from ads.tracking import STREAM

    if flushed != events:
        raise BenchError(f"flush() moved {flushed} events, {events} were sent")
    totals = _totals()
    wanted = {}
    for table in ("hourly", "daily"):
        for name in ("served", "views", "clicks", "unique"):
            wanted[f"{table}_{name}"] = expected[name]
    wanted["filtered"] = expected["filtered"]
    wrong = {k: (totals[k], v) for k, v in wanted.items() if totals[k] != v}
    if wrong:
        raise BenchError(f"the rollups do not add up (rolled up, sent): {wrong}")
    if client.xlen(STREAM) > 1:
        raise BenchError(f"{client.xlen(STREAM)} entries left in the stream after the flush")


def _empty_rollups() -> None:
    from django.db import connection

    from ads.models import DailyRollup, FilteredRollup, HourlyRollup, VisitorSeen

    tables = [m._meta.db_table for m in (HourlyRollup, DailyRollup, FilteredRollup, VisitorSeen)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)}")


def time_flush(*, events: int, repeats: int, batch: int, profile: bool) -> dict[str, Any]:
    """Append, read (the floor), flush and verify, ``repeats`` times for each mix."""
    from ads.counters import redis_client as events_client
    from ads.models import FlushCursor
    from ads.rollups import flush
    from ads.tracking import STREAM

    cells = bulk_site(
        campaigns=FLUSH_CAMPAIGNS,
        promotions_each=FLUSH_PROMOTIONS_EACH,
        slots=FLUSH_SLOTS,
        prefix="flush",
    )
    client = events_client()
    mixes = {name: _mix(events, cells=cells, visitors=name == "visitors") for name in MIXES}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in MIXES}
    baseline: list[dict[str, float]] = []
    profiles: dict[str, str] = {}
    FlushCursor.objects.get_or_create(stream=STREAM)
    for n in range(1, repeats + 1):
        for name, mix in mixes.items():
            _empty_rollups()
            appended = _append(client, mix["encoded"])
            after = FlushCursor.objects.get(stream=STREAM).last_id
            read, read_seconds = _read_only(client, after=after, batch=batch)
            if read != events:
                raise BenchError(f"read {read} events back, {events} were sent")
            _progress(f"flush {n}/{repeats}: {name}, {events} events, batch {batch}")
            started = time.perf_counter()
            report = flush(batch=batch)
            seconds = time.perf_counter() - started
            _verify(mix, report.events, events, client)
            baseline.append({"seconds": read_seconds, "events_per_s": events / read_seconds})
            runs[name].append(
                {
                    "seconds": seconds,
                    "events_per_s": events / seconds,
                    "append_events_per_s": events / appended,
                    "batches": report.batches,
                }
            )
        if profile and n == repeats:
            for name, mix in mixes.items():
                profiles[name] = _profile_flush(client, mix, events=events, batch=batch)
    expected = {
        name: {k: v for k, v in mix.items() if k != "encoded"} for name, mix in mixes.items()
    }
    return {
        "cells": len(cells),
        "batch": batch,
        "events": events,
        "repeats": repeats,
        "baseline": baseline,
        "runs": runs,
        "expected": expected,
        "profiles": profiles,
    }


def _profile_flush(client: Any, mix: dict[str, Any], *, events: int, batch: int) -> str:
    """One more flush of the same events under cProfile (untimed): where the time goes."""
    import cProfile
    import io
    import pstats
    import site

    from ads.rollups import flush

    _empty_rollups()
    _append(client, mix["encoded"])
    profiler = cProfile.Profile()
    profiler.enable()
    report = flush(batch=batch)
    profiler.disable()
    _verify(mix, report.events, events, client)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    # Paths relative to site-packages and the repository: short, and still unambiguous
    # (psycopg and redis both have a connection.py).
    text = out.getvalue()
    for directory in (*site.getsitepackages(), str(REPO_ROOT)):
        text = text.replace(directory + "/", "")
    return text


def _run_worker(args: argparse.Namespace) -> None:
    import json

    setup_django_for_worker()
    if args.worker == "nonces":
        result = issue_nonces(Path(args.dir), args.count)
    else:
        from django.conf import settings

        result = time_flush(
            events=args.count,
            repeats=args.repeats,
            batch=args.batch or settings.LITFASS_FLUSH_BATCH,
            profile=args.profile,
        )
    print(json.dumps(result))


# --- the calling side ----------------------------------------------------------------------


def _lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def wrk_script(directory: Path, *, threads: int) -> Path:
    """A wrk Lua script that POSTs view beacons for the nonces in ``nonces.txt``.

    Thread ``k`` of ``threads`` takes every ``threads``-th nonce; every run starts where
    the last one stopped (``position.txt``, written by ``done``), so nonces are used
    once before any is replayed.
    """
    user_agents = ", ".join(_lua_string(ua) for ua in USER_AGENTS)
    script = directory / "beacons.lua"
    script.write_text(
        f"""-- Generated by bench.tracking: view beacons, one per nonce, as litfass.js sends them.
local nonces_path = {_lua_string(str(directory / "nonces.txt"))}
local position_path = {_lua_string(str(directory / "position.txt"))}
local threads = {threads}
local user_agents = {{{user_agents}}}
local started_at = 0
local f = io.open(position_path, "r")
if f then
  started_at = tonumber(f:read("*l")) or 0
  f:close()
end
local all_threads = {{}}

function setup(thread)
  thread:set("id", #all_threads)
  table.insert(all_threads, thread)
end

function init(args)
  requests = {{}}
  local n = 0
  for nonce in io.lines(nonces_path) do
    if n % threads == id then
      local ua = user_agents[(#requests % #user_agents) + 1]
      requests[#requests + 1] = wrk.format("POST", "/t/v/" .. nonce, {{
        ["User-Agent"] = ua,
        ["Accept"] = "*/*",
        ["Accept-Language"] = "de-DE,de;q=0.9,en;q=0.8",
        ["Referer"] = "http://127.0.0.1/artikel/ki-buendnis-mit-japan/",
      }}, "")
    end
    n = n + 1
  end
  sent = 0
  next_index = math.floor(started_at / threads) % #requests
end

function request()
  sent = sent + 1
  next_index = next_index % #requests + 1
  return requests[next_index]
end

function done(summary, latency, requests)
  local most = 0
  for _, thread in ipairs(all_threads) do
    most = math.max(most, thread:get("sent") or 0)
  end
  local out = io.open(position_path, "w")
  out:write(tostring(started_at + most * threads) .. "\\n")
  out:close()
end
"""
    )
    return script


def _post(url: str, *, user_agent: str) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        headers = {"User-Agent": user_agent} if user_agent else {}
        conn.request("POST", parts.path, body=b"", headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def stream_tally(redis_url: str) -> Counter[tuple[str, str]]:
    """Events on the stream by (event, reason); ``""`` is a counted one."""
    client = redis_client(redis_url)
    stream = "litfass:ads:events"
    tally: Counter[tuple[str, str]] = Counter()
    after = "-"
    while True:
        entries = client.xrange(stream, min=after, count=50_000)
        if not entries:
            break
        for _id, fields in entries:
            for line in fields[b"e"].decode().split("\n"):  # (ads.tracking.ENTRY_SEPARATOR)
                event, *_middle, reason = line.split("|")
                tally[(event, reason)] += 1
        after = "(" + entries[-1][0].decode()
    return tally


def check_beacon(base_url: str, spare: Sequence[str], redis_url: str) -> None:
    """One view with a browser's User-Agent counts, a bot's is refused: both answer 204."""
    before = stream_tally(redis_url)
    for nonce, user_agent in ((spare[0], USER_AGENTS[0]), (spare[1], "Googlebot/2.1")):
        status = _post(f"{base_url}/t/v/{nonce}", user_agent=user_agent)
        if status != 204:
            raise BenchError(f"POST /t/v/<nonce> answered {status}, not 204")
    after = stream_tally(redis_url)
    change = {key: after[key] - before[key] for key in after if after[key] != before[key]}
    if change != {("view", ""): 1, ("view", "bot"): 1}:
        raise BenchError(f"the check beacons did not count as expected: {change}")


def _fmt(value: float) -> str:
    return f"{value:,.0f}"


def report(results: dict[str, Any]) -> str:
    comparison = results["comparison"]
    tally: Counter[tuple[str, str]] = results["tally"]
    beacon_ratio = comparison.subject.requests_per_second / comparison.baseline.requests_per_second
    views = {reason: n for (event, reason), n in tally.items() if event == "view"}
    counted, replays = views.get("", 0), views.get("replay", 0)
    beacon = markdown_table(
        "Tracking: view beacon `POST /t/v/<nonce>` vs. minimal JSON view",
        [
            Row(f"baseline: JSON view `{BASELINE_PATH}`", comparison.baseline),
            Row("view beacon `POST /t/v/<nonce>` (204)", comparison.subject),
        ],
        facts=results["facts"],
        notes=[
            f"Load: wrk {comparison.threads} threads, {comparison.connections} connections, "
            f"{comparison.rounds} interleaved rounds of {comparison.seconds:g} s per URL "
            "(baseline first in each round); medians over rounds.",
            f"Server: gunicorn, {WORKERS} sync workers, `bench.settings` (DEBUG off), "
            "PostgreSQL and Redis as in production (the beacon itself touches only Redis: one "
            "Lua script per request).",
            f"Nonces: {results['nonces']['nonces']:,} issued by `ads.tracking.record_served` "
            f"on {results['nonces']['pages']:,} decisions of {SLOTS_PER_PAGE} slots, half with "
            "a visitor key; wrk walks through them across rounds (warm-up included), "
            f"{len(USER_AGENTS)} browser User-Agents in turn. Views on the stream afterwards: "
            f"**{counted:,} counted, {replays:,} replays** (a nonce hit again after all were "
            "used; same Lua script, `HSETNX` finds the view set), nothing else refused. "
            f"Rate limit raised to {RATE_LIMIT_FOR_LOAD:,} per minute for the run (wrk is one "
            "IP address): its `INCR` still runs on every request.",
            f"**Target: beacon ≥ {TARGET_BEACON_RATIO:.0%} of the baseline's throughput: "
            f"{beacon_ratio:.0%}, {'met' if beacon_ratio >= TARGET_BEACON_RATIO else 'MISSED'}.**",
        ],
    )
    flushed = results["flush"]
    base_rate = statistics.median(r["events_per_s"] for r in flushed["baseline"])
    base_seconds = statistics.median(r["seconds"] for r in flushed["baseline"])
    events, batch, cells = flushed["events"], flushed["batch"], flushed["cells"]
    lines = [
        f"### Tracking: flush of {events:,} events from Redis into the rollups",
        "",
        f"Machine: {results['facts']}",
        "",
        "| what | events | cells | batch | events/s (median) | s per run (median) "
        "| ratio to baseline (events/s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| baseline: read only, `XRANGE` in batches + `Event.decode`, no database "
        f"| {events:,} | {cells:,} | {batch:,} | {_fmt(base_rate)} | {base_seconds:.2f} | 1.00 |",
    ]
    verdicts = []
    for name in MIXES:
        runs = flushed["runs"][name]
        rate = statistics.median(r["events_per_s"] for r in runs)
        seconds = statistics.median(r["seconds"] for r in runs)
        lines.append(
            f"| {MIX_LABELS[name]} | {events:,} | {cells:,} | {batch:,} | {_fmt(rate)} "
            f"| {seconds:.2f} | {rate / base_rate:.2f} |"
        )
        verdicts.append(
            f"{MIX_LABELS[name].removeprefix('flush: ')}: {_fmt(rate)} events/s, "
            f"{'met' if rate >= TARGET_FLUSH_EVENTS_PER_S else 'MISSED'}"
        )
    expected = flushed["expected"]
    mix = expected["counts"]
    appended = statistics.median(
        r["append_events_per_s"] for runs in flushed["runs"].values() for r in runs
    )
    notes = [
        f"`ads.rollups.flush(batch={batch:,})` timed in-process (a worker process with Django, "
        f"PostgreSQL, Redis), {flushed['repeats']} runs per row, rows interleaved; the rollups "
        "are emptied before each run, so every run inserts its cells afresh and then adds to "
        "them batch by batch.",
        f"Events: {FLUSH_CAMPAIGNS} campaigns x {FLUSH_PROMOTIONS_EACH} promotions x "
        f"{FLUSH_SLOTS} slots = {cells:,} cells, drawn at random; within one hour; "
        f"{mix['served']:,} served, {mix['views']:,} views, {mix['clicks']:,} clicks and "
        f"{mix['filtered']:,} refused (5 reasons). With visitor keys: "
        f"{expected['visitors']['unique']:,} distinct (cell, visitor) pairs from a pool of "
        f"{VISITOR_POOL:,} readers, each one a `VisitorSeen` row for the hour and one for the "
        f"day. Appending them (`XADD`, pipelines of 10,000) ran at {_fmt(appended)} events/s.",
        "Verified after every run: served, views, clicks and unique visitors in the hourly "
        "and daily rollups and the refused count equal exactly what was sent; the stream is "
        "empty but for the last id.",
        f"**Target: flush ≥ {TARGET_FLUSH_EVENTS_PER_S:,} events/s: " + "; ".join(verdicts) + ".**",
    ]
    if results["quick"]:
        notes.append("Quick run: fewer events and rounds than the full run; a smoke test only.")
    for note in notes:
        lines.extend(["", note])
    for name, text in flushed["profiles"].items():
        lines.extend(["", f"Profile of one flush, {MIX_LABELS[name]} (cProfile, by own time):"])
        lines.extend(["", "```", text.strip(), "```"])
    return beacon + "\n\n" + "\n".join(lines)


def run(*, quick: bool = False, profile: bool = False) -> str:
    facts = machine_facts()
    ensure_wrk()
    site = services()
    site.check()
    rounds, seconds = (3, 2) if quick else (5, 5)
    warmup_seconds = 2 if quick else 5
    flush_events = FLUSH_EVENTS // 5 if quick else FLUSH_EVENTS
    flush_repeats = 2 if quick else 3
    with tempfile.TemporaryDirectory(prefix="litfass-bench-tracking-") as tmp:
        directory = Path(tmp)
        var_dir = directory / "var"
        # WhiteNoise warns on every worker boot when STATIC_ROOT is missing.
        (var_dir / "static").mkdir(parents=True)
        env = site.env(var_dir)
        _progress(f"tracking: (re)creating database {site.database_name!r}")
        recreate_database(site)
        claim_redis(site)
        try:
            manage("migrate", "--noinput", env=env)
            _progress(f"tracking: issuing {NONCES:,} nonces")
            nonces = run_worker(MODULE, ["nonces", "--dir", tmp, "--count", str(NONCES)], env)
            script = wrk_script(directory, threads=WRK_THREADS)
            spare = (directory / "spare.txt").read_text().split()
            server_env = {**env, "LITFASS_TRACKING_RATE_LIMIT": str(RATE_LIMIT_FOR_LOAD)}
            with serve(BENCH_SETTINGS, workers=WORKERS, env=server_env) as base_url:
                check_beacon(base_url, spare, site.redis_url)
                comparison = compare_http(
                    base_url + "/t/v/",
                    base_url + BASELINE_PATH,
                    rounds=rounds,
                    seconds=seconds,
                    connections=WRK_CONNECTIONS,
                    threads=WRK_THREADS,
                    subject_script=script,
                    warmup_seconds=warmup_seconds,
                )
            tally = stream_tally(site.redis_url)
            refused = {
                key: n
                for key, n in tally.items()
                if key[0] == "view" and key[1] not in ("", "replay")
            }
            # The one bot beacon of the check is the only refusal allowed.
            if refused != {("view", "bot"): 1}:
                raise BenchError(f"beacons were refused for other reasons than replays: {refused}")
            # The flush starts from an empty stream: the beacons' events are not its subject.
            reset_redis(site.redis_url, site.owner)
            _progress(f"tracking: the flush, {flush_repeats} runs of {flush_events:,} events")
            flushed = run_worker(
                MODULE,
                [
                    "flush",
                    "--count",
                    str(flush_events),
                    "--repeats",
                    str(flush_repeats),
                    *(["--profile"] if profile else []),
                ],
                env,
                timeout=1800,
            )
        finally:
            release_redis(site)
            drop_database(site)
    # The check's own counted beacon is not the load's.
    tally[("view", "")] -= 1
    del tally[("view", "bot")]
    return report(
        {
            "facts": facts,
            "quick": quick,
            "nonces": nonces,
            "comparison": comparison,
            "tally": tally,
            "flush": flushed,
        }
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds: a smoke run")
    parser.add_argument(
        "--profile", action="store_true", help="add a cProfile of one flush per mix"
    )
    # Internal: the fresh processes run() starts to issue nonces and time the flush.
    parser.add_argument("--worker", choices=("nonces", "flush"), help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _run_worker(args)
        return
    print(run(quick=args.quick, profile=args.profile))


if __name__ == "__main__":
    main()
