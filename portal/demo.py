"""Demo content: the reference customer's article page, loaded idempotently."""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.flatpages.models import FlatPage
from django.contrib.sites.models import Site
from django.db import transaction
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

from ads.campaigns import scheduled_status
from ads.models import Advertiser, Campaign, CampaignPromotion
from ads.rotation import rotate
from promotions.models import Image, Promotion, Slot
from promotions.uploads import check_image_upload, do_store_image

from .models import Announcement, Article, Author, Section, SiteSettings

BERLIN = ZoneInfo("Europe/Berlin")
REFERENCE_SLUG = "ki-buendnis-mit-japan"

REFERENCE_BODY = (Path(__file__).parent / "demo_data" / f"{REFERENCE_SLUG}.md").read_text()

REFERENCE_TAGS = [
    "EUJapanPartnership",
    "TechAlliance",
    "AIandSemiconductors",
    "StrategicCollaboration",
    "GlobalTechRace",
    "DeRiskingFromChina",
    "DigitalPartnershipCouncil",
    "FutureTech",
    "GeopoliticalTechLandscape",
    "TechnologicalSovereignty",
]

MORE_ARTICLES = [
    {
        "slug": "ki-verordnung-was-unternehmen-jetzt-tun-muessen",
        "title": "KI-Verordnung: Was Unternehmen jetzt tun müssen",
        "subtitle": "Fristen, Pflichten und ein pragmatischer Fahrplan",
        "teaser": "Die europäische KI-Verordnung gilt schrittweise. Welche Pflichten "
        "wann greifen und wie Unternehmen sich vorbereiten.",
        "body": "Die KI-Verordnung der EU ordnet KI-Systeme nach ihrem Risiko.\n\n"
        "## Die Fristen\n\nVerbotene Praktiken gelten zuerst, Pflichten für "
        "Hochrisiko-Systeme später.\n\n## Der Fahrplan\n\nInventur, Einstufung, "
        "Dokumentation: in dieser Reihenfolge.\n",
        "published_at": datetime(2023, 7, 10, 9, 0, tzinfo=BERLIN),
        "tags": ["AIAct", "Regulierung", "FutureTech"],
    },
    {
        "slug": "chatgpt-im-redaktionsalltag",
        "title": "ChatGPT im Redaktionsalltag",
        "subtitle": "Wo Sprachmodelle helfen und wo sie schaden",
        "teaser": "Recherche, Zusammenfassung, Übersetzung: ein Erfahrungsbericht "
        "aus einer Redaktion, die Sprachmodelle seit einem Jahr nutzt.",
        "body": "Sprachmodelle sind in vielen Redaktionen angekommen.\n\n"
        "## Was gut funktioniert\n\nZusammenfassungen und erste Entwürfe.\n\n"
        "## Was nicht funktioniert\n\nFakten ohne Quelle.\n",
        "published_at": datetime(2023, 7, 7, 14, 30, tzinfo=BERLIN),
        "tags": ["ChatGPT", "Journalismus"],
    },
]

PAGES = {
    "/impressum/": (
        "Impressum",
        "<p>Turtle-Media<br>Musterstraße 1<br>80331 München</p>"
        "<p>Verantwortlich für den Inhalt: Dr. Michael Gebert</p>",
    ),
    "/datenschutz/": (
        "Datenschutzerklärung",
        "<p>Wir speichern keine IP-Adressen und setzen keine Tracking-Cookies. "
        "Ihre Cookie-Auswahl speichern wir in einem Cookie dieser Website.</p>",
    ),
    "/werbung/": (
        "Werbung auf diesem Portal",
        "<p>Erreichen Sie Entscheider:innen, die sich für künstliche Intelligenz "
        "interessieren. Schreiben Sie uns für Mediadaten und Preise.</p>",
    ),
}


@dataclass(frozen=True)
class DemoBook:
    title: str
    text: str
    destination_url: str
    cover_lines: tuple[str, str]
    cover_colours: tuple[tuple[int, int, int], tuple[int, int, int]]
    slot: str


BOOKS = [
    DemoBook(
        title="KI ist Chefsache!",
        text="Wie Führungskräfte künstliche Intelligenz in ihr Unternehmen bringen.",
        destination_url="https://buecher.example/ki-ist-chefsache",
        cover_lines=("KI ist", "Chefsache!"),
        cover_colours=((11, 60, 120), (255, 196, 0)),
        slot="article-end-1",
    ),
    DemoBook(
        title="30 Minuten: ChatGPT",
        text="Der schnelle Einstieg in die Arbeit mit Sprachmodellen.",
        destination_url="https://buecher.example/30-minuten-chatgpt",
        cover_lines=("30 Minuten", "ChatGPT"),
        cover_colours=((200, 30, 45), (255, 255, 255)),
        slot="article-end-2",
    ),
]
BOOK_SPECS = "fill-150x212|format-webp, fill-150x212|format-jpeg"


def book_cover(
    line1: str, line2: str, background: tuple[int, int, int], ink: tuple[int, int, int]
) -> bytes:
    """A generated book cover (600 x 848 JPEG): demo images need no files in the repo."""
    cover = PILImage.new("RGB", (600, 848), background)
    draw = ImageDraw.Draw(cover)
    draw.rectangle((0, 0, 40, 848), fill=tuple(max(0, c - 40) for c in background))
    big, small = ImageFont.load_default(size=84), ImageFont.load_default(size=40)
    draw.text((80, 220), line1, font=big, fill=ink)
    draw.text((80, 330), line2, font=big, fill=ink)
    draw.text((80, 720), "Litfass Demo", font=small, fill=ink)
    out = io.BytesIO()
    cover.save(out, "JPEG", quality=90)
    return out.getvalue()


@dataclass(frozen=True)
class DemoCampaign:
    advertiser: str
    name: str
    title: str
    text: str
    destination_url: str
    lines: tuple[str, str]
    colours: tuple[tuple[int, int, int], tuple[int, int, int]]
    category: str


PAID = [
    DemoCampaign(
        advertiser="Nordlicht Cloud GmbH",
        name="Nordlicht: KI-Rechenzentrum Herbst",
        title="Souveräne KI-Cloud aus Europa",
        text="GPU-Kapazität in deutschen Rechenzentren, DSGVO-konform.",
        destination_url="https://nordlicht-cloud.example/ki",
        lines=("Nordlicht", "KI-Cloud"),
        colours=((8, 40, 60), (120, 230, 200)),
        category="cloud",
    ),
    DemoCampaign(
        advertiser="Akademie für Datenkompetenz e. V.",
        name="Akademie: Zertifikatskurs KI-Recht",
        title="Zertifikatskurs KI-Verordnung",
        text="In sechs Wochen fit für den AI Act. Berufsbegleitend und online.",
        destination_url="https://datenkompetenz.example/ai-act",
        lines=("KI-Recht", "kompakt"),
        colours=((250, 244, 230), (120, 20, 60)),
        category="weiterbildung",
    ),
]


def _picture(
    size: tuple[int, int], lines: tuple[str, str], colours: tuple[tuple[int, int, int], ...]
) -> Image:
    background, ink = colours
    picture = PILImage.new("RGB", size, background)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=size[0] // 8)
    draw.text((size[0] // 12, size[1] // 4), lines[0], font=font, fill=ink)
    draw.text((size[0] // 12, size[1] // 4 + size[0] // 6), lines[1], font=font, fill=ink)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    checked = check_image_upload(io.BytesIO(out.getvalue()))
    image, _ = do_store_image(checked, image=Image(title=" ".join(lines)))
    return image


def _campaign(
    advertiser: Advertiser,
    name: str,
    *,
    now: datetime,
    promotions: list[Promotion],
    **fields: Any,
) -> Campaign:
    slots = fields.pop("slots")
    campaign, created = Campaign.objects.update_or_create(
        advertiser=advertiser, name=name, defaults=fields
    )
    campaign.slots.set(Slot.objects.filter(key__in=slots))
    for promotion in promotions:
        CampaignPromotion.objects.update_or_create(
            promotion=promotion, defaults={"campaign": campaign}
        )
    if created or campaign.status == Campaign.Status.DRAFT:
        campaign.status = scheduled_status(campaign, now)
        campaign.save(update_fields=["status"])
    return campaign


def _load_campaigns(books: list[Promotion], *, now: datetime) -> None:
    """Two paid campaigns that share the top sidebar slot (the lottery rotates them) and
    the house campaign with both books after the article."""
    publisher, _ = Advertiser.objects.update_or_create(
        is_publisher=True, defaults={"name": "Turtle-Media"}
    )
    _campaign(
        publisher,
        "Buchempfehlungen der Redaktion",
        now=now,
        promotions=books,
        kind=Campaign.Kind.HOUSE,
        starts_at=now - timedelta(days=1),
        ends_at=None,
        pacing=Campaign.Pacing.ASAP,
        slots=["article-end-1", "article-end-2"],
    )
    for paid in PAID:
        advertiser, _ = Advertiser.objects.update_or_create(
            name=paid.advertiser, defaults={"contact_email": "werbung@example.org"}
        )
        promotion, _ = Promotion.objects.update_or_create(
            title=paid.title,
            defaults={
                "text": paid.text,
                "image": _picture((600, 500), paid.lines, paid.colours),
                "alt_text": paid.title,
                "call_to_action": "Mehr Infos",
                "destination_url": paid.destination_url,
                "review_status": Promotion.ReviewStatus.APPROVED,
            },
        )
        _campaign(
            advertiser,
            paid.name,
            now=now,
            promotions=[promotion],
            kind=Campaign.Kind.STANDARD,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=30),
            goal_impressions=100_000,
            pacing=Campaign.Pacing.EVEN,
            competitive_category=paid.category,
            languages=["de", "en"],
            slots=["sidebar-top"],
        )
    rotate(now=now)


def _load_books() -> list[Promotion]:
    books = []
    for book in BOOKS:
        cover = book_cover(*book.cover_lines, *book.cover_colours)
        checked = check_image_upload(io.BytesIO(cover))
        image, _ = do_store_image(checked, image=Image(title=f"Cover: {book.title}"))
        promotion, _ = Promotion.objects.update_or_create(
            title=book.title,
            defaults={
                "text": book.text,
                "image": image,
                "alt_text": f"Buchcover „{book.title}“",
                "call_to_action": "Mehr Infos",
                "destination_url": book.destination_url,
                "review_status": Promotion.ReviewStatus.APPROVED,
            },
        )
        books.append(promotion)
        Slot.objects.update_or_create(
            key=book.slot,
            defaults={
                "name": f"Nach dem Artikel {book.slot[-1]}",
                "label": "-Promotion-",
                "width": 300,
                "height": 390,
                "rendition_specs": BOOK_SPECS,
                "fallback": Slot.Fallback.HOUSE,
                "house_promotion": promotion,
            },
        )
    Slot.objects.update_or_create(
        key="sidebar-top",
        defaults={
            "name": "Seitenleiste oben",
            "label": "Anzeige",
            "width": 300,
            "height": 250,
            "rendition_specs": "fill-300x250|format-webp, fill-300x250|format-jpeg",
            "fallback": Slot.Fallback.INQUIRY,
            "above_the_fold": True,
        },
    )
    return books


@dataclass(frozen=True)
class DemoResult:
    article_url: str
    admin_username: str
    admin_password: str


@transaction.atomic
def load_demo(*, now: datetime, admin_username: str = "admin") -> DemoResult:
    """Create or refresh the demo content; running it twice changes nothing more.

    The admin user gets a fresh random password each run, returned for printing.
    """
    site, _ = Site.objects.update_or_create(
        pk=1, defaults={"domain": "127.0.0.1:8000", "name": "KI Expertenforum"}
    )
    SiteSettings.objects.update_or_create(
        pk=1,
        defaults={
            "site_name": "KI Expertenforum",
            "publisher": "Turtle-Media",
            "copyright_line": "© 2023-2024 by Turtle-Media. Alle Rechte vorbehalten.",
            "editorial_line": "Das KI Expertenforum ist ein unabhängiges redaktionelles Angebot.",
            "issn": "2943-8918",
        },
    )
    Announcement.objects.update_or_create(
        text="DAS KI EXPERTENFORUM FEIERT SEINEN ERSTEN GEBURTSTAG!",
        defaults={
            "link_url": f"/artikel/{REFERENCE_SLUG}/",
            "link_label": "MEHR",
            "starts_at": now - timedelta(days=1),
            "ends_at": None,
        },
    )
    author, _ = Author.objects.update_or_create(
        slug="michael-gebert", defaults={"name": "Dr. Michael Gebert"}
    )
    section, _ = Section.objects.update_or_create(slug="politik", defaults={"name": "Politik"})
    reference, _ = Article.objects.update_or_create(
        slug=REFERENCE_SLUG,
        defaults={
            "title": "KI-Bündnis mit Japan",
            "subtitle": "Neue Ära der technologischen Zusammenarbeit",
            "teaser": "Die EU strebt eine engere Allianz mit Japan in Schlüsseltechnologien "
            "wie KI und Halbleitern an, um ihre Abhängigkeit von China zu verringern.",
            "body": REFERENCE_BODY,
            "author": author,
            "section": section,
            "language": "de",
            "status": Article.Status.PUBLISHED,
            "published_at": datetime(2023, 7, 11, 10, 0, tzinfo=BERLIN),
        },
    )
    reference.tags.set(REFERENCE_TAGS, clear=True)
    for spec in MORE_ARTICLES:
        fields = dict(spec)
        slug, tags = fields.pop("slug"), fields.pop("tags")
        article, _ = Article.objects.update_or_create(
            slug=slug,
            defaults={
                **fields,
                "author": author,
                "section": section,
                "language": "de",
                "status": Article.Status.PUBLISHED,
            },
        )
        article.tags.set(tags, clear=True)
    for url, (title, content) in PAGES.items():
        page, _ = FlatPage.objects.update_or_create(
            url=url, defaults={"title": title, "content": content}
        )
        page.sites.set([site])

    _load_campaigns(_load_books(), now=now)

    password = secrets.token_urlsafe(12)
    admin, _ = get_user_model().objects.get_or_create(username=admin_username)
    admin.is_staff = admin.is_superuser = admin.is_active = True
    admin.set_password(password)
    admin.save()
    return DemoResult(
        article_url=reference.get_absolute_url(),
        admin_username=admin_username,
        admin_password=password,
    )
