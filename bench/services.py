"""A benchmark's own PostgreSQL database and Redis databases, and nobody else's.

Benchmarks that need the production wiring (PostgreSQL, Redis as event store and
broker) drop and recreate a database whose name contains ``bench`` and empty two Redis
databases, so each one must be sure they are its own: loopback only, never the test
suite's Redis databases, and a Redis database that holds keys some other program wrote
is refused rather than emptied. Each benchmark has its own defaults, so two of them can
run at once without touching each other's data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.harness import BENCH_SETTINGS, REPO_ROOT, BenchError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# The test suite's Redis databases (bin/test's defaults are 14 and 15; 12-15 are kept free
# for it).
TEST_REDIS_DBS = frozenset({12, 13, 14, 15})
OWNER_KEY = "litfass:bench:owner"
_SERVICE_VARS = ("DATABASE_URL", "REDIS_URL", "REDIS_CACHE_URL")


@dataclass(frozen=True)
class Services:
    """Where one benchmark keeps its data; ``owner`` marks its Redis databases."""

    database_url: str
    redis_url: str
    redis_cache_url: str
    owner: str

    @classmethod
    def from_env(
        cls, prefix: str, *, owner: str, database_url: str, redis_url: str, redis_cache_url: str
    ) -> Services:
        """The defaults given, each overridable by ``<prefix>_DATABASE_URL`` and so on."""
        return cls(
            database_url=os.environ.get(f"{prefix}_DATABASE_URL", database_url),
            redis_url=os.environ.get(f"{prefix}_REDIS_URL", redis_url),
            redis_cache_url=os.environ.get(f"{prefix}_REDIS_CACHE_URL", redis_cache_url),
            owner=owner,
        )

    @property
    def database_name(self) -> str:
        return urlsplit(self.database_url).path.lstrip("/")

    def redis_urls(self) -> tuple[str, str]:
        return self.redis_url, self.redis_cache_url

    def check(self) -> None:
        """Refuse anything but loopback services and databases that are ours to wipe."""
        database = urlsplit(self.database_url)
        if database.hostname not in LOOPBACK_HOSTS:
            raise BenchError(f"the benchmark database must be on loopback: {self.database_url}")
        if "bench" not in self.database_name:
            raise BenchError(
                "the benchmark drops and recreates its database, so its name must contain "
                f"'bench': {self.database_name!r}"
            )
        dbs = []
        for url in self.redis_urls():
            parts = urlsplit(url)
            if parts.hostname not in LOOPBACK_HOSTS:
                raise BenchError(f"the benchmark Redis must be on loopback: {url}")
            db = int(parts.path.lstrip("/") or 0)
            if db in TEST_REDIS_DBS:
                raise BenchError(f"Redis db {db} belongs to the test suite: {url}")
            dbs.append((parts.hostname, parts.port, db))
        if dbs[0] == dbs[1]:
            raise BenchError("REDIS_URL and REDIS_CACHE_URL must be different databases")

    def env(self, var_dir: Path) -> dict[str, str]:
        """What selects this site, for manage.py, gunicorn, Celery and worker processes."""
        return {
            "DJANGO_SETTINGS_MODULE": BENCH_SETTINGS,
            "LITFASS_VAR_DIR": str(var_dir),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "REDIS_CACHE_URL": self.redis_cache_url,
            # As in production (portal.settings.prod): connections outlive a request.
            "DJANGO_CONN_MAX_AGE": "60",
        }


def _maintenance_conninfo(database_url: str) -> str:
    return urlsplit(database_url)._replace(path="/postgres").geturl()


def recreate_database(services: Services) -> None:
    import psycopg
    from psycopg import sql

    name = sql.Identifier(services.database_name)
    try:
        with psycopg.connect(
            _maintenance_conninfo(services.database_url), autocommit=True, connect_timeout=5
        ) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    except psycopg.Error as error:
        raise BenchError(
            f"could not (re)create {services.database_name!r} on PostgreSQL ({error}). "
            "bin/test starts PostgreSQL and creates the role 'litfass' (CREATEDB)."
        ) from error


def drop_database(services: Services) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        _maintenance_conninfo(services.database_url), autocommit=True, connect_timeout=5
    ) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(services.database_name)
            )
        )


def redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=30)


def claim_redis(services: Services) -> None:
    """Empty our Redis databases and mark them ours; refuse one that holds keys another
    program wrote."""
    import redis

    for url in services.redis_urls():
        client = redis_client(url)
        try:
            size = client.dbsize()
            if size and client.get(OWNER_KEY) != services.owner.encode():
                raise BenchError(
                    f"Redis {url} holds {size} keys this benchmark did not write; pick empty "
                    "databases (see bench/README.md for the variables)"
                )
            reset_redis(url, services.owner)
        except redis.ConnectionError as error:
            raise BenchError(
                f"Redis is not answering at {url} ({error}); bin/test starts it"
            ) from error


def reset_redis(url: str, owner: str) -> None:
    """Empty one of our Redis databases, keeping the mark that says it is ours."""
    pipe = redis_client(url).pipeline(transaction=True)
    pipe.flushdb()
    pipe.set(OWNER_KEY, owner)
    pipe.execute()


def release_redis(services: Services) -> None:
    for url in services.redis_urls():
        client = redis_client(url)
        if client.dbsize() == 0 or client.get(OWNER_KEY) == services.owner.encode():
            client.flushdb()


def service_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without its services, plus this run's own."""
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_VARS}
    env.update(overrides)
    return env


def run_worker(
    module: str, args: Sequence[str], env: Mapping[str, str], *, timeout: float = 900.0
) -> Any:
    """Run ``python -m <module> --worker ...`` (Django set up there, not in the caller);
    its last stdout line is JSON. Its stderr goes to ours, so progress and errors show."""
    done = subprocess.run(
        [sys.executable, "-m", module, "--worker", *args],
        cwd=REPO_ROOT,
        env=service_env(env),
        stdout=subprocess.PIPE,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise BenchError(
            f"{module} worker {' '.join(args)} failed ({done.returncode}); its stderr is "
            f"above:\n{done.stdout}"
        )
    return json.loads(lines[-1])


def setup_django_for_worker() -> None:
    """Django in a worker process, after checking it was pointed at a benchmark site."""
    for name in ("DJANGO_SETTINGS_MODULE", "LITFASS_VAR_DIR", "DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name):
            raise BenchError(f"the worker needs {name} set by the benchmark")
    if "bench" not in urlsplit(os.environ["DATABASE_URL"]).path:
        raise BenchError("the worker only writes to a benchmark database")
    import django

    django.setup()
