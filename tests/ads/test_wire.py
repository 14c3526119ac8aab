"""The raw round trips of a page view (``ads.wire``) against the real Redis."""

import os

import pytest
import redis
from django.conf import settings
from redis.exceptions import ConnectionError, ResponseError

from ads import wire
from ads.counters import PREFIX, redis_client

KEY = f"{PREFIX}:wire-test"


def kill_connections(client) -> None:
    """What a Redis restart does to the connections a process keeps: closed by the
    server while the process still holds them (killed from another client)."""
    pool = client.connection_pool
    pooled = pool.get_connection()  # one the pool has just checked, so alive
    try:
        ids = [_client_id(pooled), _client_id(wire.connection_for(client))]
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

    # The unread GET reply was thrown away with its connection, not read by the next caller.
    assert wire.round_trip(client, wire.pack("PING"), 1, idempotent=True) == [b"PONG"]


def test_connections_redis_dropped_are_not_used_again():
    client = redis_client()
    client.set(KEY, 3)
    kill_connections(client)

    assert wire.round_trip(client, wire.pack("GET", KEY), 1, idempotent=True) == [b"3"]


class LoseOneAnswer:
    """Once armed, the next reply read fails as if the connection broke after the
    command was sent: the command ran, its answer never arrives."""

    def __init__(self) -> None:
        self.armed = False
        self.lost = 0

    def install(self, monkeypatch) -> None:
        read = redis.connection.AbstractConnection.read_response

        def flaky(connection, *args, **kwargs):
            reply = read(connection, *args, **kwargs)
            if self.armed:
                self.armed = False
                self.lost += 1
                raise ConnectionError("connection reset")
            return reply

        monkeypatch.setattr(redis.connection.AbstractConnection, "read_response", flaky)


def test_a_write_after_redis_closed_the_connection_goes_on_a_fresh_one():
    client = redis_client()
    client.delete(KEY)
    kill_connections(client)

    incr = wire.pack("INCR", KEY)

    assert wire.round_trip(client, incr, 1, idempotent=False) == [1]


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
    script = wire.Script(client, "return redis.call('INCRBY', KEYS[1], ARGV[1])")
    client.delete(KEY)
    assert script([KEY], [2]) == 2

    client.script_flush()

    assert script([KEY], [3]) == 5


def test_a_forked_child_opens_its_own_connection():
    client = redis_client()
    parent = wire.connection_for(client)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it got the parent's connection, and leave
        os.write(writer, b"same" if wire.connection_for(client) is parent else b"own")
        os._exit(0)
    os.waitpid(pid, 0)

    assert os.read(reader, 4) == b"own"
