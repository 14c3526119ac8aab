from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from .models import Announcement, Article, Author, Section, SiteSettings


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin[Author]):
    list_display = ("name", "slug")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}  # noqa: RUF012


@admin.register(Section)
class SectionAdmin(admin.ModelAdmin[Section]):
    list_display = ("name", "slug")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}  # noqa: RUF012


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin[Article]):
    list_display = ("title", "author", "section", "status", "language", "published_at", "preview")
    list_filter = ("status", "section", "language", "author")
    list_select_related = ("author", "section")
    search_fields = ("title", "teaser", "body", "tags__name")
    date_hierarchy = "published_at"
    prepopulated_fields = {"slug": ("title",)}  # noqa: RUF012
    autocomplete_fields = ("author", "section")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("title", "subtitle", "slug", "teaser", "body", "tags")}),
        (
            _("Veröffentlichung"),
            {"fields": ("status", "published_at", "author", "section", "language")},
        ),
        (_("Verlauf"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Article]:
        return super().get_queryset(request).prefetch_related("tags")  # type: ignore[misc]

    @admin.display(description=_("Vorschau"))
    def preview(self, article: Article) -> SafeString:
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            article.get_absolute_url(),
            _("Ansehen"),
        )


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin[Announcement]):
    list_display = ("text", "starts_at", "ends_at", "link_url")
    list_filter = ("starts_at",)
    search_fields = ("text",)
    date_hierarchy = "starts_at"


@admin.register(SiteSettings)
class SiteSettingsAdmin(admin.ModelAdmin[SiteSettings]):
    list_display = ("site_name", "publisher", "issn")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One row only: editors change it, they never add a second.
        return not SiteSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: SiteSettings | None = None) -> bool:
        return False
