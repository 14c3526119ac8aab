"""A page view's Redis commands, sent past redis-py's per-command work.

A decision may read its counters (an ``MGET`` and an ``HGETALL``), and records what it
served (one ``EVALSHA``, sent without waiting for its answer); views and clicks are one
``EVALSHA`` each. Through redis-py's command and pipeline objects about half of a
decision request's CPU time went into the client: argument checks, retries, response
callbacks, and taking a connection from the pool and giving it back. Here the commands
are encoded once (the keys a page signature reads repeat for every reader of it),
written in one send on a connection each thread keeps, and the replies read with
hiredis. redis-py still opens and closes the connection and names the errors.

On a virtual machine every system call and every wait is expensive, so a round trip
makes as few as it can: one send, one read (more only for long replies), and a check
that Redis has not closed the connection only when it has been idle; and a write whose
answer the page does not need is not waited for.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import logging
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import hiredis
import redis
from redis._parsers import _HiredisParser
from redis.connection import AbstractConnection
from redis.exceptions import ConnectionError, NoScriptError, ResponseError, TimeoutError

logger = logging.getLogger(__name__)


def pack(*args: str | bytes | int) -> bytes:
    """One command in Redis's protocol, encoded by hiredis (in C)."""
    # (hiredis's stub types the argument as a tuple of one item: hence the cast.)
    return hiredis.pack_command(cast(Any, args))


@functools.lru_cache(maxsize=8192)
def pack_once(*args: str) -> bytes:
    """``pack`` for commands that repeat (the keys a page signature reads)."""
    return pack(*args)


# A connection idle this long (s) is checked for a close by Redis (a restart, an idle
# timeout: Redis's ``timeout`` is whole seconds) before a command goes on it. One used
# more recently is alive: the check would cost a system call on every round trip.
IDLE_CHECK = 0.5
# A thread that only ever sends without waiting reads the answers after this many.
MAX_OWED = 64


class _Line:
    """One thread's connection to one Redis, read directly.

    redis-py's connection opens it (address, TLS, AUTH, SELECT), sends and closes it;
    replies are read here. Sending and reading take one system call each: the socket
    blocks, and the connection's timeout is the kernel's (``SO_SNDTIMEO``/
    ``SO_RCVTIMEO``) instead of a ``poll`` before every send and every read."""

    def __init__(self, connection: AbstractConnection) -> None:
        self.connection = connection
        self.sock: socket.socket | None = None
        self.reader = _reader()
        self.buffer = bytearray(64 * 1024)
        # When this connection last sent or read: one idle longer is checked before use.
        self.used_at = float("-inf")
        # Scripts sent without waiting for their answers (``Script.send``), oldest first:
        # their answers are read before anything else goes on this connection.
        self.owed: list[tuple[Script, bytes]] = []
        # A read sent by ``ask`` whose answers (this many) are not read yet: they come
        # after those owed, so whatever goes on the connection first reads and drops them.
        self.asked: tuple[object, int] | None = None
        # The scripts loaded on this connection's Redis (a restart forgets them).
        self.scripts: set[str] = set()

    def _open(self) -> None:
        self.connection.connect()
        sock = cast(socket.socket, self.connection._sock)
        timeout = self.connection.socket_timeout
        # TLS keeps Python's timeout: an SSL read would retry a kernel timeout forever.
        if timeout and not isinstance(sock, ssl.SSLSocket):
            sock.settimeout(None)
            seconds, fraction = divmod(float(timeout), 1.0)
            value = struct.pack("ll", int(seconds), int(fraction * 1e6))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
        self.sock = sock
        self.reader = _reader()
        self.scripts = set()
        self.asked = None

    def _prepare(self, *, owing: bool = False) -> None:
        """Before a command goes out: read what is owed, make sure the connection is
        open (checked when it was idle). Another call sent without waiting (``owing``)
        leaves the owed answers for later on a connection in use: Redis keeps the two
        in order anyway."""
        if self.asked is not None:
            self._drop_asked()
        idle = time.monotonic() - self.used_at > IDLE_CHECK
        if self.owed and (idle or not owing):
            # A failure is logged and closes the connection: ours goes on a fresh one.
            with contextlib.suppress(ConnectionError, TimeoutError):
                self.settle()
        if self.sock is not None and idle and self._closed():
            self.close()
        if self.sock is None:
            self._open()

    def _closed(self) -> bool:
        """Whether Redis closed the connection (or sent what nobody asked for)."""
        assert self.sock is not None  # noqa: S101  (only called with a socket)
        if isinstance(self.sock, ssl.SSLSocket):
            try:
                return bool(self.connection.can_read())
            except (ConnectionError, TimeoutError, OSError):
                return True
        try:
            self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False  # nothing to read: open and idle, as it should be
        except OSError:
            return True
        return True  # end of file, or bytes no command asked for

    def _send(self, packed: bytes) -> None:
        try:
            # redis-py's send is a ``sendall`` on the socket (where ``bench.counting``
            # and the tests count round trips); its health check would be a PING.
            self.connection.send_packed_command([packed], check_health=False)
        except (OSError, ConnectionError, TimeoutError) as error:
            self.close()
            raise _Unsent(f"Error while writing to Redis: {error}") from error
        self.used_at = time.monotonic()

    def exchange(self, packed: bytes, replies: int) -> list[Any]:
        """Send ``packed`` and read its ``replies`` answers.

        The answers still owed are read first (they are there by now, so this rarely
        waits): a script Redis forgot then runs again before ``packed`` is sent, so
        what follows always sees what went before."""
        self.post(packed)
        return self.receive(replies)

    def post(self, packed: bytes, *, owing: bool = False) -> None:
        """The sending half of ``exchange``; with ``owing``, the answers owed stay for
        later (``receive_owed``)."""
        self._prepare(owing=owing)
        self._send(packed)

    def receive(self, replies: int) -> list[Any]:
        """The reading half of ``exchange``: a refusal raises its ``ResponseError``."""
        return _accepted(self._answers(replies))

    def receive_owed(self, replies: int) -> tuple[list[Any], bool]:
        """``receive`` after a ``post`` that left answers owed: those are read with its
        own (in the same system call when Redis has answered both), and settled first.
        Also says whether one of them was a script Redis had forgotten, run again only
        now: after what was posted."""
        owed, self.owed = self.owed, []
        if not owed:
            return self.receive(replies), False
        try:
            answers = self._answers(len(owed) + replies)
        except (ConnectionError, TimeoutError):
            _unanswered(owed)
            raise
        forgotten = self._settle(owed, answers[: len(owed)])
        return _accepted(answers[len(owed) :]), forgotten

    def send_owing(self, script: Script, packed: bytes) -> None:
        """Send a script call whose answer is read later (``exchange``, ``settle``)."""
        if len(self.owed) >= MAX_OWED:
            with contextlib.suppress(ConnectionError, TimeoutError):
                self.settle()
        for attempt in (1, 2):
            self._prepare(owing=True)
            try:
                if script.sha not in self.scripts:
                    # Loaded first, waiting, on every new connection: a call whose
                    # answer comes later must not find the script missing.
                    self.load(script)
                self._send(packed)
            except _Unsent:
                if attempt == 2:
                    raise
                continue  # nothing of it ran: once more, on a fresh connection
            self.owed.append((script, packed))
            return

    def _drop_asked(self) -> None:
        """Read the answers of an ``ask`` nobody read (its caller failed meanwhile)."""
        assert self.asked is not None  # noqa: S101  (only called then)
        _token, replies = self.asked
        self.asked = None
        # A failure closes the connection, and the answers with it.
        with contextlib.suppress(ConnectionError, TimeoutError, ResponseError):
            self.receive_owed(replies)

    def settle(self) -> None:
        """Read the answers still owed."""
        if self.asked is not None:
            self._drop_asked()
        owed, self.owed = self.owed, []
        if not owed:
            return
        try:
            answers = self._answers(len(owed))
        except (ConnectionError, TimeoutError):
            _unanswered(owed)
            raise
        self._settle(owed, answers)

    def _settle(self, owed: list[tuple[Script, bytes]], answers: list[Any]) -> bool:
        """Log the calls that failed; load and run again those of a script Redis had
        forgotten (and say whether there were any: they ran only now)."""
        refused = [
            (script, packed, _RESP.parse_error(str(answer)))
            for (script, packed), answer in zip(owed, answers, strict=True)
            if isinstance(answer, hiredis.ReplyError)
        ]
        # A call answered NOSCRIPT did not run: Redis forgot the script (a SCRIPT FLUSH).
        self.scripts -= {s.sha for s, _packed, e in refused if isinstance(e, NoScriptError)}
        for script, packed, error in refused:
            if not isinstance(error, NoScriptError):
                logger.error("A script sent without waiting failed: %s", error)
                continue
            try:  # load it once, and run the call now, waiting for it this time
                if script.sha not in self.scripts:
                    self.load(script)
                self.exchange(packed, 1)
            except (ResponseError, ConnectionError, TimeoutError) as again:
                logger.error("A script sent without waiting failed: %s", again)
        return any(isinstance(error, NoScriptError) for _s, _p, error in refused)

    def load(self, script: Script) -> None:
        self.exchange(script.loading, 1)
        self.scripts.add(script.sha)

    def _answers(self, replies: int) -> list[Any]:
        """Read ``replies`` answers; a broken connection is closed (and raises)."""
        try:
            return self._read(replies)
        except (OSError, ConnectionError, TimeoutError, hiredis.ProtocolError) as error:
            self.close()
            raise _failure(error, "Error while reading from Redis") from error

    def _read(self, replies: int) -> list[Any]:
        answers: list[Any] = []
        reader = self.reader
        while len(answers) < replies:
            answer = reader.gets()
            if answer is _MORE:
                self._receive()
            elif not isinstance(answer, hiredis.PushNotification):
                # (Pushes, RESP3's out-of-band messages, answer no command.)
                answers.append(answer)
        self.used_at = time.monotonic()
        return answers

    def _receive(self) -> None:
        assert self.sock is not None  # noqa: S101
        read = self.sock.recv_into(self.buffer)
        if not read:
            raise ConnectionError("Redis closed the connection")
        self.reader.feed(self.buffer, 0, read)

    def close(self) -> None:
        owed, self.owed = self.owed, []
        _unanswered(owed)
        self.asked = None
        self.sock = None
        self.scripts = set()
        self.connection.disconnect()


# What hiredis's reader returns while an answer is incomplete: not ``False``, which a
# script may answer (RESP3).
_MORE = object()


def _reader() -> hiredis.Reader:
    return hiredis.Reader(notEnoughData=_MORE)


def _accepted(answers: list[Any]) -> list[Any]:
    """``answers``, unless Redis refused one of the commands: then its ``ResponseError``."""
    refused = next((a for a in answers if isinstance(a, hiredis.ReplyError)), None)
    if refused is not None:
        raise _RESP.parse_error(str(refused))
    return answers


def _unanswered(owed: list[tuple[Script, bytes]]) -> None:
    if owed:
        # Sent, so Redis has them unless the connection broke before it read them: what
        # a crash of Redis may lose too (see the README on persistence).
        logger.warning(
            "%d script call(s) sent without waiting lost their connection before the "
            "answer came; Redis may or may not have run them",
            len(owed),
        )


_RESP = _HiredisParser  # for ``parse_error``: Redis's error codes as redis-py's exceptions


class _Unsent(ConnectionError):
    """The commands did not (all) reach Redis, so none of them ran."""


def _failure(error: Exception, what: str) -> ConnectionError | TimeoutError:
    if isinstance(error, ConnectionError | TimeoutError):
        return error
    if isinstance(error, hiredis.ProtocolError):
        return ConnectionError(f"{what}: {error}")
    if isinstance(error, BlockingIOError | socket.timeout):  # the kernel's timeout ran out
        return TimeoutError(f"{what}: timed out")
    return ConnectionError(f"{what}: {error}")


class _Held(threading.local):
    """Each thread's own connection per pool, kept between requests."""

    def __init__(self) -> None:
        self.lines: dict[int, _Line] = {}


_held = _Held()


def _forget_connections() -> None:
    """A child process must not use its parent's sockets (whichever thread forked)."""
    global _held
    _held = _Held()


os.register_at_fork(after_in_child=_forget_connections)


def line_for(client: redis.Redis) -> _Line:
    """This thread's connection to ``client``'s Redis, made by its pool but kept out of
    it: taking one from the pool and giving it back cost as much as the rest of a round
    trip."""
    pool = client.connection_pool
    line = _held.lines.get(id(pool))
    if line is None:
        line = _held.lines[id(pool)] = _Line(cast(AbstractConnection, pool.make_connection()))
    return line


def round_trip(client: redis.Redis, packed: bytes, replies: int, *, idempotent: bool) -> list[Any]:
    """Send ``packed`` (one or more commands) and read ``replies`` replies.

    When the connection fails, the commands go once more on a fresh one: always when
    nothing could have reached Redis, and also after a failed read when running them
    twice does no harm (``idempotent``). A command Redis refused raises its
    ``ResponseError`` (after all replies were read, so the connection stays usable)."""
    line = line_for(client)
    try:
        return line.exchange(packed, replies)
    except _Unsent:
        pass
    except (ConnectionError, TimeoutError):
        if not idempotent:
            raise
    return line.exchange(packed, replies)


def ask(client: redis.Redis, packed: bytes, replies: int) -> Callable[[], list[Any]]:
    """Send ``packed`` now, an idempotent read, and return what reads its ``replies``
    answers: the thread may work while Redis answers (and reads them when it is done).
    Failures go as with ``round_trip``. Answers nobody reads (the caller failed
    meanwhile) are dropped by the thread's next command; one that comes in between
    leaves the read to be sent again. Answers owed to scripts sent before without
    waiting are read with these, in one system call instead of one more before the
    read goes out."""
    line = line_for(client)
    try:
        line.post(packed, owing=True)
    except (ConnectionError, TimeoutError):
        return lambda: line.exchange(packed, replies)  # once more, on a fresh connection
    token = object()
    line.asked = (token, replies)

    def answers() -> list[Any]:
        if line.asked is None or line.asked[0] is not token:
            return line.exchange(packed, replies)  # read and dropped meanwhile
        line.asked = None
        try:
            answers, forgotten = line.receive_owed(replies)
        except (ConnectionError, TimeoutError):
            return line.exchange(packed, replies)
        # A script sent before ran only after the read: read again, so the read sees it.
        return line.exchange(packed, replies) if forgotten else answers

    return answers


class Script:
    """A Lua script called by its SHA1 with ``round_trip``; loaded when Redis lacks it."""

    def __init__(self, client: redis.Redis, source: str) -> None:
        self.client = client
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        self.loading = pack("SCRIPT", "LOAD", source)

    def __call__(self, keys: Sequence[str], args: Sequence[str | bytes | int]) -> Any:
        packed = self._packed(keys, args)
        try:
            return round_trip(self.client, packed, 1, idempotent=False)[0]
        except NoScriptError:
            # Nothing ran. A restarted or flushed Redis forgot the script: load it again.
            self.load()
            return round_trip(self.client, packed, 1, idempotent=False)[0]

    def send(self, keys: Sequence[str], args: Sequence[str | bytes | int]) -> None:
        """Call the script without waiting for its answer: the thread's next command on
        this connection reads it first (``settle`` reads it now). The script is loaded
        on every new connection before a call goes out. Redis runs a connection's
        commands in order, so what this thread does next sees the script's effect;
        other connections see it as soon as Redis has read it, long before a reader can
        look at a page. The answers are read before the thread's next waiting command
        (or after ``MAX_OWED`` calls): a script Redis forgot meanwhile (a ``SCRIPT
        FLUSH``) is then loaded and run again first; an error is logged."""
        line_for(self.client).send_owing(self, self._packed(keys, args))

    def load(self) -> None:
        round_trip(self.client, self.loading, 1, idempotent=True)

    def _packed(self, keys: Sequence[str], args: Sequence[str | bytes | int]) -> bytes:
        return pack("EVALSHA", self.sha, len(keys), *keys, *args)


def _settle_at_exit() -> None:
    """A process that ends reads what it is owed, so a failure is at least logged."""
    for line in list(_held.lines.values()):
        with contextlib.suppress(ConnectionError, TimeoutError):
            line.settle()


atexit.register(_settle_at_exit)


def settle(client: redis.Redis) -> None:
    """Read the answers this thread still owes on ``client``'s connection (``Script.send``)."""
    line = _held.lines.get(id(client.connection_pool))
    if line is not None:
        line.settle()
