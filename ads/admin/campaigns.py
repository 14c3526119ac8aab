import functools
import random
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from promotions.rendering import render_slot

from ..campaigns import (
    CampaignStateError,
    Progress,
    campaign_progress,
    do_duplicate,
    do_end,
    do_launch,
    do_pause,
    do_resume,
)
from ..decision import PageContext
from ..explainer import explain_slot
from ..forms import CampaignForm, ExplainForm
from ..models import (
    Advertiser,
    AdvertiserAPIKey,
    Campaign,
    CampaignPromotion,
    DailyRollup,
    Membership,
)
from . import reports


class MembershipInline(admin.TabularInline[Membership, Advertiser]):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Advertiser)
class AdvertiserAdmin(admin.ModelAdmin[Advertiser]):
    list_display = ("name", "contact_name", "contact_email", "is_publisher", "created_at")
    list_filter = ("is_publisher",)
    search_fields = ("name", "contact_name", "contact_email")
    inlines = (MembershipInline,)


def _rollup_total(column: str) -> Coalesce:
    """A promotion's total of ``column`` over all its daily rollups in its campaign."""
    cells = DailyRollup.objects.filter(
        campaign=OuterRef("campaign"), promotion=OuterRef("promotion")
    )
    total = cells.values("promotion").annotate(total=Sum(column)).values("total")
    return Coalesce(Subquery(total), 0)


class CampaignPromotionInline(admin.TabularInline[CampaignPromotion, Campaign]):
    model = CampaignPromotion
    extra = 0
    autocomplete_fields = ("promotion",)
    fields = ("promotion", "review_status", "weight", "served", "views", "clicks")
    readonly_fields = ("review_status", "served", "views", "clicks")

    @admin.display(description=_("Prüfstatus"))
    def review_status(self, link: CampaignPromotion) -> str:
        return link.promotion.get_review_status_display() if link.promotion_id else "–"

    @admin.display(description=_("Ausgeliefert"))
    def served(self, link: CampaignPromotion) -> int:
        return getattr(link, "served_total", 0)

    @admin.display(description=_("Sichtbar"))
    def views(self, link: CampaignPromotion) -> int:
        return getattr(link, "views_total", 0)

    @admin.display(description=_("Klicks"))
    def clicks(self, link: CampaignPromotion) -> int:
        return getattr(link, "clicks_total", 0)

    def get_queryset(self, request: HttpRequest) -> QuerySet[CampaignPromotion]:
        return (
            super()
            .get_queryset(request)
            .select_related("promotion")
            .annotate(
                served_total=_rollup_total("served"),
                views_total=_rollup_total("views"),
                clicks_total=_rollup_total("clicks"),
            )
        )


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def _bulk(
    verb: Callable[..., Campaign], done: Any
) -> Callable[[admin.ModelAdmin[Campaign], HttpRequest, QuerySet[Campaign]], None]:
    """An admin action applying a campaign verb to each selected campaign."""

    def action(
        modeladmin: admin.ModelAdmin[Campaign], request: HttpRequest, queryset: QuerySet[Campaign]
    ) -> None:
        now, changed = timezone.now(), 0
        for campaign in queryset:
            try:
                verb(campaign, now=now)
                changed += 1
            except CampaignStateError as refused:
                modeladmin.message_user(request, f"{campaign}: {refused}", messages.WARNING)
        if changed:
            modeladmin.message_user(request, done % {"count": changed}, messages.SUCCESS)

    return action


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin[Campaign]):
    form = CampaignForm
    list_display = (
        "name",
        "advertiser",
        "kind",
        "status_with_reason",
        "starts_at",
        "ends_at",
        "progress",
        "pace",
    )
    list_filter = ("status", "kind", "pacing", "rotation", "advertiser")
    list_select_related = ("advertiser",)
    search_fields = ("name", "advertiser__name", "competitive_category")
    date_hierarchy = "starts_at"
    autocomplete_fields = ("advertiser",)
    readonly_fields = (
        "status",
        "pause_reason",
        "pacing_daily_target",
        "progress",
        "pace",
        "rollup_delivery",
    )
    inlines = (CampaignPromotionInline,)
    actions = ("launch", "pause", "resume", "end", "duplicate")
    fieldsets = (
        (None, {"fields": ("advertiser", "name", "kind", "status", "pause_reason")}),
        (_("Laufzeit und Ziele"), {"fields": ("starts_at", "ends_at", "goal_impressions",
                                              "goal_clicks", "progress", "pace",
                                              "rollup_delivery")}),
        (_("Auslieferung"), {"fields": ("daily_cap", "pacing", "pacing_daily_target",
                                        "frequency_cap", "weight", "rotation",
                                        "competitive_category")}),
        (_("Platzierung"), {"fields": ("slots", "include_tags", "exclude_tags",
                                       "include_sections", "exclude_sections")}),
        (_("Publikum und Zeit"), {"fields": ("languages", "devices", "weekdays", "hours")}),
    )  # fmt: skip

    def get_urls(self) -> list[URLPattern]:
        explain = path(
            "explain/", self.admin_site.admin_view(self.explain_view), name="ads_campaign_explain"
        )
        report = path(
            "reports/",
            self.admin_site.admin_view(functools.partial(reports.report_view, self)),
            name="ads_campaign_reports",
        )
        return [explain, report, *super().get_urls()]

    def get_fieldsets(self, request: HttpRequest, obj: Campaign | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None:
            return fieldsets
        # A campaign being added has nothing in the rollups yet.
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f != "rollup_delivery"]})
            for name, options in fieldsets
        ]

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        # One read of the live counters for the whole page of campaigns.
        progress = campaign_progress(changelist.result_list, now=timezone.now())
        for campaign in changelist.result_list:
            campaign.progress_now = progress[campaign.pk]
        return changelist

    def _progress_of(self, campaign: Campaign) -> Progress | None:
        if campaign.pk is None:
            return None
        cached = getattr(campaign, "progress_now", None)
        return cached or campaign_progress([campaign], now=timezone.now())[campaign.pk]

    @admin.display(description=_("Status"), ordering="status")
    def status_with_reason(self, campaign: Campaign) -> str:
        if campaign.pause_reason:
            return f"{campaign.get_status_display()} ({campaign.get_pause_reason_display()})"
        return campaign.get_status_display()

    @admin.display(description=_("Fortschritt"))
    def progress(self, campaign: Campaign) -> str:
        progress = self._progress_of(campaign)
        if progress is None:
            return "–"
        shown = _("%(served)s Einblendungen, %(clicks)s Klicks, heute %(today)s") % {
            "served": f"{progress.served:n}",
            "clicks": f"{progress.clicks:n}",
            "today": f"{progress.served_today:n}",
        }
        if progress.goal:
            return f"{shown} · {_percent(progress.done)} {_('vom Ziel')}"
        return shown

    @admin.display(description=_("Auslieferung laut Rollups"))
    def rollup_delivery(self, campaign: Campaign) -> SafeString | str:
        return reports.rollup_delivery(campaign)

    @admin.display(description=_("Tempo"))
    def pace(self, campaign: Campaign) -> SafeString | str:
        progress = self._progress_of(campaign)
        if progress is None or progress.pace is None:
            return "–"
        behind = progress.pace < 0.9
        return format_html(
            '<span title="{}" style="color:{}">{}</span>',
            _("Geliefert {done} bei {scheduled} der Laufzeit").format(
                done=_percent(progress.done), scheduled=_percent(progress.scheduled)
            ),
            "#b00" if behind else "inherit",
            f"{progress.pace:.2f}",
        )

    launch = admin.action(description=_("Starten"))(
        _bulk(do_launch, _("%(count)d Kampagnen gestartet."))
    )
    pause = admin.action(description=_("Pausieren"))(
        _bulk(do_pause, _("%(count)d Kampagnen pausiert."))
    )
    resume = admin.action(description=_("Fortsetzen"))(
        _bulk(do_resume, _("%(count)d Kampagnen fortgesetzt."))
    )
    end = admin.action(description=_("Beenden"))(_bulk(do_end, _("%(count)d Kampagnen beendet.")))

    @admin.action(description=_("Als Entwurf kopieren"))
    def duplicate(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        now = timezone.now()
        copies = [do_duplicate(campaign, now=now) for campaign in queryset]
        self.message_user(
            request,
            ngettext(
                "%(count)d Kampagne als Entwurf kopiert.",
                "%(count)d Kampagnen als Entwurf kopiert.",
                len(copies),
            )
            % {"count": len(copies)},
            messages.SUCCESS,
        )

    def explain_view(self, request: HttpRequest) -> HttpResponse:
        """“Why is nothing showing?” for a slot and a page context an editor describes."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ExplainForm(request.GET or None)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": _("Warum wird nichts angezeigt?"),
            "opts": Campaign._meta,
            "form": form,
        }
        if form.is_valid():
            data = form.cleaned_data
            now = data["at"] or timezone.now()
            page = PageContext(
                slot_keys=(data["slot"].key,),
                tags=frozenset(data["tags"]),
                section=data["section"],
                language=data["language"],
                device=data["device"],
                consent=data["consent"],
                visitor_key="explainer" if data["consent"] else None,
                preview=True,
            )
            decided, explanations = explain_slot(
                page,
                now=now,
                rng=random.Random(),  # noqa: S311  (the lottery, not a secret)
            )
            context.update(
                {
                    "decided": decided,
                    "explanations": explanations,
                    "now": now,
                    "rendered": render_slot(
                        decided.slot,
                        decided.promotion,
                        inquiry_url=reverse("portal:inquiry"),
                        preview=True,
                    ),
                }
            )
        return TemplateResponse(request, "admin/ads/explain.html", context)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "explain_url": reverse("admin:ads_campaign_explain"),
        }
        return super().changelist_view(request, extra_context)


# Keys belong to advertisers: the library's own, owner-less key model stays out of admin.
admin.site.unregister(APIKey)


@admin.register(AdvertiserAPIKey)
class AdvertiserAPIKeyAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "advertiser")  # type: ignore[assignment]
    list_filter = (*APIKeyModelAdmin.list_filter, "advertiser")  # type: ignore[assignment]
    list_select_related = ("advertiser",)
    search_fields = (*APIKeyModelAdmin.search_fields, "advertiser__name")  # type: ignore[assignment]
