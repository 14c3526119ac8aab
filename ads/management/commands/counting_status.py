"""``manage.py counting_status``: is the flush keeping up? For monitoring (exit status)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone
from redis.exceptions import RedisError

from ads.rollups import backlog

DEFAULT_MAX_LAG = 120  # s: twelve flushes (every 10 s) behind


class Command(BaseCommand):
    help = (
        "Shows what waits in the Redis event stream for the flush into the rollups, and "
        "fails (exit status 1) when the oldest event has waited longer than --max-lag "
        "seconds: then no Celery worker flushes, and Redis fills up."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-lag",
            type=int,
            default=DEFAULT_MAX_LAG,
            help=f"Seconds an event may wait before this fails (default {DEFAULT_MAX_LAG}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.REDIS_URL:
            self.stdout.write("No Redis (embedded default): events go straight to the rollups.")
            return
        now = timezone.now()
        try:
            found = backlog()
        except (DatabaseError, RedisError) as error:
            # A check that cannot look fails, and says why, in one line.
            raise CommandError(f"cannot read the stream or the flush cursor: {error}") from error
        last = found.last_flush.isoformat(timespec="seconds") if found.last_flush else "never"
        self.stdout.write(f"Stream entries:   {found.entries}")
        self.stdout.write(f"Events flushed:   {found.flushed} (last flush: {last})")
        if found.waiting_since is None:
            self.stdout.write(self.style.SUCCESS("Waiting:          nothing"))
            return
        lag = (now - found.waiting_since).total_seconds()
        self.stdout.write(
            f"Waiting since:    {found.waiting_since.isoformat(timespec='seconds')} ({lag:.0f} s)"
        )
        if lag > options["max_lag"]:
            raise CommandError(
                f"the oldest event has waited {lag:.0f} s (more than {options['max_lag']} s): "
                "is a Celery worker with beat running `ads.tasks.flush_events`?"
            )
        self.stdout.write(self.style.SUCCESS("The flush keeps up."))
