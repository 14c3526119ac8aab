"""Settings shared by every environment, read from the environment with django-environ.

With nothing set, Litfass runs embedded: SQLite in ``var/``, Celery tasks run eagerly and
the cache lives in process memory. ``DATABASE_URL`` and ``REDIS_URL`` switch to
PostgreSQL and Redis (cache and Celery broker).
"""

from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

# Lets generic classes such as ModelAdmin[Article] be subscripted at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

VAR_DIR = Path(env.str("LITFASS_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Only the dev and test settings provide a default; prod must be given a real key.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.flatpages",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "taggit",
    "portal",
    "ads",
    "promotions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "ads.middleware.ViewBeaconMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # POST /api/v1/decisions is answered here: it needs CORS, none of what follows.
    "ads.middleware.DecisionMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.consent.ConsentMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
SITE_ID = 1

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'litfass.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL: str | None = env.str("REDIS_URL", default=None)
# The cache gets its own Redis database: clearing or evicting it must never touch the
# Celery queue (or, later, the event store) that lives in REDIS_URL's database.
REDIS_CACHE_URL: str | None = env.str("REDIS_CACHE_URL", default=None)
if REDIS_URL:
    if not REDIS_CACHE_URL:
        raise ImproperlyConfigured("REDIS_CACHE_URL must be set with REDIS_URL (another db).")
    if REDIS_CACHE_URL == REDIS_URL:
        raise ImproperlyConfigured("REDIS_CACHE_URL must name another database than REDIS_URL.")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_CACHE_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: with Redis it is the broker; without it tasks run in-process, so the embedded
# default needs no worker at all.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ads.api.auth.AdvertiserKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["ads.api.auth.IsAdvertiser"],
    "DEFAULT_THROTTLE_CLASSES": ["ads.api.auth.AdvertiserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "advertiser": env.str("LITFASS_API_RATE", default="300/min"),
        "anon": env.str("LITFASS_API_ANON_RATE", default="30/min"),
    },
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ads.api.errors.problem_exception_handler",
    "DATETIME_FORMAT": "iso-8601",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Litfass API",
    "DESCRIPTION": (
        "Kampagnen, Promotions, Bilder, Berichte und Anfragen eines Werbekunden. "
        "Authentifizierung: `Authorization: Api-Key <schlüssel>`. Fehler als RFC 9457 "
        "problem+json."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and ReDoc from drf-spectacular-sidecar's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ads.api.schema.add_problem_responses",
        "ads.api.schema.add_decisions",
    ],
}

# Other sites may ask for decisions from their pages' scripts; never with credentials.
CORS_URLS_REGEX = r"^/api/v1/decisions$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = False

# Reverse proxies in front of the application that append the address they were
# connected from to X-Forwarded-For (a load balancer and nginx: 2). 0: the peer is the
# reader. Visitor keys, tracking and inquiry rate limits and the API throttles read
# the reader's address from there (``ads.visitors.client_address``).
LITFASS_PROXY_COUNT = env.int("LITFASS_PROXY_COUNT", default=0)
if LITFASS_PROXY_COUNT < 0:
    raise ImproperlyConfigured("LITFASS_PROXY_COUNT: 0 or more proxies.")
REST_FRAMEWORK["NUM_PROXIES"] = LITFASS_PROXY_COUNT

# Views and clicks per visitor (IP and user agent) and minute; more are refused as
# "rate_limit". A page has a handful of slots, so a reader never comes close.
LITFASS_TRACKING_RATE_LIMIT = env.int("LITFASS_TRACKING_RATE_LIMIT", default=60)

# Stream entries per flush transaction (a page view's served events share one entry,
# views and clicks have one each): bigger batches move more per second, smaller ones
# lose less work when a worker dies mid-flush.
LITFASS_FLUSH_BATCH = env.int("LITFASS_FLUSH_BATCH", default=200_000)

# The public decision endpoint takes a small JSON body; anything larger is refused.
LITFASS_DECISION_MAX_BYTES = env.int("LITFASS_DECISION_MAX_BYTES", default=8192)
# Seconds a process may decide on today's served counts it read before (caps, pacing;
# those of every campaign, read together for all pages), instead of reading them for
# every page view; never for a campaign near its daily cap that a draw picks (see
# ``ads.decision``: within twice what the site serves of it in this time, at least 20
# page views), nor for a reader's frequency counts. 0 reads them on every decision.
LITFASS_LIVE_COUNTS_TTL = env.float("LITFASS_LIVE_COUNTS_TTL", default=1.0)
# Keep each process's decision snapshot out of the cyclic garbage collector's walks
# (``gc.freeze``, see ``ads.decision``).
LITFASS_SNAPSHOT_FREEZE = env.bool("LITFASS_SNAPSHOT_FREEZE", default=True)

# "Werbung auf diesem Portal?": new inquiries are announced to this address.
LITFASS_SALES_EMAIL = env.str("LITFASS_SALES_EMAIL", default="werbung@localhost")
# Spam guards of the inquiry form: a person needs more than a few seconds to fill it in,
# and nobody sends more than a handful of inquiries an hour (per IP and user agent).
LITFASS_INQUIRY_MIN_SECONDS = env.int("LITFASS_INQUIRY_MIN_SECONDS", default=3)
LITFASS_INQUIRY_RATE_LIMIT = env.int("LITFASS_INQUIRY_RATE_LIMIT", default=5)

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task whose worker died is redelivered after this, not after Redis' default hour.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
CELERY_TIMEZONE = "Europe/Berlin"
CELERY_BEAT_SCHEDULE = {
    "portal.clear_expired_sessions": {
        "task": "portal.tasks.clear_expired_sessions",
        "schedule": 60 * 60 * 24,
    },
    "ads.flush_events": {
        "task": "ads.tasks.flush_events",
        "schedule": 10,
        "options": {"expires": 9},
    },
    "ads.send_missed_inquiry_mails": {
        "task": "ads.tasks.send_missed_inquiry_mails",
        "schedule": 15 * 60,
    },
    "ads.rotate_campaigns": {
        "task": "ads.tasks.rotate_campaigns",
        "schedule": 60,
        # A rotation missed by a busy worker is replaced by the next one, not queued up.
        "options": {"expires": 55},
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "de"
LANGUAGES = [("de", _("Deutsch")), ("en", _("Englisch"))]
LOCALE_PATHS = [BASE_DIR / "portal" / "locale"]
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

TAGGIT_CASE_INSENSITIVE = True

# Uploaded images: larger files or more pixels are refused before they are decoded.
LITFASS_IMAGE_MAX_BYTES = env.int("LITFASS_IMAGE_MAX_BYTES", default=15 * 1024 * 1024)
LITFASS_IMAGE_MAX_PIXELS = env.int("LITFASS_IMAGE_MAX_PIXELS", default=40_000_000)

# The consent cookie is first-party and holds only the reader's choice. Bump the revision
# whenever the categories or their purposes change: every reader is asked again.
LITFASS_CONSENT_COOKIE = "litfass_consent"
LITFASS_CONSENT_REVISION = 1
LITFASS_CONSENT_MAX_AGE = 60 * 60 * 24 * 365

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}
