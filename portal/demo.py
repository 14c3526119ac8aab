"""Demo content: the reference customer's article page, loaded idempotently."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.flatpages.models import FlatPage
from django.contrib.sites.models import Site
from django.db import transaction

from .models import Announcement, Article, Author, Section, SiteSettings

BERLIN = ZoneInfo("Europe/Berlin")
REFERENCE_SLUG = "ki-buendnis-mit-japan"

REFERENCE_BODY = """\
Die Europäische Union strebt eine engere Allianz mit Japan in Schlüsseltechnologiesektoren wie der künstlichen Intelligenz an, um ihre Abhängigkeit von China zu verringern. Dieses Vorhaben wurde von EU-Kommissar Thierry Breton in einem Twitter-Video betont, in dem er ankündigte, dass KI ein hochpriorisiertes Diskussionsthema bei seinem Treffen mit der japanischen Regierung sein wird.

Die EU und Japan planen die Gründung eines Digital Partnership Council, um die Zusammenarbeit in den Bereichen Quanten- und Hochleistungsrechnen zu fördern. Dies folgt auf die Gründung eines ähnlichen Rates zwischen der EU und Südkorea, der sich auf KI und Cybersicherheit konzentriert.

Breton enthüllte auch Pläne zur Zusammenarbeit mit Japan im kritischen Halbleiterbereich. Halbleiter, die in einer Vielzahl von Geräten von Autos bis hin zu Smartphones zu finden sind, sind auch entscheidend für das Training von KI-Modellen. Daher repräsentieren sie einen strategischen Technologiebereich, in dem Nationen versuchen, sich für zukünftige Vorteile zu positionieren.

## Strategischer, geopolitischer Schachzug

Die Bemühungen der Europäischen Union, Partnerschaften mit technologisch fortgeschrittenen asiatischen Nationen zu festigen, repräsentiert eine strategische 'De-Risking'-Strategie von China. Im Gegensatz zu den USA, die Schritte unternommen haben, um ihre Wirtschaft von Peking zu entkoppeln, sucht die EU nach einer Umverteilung des Risikos, indem sie technologiebezogene Beziehungen mit verbündeten Nationen vertieft.

Das jetzt angestrebte Leuchtturmprojekt, enger mit Japan in Schlüsseltechnologiebereichen wie KI und Halbleitern zusammenzuarbeiten, wird als strategischer Schachzug in der breiteren geopolitischen Landschaft präsentiert. Es zielt demnach nicht nur darauf ab, Risiken im Zusammenhang mit einer übermäßigen Abhängigkeit von einer einzigen Nation zu mindern, sondern auch die Position der EU im globalen Technologiewettlauf zu sichern.

## Sicherung der technologischen Souveränität

Die geplante Partnerschaft zwischen der EU und Japan zeigt, dass die EU bereit ist, ihre technologische Zukunft mit weiteren, vertrauenswürdiger Partner zu planen, anstatt sich einseitig auf die Beziehung zu China zu verlassen. Die Entscheidung, sich auf den Halbleiterbereich zu konzentrieren, ist dabei augenscheinlich ein kluger Schachzug. Halbleiter sind das Herzstück vieler moderner Technologien und die Kontrolle über ihre Produktion ist ein entscheidender Faktor für die technologische Dominanz. Durch die Zusammenarbeit mit Japan, einem führenden Akteur in der Halbleiterindustrie, positioniert sich die EU für eine starke Zukunft in diesem Sektor.

Die Pläne haben auch eine deutliche geopolitische Dimension. In einer Zeit, in der die USA ihre Wirtschaft von China abkoppeln und ihre Verbündeten auffordern, es ihnen gleichzutun, wählt die EU einen anderen Weg. Anstatt sich vollständig von China zu distanzieren, sucht sie nach einer Umverteilung des Risikos durch die Vertiefung technologiebezogener Beziehungen mit anderen verbündeten Nationen. Dies könnte ein Modell für andere Länder sein, die nach Wegen suchen, ihre Abhängigkeit von China zu verringern, ohne ihre wirtschaftlichen Beziehungen vollständig zu kappen. Die Partnerschaft zwischen der EU und Japan ist insofern auch ein Schritt in Richtung einer stärker vernetzten, globalen technologischen Zukunft.
"""

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
