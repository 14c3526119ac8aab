from django.urls import path

from . import views

app_name = "ads"

urlpatterns = [
    path("decisions", views.decisions, name="decisions"),
]

tracking_patterns = [
    path("v/<str:nonce>", views.track_view, name="track-view"),
    path("c/<str:nonce>", views.track_click, name="track-click"),
]
