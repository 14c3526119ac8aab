"""``ads.wire`` over TLS (``rediss://``, as managed Redis services offer it), against a
real Redis that speaks TLS only, started for these tests with a CA of their own."""

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import trustme
from redis.backoff import NoBackoff
from redis.exceptions import TimeoutError
from redis.retry import Retry

from ads import wire
from tests.ads.test_wire import idle

KEY = "litfass:ads:wire-tls-test"
TIMEOUT = 0.5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """A Redis on 127.0.0.1 with TLS on a free port and no plain port; its certificate
    is issued for 127.0.0.1 by a CA only these tests trust."""
    server = shutil.which("redis-server")
    assert server, "bin/test installs redis-server"
    directory = tmp_path_factory.mktemp("tls-redis")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    issued.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))
    issued.private_key_pem.write_to_path(str(directory / "key.pem"))
    port = _free_port()
    # fmt: off
    command = [
        server, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
        "--tls-cert-file", str(directory / "cert.pem"),
        "--tls-key-file", str(directory / "key.pem"),
        "--tls-ca-cert-file", str(directory / "ca.pem"),
        "--tls-auth-clients", "no", "--save", "", "--appendonly", "no",
        "--dir", str(directory),
    ]
    # fmt: on
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    options: dict[str, Any] = {"host": "127.0.0.1", "port": port, "ssl": True}
    options |= {"ssl_ca_certs": str(directory / "ca.pem"), "ssl_cert_reqs": "required"}
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(**options, socket_timeout=1).ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield options
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def client(tls_redis) -> Iterator[redis.Redis]:
    tls = redis.Redis(**tls_redis, socket_timeout=TIMEOUT)
    yield tls
    # The thread's connection belongs to this client's pool: a later pool could be
    # given the same id().
    line = wire._held.lines.pop(id(tls.connection_pool), None)
    if line is not None:
        line.close()
    tls.close()


def _client_id(client) -> int:
    return int(wire.round_trip(client, wire.pack("CLIENT", "ID"), 1, idempotent=True)[0])


def test_the_connection_is_tls_and_keeps_pythons_timeout(client):
    assert wire.round_trip(client, wire.pack("PING"), 1, idempotent=True) == [b"PONG"]

    sock = wire.line_for(client).sock
    assert isinstance(sock, wire.ssl.SSLSocket)
    # Not the kernel's: an SSL read would retry a kernel timeout forever.
    assert sock.gettimeout() == TIMEOUT


def test_an_answer_longer_than_a_read_comes_whole(client):
    value = bytes(range(256)) * 1200  # 300 KB: several reads of the 64 KB buffer
    packed = wire.pack("SET", KEY, value) + wire.pack("GET", KEY)

    assert wire.round_trip(client, packed, 2, idempotent=True) == [b"OK", value]


def test_a_script_sent_without_waiting_runs_before_the_next_command(client):
    script = wire.Script(client, "return redis.call('INCRBY', KEYS[1], ARGV[1])")
    client.delete(KEY)

    script.send([KEY], [2])
    script.send([KEY], [3])

    assert wire.round_trip(client, wire.pack("GET", KEY), 1, idempotent=True) == [b"5"]
    assert wire.line_for(client).owed == []


def test_a_read_asked_now_is_answered_later(client):
    client.set(KEY, 8)

    answer = wire.ask(client, wire.pack("GET", KEY), 1)

    assert answer() == [b"8"]


def test_an_idle_connection_redis_closed_is_replaced(client, tls_redis):
    first = _client_id(client)
    other = redis.Redis(**tls_redis)
    assert other.client_kill_filter(_id=str(first)) == 1
    other.close()
    idle()

    # Checked before use (it was idle), found closed, and opened anew.
    assert _client_id(client) != first


def test_a_read_that_times_out_raises_and_the_next_one_works(client):
    wire.round_trip(client, wire.pack("PING"), 1, idempotent=True)

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        # BLPOP waits 2 s for a list nobody fills: longer than the timeout.
        wire.round_trip(client, wire.pack("BLPOP", KEY + ":never", 2), 1, idempotent=False)

    assert time.monotonic() - started < 1.5
    assert wire.round_trip(client, wire.pack("PING"), 1, idempotent=True) == [b"PONG"]


def test_the_ca_is_checked(tls_redis, tmp_path):
    stranger = trustme.CA()
    stranger.cert_pem.write_to_path(str(tmp_path / "stranger.pem"))
    options = {**tls_redis, "ssl_ca_certs": str(tmp_path / "stranger.pem")}
    # No retries with back-off: the handshake fails the same way every time.
    client = redis.Redis(**options, socket_timeout=TIMEOUT, retry=Retry(NoBackoff(), 0))
    try:
        with pytest.raises(redis.ConnectionError):
            wire.round_trip(client, wire.pack("PING"), 1, idempotent=True)
    finally:
        line = wire._held.lines.pop(id(client.connection_pool), None)
        if line is not None:
            line.close()
        client.close()
