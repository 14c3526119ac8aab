"""Shared helpers: a throw-away demo site, gunicorn on 127.0.0.1, wrk, a Markdown table.

Machines are shared and noisy, so a benchmark never trusts one run: it interleaves rounds
of its subject with rounds of the baseline (noise then hits both) and reports medians.
Load only ever goes to 127.0.0.1, and every loop is bounded in count and in time.
"""

from __future__ import annotations

import http.client
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import django

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_SETTINGS = "bench.settings"
BASELINE_PATH = "/_bench/baseline/"
LOOPBACK = "127.0.0.1"

# The demo loader writes content and resets the admin password: it must never reach a real
# database or Redis that happens to be configured in the caller's shell.
_ISOLATED_VARS = ("DATABASE_URL", "REDIS_URL")

_UNIT_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_LATENCY_LINE = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_REQUESTS_PER_SEC = re.compile(r"^Requests/sec:\s+([\d.]+)\s*$", re.MULTILINE)
_REQUEST_COUNT = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


class BenchError(RuntimeError):
    """A benchmark could not produce a trustworthy number."""


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    socket_errors: int


@dataclass(frozen=True)
class Medians:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    # Summed over all rounds, not a median: any socket error deserves a mention.
    socket_errors: int


@dataclass(frozen=True)
class CpuPerRequest:
    """CPU time per request answered in one wrk round (µs): the server's processes,
    Redis's (``None`` when it runs on another machine), and the rest of what kept the
    machine busy meanwhile (the load generator, the kernel's network work, neighbours)."""

    server_us: float
    redis_us: float | None
    rest_us: float

    @property
    def machine_us(self) -> float:
        return self.server_us + (self.redis_us or 0.0) + self.rest_us


@dataclass(frozen=True)
class Comparison:
    baseline: Medians
    subject: Medians
    rounds: int
    seconds: float
    connections: int
    threads: int
    machine: str
    # Further subjects (``compare_http``'s ``variants``), by label.
    variants: Mapping[str, Medians] = field(default_factory=dict)
    # Medians over rounds, by "baseline", "subject" and the variants' labels; empty
    # without a ``CpuMeter``.
    cpu: Mapping[str, CpuPerRequest] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    what: str
    medians: Medians


def child_env(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_VARS}
    env.update(overrides or {})
    return env


def manage(*args: str, env: Mapping[str, str], timeout: float = 300.0) -> None:
    """Run a management command; on failure, raise with its output so the cause is visible."""
    command = [sys.executable, str(REPO_ROOT / "manage.py"), *args]
    done = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(
            f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )


@contextmanager
def demo_site(settings_module: str = BENCH_SETTINGS) -> Iterator[dict[str, str]]:
    """A fresh SQLite demo site in a temporary var dir; yields the env that selects it."""
    with tempfile.TemporaryDirectory(prefix="litfass-bench-") as tmp:
        # WhiteNoise warns on every worker boot when STATIC_ROOT is missing.
        (Path(tmp) / "static").mkdir()
        env = {"DJANGO_SETTINGS_MODULE": settings_module, "LITFASS_VAR_DIR": tmp}
        manage("migrate", "--noinput", env=env)
        manage("load_demo", "--allow-production", env=env)
        yield env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class CpuTimes:
    """Cumulative CPU seconds (see ``CpuMeter``)."""

    server: float
    redis: float | None
    machine: float


class CpuMeter:
    """Reads, from ``/proc``, the CPU time used so far by the gunicorn serving on
    ``port`` (its master, its live workers and those it has reaped), by the Redis at
    ``redis_url`` when it runs on this machine, and by the whole machine (busy time:
    user, nice, system, interrupts; not idle, I/O wait or time stolen by a hypervisor).
    Linux only: elsewhere ``CpuMeter.create`` answers ``None``."""

    def __init__(self, port: int, redis_pid: int | None) -> None:
        self.port = port
        self.redis_pid = redis_pid
        self.tick = float(os.sysconf("SC_CLK_TCK"))

    @classmethod
    def create(cls, base_url: str, redis_url: str | None = None) -> CpuMeter | None:
        if not Path("/proc/stat").exists():
            return None
        port = urlsplit(base_url).port
        if port is None:
            raise ValueError(f"no port in {base_url!r}")
        return cls(port, _local_redis_pid(redis_url) if redis_url else None)

    def read(self) -> CpuTimes:
        server = 0.0
        for pid in self._server_pids():
            fields = _stat_fields(pid)
            if fields is not None:
                # utime, stime, and for the master its reaped workers' (cutime, cstime).
                server += sum(int(v) for v in fields[11:15]) / self.tick
        redis = None
        if self.redis_pid is not None:
            fields = _stat_fields(self.redis_pid)
            redis = sum(int(v) for v in fields[11:13]) / self.tick if fields else None
        with open("/proc/stat", encoding="ascii") as stat:
            cpu = stat.readline().split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in cpu[:7])
        return CpuTimes(server, redis, (user + nice + system + irq + softirq) / self.tick)

    def _server_pids(self) -> list[int]:
        bind = f"{LOOPBACK}:{self.port}".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue  # ended meanwhile
            if bind in command and any(b"gunicorn" in part for part in command):
                pids.append(int(entry.name))
        return pids

    def per_request(self, before: CpuTimes, after: CpuTimes, requests: int) -> CpuPerRequest:
        server = (after.server - before.server) / requests * 1e6
        redis = None
        if after.redis is not None and before.redis is not None:
            redis = (after.redis - before.redis) / requests * 1e6
        machine = (after.machine - before.machine) / requests * 1e6
        return CpuPerRequest(server, redis, max(0.0, machine - server - (redis or 0.0)))


def _stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` after the command name (which may hold spaces): field 3 on."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _local_redis_pid(redis_url: str) -> int | None:
    """The pid of the Redis at ``redis_url`` if it runs on this machine, else ``None``."""
    import redis

    host = urlsplit(redis_url).hostname
    if urlsplit(redis_url).scheme != "unix" and host not in (LOOPBACK, "localhost", "::1"):
        return None
    pid = int(redis.Redis.from_url(redis_url, socket_timeout=30).info("server")["process_id"])
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None  # another machine's (or a container's) pid
    return pid if name.startswith("redis") else None


def http_status(url: str, *, timeout: float = 5.0) -> int:
    """Status of one GET, redirects not followed: wrk counts a 3xx as success, we do not."""
    parts = urlsplit(url)
    _require_loopback(url)
    conn = http.client.HTTPConnection(parts.hostname or LOOPBACK, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _require_loopback(url: str) -> None:
    if urlsplit(url).hostname != LOOPBACK:
        raise ValueError(f"benchmarks only load {LOOPBACK}, not {url!r}")


def _tail(path: Path, chars: int = 8000) -> str:
    return path.read_text(errors="replace")[-chars:]


def _wait_until_answering(
    proc: subprocess.Popen[bytes], base_url: str, log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"gunicorn exited with {proc.returncode}:\n{_tail(log)}")
        try:
            # Any status will do: the server answers, whether or not "/" exists.
            http_status(base_url + "/", timeout=2.0)
            return
        except OSError:
            time.sleep(0.2)
    raise BenchError(f"gunicorn did not answer on {base_url} within {timeout:.0f} s:\n{_tail(log)}")


@contextmanager
def serve(
    settings_module: str,
    *,
    workers: int = 2,
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 60.0,
) -> Iterator[str]:
    """gunicorn serving the project on a free 127.0.0.1 port; yields its base URL."""
    port = free_port()
    base_url = f"http://{LOOPBACK}:{port}"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "portal.wsgi:application",
        "--bind",
        f"{LOOPBACK}:{port}",
        "--workers",
        str(workers),
        # Several servers may run at once; the default control socket path is shared.
        "--no-control-socket",
        "--graceful-timeout",
        "5",
    ]
    proc_env = child_env({**(env or {}), "DJANGO_SETTINGS_MODULE": settings_module})
    with tempfile.TemporaryDirectory(prefix="litfass-bench-log-") as log_dir:
        # A file, not a pipe: nobody drains a pipe during the run, and a full one blocks.
        log = Path(log_dir) / "gunicorn.log"
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                command, cwd=REPO_ROOT, env=proc_env, stdout=log_file, stderr=log_file
            )
        try:
            _wait_until_answering(proc, base_url, log, ready_timeout)
            yield base_url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def _to_ms(value: str, unit: str) -> float:
    return float(value) * _UNIT_TO_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    """Read wrk --latency output; raise if anything needed is missing or a request failed."""
    rps = _REQUESTS_PER_SEC.search(output)
    count = _REQUEST_COUNT.search(output)
    latencies = {pct: _to_ms(value, unit) for pct, value, unit in _LATENCY_LINE.findall(output)}
    if rps is None or count is None or set(latencies) != {"50", "99"}:
        raise BenchError(f"could not read wrk's output:\n{output}")
    if int(count.group(1)) == 0:
        raise BenchError(f"wrk completed no request:\n{output}")
    non_2xx = _NON_2XX.search(output)
    if non_2xx is not None and int(non_2xx.group(1)) > 0:
        # Error pages are cheap; timing them would flatter the subject.
        raise BenchError(f"wrk saw {non_2xx.group(1)} non-2xx/3xx responses:\n{output}")
    errors = _SOCKET_ERRORS.search(output)
    return WrkResult(
        requests_per_second=float(rps.group(1)),
        p50_ms=latencies["50"],
        p99_ms=latencies["99"],
        requests=int(count.group(1)),
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def ensure_wrk() -> str:
    """wrk's path; installs Debian's package when missing and we may (root, apt-get),
    otherwise says what to do."""
    executable = shutil.which("wrk")
    if executable is not None:
        return executable
    apt_get = shutil.which("apt-get")
    if apt_get is None or os.geteuid() != 0:
        raise BenchError("wrk is not on PATH: install it (Debian: apt-get install wrk)")
    _progress("wrk is missing: apt-get install wrk")
    for command in (
        [apt_get, "install", "-y", "-qq", "--no-install-recommends", "wrk"],
        # A fresh machine may have no package lists yet.
        [apt_get, "update", "-qq"],
        [apt_get, "install", "-y", "-qq", "--no-install-recommends", "wrk"],
    ):
        done = subprocess.run(
            command,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode == 0 and shutil.which("wrk"):
            break
    executable = shutil.which("wrk")
    if executable is None:
        raise BenchError(f"could not install wrk with apt-get:\n{done.stdout}{done.stderr}")
    return executable


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    threads: int = 2,
    timeout_s: float = 5.0,
    script: Path | None = None,
) -> WrkResult:
    """wrk against ``url``; ``script`` is a Lua file that builds the requests (method,
    headers, body), for subjects that are not a plain GET."""
    _require_loopback(url)
    executable = ensure_wrk()
    command = [
        executable,
        "--latency",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        f"--timeout={timeout_s:g}s",
        *(["--script", str(script)] if script is not None else []),
        url,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + timeout_s + 30, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return parse_wrk(done.stdout)


def _medians(results: Sequence[WrkResult]) -> Medians:
    return Medians(
        requests_per_second=statistics.median(r.requests_per_second for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        socket_errors=sum(r.socket_errors for r in results),
    )


def _progress(message: str) -> None:
    # stderr, so stdout stays a clean Markdown document.
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def compare_http(
    subject_url: str,
    baseline_url: str,
    *,
    rounds: int = 5,
    seconds: float = 5,
    connections: int = 16,
    threads: int = 2,
    subject_script: Path | None = None,
    warmup_seconds: float = 1,
    before_round: Callable[[], None] | None = None,
    variants: Sequence[tuple[str, str, Path | None]] = (),
    cpu: CpuMeter | None = None,
) -> Comparison:
    """Interleaved rounds B,S,B,S,... of wrk against baseline and subject; their medians.

    With ``subject_script`` (a wrk Lua file, e.g. for a POST) the caller checks that the
    subject answers 200; a plain GET subject is checked here. ``before_round`` runs before
    every round of either, e.g. to reset state the subject changes as it is loaded.
    ``variants`` (label, URL, script) are further subjects, in every round after the
    subject. With ``cpu``, each round also measures where the CPU time went.
    """
    machine = machine_facts()
    baseline: list[WrkResult] = []
    subject: list[WrkResult] = []
    others: dict[str, list[WrkResult]] = {label: [] for label, _url, _script in variants}
    spent: dict[str, list[CpuPerRequest]] = {}
    # Baseline first in every round.
    contestants = (
        ("baseline", baseline_url, None, baseline),
        ("subject", subject_url, subject_script, subject),
        *((label, url, script, others[label]) for label, url, script in variants),
    )
    for _what, url, script, _results in contestants:
        if script is None:
            status = http_status(url)
            if status != 200:
                raise BenchError(f"GET {url} answered {status}, not 200: nothing worth timing")
        # Unmeasured: lets every worker import, compile templates and open files first.
        wrk(url, seconds=warmup_seconds, connections=connections, threads=threads, script=script)
    for n in range(1, rounds + 1):
        for what, url, script, results in contestants:
            if before_round is not None:
                before_round()
            _progress(f"round {n}/{rounds}: {what} {url}")
            before = cpu.read() if cpu is not None else None
            result = wrk(
                url, seconds=seconds, connections=connections, threads=threads, script=script
            )
            if cpu is not None and before is not None:
                per_request = cpu.per_request(before, cpu.read(), result.requests)
                spent.setdefault(what, []).append(per_request)
            results.append(result)
    return Comparison(
        baseline=_medians(baseline),
        subject=_medians(subject),
        rounds=rounds,
        seconds=seconds,
        connections=connections,
        threads=threads,
        machine=machine,
        variants={label: _medians(results) for label, results in others.items()},
        cpu={what: _cpu_medians(values) for what, values in spent.items()},
    )


def _cpu_medians(values: Sequence[CpuPerRequest]) -> CpuPerRequest:
    redis = [v.redis_us for v in values if v.redis_us is not None]
    return CpuPerRequest(
        server_us=statistics.median(v.server_us for v in values),
        redis_us=statistics.median(redis) if len(redis) == len(values) else None,
        rest_us=statistics.median(v.rest_us for v in values),
    )


def machine_facts() -> str:
    cpus = len(os.sched_getaffinity(0))
    load1, load5, _ = os.getloadavg()
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{now}; nproc {cpus}; load average {load1:.2f} (1 min) / {load5:.2f} (5 min) "
        f"before the run; Python {platform.python_version()}, Django {django.get_version()}"
    )


def _ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}" if baseline else "n/a"


def markdown_table(
    title: str,
    rows: Sequence[Row],
    *,
    facts: str | None = None,
    notes: Sequence[str] = (),
) -> str:
    """A Markdown table; the first row is the baseline the ratio column divides by."""
    if not rows:
        raise ValueError("a table needs at least the baseline row")
    baseline_rps = rows[0].medians.requests_per_second
    lines = [
        f"### {title}",
        "",
        f"Machine: {facts or machine_facts()}",
        "",
        "| what | req/s (median) | p50 ms (median) | p99 ms (median) | ratio to baseline (req/s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        m = row.medians
        lines.append(
            f"| {row.what} | {m.requests_per_second:.0f} | {m.p50_ms:.2f} | {m.p99_ms:.2f} "
            f"| {_ratio(m.requests_per_second, baseline_rps)} |"
        )
    errors = [f"{row.what}: {row.medians.socket_errors}" for row in rows]
    if any(row.medians.socket_errors for row in rows):
        notes = [*notes, "Socket errors (all rounds, counted by wrk): " + "; ".join(errors)]
    for note in notes:
        # A blank line each, or Markdown would run the notes together into one paragraph.
        lines.extend(["", note])
    return "\n".join(lines)


def comparison_table(
    title: str, subject: str, comparison: Comparison, *, notes: Sequence[str] = ()
) -> str:
    """The usual two-row table of one HTTP subject beside the baseline."""
    c = comparison
    load = (
        f"Load: wrk {c.threads} threads, {c.connections} connections, {c.rounds} interleaved "
        f"rounds of {c.seconds:g} s per URL (baseline first in each round); medians over rounds."
    )
    return markdown_table(
        title,
        [
            Row(f"baseline: JSON view `{BASELINE_PATH}`", c.baseline),
            Row(subject, c.subject),
        ],
        facts=c.machine,
        notes=[load, *notes],
    )
