"""The test suite: the same wiring as production, with fast hashing and local mail."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="test-only-insecure-key")
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Serve static files from the apps' folders, as in development: no collectstatic in tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# A Celery worker started by the tests writes files where the test process reads them.
if env.str("LITFASS_TEST_MEDIA_ROOT", default=""):
    MEDIA_ROOT = env.path("LITFASS_TEST_MEDIA_ROOT")
# Tests look at counters right after a page view and decide again at the same moment:
# read them on every decision. The tests of the live-count cache turn it on themselves.
LITFASS_LIVE_COUNTS_TTL = 0.0
# A full collection on every snapshot build would cost the suite minutes; the test of
# the freeze turns it on itself.
LITFASS_SNAPSHOT_FREEZE = False
