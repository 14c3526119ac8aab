from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from portal.tasks import clear_expired_sessions


def _session(expires_in: timedelta) -> str:
    store = SessionStore()
    store["x"] = 1
    store.create()
    Session.objects.filter(pk=store.session_key).update(expire_date=timezone.now() + expires_in)
    assert store.session_key is not None
    return store.session_key


@pytest.mark.django_db
def test_clearing_sessions_keeps_live_ones():
    expired = _session(timedelta(hours=-1))
    live = _session(timedelta(hours=1))

    assert clear_expired_sessions() == 1
    assert not Session.objects.filter(pk=expired).exists()
    assert Session.objects.filter(pk=live).exists()


@pytest.mark.django_db
def test_clearing_sessions_twice_is_harmless():
    _session(timedelta(hours=-1))

    clear_expired_sessions()

    assert clear_expired_sessions() == 0


def test_beat_schedules_the_session_cleanup(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert "portal.tasks.clear_expired_sessions" in tasks


def test_real_worker_runs_the_task_from_redis(celery_worker):
    expired = _session(timedelta(hours=-1))

    clear_expired_sessions.delay()

    celery_worker(lambda: not Session.objects.filter(pk=expired).exists())
