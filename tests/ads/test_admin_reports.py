import json
import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils.http import urlencode

from ads.models import Campaign
from tests.factories import (
    CampaignFactory,
    DailyRollupFactory,
    FilteredRollupFactory,
    HourlyRollupFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

REPORTS = reverse("admin:ads_campaign_reports")
CHANGELIST = reverse("admin:ads_campaign_changelist")
CHART_JS = "ads/vendor/chartjs/chart.umd.min.js"
JUNE = {"start": "2026-06-10", "end": "2026-06-12", "granularity": "day", "group_by": "campaign"}


@pytest.fixture
def editor(client):
    client.force_login(StaffFactory.create(is_superuser=True))
    return client


@pytest.fixture
def counted():
    campaign = CampaignFactory.create(name="Herbstbuch")
    HourlyRollupFactory.create(
        campaign=campaign,
        hour=datetime(2026, 6, 11, 8, tzinfo=UTC),
        served=1200,
        views=800,
        clicks=12,
    )
    DailyRollupFactory.create(
        campaign=campaign,
        hour=datetime(2026, 6, 11, 8, tzinfo=UTC),
        served=1200,
        views=800,
        clicks=12,
    )
    FilteredRollupFactory.create(
        campaign_id_seen=campaign.pk, hour=datetime(2026, 6, 11, 8, tzinfo=UTC), count=3
    )
    return campaign


def test_page_renders_the_report_as_chart_data(editor, counted):
    response = editor.get(REPORTS, JUNE)

    assert response.status_code == 200
    data = response.context["chart_data"]
    assert data["labels"] == ["10.06.2026", "11.06.2026", "12.06.2026"]
    (series,) = data["report"]["series"]
    assert series["label"] == "Herbstbuch"
    assert [b["served"] for b in series["buckets"]] == [0, 1200, 0]
    html = response.content.decode()
    embedded = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', html)
    assert embedded
    assert json.loads(embedded.group(1)) == data
    assert html.count("<canvas data-metric=") == 5


def test_page_shows_totals_in_german(editor, counted):
    html = editor.get(REPORTS, JUNE).content.decode()

    table = html[html.index('id="report-totals"') :]
    assert "1.200" in table
    assert "1,00 %" in table
    assert reverse("admin:ads_campaign_change", args=[counted.pk]) in table


def test_page_defaults_to_the_last_30_days(editor):
    response = editor.get(REPORTS)

    assert response.status_code == 200
    assert len(response.context["chart_data"]["labels"]) == 30
    assert response.context["report"].group_by == "campaign"


def test_page_groups_by_slot_and_filters_campaigns(editor, counted):
    HourlyRollupFactory.create(hour=datetime(2026, 6, 11, 8, tzinfo=UTC), served=5)

    response = editor.get(REPORTS, {**JUNE, "group_by": "slot", "campaigns": [counted.pk]})

    report = response.context["report"]
    assert report.campaign_ids == (counted.pk,)
    assert [s.totals.served for s in report.series] == [1200]
    assert report.series[0].totals.filtered is None


def test_page_explains_refused_parameters(editor):
    response = editor.get(
        REPORTS, {**JUNE, "start": "2026-01-01", "end": "2026-03-01", "granularity": "hour"}
    )

    assert response.status_code == 200
    assert "report" not in response.context
    assert "höchstens 31 Tage" in response.content.decode()


def test_csv_download_for_german_excel(editor, counted):
    response = editor.get(REPORTS, {**JUNE, "export": "csv"})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="litfass-bericht-2026-06-10-2026-06-12.csv"'
    )
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeffKampagne;ID;Beginn;")
    assert f"Herbstbuch;{counted.pk};2026-06-11T00:00:00+02:00;1200;800;12;0,0100;3;" in text


def test_page_links_the_csv_with_the_same_parameters(editor, counted):
    response = editor.get(REPORTS, JUNE)

    assert response.context["csv_url"].startswith("?")
    assert editor.get(REPORTS + response.context["csv_url"])["Content-Type"].startswith("text/csv")


def test_reports_need_staff(client):
    assert client.get(REPORTS).status_code == 302
    client.force_login(UserFactory.create())
    assert client.get(REPORTS).status_code == 302
    assert client.get(REPORTS, {**JUNE, "export": "csv"}).status_code == 302


def test_reports_need_permission_to_view_campaigns(client):
    clerk = StaffFactory.create(is_superuser=False)
    client.force_login(clerk)
    assert client.get(REPORTS).status_code == 403

    clerk.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    assert client.get(REPORTS).status_code == 200


def test_chart_js_is_vendored_and_served_from_static(editor):
    path, readme = finders.find(CHART_JS), finders.find("ads/vendor/chartjs/README.md")
    assert isinstance(path, str)
    assert isinstance(readme, str)
    with open(path, encoding="utf-8") as script:
        version = re.search(r"Chart\.js v(\d+\.\d+\.\d+)", script.read(300))
    assert version
    with open(readme, encoding="utf-8") as notes:
        assert f"Chart.js {version.group(1)}" in notes.read()
    assert finders.find("ads/vendor/chartjs/LICENSE.md")

    html = editor.get(REPORTS, JUNE).content.decode()

    assert f'src="/static/{CHART_JS}"' in html
    assert 'src="/static/ads/js/reports.js"' in html
    assets = re.findall(r'<(?:script [^>]*src|link [^>]*href)="([^"]+)"', html)
    assert assets
    assert all(asset.startswith("/static/") for asset in assets), assets
    assert editor.get(f"/static/{CHART_JS}").status_code == 200


def test_page_script_is_external(editor, counted):
    html = editor.get(REPORTS, JUNE).content.decode()

    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html)
    assert inline == []


def test_page_reads_in_a_bounded_number_of_queries(editor, django_assert_max_num_queries):
    for _ in range(5):
        HourlyRollupFactory.create(hour=datetime(2026, 6, 11, 8, tzinfo=UTC), served=1)

    with django_assert_max_num_queries(8):
        editor.get(REPORTS, JUNE)


def test_changelist_links_the_reports(editor):
    assert f'href="{REPORTS}"' in editor.get(CHANGELIST).content.decode()


def test_change_page_shows_delivery_from_the_rollups(editor, counted):
    html = editor.get(reverse("admin:ads_campaign_change", args=[counted.pk])).content.decode()

    assert "Auslieferung laut Rollups" in html
    assert "1.200 ausgeliefert, 800 sichtbar, 12 Klicks, Klickrate 1,00 %" in html
    assert "3 ungültige Ereignisse" in html
    assert f"{REPORTS}?campaigns={counted.pk}" in html


def test_change_page_of_a_campaign_without_counts(editor):
    quiet = CampaignFactory.create()

    html = editor.get(reverse("admin:ads_campaign_change", args=[quiet.pk])).content.decode()

    assert "0 ausgeliefert, 0 sichtbar, 0 Klicks, Klickrate –" in html


def test_add_page_has_no_rollup_delivery(editor):
    html = editor.get(reverse("admin:ads_campaign_add")).content.decode()

    assert "Auslieferung laut Rollups" not in html
    assert Campaign.objects.count() == 0


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_charts_are_drawn_in_the_browser(browser, live_server):
    StaffFactory.create(username="redaktion")
    HourlyRollupFactory.create(hour=datetime(2026, 6, 11, 8, tzinfo=UTC), served=10, clicks=1)
    page = browser.new_context().new_page()
    errors: list[Exception] = []
    page.on("pageerror", lambda error: errors.append(error))
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", "redaktion")
    page.fill("#id_password", "correct horse battery staple")
    page.click("input[type=submit]")

    page.goto(f"{live_server.url}{REPORTS}?{urlencode(JUNE)}")

    drawn = page.evaluate(
        "Array.from(document.querySelectorAll('canvas[data-metric]'), c => Chart.getChart(c)"
        "  ? Chart.getChart(c).data.datasets.length : 0)"
    )
    assert drawn == [1, 1, 1, 1, 1]
    assert errors == []
