import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from playwright.sync_api import sync_playwright


def pytest_configure(config: pytest.Config) -> None:
    # The suite proves behaviour against the real services; it never falls back quietly.
    missing = [
        name
        for name in ("DATABASE_URL", "REDIS_URL", "REDIS_CACHE_URL")
        if not os.environ.get(name)
    ]
    if missing:
        raise pytest.UsageError(
            f"{', '.join(missing)} not set: run the suite with bin/test, which starts "
            "PostgreSQL and Redis and points the tests at them."
        )


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chromium reaches for Google's services at start; on a closed network that only costs time.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM calls the live
    # server fixture makes from here are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(autouse=True)
def _german_by_default() -> None:
    # A request under /en/ leaves English active in this thread; each test starts afresh.
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _served_records_settled(monkeypatch) -> None:
    """Tests check Redis right after a page view, on another connection: read the answers
    of scripts this thread sent without waiting (``ads.wire.Script.send``) first, so Redis
    has run them. Real readers come at least a second later (a view needs one)."""
    import redis

    from ads import wire

    get_connection = redis.ConnectionPool.get_connection

    def settled(pool, *args, **kwargs):
        line = wire._held.lines.get(id(pool))
        if line is not None:
            line.settle()
        return get_connection(pool, *args, **kwargs)

    monkeypatch.setattr(redis.ConnectionPool, "get_connection", settled)


@pytest.fixture(autouse=True)
def _fresh_decisions() -> Iterator[None]:
    # Test transactions roll back without committing, so the on-commit version bumps
    # never fire: every test starts with no snapshot and no live counters.
    from ads.counters import PREFIX, redis_client
    from ads.decision import engine

    def reset() -> None:
        engine.forget()
        client = redis_client()
        keys = list(client.scan_iter(f"{PREFIX}:*", count=1000))
        if keys:
            client.delete(*keys)

    reset()
    yield
    reset()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True, scope="session")
def _empty_task_queue() -> Iterator[None]:
    # Tasks queued on commit have no worker in most tests; keep the test broker clean.
    from portal.celery import app

    app.control.purge()
    yield
    app.control.purge()


@pytest.fixture
def start_worker(transactional_db) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Starts real Celery worker processes (consuming from Redis, writing to the test
    database) on demand; ``start_worker(**env)`` adds environment variables. All are
    stopped at the end of the test."""
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    base_env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "LITFASS_VAR_DIR": os.environ.get("LITFASS_VAR_DIR", ""),
        "LITFASS_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    workers: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--pool",
                "solo",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "WARNING",
            ],
            cwd=Path(__file__).resolve().parents[1],
            env={**base_env, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)


@pytest.fixture
def celery_worker(start_worker) -> Callable[..., None]:
    """A real Celery worker process, consuming from Redis and writing to the test database.

    Yields ``wait_until(check, timeout=30)`` to poll for the worker's effect.
    """
    worker = start_worker()

    def wait_until(check: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError("the Celery worker did not do its work in time")
            if worker.poll() is not None:
                raise AssertionError(f"the Celery worker exited with {worker.returncode}")
            time.sleep(0.2)

    return wait_until
