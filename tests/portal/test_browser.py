"""The reader's view in Debian's Chromium, driven by Playwright."""

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page

from portal.demo import REFERENCE_SLUG, load_demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def article_url(live_server):
    load_demo(now=timezone.now())
    return f"{live_server.url}/artikel/{REFERENCE_SLUG}/"


def _open(browser: Browser, url: str, **context_options) -> Page:
    page = browser.new_context(**context_options).new_page()
    page.goto(url)
    page.evaluate("window.__notReloaded = true")
    return page


def _consent_cookie(page: Page) -> str | None:
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    return cookies.get("litfass_consent")


def test_necessary_only_hides_the_banner_without_a_reload(browser, article_url):
    page = _open(browser, article_url)

    page.get_by_role("button", name="Nur notwendige").click()

    page.wait_for_selector("[data-consent-banner]", state="hidden")
    assert page.evaluate("window.__notReloaded") is True
    assert _consent_cookie(page) == "1:"
    page.reload()
    assert page.locator("[data-consent-banner]").count() == 0


def test_settings_open_in_place_and_save_a_selection(browser, article_url):
    page = _open(browser, article_url)

    page.get_by_role("link", name="Einstellungen", exact=True).click()
    page.locator("input[name=statistics]").check()
    page.get_by_role("button", name="Auswahl speichern").click()

    page.wait_for_selector("[data-consent-banner]", state="hidden")
    assert page.evaluate("window.__notReloaded") is True
    assert _consent_cookie(page) == "1:statistics"


def test_banner_choices_carry_equal_weight(browser, article_url):
    page = _open(browser, article_url)

    boxes = [
        page.get_by_role("button", name="Alle erlauben").bounding_box(),
        page.get_by_role("button", name="Nur notwendige").bounding_box(),
        page.get_by_role("link", name="Einstellungen", exact=True).bounding_box(),
    ]
    styles = page.eval_on_selector_all(
        ".consent__buttons .button:not([hidden])",
        "els => els.map(e => [getComputedStyle(e).fontWeight, getComputedStyle(e).backgroundColor,"
        " getComputedStyle(e).fontSize])",
    )

    assert None not in boxes
    assert len({(round(box["width"]), round(box["height"])) for box in boxes if box}) == 1
    assert len({tuple(style) for style in styles}) == 1


def test_withdrawal_through_the_footer_link(browser, article_url):
    page = _open(browser, article_url)
    with page.expect_response(lambda response: response.request.method == "POST"):
        # The banner hides at once; the answer that sets the cookie may come later.
        page.get_by_role("button", name="Alle erlauben").click()
    page.wait_for_selector("[data-consent-banner]", state="hidden")
    assert _consent_cookie(page) == "1:marketing.statistics"

    page.get_by_role("link", name="Cookie-Einstellungen").click()
    with page.expect_response(lambda response: response.request.method == "POST"):
        # As above: the answer that sets the cookie may come after the banner is gone.
        page.get_by_role("button", name="Nur notwendige").click()

    page.wait_for_url(article_url)
    assert _consent_cookie(page) == "1:"


def test_without_javascript_the_form_post_works(browser, article_url):
    page = _open(browser, article_url, java_script_enabled=False)

    page.get_by_role("button", name="Alle erlauben").click()

    page.wait_for_url(article_url)
    assert _consent_cookie(page) == "1:marketing.statistics"
    assert page.locator("[data-consent-banner]").count() == 0


def test_page_fits_a_phone_without_sideways_scrolling(browser, article_url):
    page = _open(browser, article_url, viewport={"width": 360, "height": 740}, is_mobile=True)

    scroll_width = page.evaluate("document.documentElement.scrollWidth")

    assert scroll_width <= 360
    assert page.locator("h1").is_visible()


def test_slot_showing_its_fallback_keeps_its_reserved_size(browser, article_url):
    page = _open(browser, article_url, viewport={"width": 1280, "height": 900})

    box = page.locator("[data-slot=sidebar-top]").bounding_box()
    assert box is not None

    assert (round(box["width"]), round(box["height"])) == (300, 250)


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_book_promotions_show_in_their_slots(browser, article_url, javascript):
    context = browser.new_context(
        java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    renditions: list[str] = []
    page.on(
        "response",
        lambda r: renditions.append(r.url) if "/media/renditions/" in r.url and r.ok else None,
    )
    page.goto(article_url)

    titles = set()
    for key in ("article-end-1", "article-end-2"):
        slot = page.locator(f"[data-slot={key}]")
        slot.scroll_into_view_if_needed()
        assert slot.locator(".slot__label").inner_text() == "-Promotion-"
        titles.add(slot.locator(".promotion__title").inner_text())
        assert slot.get_by_text("Mehr Infos").is_visible()
        image = slot.locator("img")
        assert image.get_attribute("srcset").count(" 2x") == 1
        assert (image.get_attribute("width"), image.get_attribute("height")) == ("150", "212")
    # The house campaign rotates the books, but one page never shows a book twice.
    assert titles == {"KI ist Chefsache!", "30 Minuten: ChatGPT"}
    page.wait_for_load_state("networkidle")
    # two book covers and the picture of the paid promotion in the sidebar
    assert len({url.rsplit("/", 1)[1].split("-")[0] for url in renditions}) == 3
    context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_loading_the_promotions_shifts_no_layout(browser, article_url, javascript):
    page = browser.new_context(
        java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
    ).new_page()
    held = []
    page.route("**/media/renditions/**", lambda route: held.append(route))  # held back
    page.goto(article_url, wait_until="domcontentloaded")
    page.locator("[data-slot=article-end-2]").scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    watched = "[data-slot], .promotion__title, .promotion__cta, .site-footer"

    def boxes():
        return [
            page.locator(watched).nth(i).bounding_box()
            for i in range(page.locator(watched).count())
        ]

    before = boxes()
    assert held, "the rendition requests should be waiting"
    while held:
        held.pop().continue_()
        page.wait_for_timeout(50)
    page.wait_for_load_state("networkidle")

    assert boxes() == before
