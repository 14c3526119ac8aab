"""Counts a server process's Redis round trips and SQL queries, for per-request figures.

Only with ``LITFASS_BENCH_COUNT_REDIS=1`` (``bench.settings`` then calls ``install()`` and
``bench.urls`` serves ``/_bench/redis-calls/``); the timed runs never count. Every Redis
command sent on its own is one round trip; a pipeline is one round trip for all of its
commands. The numbers are this process's: serve one worker to read them all.
"""

from __future__ import annotations

import threading
from typing import Any

from django.http import HttpRequest, JsonResponse

_lock = threading.Lock()
_round_trips = 0
_commands: dict[str, int] = {}
_queries = 0
_installed = False


def _count(names: list[str]) -> None:
    global _round_trips
    with _lock:
        _round_trips += 1
        for name in names:
            _commands[name] = _commands.get(name, 0) + 1


def _count_query() -> None:
    global _queries
    with _lock:
        _queries += 1


def install() -> None:
    """Wrap redis-py's client and pipeline, and Django's cursor, once in this process."""
    global _installed
    if _installed:
        return
    import redis
    from django.db.backends.utils import CursorWrapper
    from redis.client import Pipeline

    execute_command = redis.Redis.execute_command
    execute_pipeline = Pipeline.execute

    def counted_command(self: Any, *args: Any, **options: Any) -> Any:
        _count([str(args[0]).lower()])
        return execute_command(self, *args, **options)

    def counted_pipeline(self: Any, *args: Any, **options: Any) -> Any:
        if self.command_stack:
            _count([str(args[0]).lower() for args, _options in self.command_stack])
        return execute_pipeline(self, *args, **options)

    # Pipeline overrides execute_command (it queues), so only single commands count here.
    execute_sql = CursorWrapper.execute
    execute_many = CursorWrapper.executemany

    def counted_sql(self: Any, *args: Any, **options: Any) -> Any:
        _count_query()
        return execute_sql(self, *args, **options)

    def counted_many(self: Any, *args: Any, **options: Any) -> Any:
        _count_query()
        return execute_many(self, *args, **options)

    redis.Redis.execute_command = counted_command  # type: ignore[method-assign]
    Pipeline.execute = counted_pipeline  # type: ignore[method-assign]
    CursorWrapper.execute = counted_sql  # type: ignore[method-assign]
    CursorWrapper.executemany = counted_many  # type: ignore[method-assign]
    _installed = True


def redis_calls_view(request: HttpRequest) -> JsonResponse:
    """This process's counts so far: Redis round trips, commands by name, SQL queries."""
    with _lock:
        return JsonResponse(
            {"round_trips": _round_trips, "commands": dict(_commands), "queries": _queries}
        )
