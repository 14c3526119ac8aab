"""A soak of the counting pipeline: events stream in while the flushing worker is SIGKILLed.

.venv/bin/python -m bench.soak --minutes 3 [--rate 1500] [--batch 2000] [--seed N] [--keep]

Not part of ``python -m bench``: it runs for minutes, kills processes and measures no
speed. What it proves is the counting contract under faults: every event recorded by
the tracking functions ends up in the rollups exactly once, whatever moment the worker
dies at.

On its own PostgreSQL database (``litfass_bench_soak``, migrated afresh) and Redis
databases (4 and 5, emptied first), for ``--minutes``:

- a real Celery worker (``celery -A portal worker --pool solo``, ``LITFASS_FLUSH_BATCH``
  small) runs ``ads.tasks.flush_events``, sent every second as beat would;
- producer threads in this process record decisions with ``ads.tracking.record_served``
  and views and clicks with ``ads.tracking.record_event``: counted ones, replays, bots,
  missing user agents, unknown and forged nonces and a reader over the rate limit, at a
  fixed pace; each keeps its own tally of what the functions answered;
- a killer SIGKILLs the worker every 2-10 s (counted from the last restart) and starts
  a new one at once; half the kills first wait for the worker to open a flush
  transaction. It notes whether each kill hit one and how long it took from the restart
  until the flush cursor moved again.

Then the producer stops, the flushing finishes, and the tally must match the database
exactly: received = accepted + refused, the hourly and daily rollups hold exactly the
accepted events (by kind), the refused rollup exactly the refused ones (by event and
reason), and the flush cursor passed every event once. Exit status 1 if anything does not
reconcile (the database and Redis are then kept for a look; ``--keep`` always keeps them).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import REPO_ROOT, BenchError, machine_facts, manage
from bench.services import (
    Services,
    claim_redis,
    drop_database,
    recreate_database,
    release_redis,
    service_env,
)

MODULE = "bench.soak"
DEFAULT_DATABASE_URL = "postgres://litfass:litfass@127.0.0.1:5432/litfass_bench_soak"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/4"
DEFAULT_REDIS_CACHE_URL = "redis://127.0.0.1:6379/5"
# Seen by PostgreSQL (pg_stat_activity), so a kill can tell whether it hit a transaction.
WORKER_APP_NAME = "litfass-soak-worker"

SLOTS = 6
SLOTS_PER_PAGE = 4
CAMPAIGNS = 12
PRODUCERS = 2
KILL_EVERY_S = (2.0, 10.0)
BEAT_EVERY_S = 1.0
RECOVERY_TIMEOUT_S = 60.0
# Half the kills wait (up to 2 s) until the worker is inside a flush transaction: the
# moment that matters most, and one a purely random kill hits only now and then.
AIMED_SHARE = 0.5
AIM_TIMEOUT_S = 2.0
DRAIN_TIMEOUT_S = 300.0

BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
)
BOTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
)
# One reader who sends far more than a page's worth per minute: refused as "rate_limit".
HAMMER_IP = "192.0.2.66"


def _progress(message: str) -> None:
    print(f"[soak] {message}", file=sys.stderr, flush=True)


def services() -> Services:
    return Services.from_env(
        "LITFASS_BENCH_SOAK",
        owner=MODULE,
        database_url=DEFAULT_DATABASE_URL,
        redis_url=DEFAULT_REDIS_URL,
        redis_cache_url=DEFAULT_REDIS_CACHE_URL,
    )


# --- the producer --------------------------------------------------------------------------


@dataclass
class Tally:
    """What the tracking functions answered, per event: counted, or refused and why."""

    accepted: Counter[str] = field(default_factory=Counter)
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, event: str, reason: str, n: int = 1) -> None:
        if reason:
            self.refused[(event, reason)] += n
        else:
            self.accepted[event] += n

    def merge(self, other: Tally) -> None:
        self.accepted.update(other.accepted)
        self.refused.update(other.refused)

    @property
    def received(self) -> int:
        return sum(self.accepted.values()) + sum(self.refused.values())


class Producer(threading.Thread):
    """Pages and what readers do with their slots, at ``rate`` events per second."""

    def __init__(self, n: int, *, rate: float, seed: int, stop: threading.Event) -> None:
        super().__init__(name=f"producer-{n}", daemon=True)
        self.rng = random.Random(seed * 100 + n)
        self.rate = rate
        self.stop = stop
        self.tally = Tally()
        # Events recorded so far: an int, so the main thread can read it while this one
        # adds to the tally.
        self.recorded = 0
        self.error: str | None = None

    def run(self) -> None:
        from django.db import connection

        try:
            started = time.monotonic()
            while not self.stop.is_set():
                self.page()
                ahead = self.recorded / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    self.stop.wait(ahead)
        except Exception:
            self.error = traceback.format_exc()
        finally:
            connection.close()

    def page(self) -> None:
        from django.utils import timezone

        from ads.decision import PageContext, berlin_day, decide
        from ads.tracking import CLICK, VIEW, new_nonce, record_event, record_served, refusal
        from ads.visitors import visitor_key

        rng = self.rng
        draw = rng.random()
        if draw < 0.04:
            user_agent = rng.choice(BOTS)
        elif draw < 0.06:
            user_agent = ""
        else:
            user_agent = rng.choice(BROWSERS)
        hammer = rng.random() < 0.02
        ip = (
            HAMMER_IP
            if hammer
            else f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        )
        now = timezone.now()
        consent = rng.random() < 0.5
        slot_keys = tuple(sorted(rng.sample([f"soak-{n}" for n in range(SLOTS)], SLOTS_PER_PAGE)))
        page = PageContext(
            slot_keys=slot_keys,
            consent=consent,
            visitor_key=visitor_key(ip, user_agent, day=berlin_day(now)) if consent else None,
        )
        refuse = refusal(user_agent)
        # As the decisions view does: bots and missing user agents are served, never billed.
        nonces = record_served(decide(page, now=now, rng=rng), now=now, refuse=refuse)
        self.tally.add("served", refuse, len(nonces))
        self.recorded += len(nonces)

        def track(event: str, nonce: str) -> None:
            outcome = record_event(event, nonce, user_agent=user_agent, ip_address=ip)
            self.tally.add(event, outcome.reason)
            self.recorded += 1

        for nonce in nonces.values():
            if rng.random() < 0.7:
                track(VIEW, nonce)
                if rng.random() < 0.1:
                    track(VIEW, nonce)  # a second beacon: a replay
            if rng.random() < 0.05:
                track(CLICK, nonce)
                if rng.random() < 0.2:
                    track(CLICK, nonce)  # a double click: a replay
        if rng.random() < 0.05:
            track(VIEW, new_nonce())  # well signed, never issued (or expired)
        if rng.random() < 0.02:
            track(CLICK, "forged-nonce.AAAAAAAAAAAA")


# --- the worker and the killer -------------------------------------------------------------


class Worker:
    """The Celery worker process: started, SIGKILLed and started again."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    "--pool",
                    "solo",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                    "--loglevel",
                    "WARNING",
                ],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
            )

    def kill(self) -> None:
        assert self.proc is not None  # noqa: S101
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            tail = self.log.read_text(errors="replace")[-4000:]
            raise BenchError(f"the Celery worker exited by itself ({code}):\n{tail}")


def cursor_state() -> tuple[str, int]:
    from ads.models import FlushCursor
    from ads.tracking import STREAM

    cursor = FlushCursor.objects.filter(stream=STREAM).first()
    return (cursor.last_id, cursor.events) if cursor else ("0-0", 0)


def in_transaction(database: str) -> bool:
    """Whether the worker has a transaction open right now (a flush between its first
    statement and its commit)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s "
            "AND state IN ('active', 'idle in transaction')",
            [database, WORKER_APP_NAME],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


@dataclass(frozen=True)
class Kill:
    at: float
    aimed: bool
    in_transaction: bool
    cursor_events: int
    # None: the soak ended before there was anything more to flush.
    recovery_s: float | None


class Killer(threading.Thread):
    """SIGKILLs the worker every 2-10 s after its last restart, restarts it at once and
    waits for the flush cursor to move before the next kill."""

    def __init__(
        self, worker: Worker, *, database: str, seed: int, stop: threading.Event, start: float
    ) -> None:
        super().__init__(name="killer", daemon=True)
        self.worker = worker
        self.database = database
        self.rng = random.Random(seed)
        self.stop = stop
        self.start_time = start
        self.kills: list[Kill] = []
        self.first_recovery_s: float | None = None
        self.error: str | None = None

    def run(self) -> None:
        from django.db import connection

        try:
            self.first_recovery_s = self.wait_for_cursor(self.start_time, after=0)
            restarted = time.monotonic()
            while not self.stop.is_set():
                if self.stop.wait(self.rng.uniform(*KILL_EVERY_S) - (time.monotonic() - restarted)):
                    break
                self.worker.check_alive()
                aimed = self.rng.random() < AIMED_SHARE
                hit_transaction = self.aim() if aimed else in_transaction(self.database)
                self.worker.kill()
                at = time.monotonic()
                _last_id, events = cursor_state()
                self.worker.start()
                restarted = time.monotonic()
                recovery = self.wait_for_cursor(restarted, after=events)
                self.kills.append(
                    Kill(
                        at=at - self.start_time,
                        aimed=aimed,
                        in_transaction=hit_transaction,
                        cursor_events=events,
                        recovery_s=recovery,
                    )
                )
        except Exception:
            self.error = traceback.format_exc()
        finally:
            connection.close()

    def aim(self) -> bool:
        """Wait (a little) for the worker to be inside a flush transaction; whether it is."""
        deadline = time.monotonic() + AIM_TIMEOUT_S
        while time.monotonic() < deadline and not self.stop.is_set():
            if in_transaction(self.database):
                return True
            time.sleep(0.005)
        return False

    def wait_for_cursor(self, since: float, *, after: int) -> float | None:
        """Seconds from ``since`` until the cursor has passed more than ``after`` events;
        ``None`` when the soak is ending and nothing is left to flush."""
        deadline = since + RECOVERY_TIMEOUT_S
        while time.monotonic() < deadline:
            last_id, events = cursor_state()
            if events > after:
                return time.monotonic() - since
            if self.stop.is_set() and last_id == last_stream_id():
                return None
            self.worker.check_alive()
            time.sleep(0.02)
        raise BenchError(f"the flush cursor did not move within {RECOVERY_TIMEOUT_S:.0f} s")


def last_stream_id() -> str:
    from ads.counters import redis_client
    from ads.tracking import STREAM

    last: Any = redis_client().xrevrange(STREAM, count=1)
    return last[0][0].decode() if last else "0-0"


class Beat(threading.Thread):
    """``flush_events.delay()`` every second, as Celery beat would (more often than its
    10 s, so a soak of minutes sees many flushes)."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__(name="beat", daemon=True)
        self.stop = stop
        self.sent = 0
        self.error: str | None = None

    def run(self) -> None:
        from ads.tasks import flush_events

        try:
            while not self.stop.wait(BEAT_EVERY_S):
                flush_events.delay()
                self.sent += 1
        except Exception:
            self.error = traceback.format_exc()


# --- the soak ------------------------------------------------------------------------------


def seed_site() -> None:
    from bench.tracking import bulk_site

    bulk_site(campaigns=CAMPAIGNS, promotions_each=2, slots=SLOTS, prefix="soak")


@dataclass
class Outcome:
    minutes: float
    rate: float
    batch: int
    producing_s: float
    tally: Tally
    kills: list[Kill]
    first_recovery_s: float
    drain_s: float
    flushes_sent: int
    database: dict[str, Any]


def database_totals() -> dict[str, Any]:
    from django.db.models import Sum

    from ads.models import DailyRollup, FilteredRollup, HourlyRollup
    from ads.tracking import STREAM

    sums = {"served": Sum("served"), "views": Sum("views"), "clicks": Sum("clicks")}
    hourly = {k: v or 0 for k, v in HourlyRollup.objects.aggregate(**sums).items()}
    daily = {k: v or 0 for k, v in DailyRollup.objects.aggregate(**sums).items()}
    refused = Counter(
        {
            (row["event"], row["reason"]): row["total"]
            for row in FilteredRollup.objects.values("event", "reason").annotate(total=Sum("count"))
        }
    )
    from ads.counters import redis_client

    _last_id, events = cursor_state()
    return {
        "hourly": hourly,
        "daily": daily,
        "refused": refused,
        "cursor_events": events,
        "stream_left": redis_client().xlen(STREAM),
    }


def soak(
    *, minutes: float, rate: float, batch: int, seed: int, workdir: Path, env: dict[str, str]
) -> Outcome:
    import django

    os.environ.update(env)
    django.setup()
    from portal.celery import app

    seed_site()
    # The engine's snapshot, built once here rather than by the first producers at once.
    from django.utils import timezone

    from ads.decision import PageContext, decide

    decide(PageContext(slot_keys=("soak-0",)), now=timezone.now(), rng=random.Random(seed))
    app.control.purge()
    worker = Worker(
        service_env({**env, "LITFASS_FLUSH_BATCH": str(batch), "PGAPPNAME": WORKER_APP_NAME}),
        workdir / "worker.log",
    )
    stop_producing, stop_killing, stop_beat = (
        threading.Event(),
        threading.Event(),
        threading.Event(),
    )
    producers = [
        Producer(n, rate=rate / PRODUCERS, seed=seed, stop=stop_producing) for n in range(PRODUCERS)
    ]
    beat = Beat(stop_beat)
    started = time.monotonic()
    worker.start()
    killer = Killer(
        worker,
        database=env["DATABASE_URL"].rsplit("/", 1)[1],
        seed=seed,
        stop=stop_killing,
        start=started,
    )
    threads: list[threading.Thread] = [*producers, beat, killer]
    for thread in threads:
        thread.start()

    def failed() -> str | None:
        for thread in threads:
            error = getattr(thread, "error", None)
            if error:
                return f"{thread.name} failed:\n{error}"
        return None

    try:
        deadline = started + minutes * 60
        next_report = started + 15
        while time.monotonic() < deadline and not failed():
            time.sleep(0.2)
            if time.monotonic() >= next_report:
                next_report += 15
                _last_id, flushed = cursor_state()
                received = sum(p.recorded for p in producers)
                _progress(
                    f"{time.monotonic() - started:5.0f} s: {received:,} events recorded, "
                    f"{flushed:,} flushed, {len(killer.kills)} kills"
                )
        stop_producing.set()
        for producer in producers:
            producer.join(timeout=60)
        producing_s = time.monotonic() - started
        stop_killing.set()
        killer.join(timeout=RECOVERY_TIMEOUT_S + 60)
        problem = failed()
        if problem:
            raise BenchError(problem)
        tally = Tally()
        for producer in producers:
            tally.merge(producer.tally)
        _progress(f"producer stopped after {tally.received:,} events; draining")
        drain_started = time.monotonic()
        while cursor_state()[1] < tally.received:
            worker.check_alive()
            if time.monotonic() - drain_started > DRAIN_TIMEOUT_S:
                raise BenchError(
                    f"the flush did not catch up within {DRAIN_TIMEOUT_S:.0f} s: "
                    f"{cursor_state()[1]:,} of {tally.received:,} events"
                )
            time.sleep(0.05)
        drain_s = time.monotonic() - drain_started
        # One more flush must find nothing left: nothing was appended twice.
        time.sleep(2 * BEAT_EVERY_S)
    finally:
        stop_producing.set()
        stop_killing.set()
        stop_beat.set()
        beat.join(timeout=10)
        worker.stop()
        app.control.purge()
    return Outcome(
        minutes=minutes,
        rate=rate,
        batch=batch,
        producing_s=producing_s,
        tally=tally,
        kills=killer.kills,
        first_recovery_s=killer.first_recovery_s or 0.0,
        drain_s=drain_s,
        flushes_sent=beat.sent,
        database=database_totals(),
    )


# --- the report ----------------------------------------------------------------------------


def reconcile(outcome: Outcome) -> list[tuple[str, int, int]]:
    """(what, the producer's tally, the database's count); a soak passes when each pair
    is equal."""
    tally, db = outcome.tally, outcome.database
    accepted = sum(tally.accepted.values())
    refused = sum(tally.refused.values())
    rows = [
        (
            "events received (producer) vs. passed by the flush cursor",
            tally.received,
            db["cursor_events"],
        ),
        ("received vs. accepted + refused (producer)", tally.received, accepted + refused),
        (
            "accepted vs. served + views + clicks (`HourlyRollup`)",
            accepted,
            sum(db["hourly"].values()),
        ),
        (
            "accepted vs. served + views + clicks (`DailyRollup`)",
            accepted,
            sum(db["daily"].values()),
        ),
        ("refused vs. `FilteredRollup`", refused, sum(db["refused"].values())),
    ]
    for kind, column in (("served", "served"), ("view", "views"), ("click", "clicks")):
        rows.append((f"accepted {kind} (hourly)", tally.accepted[kind], db["hourly"][column]))
        rows.append((f"accepted {kind} (daily)", tally.accepted[kind], db["daily"][column]))
    for key in sorted(set(tally.refused) | set(db["refused"])):
        rows.append((f"refused {key[0]}: {key[1]}", tally.refused[key], db["refused"][key]))
    return rows


def report(outcome: Outcome, facts: str) -> tuple[str, bool]:
    rows = reconcile(outcome)
    ok = (
        all(mine == theirs for _what, mine, theirs in rows) and outcome.database["stream_left"] <= 1
    )
    kills = outcome.kills
    recoveries = [k.recovery_s for k in kills if k.recovery_s is not None]
    longest = max(recoveries, default=None)
    lines = [
        f"### Soak: counting under SIGKILL, {outcome.minutes:g} min",
        "",
        f"Machine: {facts}",
        "",
        "| what | value |",
        "|---|---:|",
        f"| producing | {outcome.producing_s:.0f} s at {outcome.rate:,.0f} events/s "
        f"({PRODUCERS} threads) |",
        f"| events recorded | {outcome.tally.received:,} "
        f"({outcome.tally.received / outcome.producing_s:,.0f}/s) |",
        f"| flush tasks sent (every {BEAT_EVERY_S:g} s) | {outcome.flushes_sent:,} |",
        f"| flush batch (`LITFASS_FLUSH_BATCH`) | {outcome.batch:,} |",
        f"| worker SIGKILLs | {len(kills)} |",
        f"| … aimed at an open flush transaction / at random | "
        f"{sum(k.aimed for k in kills)} / {sum(not k.aimed for k in kills)} |",
        "| … that hit an open flush transaction (`pg_stat_activity` just before) | "
        f"{sum(k.in_transaction for k in kills)} |",
        "| recovery, restart → cursor moves: longest | "
        + (f"{longest:.2f} s |" if longest is not None else "– |"),
        "| recovery: median | "
        + (f"{statistics.median(recoveries):.2f} s |" if recoveries else "– |"),
        f"| first start → cursor moves | {outcome.first_recovery_s:.2f} s |",
        f"| drain after the producer stopped | {outcome.drain_s:.2f} s |",
        f"| entries left in the stream | {outcome.database['stream_left']} (≤ 1: the last "
        "flushed id stays) |",
        "",
        "#### Reconciliation",
        "",
        "| count | producer's tally | database | |",
        "|---|---:|---:|---|",
    ]
    for what, mine, theirs in rows:
        lines.append(f"| {what} | {mine:,} | {theirs:,} | {'✓' if mine == theirs else '**✗**'} |")
    accepted = sum(outcome.tally.accepted.values())
    refused = sum(outcome.tally.refused.values())
    lines.extend(
        [
            "",
            f"received {outcome.tally.received:,} = accepted {accepted:,} + refused {refused:,}. "
            + (
                "**Everything reconciles: no event lost, none counted twice.**"
                if ok
                else "**RECONCILIATION FAILED.**"
            ),
        ]
    )
    return "\n".join(lines), ok


def run(*, minutes: float, rate: float, batch: int, seed: int, keep: bool) -> int:
    facts = machine_facts()
    site = services()
    site.check()
    ok = False
    with tempfile.TemporaryDirectory(prefix="litfass-bench-soak-") as tmp:
        workdir = Path(tmp)
        var_dir = workdir / "var"
        (var_dir / "static").mkdir(parents=True)
        env = site.env(var_dir)
        _progress(f"(re)creating database {site.database_name!r}, emptying Redis")
        claim_redis(site)
        recreate_database(site)
        try:
            manage("migrate", "--noinput", env=env)
            _progress(f"soaking for {minutes:g} min at {rate:,.0f} events/s")
            outcome = soak(
                minutes=minutes, rate=rate, batch=batch, seed=seed, workdir=workdir, env=env
            )
            table, ok = report(outcome, facts)
            print(table, flush=True)
        finally:
            from django.apps import apps

            if apps.ready:
                from django.db import connections

                connections.close_all()
            if ok and not keep:
                release_redis(site)
                drop_database(site)
            else:
                _progress(
                    f"kept for a look: database {site.database_name!r}, Redis {site.redis_url}"
                )
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=3.0, help="how long to produce (3)")
    parser.add_argument("--rate", type=float, default=1500.0, help="events per second (1500)")
    parser.add_argument("--batch", type=int, default=2000, help="LITFASS_FLUSH_BATCH (2000)")
    parser.add_argument("--seed", type=int, default=20_260_612, help="for pages and kills")
    parser.add_argument("--keep", action="store_true", help="keep the database and Redis")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 120:
        parser.error("--minutes must be between 0 and 120")
    return run(
        minutes=args.minutes, rate=args.rate, batch=args.batch, seed=args.seed, keep=args.keep
    )


if __name__ == "__main__":
    sys.exit(main())
