import re
from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ads import counters as keys
from ads.counters import get_counters
from ads.models import Campaign, HourlyRollup
from ads.rollups import flush
from portal.demo import load_demo
from tests.factories import AdvertiserFactory, CampaignFactory, SlotFactory, StaffFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:ads_campaign_changelist")
EXPLAIN = reverse("admin:ads_campaign_explain")


@pytest.fixture
def editor(client):
    client.force_login(StaffFactory.create(is_superuser=True))
    return client


def act(editor, action, *campaigns):
    return editor.post(
        CHANGELIST,
        {"action": action, ACTION_CHECKBOX_NAME: [c.pk for c in campaigns]},
        follow=True,
    )


def test_pause_resume_and_end_in_bulk(editor):
    first, second = CampaignFactory.create(), CampaignFactory.create()

    act(editor, "pause", first, second)
    assert set(Campaign.objects.values_list("status", flat=True)) == {Campaign.Status.PAUSED}

    act(editor, "resume", first)
    first.refresh_from_db()
    assert first.status == Campaign.Status.LIVE

    act(editor, "end", first, second)
    assert set(Campaign.objects.values_list("status", flat=True)) == {Campaign.Status.COMPLETED}


def test_bulk_action_reports_campaigns_it_could_not_change(editor):
    live = CampaignFactory.create()

    response = act(editor, "resume", live)

    assert "Nur pausierte Kampagnen" in response.content.decode()
    live.refresh_from_db()
    assert live.status == Campaign.Status.LIVE


def test_launch_takes_drafts_live_or_scheduled(editor):
    now = timezone.now()
    running = CampaignFactory.create(
        status=Campaign.Status.DRAFT,
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=9),
    )
    later = CampaignFactory.create(
        status=Campaign.Status.DRAFT,
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=9),
    )

    act(editor, "launch", running, later)

    running.refresh_from_db()
    later.refresh_from_db()
    assert (running.status, later.status) == (Campaign.Status.LIVE, Campaign.Status.SCHEDULED)


def test_duplicate_makes_a_draft_copy(editor):
    slot = SlotFactory.create()
    original = CampaignFactory.create(name="Herbst", slots=[slot], include_tags=["ki"])

    act(editor, "duplicate", original)

    copy = Campaign.objects.exclude(pk=original.pk).get()
    assert copy.status == Campaign.Status.DRAFT
    assert copy.include_tags == ["ki"]
    assert list(copy.slots.all()) == [slot]
    assert "Herbst" in copy.name


def test_changelist_shows_progress_against_goal(editor):
    campaign = CampaignFactory.create(goal_impressions=1000)
    get_counters().set({keys.served_total(campaign.pk): 250, keys.clicks_total(campaign.pk): 5})

    html = editor.get(CHANGELIST).content.decode()

    assert "250 Einblendungen, 5 Klicks" in html
    assert "25%" in html


def test_change_form_saves_targeting_lists(editor):
    advertiser = AdvertiserFactory.create()
    slot = SlotFactory.create()

    response = editor.post(
        reverse("admin:ads_campaign_add"),
        {
            "advertiser": advertiser.pk,
            "name": "Herbstaktion",
            "kind": "standard",
            "starts_at_0": "2026-10-01",
            "starts_at_1": "00:00:00",
            "ends_at_0": "2026-10-31",
            "ends_at_1": "00:00:00",
            "goal_impressions": "10000",
            "pacing": "even",
            "weight": "100",
            "rotation": "even",
            "slots": [slot.pk],
            "include_tags": "#KI, Japan",
            "exclude_tags": "",
            "include_sections": "",
            "exclude_sections": "sport",
            "languages": ["de"],
            "devices": ["mobile", "tablet"],
            "weekdays": ["0", "4"],
            "hours": ["8", "9"],
            "campaign_promotions-TOTAL_FORMS": "0",
            "campaign_promotions-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get(name="Herbstaktion")
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.include_tags == ["japan", "ki"]
    assert campaign.exclude_sections == ["sport"]
    assert (campaign.devices, campaign.weekdays, campaign.hours) == (
        ["mobile", "tablet"],
        [0, 4],
        [8, 9],
    )


def test_change_form_refuses_paid_campaign_without_end(editor):
    response = editor.post(
        reverse("admin:ads_campaign_add"),
        {
            "advertiser": AdvertiserFactory.create().pk,
            "name": "Ohne Ende",
            "kind": "standard",
            "starts_at_0": "2026-10-01",
            "starts_at_1": "00:00:00",
            "pacing": "asap",
            "weight": "100",
            "rotation": "even",
            "slots": [SlotFactory.create().pk],
            "campaign_promotions-TOTAL_FORMS": "0",
            "campaign_promotions-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "Bezahlte Kampagnen brauchen ein Ende." in response.content.decode()
    assert not Campaign.objects.exists()


def test_explainer_lists_every_campaign_of_the_slot_with_its_reason(editor):
    slot = SlotFactory.create(key="sidebar-top")
    chosen = CampaignFactory.create(name="Gewinner", slots=[slot], kind=Campaign.Kind.SPONSORSHIP)
    CampaignFactory.create(name="Nur Englisch", slots=[slot], languages=["en"])
    CampaignFactory.create(name="Pausiert", slots=[slot], status=Campaign.Status.PAUSED)
    CampaignFactory.create(name="Anderer Slot", slots=[SlotFactory.create()])

    response = editor.get(
        EXPLAIN, {"slot": "sidebar-top", "language": "de", "device": "desktop", "tags": "ki"}
    )

    html = response.content.decode()
    explanations = response.context["explanations"]
    assert {e.campaign.name: e.reason for e in explanations} == {
        "Gewinner": "chosen",
        "Nur Englisch": "language",
        "Pausiert": "not_deliverable",
    }
    assert response.context["decided"].campaign.id == chosen.pk
    assert "Sprache nicht gebucht" in html
    assert "Anderer Slot" not in html


def test_explainer_at_a_given_time(editor):
    slot = SlotFactory.create(key="sidebar-top")
    CampaignFactory.create(name="Nur morgens", slots=[slot], hours=[8])

    at_eight = editor.get(
        EXPLAIN,
        {"slot": slot.key, "language": "de", "device": "desktop", "at": "2026-06-10T08:30"},
    )
    at_noon = editor.get(
        EXPLAIN,
        {"slot": slot.key, "language": "de", "device": "desktop", "at": "2026-06-10T12:30"},
    )

    assert at_eight.context["explanations"][0].reason == "chosen"
    assert at_noon.context["explanations"][0].reason == "hour"


def test_explainer_shows_form_errors_for_unknown_slots(editor):
    response = editor.get(EXPLAIN, {"slot": "nope", "language": "de", "device": "desktop"})

    assert response.status_code == 200
    assert response.context["form"].errors["slot"]
    assert "explanations" not in response.context


def test_explainer_needs_staff(client):
    assert client.get(EXPLAIN).status_code == 302


def test_changelist_links_the_explainer(editor):
    assert EXPLAIN in editor.get(CHANGELIST).content.decode()


def test_campaign_page_shows_served_views_and_clicks_after_a_visit(editor):
    load_demo(now=timezone.now(), admin_username="demo-admin")
    reader = Client(headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"})
    html = reader.get("/artikel/ki-buendnis-mit-japan/").content.decode()
    view_urls = re.findall(r'data-view-url="([^"]+)"', html)
    click_urls = re.findall(r'class="promotion" href="(/t/c/[^"]+)"', html)
    assert len(view_urls) == len(click_urls) == 3
    for url in view_urls:
        assert reader.post(url).status_code == 204
    assert reader.get(click_urls[0]).status_code == 302
    flush()

    books = Campaign.objects.get(name="Buchempfehlungen der Redaktion")
    page = editor.get(reverse("admin:ads_campaign_change", args=[books.pk]))

    links = page.context["inline_admin_formsets"][0].formset.queryset
    assert sorted((link.served_total, link.views_total) for link in links) == [(1, 1), (1, 1)]
    clicked_elsewhere = sum(cell.clicks for cell in HourlyRollup.objects.exclude(campaign=books))
    assert sum(link.clicks_total for link in links) + clicked_elsewhere == 1
