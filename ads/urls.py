from django.urls import path

from . import views

tracking_patterns = [
    path("v/<str:nonce>", views.track_view, name="track-view"),
    path("c/<str:nonce>", views.track_click, name="track-click"),
]
