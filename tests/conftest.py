import os
from collections.abc import Iterator

import pytest
from django.core.cache import cache


def pytest_configure(config: pytest.Config) -> None:
    # The suite proves behaviour against the real services; it never falls back quietly.
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        raise pytest.UsageError(
            f"{', '.join(missing)} not set: run the suite with bin/test, which starts "
            "PostgreSQL and Redis and points the tests at them."
        )


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


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
