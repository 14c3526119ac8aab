from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .forms import ImageForm, RejectForm
from .models import Image, Promotion, PromotionReview, Rendition, Slot
from .rendering import render_slot
from .renditions import get_rendition
from .reviews import do_approve, do_reject
from .specs import parse_spec
from .tasks import pregenerate_renditions, pregenerate_slot_renditions
from .uploads import do_store_image

THUMBNAIL = parse_spec("max-120x120|format-webp")


def thumbnail(image: Image | None) -> SafeString | str:
    if image is None:
        return "–"
    rendition = get_rendition(image, THUMBNAIL)
    return format_html(
        '<img src="{}" width="{}" height="{}" alt="" loading="lazy">',
        rendition.url,
        rendition.width,
        rendition.height,
    )


class RenditionInline(admin.TabularInline[Rendition, Image]):
    model = Rendition
    extra = 0
    can_delete = False
    fields = ("spec", "focal_point_key", "width", "height", "file", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Image | None = None) -> bool:
        return False


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin[Image]):
    form = ImageForm
    list_display = ("preview", "title", "width", "height", "format", "byte_size", "created_at")
    search_fields = ("title", "content_hash")
    date_hierarchy = "created_at"
    readonly_fields = (
        "focal_point_picker",
        "width",
        "height",
        "format",
        "byte_size",
        "content_hash",
    )
    inlines = (RenditionInline,)

    class Media:
        css = {"all": ("promotions/css/admin.css",)}  # noqa: RUF012
        js = ("promotions/js/focal-point.js",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Image]:
        return super().get_queryset(request).prefetch_related("renditions")

    def get_fields(self, request: HttpRequest, obj: Image | None = None) -> Any:
        if obj is None:
            return ("upload", "title", "focal_point_x", "focal_point_y")
        return (
            "title",
            "focal_point_picker",
            "focal_point_x",
            "focal_point_y",
            "width",
            "height",
            "format",
            "byte_size",
            "content_hash",
        )

    @admin.display(description=_("Vorschau"))
    def preview(self, image: Image) -> SafeString | str:
        return thumbnail(image)

    @admin.display(description=_("Fokuspunkt"))
    def focal_point_picker(self, image: Image) -> SafeString:
        rendition = get_rendition(image, parse_spec("max-480x480|format-webp"))
        return format_html(
            '<div class="focal-point" data-focal-point>'
            '<img src="{}" width="{}" height="{}" alt="">'
            "<span data-focal-marker></span>"
            '</div><p class="help">{}</p>',
            rendition.url,
            rendition.width,
            rendition.height,
            _("In das Bild klicken, um den Fokuspunkt zu setzen."),
        )

    def save_model(self, request: HttpRequest, obj: Image, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            transaction.on_commit(lambda: pregenerate_renditions.delay(obj.pk))
        else:
            do_store_image(form.checked, image=obj)


class PromotionAdminBase(admin.ModelAdmin[Promotion]):
    list_display = ("preview", "title", "review_status", "destination_url")
    list_select_related = ("image",)
    list_filter = ("review_status",)
    search_fields = ("title", "text", "destination_url")
    date_hierarchy = "created_at"
    autocomplete_fields = ("image",)
    readonly_fields = ("reviewed_at",)
    actions = ("approve", "reject")
    # A destination typed without a scheme means https (Django 6's default, today).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # noqa: RUF012

    def get_queryset(self, request: HttpRequest) -> QuerySet[Promotion]:
        return super().get_queryset(request).prefetch_related("image__renditions")

    @admin.display(description=_("Bild"))
    def preview(self, promotion: Promotion) -> SafeString | str:
        return thumbnail(promotion.image)

    @admin.action(description=_("Ausgewählte Promotions freigeben"))
    def approve(self, request: HttpRequest, queryset: QuerySet[Promotion]) -> None:
        count = do_approve(queryset.values_list("pk", flat=True), now=timezone.now())
        self.message_user(
            request,
            ngettext("%(n)d Promotion freigegeben.", "%(n)d Promotions freigegeben.", count)
            % {"n": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Ausgewählte Promotions ablehnen …"))
    def reject(self, request: HttpRequest, queryset: QuerySet[Promotion]) -> HttpResponse | None:
        form = RejectForm(request.POST if "reason" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                count = do_reject(
                    queryset.values_list("pk", flat=True),
                    reason=form.cleaned_data["reason"],
                    now=timezone.now(),
                )
            except ValidationError as error:
                form.add_error("reason", error)
            else:
                self.message_user(
                    request,
                    ngettext("%(n)d Promotion abgelehnt.", "%(n)d Promotions abgelehnt.", count)
                    % {"n": count},
                    messages.SUCCESS,
                )
                return None
        return TemplateResponse(
            request,
            "admin/promotions/reject.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Promotions ablehnen"),
                "opts": self.model._meta,
                "queryset": queryset,
                "form": form,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(Promotion)
class PromotionAdmin(PromotionAdminBase):
    fieldsets = (
        (
            None,
            {"fields": ("title", "text", "image", "alt_text", "call_to_action", "destination_url")},
        ),
        (_("Prüfung"), {"fields": ("review_status", "rejection_reason", "reviewed_at")}),
    )


@admin.register(PromotionReview)
class PromotionReviewAdmin(PromotionAdminBase):
    """The review queue: promotions waiting for an editor's decision."""

    fields = ("title", "text", "image", "alt_text", "call_to_action", "destination_url")

    def get_list_filter(self, request: HttpRequest) -> tuple[str, ...]:
        return ()

    def get_readonly_fields(self, request: HttpRequest, obj: Promotion | None = None) -> Any:
        return self.fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Promotion]:
        return super().get_queryset(request).filter(review_status=Promotion.ReviewStatus.PENDING)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin[Slot]):
    list_display = ("key", "name", "label", "width", "height", "fallback", "preview_link")
    list_select_related = ("house_promotion",)
    search_fields = ("key", "name")
    list_filter = ("fallback", "label")
    prepopulated_fields = {"key": ("name",)}  # noqa: RUF012
    autocomplete_fields = ("house_promotion",)

    def get_urls(self) -> list[URLPattern]:
        preview = path(
            "<int:slot_id>/preview/",
            self.admin_site.admin_view(self.preview_view),
            name="promotions_slot_preview",
        )
        return [preview, *super().get_urls()]

    @admin.display(description=_("Vorschau"))
    def preview_link(self, slot: Slot) -> SafeString:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:promotions_slot_preview", args=[slot.pk]),
            _("Vorschau"),
        )

    def preview_view(self, request: HttpRequest, slot_id: int) -> HttpResponse:
        """The slot with a chosen promotion, rendered exactly as on the portal; never counted."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        slot = get_object_or_404(Slot, pk=slot_id)
        promotions = Promotion.objects.select_related("image").order_by("title")
        chosen = None
        if promotion_id := request.GET.get("promotion", "").strip():
            if not promotion_id.isdigit():
                raise PermissionDenied
            chosen = get_object_or_404(promotions, pk=int(promotion_id))
        return TemplateResponse(
            request,
            "admin/promotions/slot_preview.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Vorschau: %(slot)s") % {"slot": slot},
                "opts": Slot._meta,
                "slot": slot,
                "promotions": promotions,
                "chosen": chosen,
                "rendered": render_slot(
                    slot, chosen, inquiry_url=reverse("portal:inquiry"), preview=True
                ),
            },
        )

    def save_model(self, request: HttpRequest, obj: Slot, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change or "rendition_specs" in form.changed_data:
            transaction.on_commit(lambda: pregenerate_slot_renditions.delay(obj.pk))
