"""The portal's URLs plus the baseline view, so subject and baseline share one server."""

from django.conf import settings
from django.urls import path

import portal.urls

from .views import baseline_view

urlpatterns = [
    path("_bench/baseline/", baseline_view),
    *portal.urls.urlpatterns,
]

if getattr(settings, "LITFASS_BENCH_COUNT_REDIS", False):
    from .counting import redis_calls_view

    urlpatterns.insert(1, path("_bench/redis-calls/", redis_calls_view))
