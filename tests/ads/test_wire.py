"""The raw round trips of a page view (``ads.wire``) against the real Redis."""

import os
import socket
import struct
import time

import pytest
import redis
from django.conf import settings
from redis.exceptions import ConnectionError, ResponseError, TimeoutError

from ads import wire
from ads.counters import PREFIX, redis_client

KEY = f"{PREFIX}:wire-test"


def kill_connections(client) -> None:
    """What a Redis restart does to the connections a process keeps: closed by the
    server while the process still holds them (killed from another client)."""
    pool = client.connection_pool
    pooled = pool.get_connection()  # one the pool has just checked, so alive
    try:
        ids = [_client_id(pooled), _line_id(client)]
    finally:
        pool.release(pooled)
    other = redis.Redis.from_url(str(settings.REDIS_URL))
    try:
        killed = sum(1 for client_id in ids if other.client_kill_filter(_id=str(client_id)))
    finally:
        other.close()
    assert killed == len(ids)


def _client_id(connection) -> int:
    connection.send_command("CLIENT", "ID")
    return int(connection.read_response())


def _line_id(client) -> int:
    return int(wire.round_trip(client, wire.pack("CLIENT", "ID"), 1, idempotent=True)[0])


def incrby(client) -> wire.Script:
    """A script that adds ARGV[1] to the counter KEYS[1] and answers the sum."""
    return wire.Script(client, "return redis.call('INCRBY', KEYS[1], ARGV[1])")


def seen_by_another_client(value: bytes, *, within: float = 1.0) -> bool:
    """Whether a client of its own (whose pool the test suite never settles) reads
    ``value`` at KEY within ``within`` seconds."""
    other = redis.Redis.from_url(str(settings.REDIS_URL))
    try:
        deadline = time.monotonic() + within
        while other.get(KEY) != value and time.monotonic() < deadline:
            time.sleep(0.005)
        return other.get(KEY) == value
    finally:
        other.close()


def idle(seconds: float = wire.IDLE_CHECK + 0.1) -> None:
    """Let the thread's connection be idle long enough to be checked before its next use."""
    time.sleep(seconds)


def test_pack_encodes_a_command_in_resp():
    assert wire.pack("GET", b"bc", 12) == b"*3\r\n$3\r\nGET\r\n$2\r\nbc\r\n$2\r\n12\r\n"


def test_several_commands_in_one_round_trip():
    client = redis_client()
    client.set(KEY, 7)
    packed = wire.pack("GET", KEY) + wire.pack_once("MGET", KEY, KEY + ":missing")

    assert wire.round_trip(client, packed, 2, idempotent=True) == [b"7", [b"7", None]]


def test_a_refused_command_raises_and_leaves_the_pool_usable():
    client = redis_client()
    client.set(KEY, "not a hash")
    packed = wire.pack("HMGET", KEY, "f") + wire.pack("GET", KEY)

    with pytest.raises(ResponseError, match="WRONGTYPE"):
        wire.round_trip(client, packed, 2, idempotent=True)

    # The GET reply after the refused one was read too, not left for the next caller.
    assert wire.round_trip(client, wire.pack("PING"), 1, idempotent=True) == [b"PONG"]


def test_connections_redis_dropped_are_not_used_again():
    client = redis_client()
    client.set(KEY, 3)
    kill_connections(client)

    # Used a moment ago, so not checked: the read fails and goes again on a fresh one.
    assert wire.round_trip(client, wire.pack("GET", KEY), 1, idempotent=True) == [b"3"]


class LoseOneAnswer:
    """Once armed, the next reply read fails as if the connection broke after the
    command was sent: the command ran, its answer never arrives."""

    def __init__(self) -> None:
        self.armed = False
        self.lost = 0

    def install(self, monkeypatch) -> None:
        receive = wire._Line._receive

        def flaky(line):
            if self.armed:
                self.armed = False
                self.lost += 1
                time.sleep(0.05)  # Redis has run the command by now
                raise ConnectionError("connection reset")
            return receive(line)

        monkeypatch.setattr(wire._Line, "_receive", flaky)


def test_a_write_after_redis_closed_an_idle_connection_goes_on_a_fresh_one():
    client = redis_client()
    client.delete(KEY)
    kill_connections(client)
    idle()

    incr = wire.pack("INCR", KEY)

    assert wire.round_trip(client, incr, 1, idempotent=False) == [1]
    assert client.get(KEY) == b"1"


def test_a_connection_in_use_is_not_checked_before_each_round_trip(monkeypatch):
    client = redis_client()
    wire.round_trip(client, wire.pack("PING"), 1, idempotent=True)
    checks = []
    closed = wire._Line._closed

    def counted(line):
        checks.append(1)
        return closed(line)

    monkeypatch.setattr(wire._Line, "_closed", counted)

    wire.round_trip(client, wire.pack("PING"), 1, idempotent=True)
    assert checks == []
    idle()
    wire.round_trip(client, wire.pack("PING"), 1, idempotent=True)
    assert checks == [1]


def test_the_timeout_is_the_kernels_and_the_socket_blocks():
    client = redis_client()
    wire.round_trip(client, wire.pack("PING"), 1, idempotent=True)
    sock = wire.line_for(client).sock
    assert sock is not None

    assert sock.gettimeout() is None  # no poll before every send and read
    timeout = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16)
    assert timeout != bytes(16)  # the connection's socket_timeout, kept by the kernel


def test_a_read_that_times_out_raises_and_the_next_one_works():
    client = redis_client()
    wire.round_trip(client, wire.pack("PING"), 1, idempotent=True)
    line = wire.line_for(client)
    assert line.sock is not None
    line.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct_timeval(0.2))

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        # BLPOP waits 2 s for a list nobody fills: longer than the 0.2 s timeout.
        wire.round_trip(client, wire.pack("BLPOP", KEY + ":never", 2), 1, idempotent=False)

    assert time.monotonic() - started < 1.5
    assert wire.round_trip(client, wire.pack("PING"), 1, idempotent=True) == [b"PONG"]


def struct_timeval(seconds: float) -> bytes:
    whole, fraction = divmod(seconds, 1.0)
    return struct.pack("ll", int(whole), int(fraction * 1e6))


@pytest.fixture
def lose_one(monkeypatch) -> LoseOneAnswer:
    fault = LoseOneAnswer()
    fault.install(monkeypatch)
    return fault


def test_a_read_whose_answer_was_lost_goes_again(lose_one):
    client = redis_client()
    client.set(KEY, 3)
    lose_one.armed = True

    got = wire.round_trip(client, wire.pack("GET", KEY), 1, idempotent=True)

    assert got == [b"3"]
    assert lose_one.lost == 1


def test_a_write_whose_answer_was_lost_is_not_sent_twice(lose_one):
    client = redis_client()
    client.delete(KEY)
    lose_one.armed = True

    with pytest.raises(ConnectionError):
        wire.round_trip(client, wire.pack("INCR", KEY), 1, idempotent=False)

    assert lose_one.lost == 1
    assert client.get(KEY) == b"1"


def test_a_script_redis_forgot_is_loaded_again():
    client = redis_client()
    script = incrby(client)
    client.delete(KEY)
    assert script([KEY], [2]) == 2

    client.script_flush()

    assert script([KEY], [3]) == 5


def test_a_forked_child_opens_its_own_connection():
    client = redis_client()
    parent = wire.line_for(client)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it got the parent's connection, and leave
        os.write(writer, b"same" if wire.line_for(client) is parent else b"own")
        os._exit(0)
    os.waitpid(pid, 0)

    assert os.read(reader, 4) == b"own"


def owing_two(client) -> None:
    """KEY at 1, then two script calls that add 2 and 3, sent without waiting."""
    client.delete(KEY)
    script = incrby(client)
    script([KEY], [1])  # loaded
    script.send([KEY], [2])
    script.send([KEY], [3])


def test_a_script_sent_without_waiting_runs_before_the_threads_next_command():
    client = redis_client()

    owing_two(client)

    assert wire.line_for(client).owed  # answers not read yet
    assert wire.round_trip(client, wire.pack("GET", KEY), 1, idempotent=True) == [b"6"]
    assert not wire.line_for(client).owed


def test_another_connection_sees_what_was_sent_without_waiting():
    client = redis_client()
    client.delete(KEY)
    script = incrby(client)
    script([KEY], [1])

    script.send([KEY], [4])

    assert seen_by_another_client(b"5")


def test_a_script_sent_without_waiting_that_redis_forgot_runs_once_after_loading():
    client = redis_client()
    client.delete(KEY)
    script = incrby(client)
    script([KEY], [1])
    client.script_flush()

    script.send([KEY], [2])

    # The thread's next command already sees it: run again before that was sent.
    assert wire.round_trip(client, wire.pack("GET", KEY), 1, idempotent=True) == [b"3"]
    assert not wire.line_for(client).owed


def test_a_script_sent_without_waiting_that_fails_is_logged(caplog):
    client = redis_client()
    client.set(KEY, "not a number")
    script = incrby(client)

    script.send([KEY], [2])
    wire.settle(client)

    assert "A script sent without waiting failed" in caplog.text
    assert wire.round_trip(client, wire.pack("PING"), 1, idempotent=True) == [b"PONG"]


def test_answers_owed_on_a_connection_that_breaks_are_logged(caplog):
    client = redis_client()
    script = incrby(client)
    script([KEY], [1])
    kill_connections(client)
    script.send([KEY], [1])  # into a connection Redis has closed: the kernel takes it

    # The PING fails (the connection is gone) and goes again; the owed answer is lost.
    assert wire.round_trip(client, wire.pack("PING"), 1, idempotent=True) == [b"PONG"]
    assert "sent without waiting lost their connection" in caplog.text


def test_a_thread_that_only_sends_reads_the_answers_now_and_then():
    client = redis_client()
    client.delete(KEY)
    script = incrby(client)
    script([KEY], [0])

    for _n in range(wire.MAX_OWED + 5):
        script.send([KEY], [1])
        assert len(wire.line_for(client).owed) <= wire.MAX_OWED

    wire.settle(client)
    assert client.get(KEY) == str(wire.MAX_OWED + 5).encode()


def test_a_forgotten_script_that_fails_when_run_again_is_logged_and_the_next_command_works(
    caplog,
):
    client = redis_client()
    script = incrby(client)
    script([KEY + ":n"], [1])
    client.set(KEY, "not a number")
    client.script_flush()

    script.send([KEY], [1])  # NOSCRIPT, then loaded and run: INCRBY of a string fails

    assert wire.round_trip(client, wire.pack("PING"), 1, idempotent=True) == [b"PONG"]
    assert "A script sent without waiting failed" in caplog.text


def _kill(client_id: int) -> None:
    """Close one connection from Redis's side, from a client of its own."""
    other = redis.Redis.from_url(str(settings.REDIS_URL))
    try:
        assert other.client_kill_filter(_id=str(client_id)) == 1
    finally:
        other.close()


def test_a_write_on_an_idle_connection_that_owes_answers_and_was_closed_goes_on_a_fresh_one():
    client = redis_client()
    client.delete(KEY)
    script = incrby(client)
    line_id = _line_id(client)
    script.send([KEY], [1])  # owed
    _kill(line_id)
    idle()

    # Not idempotent, so a failed read would raise: the closed connection is noticed
    # (after the owed answer is read) and the INCR goes on a fresh one.
    assert wire.round_trip(client, wire.pack("INCR", KEY), 1, idempotent=False) == [2]


def test_a_script_sent_without_waiting_is_loaded_first_on_a_new_connection():
    client = redis_client()
    client.delete(KEY)
    script = incrby(client)
    script([KEY], [1])
    client.script_flush()  # as a restarted Redis: no scripts...
    _kill(_line_id(client))  # ...and no connections
    idle()

    script.send([KEY], [2])

    # It ran when sent, not only once the thread's next command found it forgotten.
    assert seen_by_another_client(b"3")


def test_a_script_answering_false_is_read_not_waited_for():
    client = redis_client()
    started = time.monotonic()

    assert wire.Script(client, "return false")([], []) in (False, None)  # RESP3 / RESP2
    assert time.monotonic() - started < 1.0


def test_a_read_asked_now_is_answered_later_and_the_thread_works_meanwhile():
    client = redis_client()
    client.set(KEY, 4)
    _line_id(client)  # the thread's connection is open
    sock = wire.line_for(client).sock
    assert sock is not None

    answer = wire.ask(client, wire.pack("GET", KEY), 1)
    # Sent, not read: the answer waits in the socket while the thread goes on.
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        try:
            waiting = sock.recv(64, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            continue
        break
    assert waiting == b"$1\r\n4\r\n"

    assert answer() == [b"4"]
    assert wire.round_trip(client, wire.pack("PING"), 1, idempotent=True) == [b"PONG"]


def test_a_read_asked_after_scripts_sent_without_waiting_reads_their_answers_with_its_own(
    monkeypatch,
):
    client = redis_client()
    owing_two(client)
    sent: list[bytes] = []
    received = []
    line = wire.line_for(client)
    original_send, original_receive = wire._Line._send, wire._Line._receive

    def counted_send(self, packed):
        sent.append(packed)
        original_send(self, packed)

    def counted_receive(self):
        received.append(1)
        original_receive(self)

    monkeypatch.setattr(wire._Line, "_send", counted_send)
    monkeypatch.setattr(wire._Line, "_receive", counted_receive)

    answer = wire.ask(client, wire.pack("GET", KEY), 1)

    assert sent == [wire.pack("GET", KEY)]  # the owed answers were not read first
    assert received == []
    assert answer() == [b"6"]  # after the scripts: Redis runs a connection's commands in order
    # Their answers and its own are read together: in one system call when Redis has
    # answered the read by then, else in a second (a busy machine).
    assert received in ([1], [1, 1])
    assert not line.owed


def test_a_read_asked_after_a_script_redis_forgot_sees_it_run(caplog):
    client = redis_client()
    client.delete(KEY)
    script = incrby(client)
    script([KEY], [1])
    client.script_flush()
    script.send([KEY], [2])  # answered NOSCRIPT: it runs only once loaded again

    answer = wire.ask(client, wire.pack("GET", KEY), 1)

    assert answer() == [b"3"]  # read once more after it ran
    assert client.get(KEY) == b"3"  # and it ran once
    assert "failed" not in caplog.text


def test_a_read_asked_and_dropped_by_another_command_settles_the_owed_answers_first():
    client = redis_client()
    client.delete(KEY)
    script = incrby(client)
    script([KEY], [1])
    script.send([KEY], [2])
    wire.ask(client, wire.pack("GET", KEY), 1)  # its caller failed before reading it

    assert wire.round_trip(client, wire.pack("INCR", KEY), 1, idempotent=False) == [4]
    assert not wire.line_for(client).owed


def test_a_read_asked_whose_answer_was_lost_goes_again(lose_one):
    client = redis_client()
    client.set(KEY, 5)
    answer = wire.ask(client, wire.pack("GET", KEY), 1)
    lose_one.armed = True

    assert answer() == [b"5"]
    assert lose_one.lost == 1


def test_a_read_asked_on_a_connection_redis_closed_goes_on_a_fresh_one():
    client = redis_client()
    client.set(KEY, 6)
    kill_connections(client)
    idle()

    assert wire.ask(client, wire.pack("GET", KEY), 1)() == [b"6"]


def test_a_read_asked_and_refused_raises():
    client = redis_client()
    client.set(KEY, "not a hash")

    with pytest.raises(ResponseError, match="WRONGTYPE"):
        wire.ask(client, wire.pack("HMGET", KEY, "f"), 1)()
    assert wire.round_trip(client, wire.pack("PING"), 1, idempotent=True) == [b"PONG"]


def test_the_answer_of_a_read_asked_and_never_read_is_not_taken_for_the_next_one():
    client = redis_client()
    client.set(KEY, "asked")
    client.set(KEY + ":next", "next")
    wire.ask(client, wire.pack("GET", KEY), 1)  # its caller failed before reading it

    got = wire.round_trip(client, wire.pack("GET", KEY + ":next"), 1, idempotent=True)

    assert got == [b"next"]


def test_a_read_asked_whose_answer_another_command_dropped_is_asked_again():
    client = redis_client()
    client.set(KEY, "asked")
    answer = wire.ask(client, wire.pack("GET", KEY), 1)
    assert wire.round_trip(client, wire.pack("PING"), 1, idempotent=True) == [b"PONG"]
    client.set(KEY, "again")

    assert answer() == [b"again"]


def test_a_read_asked_when_the_connection_cannot_be_opened_is_tried_once_more(monkeypatch):
    client = redis_client()
    client.set(KEY, 7)
    wire.line_for(client).close()
    opened = wire._Line._open
    failures: list[int] = []

    def once_refused(line):
        if not failures:
            failures.append(1)
            raise ConnectionError("Connection refused")
        opened(line)

    monkeypatch.setattr(wire._Line, "_open", once_refused)

    assert wire.ask(client, wire.pack("GET", KEY), 1)() == [b"7"]
    assert failures == [1]
