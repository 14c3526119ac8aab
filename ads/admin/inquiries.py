"""Inquiries in the admin: sales works through them from new to won, lost or spam."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..inquiries import InquiryConversionError, do_convert_to_advertiser
from ..models import Inquiry

# What the prospect sent: kept as sent. Sales notes and moves the status.
SUBMITTED = (
    "company",
    "name",
    "email",
    "phone",
    "budget",
    "desired_slots",
    "period_start",
    "period_end",
    "message",
    "consent_to_contact",
)


@admin.register(Inquiry)
class InquiryAdmin(admin.ModelAdmin[Inquiry]):
    list_display = ("company", "name", "email", "budget", "status", "created_at")
    list_filter = ("status", "budget", "created_at")
    search_fields = ("company", "name", "email", "message")
    date_hierarchy = "created_at"
    actions = ("convert_to_advertiser",)
    fieldsets = (
        (gettext_lazy("Anfrage"), {"fields": (*SUBMITTED, "created_at", "mails_sent_at")}),
        (gettext_lazy("Vertrieb"), {"fields": ("status", "notes", "advertiser", "updated_at")}),
    )
    filter_horizontal = ("desired_slots",)

    def get_readonly_fields(self, request: HttpRequest, obj: Inquiry | None = None) -> Any:
        always = ("advertiser", "created_at", "updated_at", "mails_sent_at")
        # An inquiry taken on the phone is entered by hand; a sent one stays as sent.
        return always if obj is None else (*SUBMITTED, *always)

    def get_fieldsets(self, request: HttpRequest, obj: Inquiry | None = None) -> Any:
        if obj is None:
            return ((None, {"fields": (*SUBMITTED, "status", "notes")}),)
        return super().get_fieldsets(request, obj)

    def has_convert_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perms(["ads.change_inquiry", "ads.add_advertiser"])

    @admin.action(description=gettext_lazy("In Werbekunden umwandeln"), permissions=["convert"])
    def convert_to_advertiser(self, request: HttpRequest, queryset: QuerySet[Inquiry]) -> None:
        now = timezone.now()
        for inquiry in queryset:
            try:
                conversion = do_convert_to_advertiser(inquiry, now=now)
            except InquiryConversionError as refused:
                self.message_user(request, f"{inquiry}: {refused}", messages.ERROR)
                continue
            if conversion.created:
                text = _(
                    "„%(advertiser)s“ ist jetzt Werbekunde; die Einladung an %(email)s ist "
                    "unterwegs."
                )
                level = messages.SUCCESS
            else:
                text = _(
                    "Es gibt schon den Werbekunden „%(advertiser)s“: die Anfrage ist jetzt mit "
                    "ihm verknüpft, angelegt oder eingeladen wurde niemand."
                )
                level = messages.WARNING
            self.message_user(
                request,
                text % {"advertiser": conversion.advertiser, "email": inquiry.email},
                level,
            )
