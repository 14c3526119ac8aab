"""Settings for benchmarks: the shipped wiring with debug off, served on 127.0.0.1 only.

Not ``portal.settings.prod``: that one demands a real secret, PostgreSQL and Redis and
redirects to HTTPS, none of which a local load test has. Static files keep Django's plain
storage so no ``collectstatic`` (and no manifest) is needed before a run.
"""

from portal.settings.base import *  # noqa: F403
from portal.settings.base import env

DEBUG = False
SECRET_KEY = env.str(
    "DJANGO_SECRET_KEY",
    default="bench-only-insecure-key-never-deploy-0123456789abcdefghijklmnopqrstuvwxyz",
)
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.urls"

# bench.decision's per-request Redis figures: count this process's round trips (never
# in a timed run; see bench/counting.py).
LITFASS_BENCH_COUNT_REDIS = env.bool("LITFASS_BENCH_COUNT_REDIS", default=False)
if LITFASS_BENCH_COUNT_REDIS:
    from bench.counting import install

    install()
