from django.urls import path

from . import views

app_name = "ads"

urlpatterns = [
    path("decisions", views.decisions, name="decisions"),
]
