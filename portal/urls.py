from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy
from django.utils.translation import gettext_lazy as _

from ads.urls import tracking_patterns
from promotions.views import rendition_file

from . import views

portal_patterns = [
    path("", views.home, name="home"),
    path("artikel/<slug:slug>/", views.article_detail, name="article"),
    path("thema/<slug:slug>/", views.tag_detail, name="tag"),
    path("cookie-einstellungen/", views.consent_settings, name="consent"),
    path("impressum/", views.page, {"url": "/impressum/"}, name="imprint"),
    path("datenschutz/", views.page, {"url": "/datenschutz/"}, name="privacy"),
    path("werbung/", views.page, {"url": "/werbung/"}, name="advertise"),
    path("werbung/anfrage/", views.inquiry, name="inquiry"),
    path("werbung/anfrage/danke/", views.inquiry_thanks, name="inquiry-thanks"),
    # Django's password reset, for advertisers' members: the invitation of a new
    # advertiser links to password-reset-confirm to set the first password.
    path(
        "konto/passwort/",
        auth_views.PasswordResetView.as_view(
            template_name="portal/account/password_reset_form.html",
            email_template_name="portal/account/password_reset_email.txt",
            subject_template_name="portal/account/password_reset_subject.txt",
            success_url=reverse_lazy("portal:password-reset-done"),
        ),
        name="password-reset",
    ),
    path(
        "konto/passwort/verschickt/",
        auth_views.PasswordResetDoneView.as_view(
            template_name="portal/account/password_reset_done.html"
        ),
        name="password-reset-done",
    ),
    path(
        "konto/passwort/neu/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="portal/account/password_reset_confirm.html",
            success_url=reverse_lazy("portal:password-reset-complete"),
        ),
        name="password-reset-confirm",
    ),
    path(
        "konto/passwort/gesetzt/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="portal/account/password_reset_complete.html"
        ),
        name="password-reset-complete",
    ),
]

admin.site.site_header = _("Litfass – Redaktion")
admin.site.site_title = _("Litfass")

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        f"{settings.MEDIA_URL.strip('/')}/renditions/<path:path>",
        rendition_file,
        name="rendition",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("ads.api.urls")),
    path("t/", include(tracking_patterns)),
    *i18n_patterns(path("", include((portal_patterns, "portal"))), prefix_default_language=False),
]

handler404 = "portal.views.not_found"
handler500 = "portal.views.server_error"
