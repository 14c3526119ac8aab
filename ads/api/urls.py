from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from .. import views as public
from . import inquiries, reports, schema, views

app_name = "api"
__all__ = ["schema"]  # imported for its schema extension

router = DefaultRouter(trailing_slash=False)
router.register("campaigns", views.CampaignViewSet, basename="campaign")
router.register("promotions", views.PromotionViewSet, basename="promotion")
router.register("images", views.ImageViewSet, basename="image")

urlpatterns = [
    path("decisions", public.decisions, name="decisions"),
    path("reports", reports.ReportView.as_view(), name="reports"),
    path("inquiries", inquiries.InquiryCreateView.as_view(), name="inquiries"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path(
        "redoc/",
        SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html"),
        name="redoc",
    ),
    path("", include(router.urls)),
]
