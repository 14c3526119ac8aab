from django.urls import path

from .. import views

app_name = "api"

urlpatterns = [
    path("decisions", views.decisions, name="decisions"),
]
