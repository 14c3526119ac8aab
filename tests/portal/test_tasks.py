import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from portal.tasks import clear_expired_sessions

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_the_task_from_redis():
    expired = _session(timedelta(hours=-1))
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
    }
    queue = f"test-{os.getpid()}"
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
            "--queues",
            queue,
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        clear_expired_sessions.apply_async(queue=queue)
        deadline = time.monotonic() + 30
        while Session.objects.filter(pk=expired).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not Session.objects.filter(pk=expired).exists()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
