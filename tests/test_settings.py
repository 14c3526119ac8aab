import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PRINT_SETTINGS = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.DATABASES['default']['ENGINE']); print(s.DATABASES['default']['NAME']); "
    "print(s.CELERY_TASK_ALWAYS_EAGER); print(s.CACHES['default']['BACKEND']); print(s.DEBUG)"
)


def _clean_env(**extra: str) -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG"}
    env = {key: value for key, value in os.environ.items() if key in keep}
    env.update(extra)
    return env


def _run(args, env):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _prod_env(**extra: str) -> dict[str, str]:
    return _clean_env(
        DJANGO_SETTINGS_MODULE="portal.settings.prod",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="kiexpertenforum.example",
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
        REDIS_CACHE_URL=os.environ["REDIS_CACHE_URL"],
        **extra,
    )


def test_production_settings_pass_check_deploy():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "DEBUG"], _prod_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = _prod_env()
    del env["DJANGO_SECRET_KEY"]

    result = _run(["manage.py", "check"], env)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_redis():
    env = _prod_env()
    del env["REDIS_URL"]

    result = _run(["manage.py", "check"], env)

    assert result.returncode != 0
    assert "REDIS_URL must be set" in result.stderr


def test_embedded_default_needs_no_environment(tmp_path):
    env = _clean_env(DJANGO_SETTINGS_MODULE="portal.settings.dev", LITFASS_VAR_DIR=str(tmp_path))

    result = _run(["-c", PRINT_SETTINGS], env)

    assert result.returncode == 0, result.stderr
    engine, name, eager, cache, debug = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert name == str(tmp_path / "litfass.sqlite3")
    assert eager == "True"
    assert cache.endswith("LocMemCache")
    assert debug == "True"


def test_urls_switch_to_postgresql_and_redis(tmp_path):
    env = _clean_env(
        DJANGO_SETTINGS_MODULE="portal.settings.dev",
        DATABASE_URL="postgres://u:p@db.internal:5432/litfass",
        REDIS_URL="redis://cache.internal:6379/0",
        REDIS_CACHE_URL="redis://cache.internal:6379/1",
    )

    result = _run(["-c", PRINT_SETTINGS], env)

    engine, name, eager, cache, _ = result.stdout.split()
    assert engine == "django.db.backends.postgresql"
    assert name == "litfass"
    assert eager == "False"
    assert cache.endswith("RedisCache")


def test_production_collects_static_files_for_whitenoise(tmp_path):
    result = _run(
        ["manage.py", "collectstatic", "--noinput"], _prod_env(LITFASS_VAR_DIR=str(tmp_path))
    )

    assert result.returncode == 0, result.stderr
    manifest = (tmp_path / "static" / "staticfiles.json").read_text()
    assert "portal/css/portal.css" in manifest
    assert list((tmp_path / "static" / "portal" / "css").glob("portal.*.css.gz"))


def test_cache_and_broker_must_not_share_a_redis_database():
    env = _prod_env()
    env["REDIS_CACHE_URL"] = env["REDIS_URL"]

    result = _run(["manage.py", "check"], env)

    assert result.returncode != 0
    assert "REDIS_CACHE_URL must name another database" in result.stderr


def test_proxy_count_is_what_the_api_throttles_read(tmp_path):
    env = _clean_env(
        DJANGO_SETTINGS_MODULE="portal.settings.dev",
        LITFASS_VAR_DIR=str(tmp_path),
        LITFASS_PROXY_COUNT="2",
    )
    show = "import django; django.setup(); from django.conf import settings as s; "
    show += "print(s.LITFASS_PROXY_COUNT, s.REST_FRAMEWORK['NUM_PROXIES'])"

    assert _run(["-c", show], env).stdout.split() == ["2", "2"]

    env["LITFASS_PROXY_COUNT"] = "-1"
    refused = _run(["manage.py", "check"], env)

    assert refused.returncode != 0
    assert "LITFASS_PROXY_COUNT: 0 or more proxies." in refused.stderr
