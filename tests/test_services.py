"""The suite runs against the real services, never a stand-in."""

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection


def test_database_is_postgresql(db):
    assert connection.vendor == "postgresql"


def test_cache_is_redis():
    cache.set("litfass:probe", "ja", timeout=30)

    raw = redis.Redis.from_url(str(settings.REDIS_CACHE_URL))
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    assert any(b"litfass:probe" in key for key in raw.keys("*litfass:probe*"))
    assert cache.get("litfass:probe") == "ja"


def test_celery_broker_is_redis_and_not_eager():
    from portal.celery import app

    assert app.conf.broker_url == settings.REDIS_URL
    assert app.conf.task_always_eager is False


def test_clearing_the_cache_leaves_the_broker_database_alone():
    broker = redis.Redis.from_url(str(settings.REDIS_URL))
    broker.set("litfass:test:broker-probe", "1", ex=30)

    cache.clear()

    assert broker.get("litfass:test:broker-probe") == b"1"
    broker.delete("litfass:test:broker-probe")
