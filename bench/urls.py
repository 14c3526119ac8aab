"""The portal's URLs plus the baseline view, so subject and baseline share one server."""

from django.urls import path

import portal.urls

from .views import baseline_view

urlpatterns = [
    path("_bench/baseline/", baseline_view),
    *portal.urls.urlpatterns,
]
