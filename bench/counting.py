"""Counts a server process's Redis round trips and SQL queries, for per-request figures.

Only with ``LITFASS_BENCH_COUNT_REDIS=1`` (``bench.settings`` then calls ``install()`` and
``bench.urls`` serves ``/_bench/redis-calls/``); the timed runs never count. Counted where
every command leaves the process, redis-py's connection: each write is one round trip,
whether it carries one command or a pipeline of them (``ads.wire``'s too). The numbers
are this process's: serve one worker to read them all.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest, JsonResponse

_lock = threading.Lock()
_round_trips = 0
_commands: dict[str, int] = {}
_queries = 0
_installed = False


# The head of each command in RESP: "*<arguments>" and the command's name as the first
# bulk string. Keys and values never hold CR or LF, so this finds command heads only.
_COMMAND = re.compile(rb"(?:^|\r\n)\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n")


def command_names(packed: bytes | str | Sequence[bytes | str]) -> list[str]:
    """The names of the commands in what redis-py (or ``ads.wire``) sends in one write:
    one command or a pipeline of them, one round trip either way."""
    if isinstance(packed, str):
        packed = packed.encode()
    elif not isinstance(packed, bytes):
        packed = b"".join(p.encode() if isinstance(p, str) else bytes(p) for p in packed)
    return [name.decode().lower() for name in _COMMAND.findall(packed)]


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
    """Wrap redis-py's connection and Django's cursor, once in this process."""
    global _installed
    if _installed:
        return
    from django.db.backends.utils import CursorWrapper
    from redis.connection import AbstractConnection

    send = AbstractConnection.send_packed_command

    def counted_send(self: Any, command: Any, *args: Any, **options: Any) -> Any:
        _count(command_names(command))
        return send(self, command, *args, **options)

    execute_sql = CursorWrapper.execute
    execute_many = CursorWrapper.executemany

    def counted_sql(self: Any, *args: Any, **options: Any) -> Any:
        _count_query()
        return execute_sql(self, *args, **options)

    def counted_many(self: Any, *args: Any, **options: Any) -> Any:
        _count_query()
        return execute_many(self, *args, **options)

    AbstractConnection.send_packed_command = counted_send  # type: ignore[method-assign]
    CursorWrapper.execute = counted_sql  # type: ignore[method-assign]
    CursorWrapper.executemany = counted_many  # type: ignore[method-assign]
    _installed = True


def redis_calls_view(request: HttpRequest) -> JsonResponse:
    """This process's counts so far: Redis round trips, commands by name, SQL queries."""
    with _lock:
        return JsonResponse(
            {"round_trips": _round_trips, "commands": dict(_commands), "queries": _queries}
        )
