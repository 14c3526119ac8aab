"""An open-loop HTTP load generator: requests go out at a fixed rate, answered or not.

wrk (and locust's users) are closed loops: a connection sends its next request only when
the previous one was answered, so a slow server is sent less and its queueing delay never
shows in the percentiles ("coordinated omission"). Here the send times are fixed in
advance, one every ``1 / rate`` seconds, like wrk2 or vegeta, which Debian does not
package; see bench/README.md for why this is a small asyncio client and not locust.

Each request gets a fresh connection and ``Connection: close``, which is what gunicorn's
sync workers do anyway. Latency runs from the moment the request was due and sent (the
generator sleeps until then and sends at once) to the last byte of the response; how late
the generator itself was against its schedule is reported as ``send_lag``, so a client
that could not keep up shows instead of hiding. Load only goes to 127.0.0.1; every run is
bounded by its request count, a per-request timeout and a cap on requests in flight.
"""

from __future__ import annotations

import asyncio
import gc
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Request:
    """One prepared request: method, path, extra headers and body."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def encode(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass(frozen=True)
class OpenLoopResult:
    rate: float
    seconds: float
    sent: int
    failed: int
    # Milliseconds, of the requests that answered 200 in time, sorted.
    latencies_ms: tuple[float, ...]
    send_lag_p99_ms: float
    send_lag_max_ms: float
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def achieved_rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, pct: float) -> float:
        return percentile(self.latencies_ms, pct)

    @property
    def max_ms(self) -> float:
        return self.latencies_ms[-1] if self.latencies_ms else math.nan


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of sorted values (the p99 of 100 values is the 99th)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _check_response(data: bytes) -> str | None:
    """``None`` for a complete 200 response, else what was wrong with it."""
    head, separator, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1."):
        return "no HTTP response"
    status = head[9:12].decode("latin-1", "replace")
    if status != "200":
        return f"status {status}"
    if not separator:
        return "incomplete response"
    for line in head.split(b"\r\n")[1:]:
        name, _colon, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and int(value) != len(body):
            return "incomplete response"
    return None


async def _one(
    host: str, port: int, payload: bytes, sent_at: float, timeout_s: float
) -> tuple[float | None, str | None]:
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(payload)
                # The server closes the connection after the response: read to EOF.
                data = await reader.read()
            finally:
                writer.close()
    except TimeoutError:
        return None, "timeout"
    except OSError as error:
        return None, type(error).__name__
    finished = time.perf_counter()
    problem = _check_response(data)
    if problem is not None:
        return None, problem
    return (finished - sent_at) * 1000, None


async def _run(
    url: str,
    requests: Sequence[Request],
    *,
    rate: float,
    seconds: float,
    timeout_s: float,
    max_in_flight: int,
) -> OpenLoopResult:
    parts = urlsplit(url)
    host, port = parts.hostname or LOOPBACK, parts.port or 80
    payloads = [r.encode(f"{host}:{port}") for r in requests]
    total = max(1, round(rate * seconds))
    interval = 1.0 / rate
    tasks: list[asyncio.Task[tuple[float | None, str | None]]] = []
    lags: list[float] = []
    errors: dict[str, int] = {}
    in_flight = 0

    def done(_task: asyncio.Task[tuple[float | None, str | None]]) -> None:
        nonlocal in_flight
        in_flight -= 1

    start = time.perf_counter() + 0.05
    for n in range(total):
        due = start + n * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        now = time.perf_counter()
        lags.append((now - due) * 1000)
        if in_flight >= max_in_flight:
            # Bounded: a server that stopped answering must not pile up connections.
            errors["dropped: too many in flight"] = errors.get("dropped: too many in flight", 0) + 1
            continue
        in_flight += 1
        task = asyncio.create_task(_one(host, port, payloads[n % len(payloads)], now, timeout_s))
        task.add_done_callback(done)
        tasks.append(task)
    results = await asyncio.gather(*tasks)
    latencies = []
    for latency, error in results:
        if error is not None:
            errors[error] = errors.get(error, 0) + 1
        elif latency is not None:
            latencies.append(latency)
    lags.sort()
    return OpenLoopResult(
        rate=rate,
        seconds=total * interval,
        sent=total,
        failed=total - len(latencies),
        latencies_ms=tuple(sorted(latencies)),
        send_lag_p99_ms=percentile(lags, 99),
        send_lag_max_ms=lags[-1],
        errors=errors,
    )


def open_loop(
    url: str,
    requests: Sequence[Request],
    *,
    rate: float,
    seconds: float,
    timeout_s: float = 5.0,
    max_in_flight: int = 1000,
) -> OpenLoopResult:
    """Send ``rate * seconds`` requests to ``url``'s host, cycling through ``requests``,
    one every ``1 / rate`` seconds whatever the answers; then wait for the last one."""
    if urlsplit(url).hostname != LOOPBACK:
        raise ValueError(f"benchmarks only load {LOOPBACK}, not {url!r}")
    if not requests or rate <= 0 or seconds <= 0:
        raise ValueError("open_loop needs requests, a positive rate and a positive duration")
    # A collection in the middle of a run would show as the generator's latency.
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        return asyncio.run(
            _run(
                url,
                requests,
                rate=rate,
                seconds=seconds,
                timeout_s=timeout_s,
                max_in_flight=max_in_flight,
            )
        )
    finally:
        if gc_was_enabled:
            gc.enable()
