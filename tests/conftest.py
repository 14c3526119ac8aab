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
