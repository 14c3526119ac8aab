"""Viewable impressions and clicks on the demo article page, in Debian's Chromium."""

import pytest
from django.db.models import Sum
from django.utils import timezone
from playwright.sync_api import Page

from ads.counters import redis_client
from ads.models import FilteredRollup, HourlyRollup
from ads.rollups import flush
from ads.tracking import nonce_key, nonce_record
from portal.demo import REFERENCE_SLUG, load_demo
from promotions.models import Promotion

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Lower than the reference article, so the slots after it start out of view.
BOOKS = {"KI ist Chefsache!": "/impressum/", "30 Minuten: ChatGPT": "/datenschutz/"}
VIEWPORT = {"width": 1280, "height": 700}
# Headless Chromium names itself "HeadlessChrome", which the bot list rightly refuses.
READER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)


@pytest.fixture
def article_url(live_server):
    load_demo(now=timezone.now())
    # The books link to another site; this machine has no network, so they lead here.
    for promotion in Promotion.objects.filter(title__in=BOOKS):
        promotion.destination_url = f"{live_server.url}{BOOKS[promotion.title]}"
        promotion.save()
    return f"{live_server.url}/artikel/{REFERENCE_SLUG}/"


@pytest.fixture
def page(browser, article_url):
    context = browser.new_context(viewport=VIEWPORT, user_agent=READER)
    opened = context.new_page()
    opened.goto(article_url)
    opened.get_by_role("button", name="Nur notwendige").click()
    yield opened
    context.close()


def nonce_of(page: Page, key: str) -> str:
    url = page.locator(f"[data-slot={key}]").get_attribute("data-view-url")
    assert url is not None
    return url.rsplit("/", 1)[1]


def viewed(nonce: str) -> bool:
    key, place = nonce_record(nonce)
    return redis_client().hexists(key, f"view{place}")


def scroll_to(page: Page, key: str) -> None:
    page.locator(f"[data-slot={key}]").evaluate("e => e.scrollIntoView({block: 'center'})")


def test_slot_out_of_view_is_served_but_not_viewed(page):
    page.wait_for_timeout(1500)

    below = nonce_of(page, "article-end-1")
    assert redis_client().exists(nonce_key(below))  # served
    assert not viewed(below)


def test_slot_in_view_for_a_second_is_viewed_once(page):
    scroll_to(page, "article-end-1")
    page.wait_for_timeout(1600)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    scroll_to(page, "article-end-1")
    page.wait_for_timeout(1600)

    assert viewed(nonce_of(page, "article-end-1"))
    flush()
    campaign_views = HourlyRollup.objects.filter(slot__key="article-end-1").aggregate(
        views=Sum("views")
    )
    assert campaign_views["views"] == 1
    # litfass.js sent one beacon: no replay was even attempted
    assert not FilteredRollup.objects.filter(reason="replay").exists()


def test_slot_scrolled_away_before_a_second_is_not_viewed(page):
    scroll_to(page, "article-end-2")
    page.wait_for_timeout(500)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(1500)

    assert not viewed(nonce_of(page, "article-end-2"))


def test_above_the_fold_slot_is_viewed_without_scrolling(page):
    page.wait_for_timeout(1600)

    assert viewed(nonce_of(page, "sidebar-top"))


def test_click_lands_on_the_destination_and_counts_once(page):
    scroll_to(page, "article-end-1")
    slot = page.locator("[data-slot=article-end-1]")
    title = slot.locator(".promotion__title").inner_text()
    link = slot.locator("a.promotion")

    with page.context.expect_page() as first:
        link.click()
    with page.context.expect_page() as second:
        link.click()

    for opened in (first.value, second.value):
        opened.wait_for_load_state()
        assert opened.url.endswith(BOOKS[title])
    flush()
    assert HourlyRollup.objects.filter(slot__key="article-end-1").get().clicks == 1
    assert FilteredRollup.objects.get(event="click").reason == "replay"


def test_necessary_only_leaves_no_cookie_but_the_consent_cookie(page):
    scroll_to(page, "article-end-1")
    page.wait_for_timeout(1600)
    page.reload()
    page.wait_for_timeout(500)

    assert [cookie["name"] for cookie in page.context.cookies()] == ["litfass_consent"]
