"""The two Redis round trips of every page view, sent past redis-py's per-command work.

A decision reads its counters (an ``MGET`` and an ``HMGET``) and then records what it
served (one ``EVALSHA``). Through redis-py's command and pipeline objects about half of a
decision request's CPU time went into the client: argument checks, retries, response
callbacks, and taking a connection from the pool and giving it back. Here the commands
are encoded once (the keys a page signature reads repeat for every reader of it),
written in one send on a connection each thread keeps, and the replies read with that
connection's parser. Connection, parser, health checks and errors stay redis-py's.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Sequence
from typing import Any, cast

import hiredis
import redis
from redis.connection import AbstractConnection
from redis.exceptions import ConnectionError, NoScriptError, ResponseError, TimeoutError


def pack(*args: str | bytes | int) -> bytes:
    """One command in Redis's protocol, encoded by hiredis (in C)."""
    # (hiredis's stub types the argument as a tuple of one item: hence the cast.)
    return hiredis.pack_command(cast(Any, args))


@functools.lru_cache(maxsize=8192)
def pack_once(*args: str) -> bytes:
    """``pack`` for commands that repeat (the keys a page signature reads)."""
    return pack(*args)


class _Held(threading.local):
    """Each thread's own connection per pool, kept between requests."""

    def __init__(self) -> None:
        self.connections: dict[int, AbstractConnection] = {}


_held = _Held()


def _forget_connections() -> None:
    """A child process must not use its parent's sockets (whichever thread forked)."""
    global _held
    _held = _Held()


os.register_at_fork(after_in_child=_forget_connections)


def connection_for(client: redis.Redis) -> AbstractConnection:
    """This thread's connection to ``client``'s Redis, made by its pool but kept out of it:
    taking one from the pool and giving it back cost as much as the rest of a round trip.
    One that Redis closed meanwhile (a restart, an idle timeout) is opened anew first,
    as the pool does."""
    pool = client.connection_pool
    connection = _held.connections.get(id(pool))
    if connection is None:
        connection = cast(AbstractConnection, pool.make_connection())
        _held.connections[id(pool)] = connection
        return connection
    try:
        # Data or end of file where no reply is due: Redis has closed it.
        stale = connection.can_read()
    except (ConnectionError, TimeoutError, OSError):
        stale = True
    if stale:
        connection.disconnect()
    return connection


def round_trip(client: redis.Redis, packed: bytes, replies: int, *, idempotent: bool) -> list[Any]:
    """Send ``packed`` (one or more commands) and read ``replies`` replies.

    When the connection fails, the commands go once more on a fresh one: always when
    nothing could have reached Redis, and also after a failed read when running them
    twice does no harm (``idempotent``). A command Redis refused raises its
    ``ResponseError``."""
    connection = connection_for(client)
    for attempt in (1, 2):
        try:
            connection.send_packed_command([packed])
        except (ConnectionError, TimeoutError):
            connection.disconnect()
            if attempt == 2:
                raise
            continue
        try:
            return [connection.read_response() for _reply in range(replies)]
        except ResponseError:
            # Replies after the refused one may still be unread: start clean.
            connection.disconnect()
            raise
        except (ConnectionError, TimeoutError):
            connection.disconnect()  # redis-py did already; to be sure
            if attempt == 2 or not idempotent:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


class Script:
    """A Lua script called by its SHA1 with ``round_trip``; loaded when Redis lacks it."""

    def __init__(self, client: redis.Redis, source: str) -> None:
        self.client = client
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    def __call__(self, keys: Sequence[str], args: Sequence[str | bytes | int]) -> Any:
        packed = pack("EVALSHA", self.sha, len(keys), *keys, *args)
        try:
            return round_trip(self.client, packed, 1, idempotent=False)[0]
        except NoScriptError:
            # Nothing ran. A restarted or flushed Redis forgot the script: load it again.
            self.client.script_load(self.source)
            return round_trip(self.client, packed, 1, idempotent=False)[0]
