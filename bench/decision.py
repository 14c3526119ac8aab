"""The decision endpoint and engine with 1,000 live campaigns, beside the minimal JSON view.

.venv/bin/python -m bench.decision [--quick]

Builds its own site on PostgreSQL and Redis (a ``litfass_bench`` database, Redis dbs 2
and 3; never the tests' 12-15): 20 slots and 1,000 live campaigns with realistic
targeting, 1-3 approved promotions each, images and every rendition the slots need made
before anything is measured. Then, in one run:

1. the engine alone: ``ads.decision.decide`` in-process on a warm snapshot, µs per page
   of 4 slots (median of rounds) and Redis round trips per decision, beside one Redis
   read of the same counters (the floor) and the same engine on in-memory counters;
2. throughput: wrk (closed loop) against ``POST /api/v1/decisions`` and the baseline
   ``/_bench/baseline/`` on gunicorn with 2 sync workers, rounds interleaved;
3. latency at a constant 400 requests/s: an open-loop generator (``bench.openloop``)
   against both, rounds interleaved.

The site runs as behind a reverse proxy (``LITFASS_PROXY_COUNT=1``): every wrk request
comes from a reader of its own (a new address in ``X-Forwarded-For``), as on a site
where most readers view a few pages a day. One extra row has the consented pages come
from 32 readers who view a page every few milliseconds all day (no such header).

Live counters are put back to the seeded state before every round, so caps, pacing and
frequency caps start each round where the last one started. Everything the run wrote
to Redis and PostgreSQL is removed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.harness import (
    BASELINE_PATH,
    BENCH_SETTINGS,
    REPO_ROOT,
    BenchError,
    Comparison,
    CpuMeter,
    Row,
    compare_http,
    ensure_wrk,
    machine_facts,
    manage,
    markdown_table,
    serve,
)
from bench.openloop import OpenLoopResult, Request, open_loop
from bench.services import (
    OWNER_KEY,
    Services,
    claim_redis,
    drop_database,
    recreate_database,
    redis_client,
    release_redis,
    run_worker,
    service_env,
    setup_django_for_worker,
)

DECISIONS_PATH = "/api/v1/decisions"
COUNTS_PATH = "/_bench/redis-calls/"
WORKERS = 2
CAMPAIGNS = 1_000
ADVERTISERS = 300
IMAGES = 32
IMAGE_SIZE = (1200, 800)
PAGES = 64
SEED = 20_260_610
OPEN_LOOP_RATE = 400.0
# On a quiet machine the generator is at most 1-2 ms late at p99 (timer granularity).
LAG_WARNING_MS = 5.0

# The subject's pages of one kind only, measured beside it (never judged by the target).
WITHOUT_CONSENT = "without consent"
WITH_CONSENT = "with consent (the reader's frequency counts read)"
RETURNING = (
    "with consent, from 32 readers who come back all day (most of their caps reached: "
    "most pages filled twice)"
)
# The site runs behind one reverse proxy (nginx on the same host), which appends the
# reader's address to X-Forwarded-For: every wrk request comes from a reader address of
# its own (``wrk_script``). From 127.0.0.1 alone, a reader would be a user agent: 32
# readers, each viewing a page every few milliseconds all day.
PROXY_COUNT = "1"

TARGET_THROUGHPUT_RATIO = 0.60
TARGET_P99_MS = 10.0
TARGET_ENGINE_US = 300.0
TARGET_ROUND_TRIPS = 1.0

MODULE = "bench.decision"
# Overridable with LITFASS_BENCH_DECISION_DATABASE_URL, ..._REDIS_URL, ..._REDIS_CACHE_URL.
ENV_PREFIX = "LITFASS_BENCH_DECISION"
DEFAULT_DATABASE_URL = "postgres://litfass:litfass@127.0.0.1:5432/litfass_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/2"
DEFAULT_REDIS_CACHE_URL = "redis://127.0.0.1:6379/3"
WORKER_TIMEOUT_S = 900.0

# (key, name, width, height): sizes as publishers sell them.
SLOTS: tuple[tuple[str, str, int, int], ...] = (
    ("billboard-top", "Billboard oben", 970, 250),
    ("leaderboard-top", "Leaderboard oben", 728, 90),
    ("sidebar-top", "Seitenleiste oben", 300, 250),
    ("sidebar-middle", "Seitenleiste Mitte", 300, 600),
    ("sidebar-bottom", "Seitenleiste unten", 300, 250),
    ("skyscraper-right", "Skyscraper rechts", 160, 600),
    ("in-article-1", "Im Artikel 1", 300, 250),
    ("in-article-2", "Im Artikel 2", 300, 250),
    ("in-article-3", "Im Artikel 3", 300, 250),
    ("article-end", "Artikelende", 728, 90),
    ("home-hero", "Startseite oben", 970, 250),
    ("home-teaser-1", "Startseite Teaser 1", 300, 250),
    ("home-teaser-2", "Startseite Teaser 2", 300, 250),
    ("home-teaser-3", "Startseite Teaser 3", 300, 250),
    ("section-top", "Rubrik oben", 728, 90),
    ("section-sidebar", "Rubrik Seitenleiste", 300, 600),
    ("mobile-top", "Mobil oben", 320, 100),
    ("mobile-in-article-1", "Mobil im Artikel 1", 300, 250),
    ("mobile-in-article-2", "Mobil im Artikel 2", 300, 250),
    ("mobile-bottom", "Mobil unten", 320, 100),
)
# How often campaigns book each slot, relative: the sidebar and article slots sell best.
SLOT_DEMAND = (4, 3, 6, 3, 3, 2, 6, 4, 3, 2, 3, 3, 2, 2, 2, 2, 4, 4, 3, 2)
# The pages that ask for decisions: 4 slots each, together all 20.
PAGE_TEMPLATES: tuple[tuple[str, ...], ...] = (
    ("billboard-top", "sidebar-top", "in-article-1", "article-end"),
    ("leaderboard-top", "sidebar-middle", "in-article-2", "skyscraper-right"),
    ("home-hero", "home-teaser-1", "home-teaser-2", "home-teaser-3"),
    ("section-top", "section-sidebar", "sidebar-bottom", "in-article-3"),
    ("mobile-top", "mobile-in-article-1", "mobile-in-article-2", "mobile-bottom"),
)
TAGS = (
    "ki", "japan", "autos", "elektromobilitaet", "banken", "krypto", "fussball", "wahlen",
    "klima", "energie", "reisen", "gesundheit", "pharma", "versicherung", "immobilien",
    "startups", "halbleiter", "robotik", "datenschutz", "cloud", "mobilfunk", "mode",
    "kochen", "wein", "kunst", "musik", "film", "games", "bildung", "forschung",
    "raumfahrt", "logistik", "handel", "landwirtschaft", "recht", "steuern", "boerse",
    "nachhaltigkeit", "krieg", "katastrophen",
)  # fmt: skip
# What brand-safety exclusions name most often.
SENSITIVE_TAGS = ("krieg", "katastrophen", "wahlen", "krypto", "pharma")
SECTIONS = (
    "politik", "wirtschaft", "technik", "wissenschaft", "sport", "kultur", "reise", "meinung",
)  # fmt: skip
CATEGORIES = (
    "auto", "bank", "versicherung", "mobilfunk", "energie", "reise", "handel", "software",
    "pharma", "immobilien", "bildung", "getraenke",
)  # fmt: skip
USER_AGENTS = {
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "tablet": "Mozilla/5.0 (iPad; CPU OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "mobile": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36",
}


def _progress(message: str) -> None:
    # stderr, so stdout stays a clean Markdown document.
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- our own database and Redis databases (bench.services) --------------------------------


def services_from_env() -> Services:
    return Services.from_env(
        ENV_PREFIX,
        owner=MODULE,
        database_url=DEFAULT_DATABASE_URL,
        redis_url=DEFAULT_REDIS_URL,
        redis_cache_url=DEFAULT_REDIS_CACHE_URL,
    )


def locate(key: str) -> tuple[str, str]:
    """``ads.counters.locate`` (a counter's key, and its field if in a hash), for this
    process without Django."""
    redis_key, _hash, field = key.partition("#")
    return redis_key, field


@dataclass(frozen=True)
class CounterState:
    """The live counters as seeded (key, value, TTL in s or 0), and the snapshot version."""

    redis_url: str
    owner: str
    entries: tuple[tuple[str, int, int], ...]
    version_key: str
    version: int | None = None

    def restore(self) -> None:
        """Back to the seeded state in one transaction: served counts, caps and
        frequency counters as at the start, nonces and events of earlier rounds gone,
        and the same version, so no worker rebuilds its snapshot."""
        pipe = redis_client(self.redis_url).pipeline(transaction=True)
        pipe.flushdb()
        pipe.set(OWNER_KEY, self.owner)
        if self.version is not None:
            pipe.set(self.version_key, self.version)
        expiring = {}
        for key, value, ttl in self.entries:
            redis_key, field = locate(key)
            if field:
                pipe.hset(redis_key, field, value)
            else:
                pipe.set(redis_key, value)
            if ttl:
                expiring[redis_key] = ttl
        for redis_key, ttl in expiring.items():
            pipe.expire(redis_key, ttl)
        pipe.execute()


# --- the pages that ask for decisions ------------------------------------------------------


@dataclass(frozen=True)
class Page:
    slots: tuple[str, ...]
    tags: tuple[str, ...]
    section: str
    language: str
    user_agent: str
    consent: bool

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "slots": list(self.slots),
            "tags": list(self.tags),
            "section": self.section,
            "language": self.language,
        }
        if self.consent:
            body["consent"] = {"statistics": True, "marketing": True}
        return body

    def request(self, reader: str | None = None) -> Request:
        """The request; with ``reader``, from that address as the proxy reports it
        (``PROXY_COUNT``), else from the proxy itself (127.0.0.1)."""
        headers = [("Content-Type", "application/json"), ("User-Agent", self.user_agent)]
        if reader is not None:
            headers.append(("X-Forwarded-For", reader))
        return Request(
            "POST",
            DECISIONS_PATH,
            headers=tuple(headers),
            body=json.dumps(self.body(), separators=(",", ":")).encode(),
        )


def reader_address(n: int) -> str:
    """The ``n``-th reader's address, as the proxy reports it (``wrk_script``'s are in
    10.1.0.0/16 and 10.2.0.0/16)."""
    return f"10.0.{n >> 8 & 255}.{n & 255}"


def page_mix(count: int = PAGES) -> list[Page]:
    """Article, home, section and mobile pages with 2-5 tags; some English, half with
    consent (so frequency caps count); each with a user agent of its own."""
    rng = random.Random(SEED + 1)
    pages = []
    for n in range(count):
        template = PAGE_TEMPLATES[n % len(PAGE_TEMPLATES)]
        if template[0].startswith("mobile"):
            device = "mobile"
        else:
            device = "tablet" if rng.random() < 0.2 else "desktop"
        pages.append(
            Page(
                slots=template,
                tags=tuple(rng.sample(TAGS, rng.randint(2, 5))),
                section=rng.choice(SECTIONS),
                language="en" if rng.random() < 0.15 else "de",
                user_agent=USER_AGENTS[device].format(v=100 + n),
                consent=rng.random() < 0.5,
            )
        )
    return pages


def wrk_script(pages: Sequence[Page], path: Path, *, new_readers: bool = True) -> Path:
    """A wrk Lua script that POSTs the pages in turn; with ``new_readers`` each request
    from a reader address of its own (``X-Forwarded-For``, as the proxy sets it):
    65,536 per wrk thread, more than a thread sends in a round."""
    entries = []
    for page in pages:
        request = page.request()
        headers = ", ".join(f'["{name}"] = [==[{value}]==]' for name, value in request.headers)
        entries.append(
            f'  add(wrk.format("POST", "{DECISIONS_PATH}", '
            f"{{{headers}}}, [==[{request.body.decode()}]==]))"
        )
    # The request is split after its headers, so a reader's header costs wrk one
    # concatenation; each thread's readers are in 10.<thread>.0.0/16.
    reader = (
        "  sent = sent + 1\n"
        '  return heads[n] .. string.format("X-Forwarded-For: 10.%d.%d.%d\\r\\n", id,\n'
        "    math.floor(sent / 256) % 256, sent % 256) .. tails[n]\n"
        if new_readers
        else "  return heads[n] .. tails[n]\n"
    )
    path.write_text(
        "-- Generated by bench.decision: the decision requests, in turn.\n"
        "local heads, tails = {}, {}\n"
        "local n, sent = 0, 0\n"
        "local threads = 0\n"
        "id = 0\n"
        "function setup(thread)\n"
        "  threads = threads + 1\n"
        "  thread:set('id', threads)\n"
        "end\n"
        "local function add(request)\n"
        '  local at = request:find("\\r\\n\\r\\n", 1, true)\n'
        "  heads[#heads + 1] = request:sub(1, at + 1)\n"
        "  tails[#tails + 1] = request:sub(at + 2)\n"
        "end\n"
        "function init(args)\n" + "\n".join(entries) + "\nend\n"
        "function request()\n"
        "  n = n % #heads + 1\n" + reader + "end\n"
    )
    return path


# --- worker side: Django is set up ---------------------------------------------------------


def _source_image(n: int) -> bytes:
    """A photo-like JPEG: gradients, blotches and grain, a different tint for each n."""
    import io

    from PIL import Image, ImageOps

    width, height = IMAGE_SIZE
    gradient = Image.linear_gradient("L")
    channels = []
    for k, angle in enumerate((n * 37 % 360, n * 53 % 360, n * 71 % 360)):
        ramp = gradient.rotate(angle).resize((width, height))
        blotches = Image.effect_noise((width // 24, height // 24), 64 + k * 8).resize(
            (width, height), Image.Resampling.BICUBIC
        )
        grain = Image.effect_noise((width, height), 30)
        channels.append(Image.blend(Image.blend(ramp, blotches, 0.5), grain, 0.25))
    image = ImageOps.autocontrast(Image.merge("RGB", channels))
    output = io.BytesIO()
    image.save(output, "JPEG", quality=85)
    return output.getvalue()


def _weighted(rng: random.Random, options: Sequence[tuple[Any, float]]) -> Any:
    values, weights = zip(*options, strict=True)
    return rng.choices(values, weights=weights)[0]


def seed(directory: Path) -> dict[str, Any]:
    """The site: slots, images, advertisers, 1,000 live campaigns and their promotions,
    in bulk; the live counters a day's delivery would have left; renditions come later."""
    import hashlib

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db import transaction
    from django.utils import timezone

    from ads import counters as keys
    from ads.decision import berlin_day, day_fraction
    from ads.models import Advertiser, Campaign, CampaignPromotion
    from promotions.models import Image, Promotion, Slot

    started = time.perf_counter()
    rng = random.Random(SEED)
    now = timezone.now()
    with transaction.atomic():
        images = []
        for n in range(IMAGES):
            content = _source_image(n)
            digest = hashlib.sha256(content).hexdigest()
            name = default_storage.save(f"images/{digest[:2]}/{digest}.jpg", ContentFile(content))
            images.append(
                Image(
                    title=f"Motiv {n}",
                    file=name,
                    width=IMAGE_SIZE[0],
                    height=IMAGE_SIZE[1],
                    format="JPEG",
                    byte_size=len(content),
                    content_hash=digest,
                    focal_point_x=rng.uniform(0.3, 0.7),
                    focal_point_y=rng.uniform(0.3, 0.7),
                )
            )
        images = Image.objects.bulk_create(images)

        def promotion(n: int, advertiser: str, status: str) -> Promotion:
            return Promotion(
                title=f"Angebot {n} von {advertiser}"[:120],
                text="Jetzt entdecken: was Sie schon immer über dieses Angebot wissen wollten.",
                image=images[n % len(images)],
                alt_text=f"Produktbild {n}",
                call_to_action=rng.choice(("Mehr Infos", "Jetzt ansehen", "Zum Angebot")),
                destination_url=f"https://werbekunde-{n % ADVERTISERS}.example/kampagne/{n}",
                review_status=status,
            )

        house_promotions = Promotion.objects.bulk_create(
            [promotion(n, "Verlag", Promotion.ReviewStatus.APPROVED) for n in range(3)]
        )
        slots = Slot.objects.bulk_create(
            [
                Slot(
                    key=key,
                    name=name,
                    label="Anzeige",
                    width=width,
                    height=height,
                    rendition_specs=(
                        f"fill-{width}x{height}|format-webp, fill-{width}x{height}|format-jpeg"
                    ),
                    fallback=(
                        Slot.Fallback.HOUSE
                        if n % 4 == 0
                        else Slot.Fallback.EMPTY
                        if n % 7 == 6
                        else Slot.Fallback.INQUIRY
                    ),
                    house_promotion=house_promotions[n % 3] if n % 4 == 0 else None,
                    above_the_fold=key.endswith("-top") or key == "home-hero",
                    allows_repeats=key.startswith("home-teaser"),
                )
                for n, (key, name, width, height) in enumerate(SLOTS)
            ]
        )
        publisher = Advertiser.objects.create(name="Verlag (Haus)", is_publisher=True)
        advertisers = Advertiser.objects.bulk_create(
            [
                Advertiser(name=f"Werbekunde {n} GmbH", contact_email=f"werbung{n}@example.org")
                for n in range(ADVERTISERS)
            ]
        )
        advertiser_category = {
            a.pk: rng.choice(CATEGORIES) if rng.random() < 0.5 else "" for a in advertisers
        }
        campaigns = []
        for n in range(CAMPAIGNS):
            kind = _weighted(
                rng,
                [
                    (Campaign.Kind.SPONSORSHIP, 0.10),
                    (Campaign.Kind.STANDARD, 0.75),
                    (Campaign.Kind.HOUSE, 0.15),
                ],
            )
            paid = kind != Campaign.Kind.HOUSE
            advertiser = rng.choice(advertisers) if paid else publisher
            starts_at = now - dt.timedelta(days=rng.uniform(1, 60))
            ends_at = now + dt.timedelta(days=rng.uniform(3, 120)) if paid else None
            goal_impressions = (
                rng.randrange(50_000, 2_000_000, 1000) if paid and rng.random() < 0.6 else None
            )
            daily_cap = rng.randrange(500, 20_000, 100) if paid and rng.random() < 0.3 else None
            even = paid and bool(goal_impressions or daily_cap) and rng.random() < 0.6
            target = None
            if even and ends_at is not None:
                # What the rotation would set: the rest of the goal over the days left.
                share = (goal_impressions or 0) // max(1, (ends_at - now).days + 1)
                share = min(share or daily_cap or 0, daily_cap or share)
                target = max(1, int(share * rng.uniform(0.6, 1.0)))
            campaigns.append(
                Campaign(
                    advertiser=advertiser,
                    name=f"Kampagne {n}",
                    kind=kind,
                    status=Campaign.Status.LIVE,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    goal_impressions=goal_impressions,
                    goal_clicks=rng.randrange(200, 5000) if paid and rng.random() < 0.1 else None,
                    daily_cap=daily_cap,
                    pacing=Campaign.Pacing.EVEN if even else Campaign.Pacing.ASAP,
                    pacing_daily_target=target,
                    frequency_cap=rng.randint(1, 5) if paid and rng.random() < 0.25 else None,
                    include_tags=rng.sample(TAGS, rng.randint(1, 3)) if rng.random() < 0.3 else [],
                    exclude_tags=(
                        rng.sample(SENSITIVE_TAGS, rng.randint(1, 2)) if rng.random() < 0.15 else []
                    ),
                    include_sections=(
                        rng.sample(SECTIONS, rng.randint(1, 2)) if rng.random() < 0.2 else []
                    ),
                    exclude_sections=rng.sample(SECTIONS, 1) if rng.random() < 0.1 else [],
                    languages=_weighted(rng, [(["de"], 0.3), (["en"], 0.05), ([], 0.65)]),
                    devices=_weighted(
                        rng,
                        [
                            (["mobile"], 0.08),
                            (["desktop"], 0.07),
                            (["mobile", "tablet"], 0.05),
                            ([], 0.8),
                        ],
                    ),
                    weekdays=_weighted(rng, [([0, 1, 2, 3, 4], 0.07), ([5, 6], 0.03), ([], 0.9)]),
                    hours=_weighted(
                        rng, [(list(range(6, 23)), 0.07), (list(range(17, 24)), 0.03), ([], 0.9)]
                    ),
                    competitive_category=(
                        advertiser_category.get(advertiser.pk, "") if rng.random() < 0.8 else ""
                    ),
                    weight=rng.choice((50, 100, 100, 100, 200, 300, 500)),
                    rotation=_weighted(
                        rng,
                        [
                            (Campaign.Rotation.EVEN, 0.5),
                            (Campaign.Rotation.WEIGHTED, 0.3),
                            (Campaign.Rotation.OPTIMISED, 0.2),
                        ],
                    ),
                )
            )
        campaigns = Campaign.objects.bulk_create(campaigns)
        booked = []
        slot_ids = [s.pk for s in slots]
        for campaign in campaigns:
            count = _weighted(rng, [(1, 0.45), (2, 0.30), (3, 0.15), (4, 0.10)])
            chosen: set[int] = set()
            while len(chosen) < count:
                chosen.add(rng.choices(slot_ids, weights=SLOT_DEMAND)[0])
            booked += [
                Campaign.slots.through(campaign_id=campaign.pk, slot_id=slot_id)
                for slot_id in sorted(chosen)
            ]
        Campaign.slots.through.objects.bulk_create(booked)
        promotions: list[Promotion] = []
        links: list[tuple[Campaign, int]] = []
        for campaign in campaigns:
            statuses = [Promotion.ReviewStatus.APPROVED] * _weighted(
                rng, [(1, 0.5), (2, 0.35), (3, 0.15)]
            )
            if rng.random() < 0.1:
                # Waiting for review: in the database, never in a decision.
                statuses.append(Promotion.ReviewStatus.PENDING)
            for status in statuses:
                promotions.append(promotion(len(promotions) + 3, campaign.advertiser.name, status))
                links.append((campaign, rng.choice((50, 100, 100, 200, 300))))
        promotions = Promotion.objects.bulk_create(promotions)
        CampaignPromotion.objects.bulk_create(
            [
                CampaignPromotion(campaign=campaign, promotion=promo, weight=weight)
                for promo, (campaign, weight) in zip(promotions, links, strict=True)
            ]
        )
    seeded_database = time.perf_counter() - started

    # Live counters as a day's delivery so far leaves them: on, behind and ahead of pace,
    # a few campaigns capped or at their goal, click data for optimised rotation.
    day, elapsed = berlin_day(now), day_fraction(now)
    day_ttl = int(keys.DAY_TTL.total_seconds())
    entries: list[tuple[str, int, int]] = []
    approved: dict[int, list[int]] = {}
    for campaign_id, promotion_id in CampaignPromotion.objects.filter(
        promotion__review_status=Promotion.ReviewStatus.APPROVED
    ).values_list("campaign_id", "promotion_id"):
        approved.setdefault(campaign_id, []).append(promotion_id)
    for campaign in campaigns:
        cap, target = campaign.daily_cap, campaign.pacing_daily_target
        if cap:
            # How far a campaign is from its cap does not follow the clock (one served as
            # fast as possible reaches it at any hour), and runs at different hours
            # compare only if as many campaigns are near their cap: 5 % of them have
            # reached it, the others are spread over 10-100 % of it.
            capped = rng.random() < 0.05
            served = cap if capped else int(cap * rng.uniform(0.1, 1.0))
            entries.append((keys.served_today(day, campaign.pk), served, day_ttl))
        elif target:
            # On, behind or ahead of pace at this time of day.
            served = int(target * elapsed * rng.uniform(0.5, 1.3))
            entries.append((keys.served_today(day, campaign.pk), served, day_ttl))
        if campaign.goal_impressions:
            done = 1.0 if rng.random() < 0.03 else rng.uniform(0.05, 0.9)
            total = int(campaign.goal_impressions * done)
            entries.append((keys.served_total(campaign.pk), total, 0))
        if campaign.goal_clicks:
            clicks = int(campaign.goal_clicks * rng.uniform(0.05, 0.9))
            entries.append((keys.clicks_total(campaign.pk), clicks, 0))
        if campaign.rotation == Campaign.Rotation.OPTIMISED:
            for promotion_id in approved.get(campaign.pk, []):
                served = rng.randrange(1000, 100_000)
                entries.append((keys.promotion_served(promotion_id), served, 0))
                clicks = int(served * rng.uniform(0.001, 0.02))
                entries.append((keys.promotion_clicks(promotion_id), clicks, 0))
    (directory / "counters.json").write_text(json.dumps(entries))
    tiers: dict[str, int] = {}
    for campaign in campaigns:
        tiers[campaign.kind] = tiers.get(campaign.kind, 0) + 1
    return {
        "version_key": keys.VERSION_KEY,
        "seconds": round(seeded_database, 1),
        "campaigns": len(campaigns),
        "tiers": tiers,
        "slots": len(slots),
        "bookings": len(booked),
        "advertisers": len(advertisers),
        "promotions": len(promotions),
        "approved": sum(p.review_status == Promotion.ReviewStatus.APPROVED for p in promotions),
        "images": len(images),
        "counters": len(entries),
        "even_pacing": sum(c.pacing_daily_target is not None for c in campaigns),
        "daily_caps": sum(c.daily_cap is not None for c in campaigns),
        "frequency_caps": sum(c.frequency_cap is not None for c in campaigns),
        "categories": sum(bool(c.competitive_category) for c in campaigns),
        "targeted": sum(
            bool(
                c.include_tags
                or c.exclude_tags
                or c.include_sections
                or c.exclude_sections
                or c.languages
                or c.devices
                or c.weekdays
                or c.hours
            )
            for c in campaigns
        ),
    }


def make_renditions(part: int, parts: int) -> dict[str, Any]:
    """Every rendition (1x and 2x, every slot's specs) of every n-th image, through the
    project's own task, so requests never render an image."""
    from promotions.models import Image, Rendition
    from promotions.tasks import pregenerate_renditions

    ids = list(Image.objects.order_by("pk").values_list("pk", flat=True))
    for image_id in ids[part::parts]:
        pregenerate_renditions(image_id)
    return {"renditions": Rendition.objects.filter(image_id__in=ids[part::parts]).count()}


class MemoryCounters:
    """The counters' values held in a dict: the engine with no Redis at all."""

    def __init__(self, values: Mapping[str, int]) -> None:
        self.values = dict(values)

    def read(self, keys: Sequence[str]) -> list[int]:
        return [self.values.get(key, 0) for key in keys]

    def read_groups(
        self, plain: Sequence[str], hashes: Sequence[tuple[str, Sequence[str]]]
    ) -> tuple[list[int], list[list[int]]]:
        return self.read(plain), [self.read([f"{h}#{f}" for f in fields]) for h, fields in hashes]

    def ask_groups(
        self, plain: Sequence[str], hashes: Sequence[tuple[str, Sequence[str]]]
    ) -> Callable[[], tuple[list[int], list[list[int]]]]:
        found = self.read_groups(plain, hashes)
        return lambda: found

    def add(self, increments: Mapping[str, int], **_options: Any) -> None:
        raise NotImplementedError

    def bump(self, key: str) -> int:
        raise NotImplementedError

    def set(self, values: Mapping[str, int]) -> None:
        raise NotImplementedError

    def raise_to(self, floors: Mapping[str, int], **_options: Any) -> int:
        raise NotImplementedError


@dataclass
class RedisCalls:
    round_trips: int = 0
    commands: dict[str, int] = field(default_factory=dict)


@contextmanager
def counting_redis() -> Iterator[RedisCalls]:
    """Count this process's Redis round trips and commands where they leave it, on
    redis-py's connection (see ``bench.counting``)."""
    from redis.connection import AbstractConnection

    from bench.counting import command_names

    calls = RedisCalls()
    send = AbstractConnection.send_packed_command

    def counted_send(self: Any, command: Any, *args: Any, **options: Any) -> Any:
        calls.round_trips += 1
        for name in command_names(command):
            calls.commands[name] = calls.commands.get(name, 0) + 1
        return send(self, command, *args, **options)

    AbstractConnection.send_packed_command = counted_send  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        AbstractConnection.send_packed_command = send  # type: ignore[method-assign]


def time_engine(*, rounds: int, iterations: int) -> dict[str, Any]:
    """µs per 4-slot page of ``ads.decision.decide`` on a warm snapshot; its Redis round
    trips; the same engine on in-memory counters; the same counter reads alone."""
    import redis
    from django.utils import timezone
    from redis.utils import HIREDIS_AVAILABLE

    from ads import counters as keys
    from ads.counters import RedisCounters, bump_version, redis_client
    from ads.decision import Engine, PageContext, berlin_day, decide, engine
    from ads.devices import device_class
    from ads.visitors import visitor_key

    # Seeding and the renditions are done: every process's snapshot is out of date.
    version = bump_version()
    now = timezone.now()
    day = berlin_day(now)
    contexts = [
        PageContext(
            slot_keys=page.slots,
            tags=frozenset(page.tags),
            section=page.section,
            language=page.language,
            device=device_class(page.user_agent),
            consent=page.consent,
            # What the endpoint derives for a request from 127.0.0.1 with this agent.
            visitor_key=(
                visitor_key("127.0.0.1", page.user_agent, day=day) if page.consent else None
            ),
        )
        for page in page_mix()
    ]
    rng = random.Random(SEED + 2)
    started = time.perf_counter()
    decide(contexts[0], now=now, rng=rng)
    snapshot_ms = (time.perf_counter() - started) * 1000
    snap = engine.snapshot(now=now)
    if snap.version != version:
        raise BenchError(f"snapshot version {snap.version}, expected {version}")
    considered = statistics.mean(
        len({e.id for key in c.slot_keys for e in snap.by_slot[key]}) for c in contexts
    )

    client: Any = redis_client()
    # What each decision reads, for the floor and the in-memory engine.
    reads: list[tuple[list[str], list[tuple[str, list[str]]]]] = []
    fills = {"campaign": 0, "house": 0, "inquiry": 0, "empty": 0}
    ask_groups = RedisCounters.ask_groups

    def recording_ask(self: Any, plain: Any, hashes: Any) -> Any:
        reads.append((list(plain), [(hash_key, list(fields)) for hash_key, fields in hashes]))
        return ask_groups(self, plain, hashes)

    # The engine's clock runs as time does: today's served counts it read are reused for
    # LITFASS_LIVE_COUNTS_TTL seconds (ads.decision), and no longer.
    ticking = time.perf_counter()

    def clock() -> Any:
        return now + dt.timedelta(seconds=time.perf_counter() - ticking)

    RedisCounters.ask_groups = recording_ask  # type: ignore[method-assign]
    try:
        # Every page once, and on until the served counts were read twice: what a
        # running site has read already, each campaign's rate (``ads.decision.NEAR_CAP``)
        # included. (Nothing is recorded here: their rates are 0.)
        warm_until = time.perf_counter() + 2.2 * engine.live_ttl
        n = 0
        while n < len(contexts) or time.perf_counter() < warm_until:
            decide(contexts[n % len(contexts)], now=clock(), rng=rng)
            n += 1
        with counting_redis() as calls:
            sample = len(contexts) * 4
            for n in range(sample):
                decision = decide(contexts[n % len(contexts)], now=clock(), rng=rng)
                for decided in decision.slots.values():
                    fills["campaign" if decided.campaign else decided.fallback or "empty"] += 1
    finally:
        RedisCounters.ask_groups = ask_groups  # type: ignore[method-assign]
    round_trips = calls.round_trips / sample
    counters = RedisCounters(client)
    values: dict[str, int] = {}
    for plain, hashes in reads:
        plain_values, hash_values = counters.read_groups(plain, hashes)
        values.update(zip(plain, plain_values, strict=True))
        for (hash_key, fields), found in zip(hashes, hash_values, strict=True):
            for name, value in zip(fields, found, strict=True):
                values[f"{hash_key}#{name}"] = value
    values[keys.VERSION_KEY] = version
    memory = MemoryCounters(values)
    in_memory = Engine(counters=lambda: memory)
    in_memory.decide(contexts[0], now=clock(), rng=rng)

    def run_redis(n: int) -> None:
        decide(contexts[n % len(contexts)], now=clock(), rng=rng)

    def run_memory(n: int) -> None:
        in_memory.decide(contexts[n % len(contexts)], now=clock(), rng=rng)

    def run_read(n: int) -> None:
        counters.read_groups(*reads[n % len(reads)])

    contestants: dict[str, Callable[[int], None]] = {
        "read": run_read,
        "redis": run_redis,
        "memory": run_memory,
    }
    timings: dict[str, list[float]] = {name: [] for name in contestants}
    for r in range(1, rounds + 1):
        _progress(f"engine: round {r}/{rounds}")
        for name, step in contestants.items():
            gc.collect()
            started = time.perf_counter()
            for n in range(iterations):
                step(n)
            timings[name].append((time.perf_counter() - started) / iterations * 1e6)
    mgets = [len(plain) for plain, _hashes in reads if plain]
    hashed = [n for _plain, hashes in reads if (n := sum(len(f) for _h, f in hashes))]
    return {
        "us": timings,
        "iterations": iterations,
        "rounds": rounds,
        "round_trips": round_trips,
        "calls": {name: count / sample for name, count in calls.commands.items()},
        # Over the reads that have an ``MGET`` resp. an ``HGETALL``: most have only one.
        "mget_share": len(mgets) / len(reads),
        "keys": statistics.mean(mgets) if mgets else 0.0,
        "hash_share": len(hashed) / len(reads),
        "fields": statistics.mean(hashed) if hashed else 0.0,
        "considered": considered,
        "fills": fills,
        "sample": sample,
        "snapshot_ms": snapshot_ms,
        "live_ttl": engine.live_ttl,
        "version": version,
        "redis_py": f"redis-py {redis.__version__}, "
        + ("hiredis parser" if HIREDIS_AVAILABLE else "pure-Python parser (no hiredis)"),
    }


def _run_worker(args: argparse.Namespace) -> None:
    setup_django_for_worker()
    directory = Path(args.dir)
    result: dict[str, Any]
    if args.worker == "seed":
        result = seed(directory)
    elif args.worker == "renditions":
        result = make_renditions(args.part, args.parts)
    else:
        result = time_engine(rounds=args.rounds, iterations=args.iterations)
    print(json.dumps(result))


# --- the calling side ----------------------------------------------------------------------


def _parallel_workers(jobs: Sequence[Sequence[str]], env: Mapping[str, str]) -> list[Any]:
    """Like ``bench.services.run_worker``, several at once."""
    procs = [
        (
            args,
            subprocess.Popen(
                [sys.executable, "-m", MODULE, "--worker", *args],
                cwd=REPO_ROOT,
                env=service_env(env),
                stdout=subprocess.PIPE,
                text=True,
            ),
        )
        for args in jobs
    ]
    results = []
    try:
        for args, proc in procs:
            stdout, _ = proc.communicate(timeout=WORKER_TIMEOUT_S)
            lines = stdout.strip().splitlines()
            if proc.returncode != 0 or not lines:
                raise BenchError(
                    f"{MODULE} worker {' '.join(args)} failed ({proc.returncode}); its stderr "
                    f"is above:\n{stdout}"
                )
            results.append(json.loads(lines[-1]))
    finally:
        for _args, proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=15)
    return results


def _post(base_url: str, page: Page, reader: str | None = None) -> tuple[int, dict[str, Any]]:
    parts = urlsplit(base_url)
    request = page.request(reader)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request("POST", DECISIONS_PATH, body=request.body, headers=dict(request.headers))
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    try:
        data = json.loads(body)
    except ValueError:
        data = {"raw": body[:500].decode(errors="replace")}
    return response.status, data


def check_endpoint(base_url: str, pages: Sequence[Page]) -> dict[str, int]:
    """Every page once: 200 and one entry per slot asked for, else nothing is timed."""
    filled = slots = 0
    for page in pages:
        status, data = _post(base_url, page)
        if status != 200:
            raise BenchError(f"POST {DECISIONS_PATH} answered {status}: {data}")
        answered = [slot.get("key") for slot in data.get("slots", [])]
        if answered != list(page.slots):
            raise BenchError(f"asked for {list(page.slots)}, got {answered}")
        slots += len(answered)
        filled += sum(bool(slot.get("filled")) for slot in data["slots"])
    return {"slots": slots, "filled": filled}


@dataclass(frozen=True)
class PerRequest:
    requests: int
    round_trips: float
    commands: dict[str, float]
    queries: float


def _counts(base_url: str) -> dict[str, Any]:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request("GET", COUNTS_PATH)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise BenchError(f"GET {COUNTS_PATH} answered {response.status}")
    counts: dict[str, Any] = json.loads(body)
    return counts


# Two reads of the served counts and a little more (``per_request_costs``).
WARM_SECONDS = 2.5


def per_request_costs(base_url: str, pages: Sequence[Page], requests: int) -> PerRequest:
    """Redis round trips and commands and SQL queries per decision request, counted inside
    the one worker of a counting server (``bench.counting``), one request at a time."""
    # Unmeasured: the snapshot, the rendered slots and the day's visitor salt; and
    # pages on until the worker has read the served counts twice (each
    # ``LITFASS_LIVE_COUNTS_TTL``, 1 s), as a running site's has: it knows each
    # campaign's rate, and so which are near their daily cap (``ads.decision``).
    check_endpoint(base_url, pages)
    warm_until = time.perf_counter() + WARM_SECONDS
    warm = 0
    while time.perf_counter() < warm_until:
        _post(base_url, pages[warm % len(pages)], reader_address(warm))
        warm += 1
    before = _counts(base_url)
    for n in range(requests):
        status, data = _post(base_url, pages[n % len(pages)], reader_address(warm + n))
        if status != 200:
            raise BenchError(f"POST {DECISIONS_PATH} answered {status}: {data}")
    after = _counts(base_url)
    commands = {
        name: (count - before["commands"].get(name, 0)) / requests
        for name, count in after["commands"].items()
        if count > before["commands"].get(name, 0)
    }
    return PerRequest(
        requests=requests,
        round_trips=(after["round_trips"] - before["round_trips"]) / requests,
        commands=commands,
        queries=(after["queries"] - before["queries"]) / requests,
    )


@dataclass(frozen=True)
class OpenLoopMedians:
    sent: int
    failed: int
    answered_rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    send_lag_p99_ms: float
    errors: dict[str, int]
    p99_by_round: tuple[float, ...]


def _open_loop_medians(results: Sequence[OpenLoopResult]) -> OpenLoopMedians:
    errors: dict[str, int] = {}
    for result in results:
        for error, count in result.errors.items():
            errors[error] = errors.get(error, 0) + count
    return OpenLoopMedians(
        sent=sum(r.sent for r in results),
        failed=sum(r.failed for r in results),
        answered_rps=statistics.median(r.achieved_rps for r in results),
        p50_ms=statistics.median(r.percentile(50) for r in results),
        p90_ms=statistics.median(r.percentile(90) for r in results),
        p99_ms=statistics.median(r.percentile(99) for r in results),
        max_ms=max(r.max_ms for r in results),
        send_lag_p99_ms=max(r.send_lag_p99_ms for r in results),
        errors=errors,
        p99_by_round=tuple(r.percentile(99) for r in results),
    )


def compare_open_loop(
    subject_url: str,
    subject_requests: Sequence[Request],
    baseline_url: str,
    *,
    rate: float,
    rounds: int,
    seconds: float,
    before_round: Callable[[], None],
) -> tuple[OpenLoopMedians, OpenLoopMedians]:
    """Interleaved open-loop rounds B,S,B,S,... at ``rate``; medians over rounds."""
    baseline_requests = [Request("GET", BASELINE_PATH)]
    # Unmeasured: a second at the rate, so neither starts on a cold connection path.
    open_loop(baseline_url, baseline_requests, rate=rate, seconds=1)
    before_round()
    open_loop(subject_url, subject_requests, rate=rate, seconds=1)
    baseline: list[OpenLoopResult] = []
    subject: list[OpenLoopResult] = []
    for n in range(1, rounds + 1):
        for what, url, requests, results in (
            ("baseline", baseline_url, baseline_requests, baseline),
            ("subject", subject_url, subject_requests, subject),
        ):
            before_round()
            _progress(f"open loop {rate:g}/s, round {n}/{rounds}: {what} {url}")
            results.append(open_loop(url, requests, rate=rate, seconds=seconds))
    return _open_loop_medians(baseline), _open_loop_medians(subject)


def _verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


@dataclass(frozen=True)
class Results:
    facts: str
    quick: bool
    seeded: dict[str, Any]
    renditions: int
    setup_seconds: float
    engine: dict[str, Any]
    comparison: Comparison
    open_baseline: OpenLoopMedians
    open_subject: OpenLoopMedians
    open_rounds: int
    open_seconds: float
    warmup_seconds: float
    checked: dict[str, int]
    cold_ms: float
    load_after: tuple[float, float]
    per_request: PerRequest


def report(r: Results) -> str:
    c = r.comparison
    ratio = c.subject.requests_per_second / c.baseline.requests_per_second
    subject_label = f"`POST {DECISIONS_PATH}`, 4 slots"
    throughput = markdown_table(
        "Decision endpoint: throughput vs. minimal JSON view (wrk, closed loop)",
        [
            Row(f"baseline: JSON view `{BASELINE_PATH}`", c.baseline),
            Row(subject_label, c.subject),
            *(Row(f"the same, pages {label} only", m) for label, m in c.variants.items()),
        ],
        facts=r.facts,
        notes=[
            f"Load: wrk {c.threads} threads, {c.connections} connections, {c.rounds} "
            f"interleaved rounds of {c.seconds:g} s per URL (baseline first in each round), "
            f"after {r.warmup_seconds:g} s unmeasured of each; medians over rounds. The "
            f"subject POSTs {PAGES} different pages in turn (a Lua script); its rows of one "
            f"kind of page only, measured in the same rounds after it, show what each kind "
            f"costs and are not what the target judges.",
            f"Target: endpoint ≥ {TARGET_THROUGHPUT_RATIO:.0%} of the baseline's req/s: "
            f"{_verdict(ratio >= TARGET_THROUGHPUT_RATIO)} ({ratio:.0%}).",
        ],
    )
    sections = [throughput]
    if c.cpu:
        sections.append(cpu_table(c, subject_label))
    b, s = r.open_baseline, r.open_subject
    open_lines = [
        f"### Decision endpoint: latency at a constant {OPEN_LOOP_RATE:g} req/s (open loop)",
        "",
        "| what | sent | failed | answered req/s (median) | p50 ms | p90 ms | p99 ms "
        "| max ms (all rounds) | p99 ratio to baseline |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, m in (
        (f"baseline: JSON view `{BASELINE_PATH}`", b),
        (f"`POST {DECISIONS_PATH}`, 4 slots", s),
    ):
        open_lines.append(
            f"| {label} | {m.sent} | {m.failed} | {m.answered_rps:.0f} | {m.p50_ms:.2f} "
            f"| {m.p90_ms:.2f} | {m.p99_ms:.2f} | {m.max_ms:.1f} "
            f"| {m.p99_ms / b.p99_ms:.2f} |"
        )
    open_notes = [
        f"Load: `bench.openloop`, one request every {1000 / OPEN_LOOP_RATE:g} ms whatever "
        f"the answers (a new connection each, as gunicorn's sync workers close them), "
        f"{r.open_rounds} interleaved rounds of {r.open_seconds:g} s per URL; p50/p90/p99 "
        f"are medians over rounds, max the largest of all rounds. Latency runs from the send "
        f"to the last byte; the generator's own lateness against its schedule was at most "
        f"{max(b.send_lag_p99_ms, s.send_lag_p99_ms):.1f} ms at p99. Not wrk2 or vegeta: "
        f"Debian 12 packages neither (see bench/README.md).",
        f"Target: p99 < {TARGET_P99_MS:g} ms at {OPEN_LOOP_RATE:g} req/s with {WORKERS} "
        f"workers: {_verdict(s.p99_ms < TARGET_P99_MS and not s.failed)} "
        f"({s.p99_ms:.2f} ms, {s.failed} failed).",
    ]
    open_notes.append(
        "p99 ms by round: baseline "
        + ", ".join(f"{v:.2f}" for v in b.p99_by_round)
        + "; subject "
        + ", ".join(f"{v:.2f}" for v in s.p99_by_round)
        + "."
    )
    lag = max(b.send_lag_p99_ms, s.send_lag_p99_ms)
    if lag > LAG_WARNING_MS:
        open_notes.append(
            f"**Disturbed run:** the generator itself ran up to {lag:.0f} ms behind its "
            f"schedule (p99; about 1-2 ms on a quiet machine), so something else was using "
            f"the CPUs and these latencies are not the server's alone. Repeat the run."
        )
    errors = {**{f"baseline {k}": v for k, v in b.errors.items()}}
    errors.update({f"subject {k}": v for k, v in s.errors.items()})
    if errors:
        open_notes.append(
            "Failures: " + "; ".join(f"{what}: {count}" for what, count in errors.items())
        )
    for note in open_notes:
        open_lines.extend(["", note])

    e = r.engine
    us = {name: statistics.median(values) for name, values in e["us"].items()}
    engine_lines = [
        "### Decision engine alone (in-process, no HTTP)",
        "",
        "| what | µs per 4-slot page (median) | fastest round | slowest round "
        "| Redis round trips per page | ratio to baseline (time) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rows = (
        ("baseline: the engine's counter read alone (one round trip)", "read", 1.0),
        ("`ads.decision.decide`, Redis counters", "redis", e["round_trips"]),
        ("the same engine, counters in a dict (no Redis)", "memory", 0.0),
    )
    for label, name, trips in rows:
        engine_lines.append(
            f"| {label} | {us[name]:.0f} | {min(e['us'][name]):.0f} | {max(e['us'][name]):.0f} "
            f"| {trips:.2f} | {us[name] / us['read']:.2f} |"
        )
    fills = e["fills"]
    total_slots = sum(fills.values())
    calls = ", ".join(f"`{name}` {count:.2f}" for name, count in sorted(e["calls"].items()))
    engine_notes = [
        f"Timing: {e['rounds']} rounds of {e['iterations']} decisions each, the three "
        f"interleaved in every round, over the same {PAGES} pages as the HTTP load; median "
        f"over rounds. The snapshot was built before (first decision: "
        f"{e['snapshot_ms']:.0f} ms); a page's 4 slots have {e['considered']:.0f} distinct "
        f"campaigns booked. Of the reads decisions made, {e['mget_share']:.0%} had an "
        f"`MGET` ({e['keys']:.1f} keys on average: the version, served and goal counts) and "
        f"{e['hash_share']:.0%} an `HGETALL` of the reader's frequency hash "
        f"(for {e['fields']:.1f} fields on average), pipelined when both. It reads when the "
        f"reader's frequency counts are needed "
        f"(consent; the page is filled meanwhile, and the served counts of campaigns near "
        f"their daily cap come with them), when a draw picks a campaign near its daily "
        f"cap, or "
        f"when the process's served counts (every campaign's, read together) are older "
        f"than `LITFASS_LIVE_COUNTS_TTL` ({e['live_ttl']:g} s; the clock runs as time "
        f"does); else it reads nothing.",
        f"Round trips: counted where commands leave the process, on the connection "
        f"({e['redis_py']}), over {e['sample']} decisions ({calls} per decision). "
        f"Slots filled by a campaign: "
        f"{fills['campaign'] / total_slots:.0%}; house {fills['house'] / total_slots:.0%}, "
        f"inquiry {fills['inquiry'] / total_slots:.0%}, empty {fills['empty'] / total_slots:.0%}.",
        f"Targets: engine < {TARGET_ENGINE_US:g} µs per 4-slot page: "
        f"{_verdict(us['redis'] < TARGET_ENGINE_US)} ({us['redis']:.0f} µs); "
        f"≤ {TARGET_ROUND_TRIPS:g} Redis round trip per decision: "
        f"{_verdict(e['round_trips'] <= TARGET_ROUND_TRIPS)} ({e['round_trips']:.2f}).",
    ]
    for note in engine_notes:
        engine_lines.extend(["", note])

    targets = [
        "### Targets",
        "",
        "| target | measured | verdict |",
        "|---|---:|---|",
        f"| endpoint ≥ {TARGET_THROUGHPUT_RATIO:.0%} of baseline throughput | {ratio:.0%} "
        f"| {_verdict(ratio >= TARGET_THROUGHPUT_RATIO)} |",
        f"| p99 < {TARGET_P99_MS:g} ms at {OPEN_LOOP_RATE:g} req/s ({WORKERS} workers) "
        f"| {s.p99_ms:.2f} ms | {_verdict(s.p99_ms < TARGET_P99_MS and not s.failed)} |",
        f"| engine < {TARGET_ENGINE_US:g} µs per 4-slot page | {us['redis']:.0f} µs "
        f"| {_verdict(us['redis'] < TARGET_ENGINE_US)} |",
        f"| ≤ {TARGET_ROUND_TRIPS:g} Redis round trip per decision | {e['round_trips']:.2f} "
        f"| {_verdict(e['round_trips'] <= TARGET_ROUND_TRIPS)} |",
    ]

    d = r.seeded
    tiers = ", ".join(f"{count} {kind}" for kind, count in sorted(d["tiers"].items()))
    per_request = ", ".join(
        f"`{name}` {count:.2f}"
        for name, count in sorted(r.per_request.commands.items(), key=lambda item: -item[1])
    )
    data_notes = [
        f"Site: PostgreSQL and Redis, built for this run and removed after it, "
        f"`bench.settings` (DEBUG off, `CONN_MAX_AGE` 60 as in production); gunicorn with "
        f"{WORKERS} sync workers. Seeded in {d['seconds']:.1f} s, renditions and the rest of "
        f"the set-up in {r.setup_seconds - d['seconds']:.1f} s. Load average after the run: "
        f"{r.load_after[0]:.2f} (1 min) / {r.load_after[1]:.2f} (5 min).",
        f"Data: {d['campaigns']} live campaigns ({tiers}) from {d['advertisers']} advertisers "
        f"and the publisher, {d['bookings']} slot bookings over {d['slots']} slots; "
        f"{d['targeted']} with targeting (tags, sections, languages, devices, weekdays, "
        f"hours), {d['categories']} in a competitive category, {d['daily_caps']} daily caps, "
        f"{d['frequency_caps']} frequency caps, {d['even_pacing']} paced evenly with a daily "
        f"target; {d['approved']} approved promotions (of {d['promotions']}) on "
        f"{d['images']} images with {r.renditions} renditions made beforehand; "
        f"{d['counters']} live counters seeded and restored before every round.",
        f"Pages: {PAGES} requests of 4 slots (article, home, section and mobile pages), 2-5 "
        f"tags, a section, 15 % English, half with consent; each wrk request from a reader "
        f"of its own, as a reverse proxy in front of gunicorn reports it (a new address in "
        f"`X-Forwarded-For`, `LITFASS_PROXY_COUNT={PROXY_COUNT}`), and so every request "
        f"of the open loop; the row of returning readers sends none: there the "
        f"{PAGES // 2} user agents of the consented pages are {PAGES // 2} readers from "
        f"127.0.0.1; "
        f"{r.checked['filled'] / r.checked['slots']:.0%} of their slots filled by a campaign "
        f"when each was asked once. That first pass, one request at a time on fresh workers "
        f"(each builds its snapshot; every slot is rendered for the first time), took "
        f"{r.cold_ms:.1f} ms per request.",
        f"Per request, counted inside a server of 1 worker (`bench.counting`) over "
        f"{r.per_request.requests} requests one at a time: "
        f"{r.per_request.round_trips:.2f} Redis sends ({per_request} commands; the "
        f"served script's `evalsha` is not waited for, its answer is read with the "
        f"worker's next read of counters or before its next command that waits), "
        f"{r.per_request.queries:.2f} SQL queries.",
    ]
    if r.quick:
        data_notes.append("Quick run: too few and too short rounds to quote; a smoke test only.")
    data_lines = ["### Set-up"]
    for note in data_notes:
        data_lines.extend(["", note])
    sections += ["\n".join(lines) for lines in (open_lines, engine_lines)]
    sections += ["\n".join(targets), "\n".join(data_lines)]
    return "\n\n".join(sections)


def cpu_table(c: Comparison, subject_label: str) -> str:
    """Where the CPU time of a request went, in the throughput rounds."""
    baseline = c.cpu["baseline"]
    lines = [
        "### Decision endpoint: CPU time per request (wrk rounds above)",
        "",
        "| what | gunicorn µs | Redis µs | rest of the machine µs | machine µs "
        "| ratio to baseline (machine) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "baseline": f"baseline: JSON view `{BASELINE_PATH}`",
        "subject": subject_label,
        **{label: f"the same, pages {label} only" for label in c.variants},
    }
    for what, label in labels.items():
        cpu = c.cpu[what]
        redis = "n/a" if cpu.redis_us is None else f"{cpu.redis_us:.0f}"
        lines.append(
            f"| {label} | {cpu.server_us:.0f} | {redis} | {cpu.rest_us:.0f} "
            f"| {cpu.machine_us:.0f} | {cpu.machine_us / baseline.machine_us:.2f} |"
        )
    notes = [
        "Measured from `/proc` over each wrk round and divided by the requests answered; "
        "medians over rounds, each column on its own. gunicorn: the master and its workers; "
        "Redis: the server process, all its clients (n/a when it runs elsewhere); the rest: "
        "whatever else kept the CPUs busy, mostly wrk and the kernel's loopback traffic. "
        f"With {c.threads} wrk threads keeping both CPUs busy, req/s follow the machine "
        "column: a ratio of req/s of 0.60 needs a request to cost roughly at most 1/0.60 of the "
        "baseline's machine time.",
    ]
    for note in notes:
        lines.extend(["", note])
    return "\n".join(lines)


def run(*, quick: bool = False) -> str:
    facts = machine_facts()
    ensure_wrk()
    services = services_from_env()
    services.check()
    wrk_rounds, wrk_seconds = (3, 2) if quick else (5, 5)
    warmup_seconds = 3 if quick else 10
    open_rounds, open_seconds = (3, 2) if quick else (5, 6)
    engine_rounds, engine_iterations = (3, 300) if quick else (7, 2000)
    sample_requests = 50 if quick else 200
    pages = page_mix()
    with tempfile.TemporaryDirectory(prefix="litfass-bench-decision-") as tmp:
        directory = Path(tmp)
        var_dir = directory / "var"
        # WhiteNoise warns on every worker boot when STATIC_ROOT is missing.
        (var_dir / "static").mkdir(parents=True)
        env = {**services.env(var_dir), "LITFASS_PROXY_COUNT": PROXY_COUNT}
        started = time.perf_counter()
        claim_redis(services)
        _progress(f"decision: (re)creating database {services.database_name!r}")
        recreate_database(services)
        try:
            manage("migrate", "--noinput", env=env)
            _progress(f"decision: seeding {CAMPAIGNS} campaigns")
            seeded = run_worker(MODULE, ["seed", "--dir", tmp], env, timeout=WORKER_TIMEOUT_S)
            _progress(f"decision: renditions of {IMAGES} images, in 2 processes")
            made = _parallel_workers(
                [
                    ["renditions", "--dir", tmp, "--part", str(part), "--parts", "2"]
                    for part in range(2)
                ],
                env,
            )
            entries = [
                (str(key), int(value), int(ttl))
                for key, value, ttl in json.loads((directory / "counters.json").read_text())
            ]
            # Counters first: the engine worker reads them (and bumps the version).
            state = CounterState(
                services.redis_url, services.owner, tuple(entries), seeded["version_key"]
            )
            state.restore()
            setup_seconds = time.perf_counter() - started
            _progress("decision: the engine alone")
            engine = run_worker(
                MODULE,
                [
                    "engine",
                    "--dir",
                    tmp,
                    "--rounds",
                    str(engine_rounds),
                    "--iterations",
                    str(engine_iterations),
                ],
                env,
            )
            state = CounterState(
                services.redis_url,
                services.owner,
                tuple(entries),
                seeded["version_key"],
                engine["version"],
            )
            state.restore()
            script = wrk_script(pages, directory / "decisions.lua")
            variants = [
                (
                    label,
                    wrk_script(
                        [p for p in pages if p.consent == consent],
                        directory / name,
                        new_readers=label != RETURNING,
                    ),
                )
                for label, consent, name in (
                    (WITHOUT_CONSENT, False, "without-consent.lua"),
                    (WITH_CONSENT, True, "with-consent.lua"),
                    (RETURNING, True, "returning-readers.lua"),
                )
            ]
            with serve(BENCH_SETTINGS, workers=WORKERS, env=env) as base_url:
                cold = time.perf_counter()
                checked = check_endpoint(base_url, pages)
                cold_ms = (time.perf_counter() - cold) / len(pages) * 1000
                state.restore()
                comparison = compare_http(
                    base_url + DECISIONS_PATH,
                    base_url + BASELINE_PATH,
                    rounds=wrk_rounds,
                    seconds=wrk_seconds,
                    subject_script=script,
                    warmup_seconds=warmup_seconds,
                    before_round=state.restore,
                    variants=[
                        (label, base_url + DECISIONS_PATH, variant) for label, variant in variants
                    ],
                    cpu=CpuMeter.create(base_url, services.redis_url),
                )
                open_baseline, open_subject = compare_open_loop(
                    base_url + DECISIONS_PATH,
                    # A reader of its own for every request of a round, as with wrk.
                    [
                        pages[n % len(pages)].request(reader_address(n))
                        for n in range(int(OPEN_LOOP_RATE * open_seconds))
                    ],
                    base_url + BASELINE_PATH,
                    rate=OPEN_LOOP_RATE,
                    rounds=open_rounds,
                    seconds=open_seconds,
                    before_round=state.restore,
                )
            state.restore()
            counting_env = {**env, "LITFASS_BENCH_COUNT_REDIS": "1"}
            with serve(BENCH_SETTINGS, workers=1, env=counting_env) as base_url:
                per_request = per_request_costs(base_url, pages, sample_requests)
        finally:
            release_redis(services)
            drop_database(services)
    load1, load5, _load15 = os.getloadavg()
    return report(
        Results(
            facts=facts,
            quick=quick,
            seeded=seeded,
            renditions=sum(m["renditions"] for m in made),
            setup_seconds=setup_seconds,
            engine=engine,
            comparison=comparison,
            open_baseline=open_baseline,
            open_subject=open_subject,
            open_rounds=open_rounds,
            open_seconds=open_seconds,
            warmup_seconds=warmup_seconds,
            checked=checked,
            cold_ms=cold_ms,
            load_after=(load1, load5),
            per_request=per_request,
        )
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds: a smoke run")
    # Internal: the fresh processes run() starts to seed, render and time the engine.
    parser.add_argument(
        "--worker", choices=("seed", "renditions", "engine"), help=argparse.SUPPRESS
    )
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--part", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--parts", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=7, help=argparse.SUPPRESS)
    parser.add_argument("--iterations", type=int, default=2000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _run_worker(args)
        return
    print(run(quick=args.quick))


if __name__ == "__main__":
    main()
