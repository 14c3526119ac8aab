"""The decision: which promotion fills each slot of one page view.

One call fills all slots of a page, so a page never shows a creative or an advertiser
twice, nor two campaigns of one competitive category. Priority tiers (sponsorship >
standard > house) decide first; within a tier a weighted lottery, the weight scaled by
even pacing; the slot's own fallback fills what is left.

The hot path reads an immutable in-process snapshot of the deliverable campaigns and
the live counters it needs in at most one round trip (an ``MGET`` of the snapshot
version and today's served counts, an ``HGETALL`` of the reader's frequency counts): no
SQL after warm-up. Today's served counts of all campaigns, read together less than
``LITFASS_LIVE_COUNTS_TTL`` seconds ago, are used again by every page, but that of a
campaign near its daily cap when a draw picks it; the reader's frequency counts are read
whenever they matter (the page is filled while they come, and again should they change
it). The snapshot is rebuilt when the version in the counter store changes; every
relevant save and the rotation task bump it. Clock and random generator are
parameters, so tests are deterministic.
"""

from __future__ import annotations

import bisect
import datetime as dt
import gc
import random
import threading
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, prefetch_related_objects
from django.utils.translation import gettext_lazy as _

from promotions.models import Promotion, Rendition, Slot

from . import counters as keys
from .counters import Counters, get_counters
from .models import Campaign, CampaignPromotion

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
# Goal totals and click rates may be this old (seconds).
SLOW_TTL = 5.0
# Today's served counts (caps, pacing) and the snapshot version may be this old
# (``LITFASS_LIVE_COUNTS_TTL`` seconds), except for a campaign near its daily cap: its
# count is read on every decision whose draw picks it (``_Near``). Near is what the
# site may serve of it before the next read, ``NEAR_CAP_MARGIN`` times over: its rate
# between this process's last two reads (no more than ``RATE_WINDOW`` seconds apart)
# times the TTL, and at least ``NEAR_CAP_MIN`` page views. Without such a rate (a
# process's first read, or one after a pause) near is a share of the cap, ``NEAR_CAP``.
# A cap can thus be overshot only when a campaign is suddenly served more than twice as
# often as a moment ago.
NEAR_CAP = 0.05
NEAR_CAP_MIN = 20
NEAR_CAP_MARGIN = 2.0
RATE_WINDOW = 60.0
TARGETING_MEMO = 4096
# Even pacing never silences a campaign completely nor lets one drown the others.
MIN_PACE, MAX_PACE = 0.05, 20.0


class Reason(StrEnum):
    CHOSEN = "chosen"
    LOST_LOTTERY = "lost_lottery"
    OUTRANKED = "outranked"
    NOT_STARTED = "not_started"
    ENDED = "ended"
    TAG_NOT_TARGETED = "tag_not_targeted"
    TAG_EXCLUDED = "tag_excluded"
    SECTION_NOT_TARGETED = "section_not_targeted"
    SECTION_EXCLUDED = "section_excluded"
    LANGUAGE = "language"
    DEVICE = "device"
    WEEKDAY = "weekday"
    HOUR = "hour"
    DAILY_CAP = "daily_cap"
    GOAL_REACHED = "goal_reached"
    PACED = "paced"
    FREQUENCY_CAP = "frequency_cap"
    ONCE_PER_PAGE = "once_per_page"
    ADVERTISER_ON_PAGE = "advertiser_on_page"
    CATEGORY_ON_PAGE = "category_on_page"
    NO_PROMOTION = "no_promotion"
    NOT_DELIVERABLE = "not_deliverable"
    NOT_IN_SLOT = "not_in_slot"


REASON_LABELS = {
    Reason.CHOSEN: _("Ausgewählt"),
    Reason.LOST_LOTTERY: _("In der Verlosung der Stufe nicht gezogen"),
    Reason.OUTRANKED: _("Eine höhere Stufe hat den Slot gefüllt"),
    Reason.NOT_STARTED: _("Hat noch nicht begonnen"),
    Reason.ENDED: _("Ist schon zu Ende"),
    Reason.TAG_NOT_TARGETED: _("Keiner der gebuchten Hashtags auf der Seite"),
    Reason.TAG_EXCLUDED: _("Ein ausgeschlossener Hashtag steht auf der Seite"),
    Reason.SECTION_NOT_TARGETED: _("Rubrik nicht gebucht"),
    Reason.SECTION_EXCLUDED: _("Rubrik ausgeschlossen"),
    Reason.LANGUAGE: _("Sprache nicht gebucht"),
    Reason.DEVICE: _("Gerät nicht gebucht"),
    Reason.WEEKDAY: _("Wochentag nicht gebucht"),
    Reason.HOUR: _("Uhrzeit nicht gebucht"),
    Reason.DAILY_CAP: _("Tageslimit erreicht"),
    Reason.GOAL_REACHED: _("Ziel erreicht"),
    Reason.PACED: _("Tagesziel der gleichmäßigen Auslieferung erreicht"),
    Reason.FREQUENCY_CAP: _("Kontaktlimit für diesen Leser erreicht"),
    Reason.ONCE_PER_PAGE: _("Ohne Einwilligung höchstens einmal pro Seite"),
    Reason.ADVERTISER_ON_PAGE: _("Werbekunde schon auf der Seite"),
    Reason.CATEGORY_ON_PAGE: _("Wettbewerber derselben Kategorie schon auf der Seite"),
    Reason.NO_PROMOTION: _("Keine freigegebene Promotion frei"),
    Reason.NOT_DELIVERABLE: _("Status: wird nicht ausgeliefert"),
    Reason.NOT_IN_SLOT: _("Für diesen Slot nicht gebucht"),
}


class UnknownSlots(LookupError):
    """The page asked for slots that do not exist."""

    def __init__(self, keys: Sequence[str]) -> None:
        super().__init__(", ".join(keys))
        self.keys = tuple(keys)


@dataclass(frozen=True, slots=True)
class PageContext:
    """What the decision knows about one page view."""

    slot_keys: tuple[str, ...]
    article_id: int | None = None
    tags: frozenset[str] = frozenset()
    section: str = ""
    language: str = "de"
    device: str = "desktop"
    consent: bool = False
    visitor_key: str | None = None
    preview: bool = False


@dataclass(frozen=True, slots=True)
class Creative:
    promotion: Promotion
    weight: int
    # Its counters for Thompson sampling (only read for optimised rotation).
    served_key: str = ""
    clicks_key: str = ""
    # ``promotion.pk``, without the model's property on every page view.
    promotion_id: int = 0


@dataclass(frozen=True, slots=True)
class CampaignEntry:
    """A deliverable campaign as the engine sees it; built once per snapshot."""

    id: int
    name: str
    advertiser_id: int
    is_house: bool
    tier: int
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    goal_impressions: int | None
    goal_clicks: int | None
    daily_cap: int | None
    daily_target: int | None
    frequency_cap: int | None
    include_tags: frozenset[str]
    exclude_tags: frozenset[str]
    include_sections: frozenset[str]
    exclude_sections: frozenset[str]
    languages: frozenset[str]
    devices: frozenset[str]
    weekdays: frozenset[int]
    hours: frozenset[int]
    category: str
    weight: int
    rotation: str
    creatives: tuple[Creative, ...]
    # Totals for goals and click rates for Thompson sampling: they move slowly, so the
    # engine may use them up to ``SLOW_TTL`` old.
    slow_keys: tuple[str, ...] = ()
    served_total_key: str = ""
    clicks_total_key: str = ""
    # Whether caps or pacing need today's served count.
    reads_today: bool = False

    @classmethod
    def from_campaign(cls, campaign: Campaign) -> CampaignEntry:
        creatives = tuple(
            Creative(
                link.promotion,
                link.weight,
                served_key=keys.promotion_served(link.promotion.pk),
                clicks_key=keys.promotion_clicks(link.promotion.pk),
                promotion_id=link.promotion.pk,
            )
            for link in campaign.campaign_promotions.all()
            if link.promotion.is_approved
        )
        slow = []
        if campaign.goal_impressions:
            slow.append(keys.served_total(campaign.pk))
        if campaign.goal_clicks:
            slow.append(keys.clicks_total(campaign.pk))
        if campaign.rotation == Campaign.Rotation.OPTIMISED:
            for creative in creatives:
                slow += [creative.served_key, creative.clicks_key]
        return cls(
            id=campaign.pk,
            name=campaign.name,
            advertiser_id=campaign.advertiser_id,
            is_house=campaign.kind == Campaign.Kind.HOUSE,
            tier=campaign.tier,
            starts_at=campaign.starts_at,
            ends_at=campaign.ends_at,
            goal_impressions=campaign.goal_impressions,
            goal_clicks=campaign.goal_clicks,
            daily_cap=campaign.daily_cap,
            daily_target=(
                campaign.pacing_daily_target if campaign.pacing == Campaign.Pacing.EVEN else None
            ),
            frequency_cap=campaign.frequency_cap,
            include_tags=frozenset(campaign.include_tags),
            exclude_tags=frozenset(campaign.exclude_tags),
            include_sections=frozenset(campaign.include_sections),
            exclude_sections=frozenset(campaign.exclude_sections),
            languages=frozenset(campaign.languages),
            devices=frozenset(campaign.devices),
            weekdays=frozenset(campaign.weekdays),
            hours=frozenset(campaign.hours),
            category=campaign.competitive_category,
            weight=campaign.weight,
            rotation=campaign.rotation,
            creatives=creatives,
            slow_keys=tuple(slow),
            served_total_key=keys.served_total(campaign.pk),
            clicks_total_key=keys.clicks_total(campaign.pk),
            reads_today=campaign.daily_cap is not None
            or (
                campaign.pacing == Campaign.Pacing.EVEN and campaign.pacing_daily_target is not None
            ),
        )

    def time_reason(self, now: dt.datetime) -> Reason | None:
        if now < self.starts_at:
            return Reason.NOT_STARTED
        if self.ends_at is not None and now >= self.ends_at:
            return Reason.ENDED
        return None

    def targeting_reason(self, page: PageContext, weekday: int, hour: int) -> Reason | None:
        """What the page, the device and the hour say; the same for every reader of it."""
        if self.include_tags and self.include_tags.isdisjoint(page.tags):
            return Reason.TAG_NOT_TARGETED
        if not self.exclude_tags.isdisjoint(page.tags):
            return Reason.TAG_EXCLUDED
        if self.include_sections and page.section not in self.include_sections:
            return Reason.SECTION_NOT_TARGETED
        if page.section in self.exclude_sections:
            return Reason.SECTION_EXCLUDED
        if self.languages and page.language not in self.languages:
            return Reason.LANGUAGE
        if self.devices and page.device not in self.devices:
            return Reason.DEVICE
        if self.weekdays and weekday not in self.weekdays:
            return Reason.WEEKDAY
        if self.hours and hour not in self.hours:
            return Reason.HOUR
        if not self.creatives:
            return Reason.NO_PROMOTION
        return None


@dataclass(frozen=True)
class Snapshot:
    """Everything the engine reads on the hot path; never changed once built."""

    version: int
    slots: dict[str, Slot]
    by_slot: dict[str, tuple[CampaignEntry, ...]]
    built_at: dt.datetime
    # ``by_slot`` grouped by tier, highest first: the order in which a slot is filled.
    tiers: dict[str, tuple[tuple[CampaignEntry, ...], ...]] = field(default_factory=dict)
    # Rendered slots (HTML, structured fields) filled lazily by ``ads.slots`` and
    # discarded with the snapshot, so a changed promotion never shows stale HTML.
    rendered: dict[tuple[object, ...], Any] = field(default_factory=dict)
    # Targeting verdicts per page signature (slots, tags, section, language, device,
    # weekday, hour): most page views repeat a few hundred signatures.
    targeting: dict[tuple[object, ...], Targeted] = field(default_factory=dict)
    # Every campaign whose caps or pacing need today's served count, once.
    reading_today: tuple[CampaignEntry, ...] = ()

    def targeted(
        self, page: PageContext, weekday: int, hour: int, day: dt.date, *, now: dt.datetime
    ) -> Targeted:
        """Every campaign booked for the page's slots, once, with its targeting verdict,
        and the counter keys the eligible ones read today."""
        signature = (
            page.slot_keys,
            page.tags,
            page.section,
            page.language,
            page.device,
            weekday,
            hour,
            day,
        )
        found = self.targeting.get(signature)
        if found is None:
            found = Targeted.build(self, page, now=now, day=day, weekday=weekday, hour=hour)
            if len(self.targeting) >= TARGETING_MEMO:
                self.targeting.clear()
            self.targeting[signature] = found
        return found


# Every moment with the same Berlin day and hour lies within this of any other (an
# hour, two where the clocks go back): the span a ``Targeted`` is used for.
_HOUR_SPAN = dt.timedelta(hours=3)


@dataclass(frozen=True, slots=True, eq=False)
class Targeted:
    """What targeting alone says for one page signature (which includes day and hour)."""

    verdicts: dict[int, Reason | None]
    # Per slot the eligible campaigns by tier, highest first: what a decision walks.
    tiers: dict[str, tuple[tuple[CampaignEntry, ...], ...]]
    # Eligible campaigns that start or end near this hour: checked on every decision.
    timed: tuple[CampaignEntry, ...]
    # Today's served counts to read (keys), and the fields of the reader's frequency hash.
    today: tuple[int, ...]
    today_capped: tuple[CampaignEntry, ...]
    today_keys: tuple[str, ...]
    frequency_capped: tuple[int, ...]
    frequency_fields: tuple[str, ...]
    slow_keys: tuple[str, ...]

    @classmethod
    def build(
        cls,
        snap: Snapshot,
        page: PageContext,
        *,
        now: dt.datetime,
        day: dt.date,
        weekday: int,
        hour: int,
    ) -> Targeted:
        verdicts: dict[int, Reason | None] = {}
        eligible = []
        for key in page.slot_keys:
            for entry in snap.by_slot[key]:
                if entry.id not in verdicts:
                    reason = entry.targeting_reason(page, weekday, hour)
                    verdicts[entry.id] = reason
                    if reason is None:
                        eligible.append(entry)
        today = [e for e in eligible if e.reads_today]
        capped = [e for e in eligible if e.frequency_cap]
        tiers = {}
        for key in page.slot_keys:
            groups = (
                tuple(e for e in group if verdicts[e.id] is None) for group in snap.tiers[key]
            )
            tiers[key] = tuple(group for group in groups if group)
        return cls(
            verdicts=verdicts,
            tiers=tiers,
            timed=tuple(
                e
                for e in eligible
                if e.starts_at > now - _HOUR_SPAN
                or (e.ends_at is not None and e.ends_at <= now + _HOUR_SPAN)
            ),
            today=tuple(e.id for e in today),
            today_capped=tuple(e for e in today if e.daily_cap is not None),
            today_keys=tuple(keys.served_today(day, e.id) for e in today),
            frequency_capped=tuple(e.id for e in capped),
            frequency_fields=tuple(str(e.id) for e in capped),
            slow_keys=tuple(k for e in eligible for k in e.slow_keys),
        )


@dataclass(frozen=True, slots=True)
class _Live:
    """Today's (``day``) served counts of every campaign that caps or paces, read at
    ``read_at`` for snapshot ``version``; ``near_cap``: those close to their daily cap,
    whose counts a decision reads anew when its draw picks one (``_Near``)."""

    read_at: float
    version: int
    day: dt.date
    served: dict[int, int]
    near_cap: frozenset[int]
    # What caps, goals and pacing say of each campaign on these counts (``_dynamic``),
    # filled by the decisions that reuse them: the same for every reader.
    dynamics: dict[int, tuple[Reason | None, float]] = field(default_factory=dict)
    # Per page signature and slot, what one draw picks from (``_Pool``), or ``None``.
    pools: dict[tuple[Targeted, str], _Pool | None] = field(default_factory=dict)
    # Per page signature, its campaigns among ``near_cap`` and their served-today keys.
    near: dict[Targeted, tuple[tuple[int, ...], tuple[str, ...]]] = field(default_factory=dict)
    # Those of ``near_cap`` a decision has since found at their cap by their count then:
    # a day's counts only grow, so no other decision on these counts reads them again.
    capped: set[int] = field(default_factory=set)

    def near_of(self, targeted: Targeted) -> tuple[tuple[int, ...], tuple[str, ...]]:
        found = self.near.get(targeted)
        if found is None:
            ids = tuple(e.id for e in targeted.today_capped if e.id in self.near_cap)
            found = (ids, tuple(keys.served_today(self.day, cid) for cid in ids))
            # (Another thread may have put it there meanwhile: the same.)
            found = self.near.setdefault(targeted, found)
        return found


@dataclass(frozen=True, slots=True)
class _Pool:
    """The campaigns of a slot's highest tier that targeting, caps, goals and pacing let
    through, with the running totals of their lottery weights.

    A slot is filled by one draw from it when the campaign drawn fits the page and the
    reader, has not reached its daily cap by its count now if it was near it
    (``_capped_now``), and has a creative left; else as before, from the campaigns that
    fit. That picks each fitting campaign with the same chance: a draw that does not fit
    is followed by a draw among those that do."""

    entries: tuple[CampaignEntry, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def build(
        cls,
        tiers: tuple[tuple[CampaignEntry, ...], ...],
        counts: Counts,
        dynamics: dict[int, tuple[Reason | None, float]],
        day_elapsed: float,
    ) -> _Pool | None:
        for group in tiers:
            entries, cumulative, total = [], [], 0.0
            for entry in group:
                reason, weight = _dynamic_of(entry, counts, dynamics, day_elapsed)
                if reason is None:
                    if weight <= 0:
                        return None  # (the lottery draws evenly then: not by weight)
                    total += weight
                    entries.append(entry)
                    cumulative.append(total)
            if entries:
                return cls(tuple(entries), tuple(cumulative))
        return None

    def draw(self, rng: random.Random) -> CampaignEntry:
        # As ``_lottery`` draws: one number, scaled by the total weight.
        point = rng.random() * self.cumulative[-1]
        return self.entries[bisect.bisect_right(self.cumulative, point)]


@dataclass(frozen=True, slots=True)
class _Read:
    """Today's (``day``) served counts as a process last read them all, at ``read_at``:
    what the next read measures each campaign's rate against."""

    read_at: float
    day: dt.date
    served: dict[int, int]


def _near_cap(
    entries: Sequence[CampaignEntry],
    served: dict[int, int],
    *,
    ttl: float,
    before: _Read | None,
    read_at: float,
) -> frozenset[int]:
    """The campaigns that may reach their daily cap before the counts, read at
    ``read_at``, are read again in ``ttl`` seconds (see ``NEAR_CAP``); ``before``: the
    read before, for each campaign's rate. One that has reached its cap is not near: a
    day's counts only grow, so it stays capped."""
    span = read_at - before.read_at if before is not None else 0.0
    earlier = before.served if before is not None and ttl <= span <= RATE_WINDOW else None
    near = []
    for entry in entries:
        cap = entry.daily_cap
        if cap is None:
            continue
        count = served.get(entry.id, 0)
        if count >= cap:
            continue
        previous = earlier.get(entry.id) if earlier is not None else None
        # (A count lower than before, counters put back by hand: no rate seen.)
        if previous is not None and previous <= count:
            rate = (count - previous) / span
            margin = max(NEAR_CAP_MIN, rate * ttl * NEAR_CAP_MARGIN)
        else:
            margin = max(NEAR_CAP_MIN, cap * NEAR_CAP)
        if count >= cap - margin:
            near.append(entry.id)
    return frozenset(near)


class _Near:
    """A page's campaigns near their daily cap (``_Live.near_of``): their served counts
    in ``Counts.served`` are a moment old, so a draw that picks one checks its count
    now, and one that reached its cap is refused like a campaign that does not fit: the
    draw is made again among the others, which gives each of them the chance it has
    without it (``_fill``). A page on which no draw picked one reads nothing for them.

    The counts now: ``fresh`` once known; read by ``read`` (one round trip, all of the
    page's at once) when first needed; or, while they are on their way with the
    reader's frequency counts (``_fill_asking``), assumed below the cap and noted in
    ``assumed`` (campaign: cap) for the answer to confirm. One found at its cap goes
    into ``capped`` (``_Live.capped``), shared by the decisions on the same counts."""

    __slots__ = ("assumed", "capped", "fresh", "ids", "read")

    def __init__(
        self,
        ids: Sequence[int],
        capped: set[int],
        *,
        read: Callable[[], dict[int, int]] | None = None,
        fresh: dict[int, int] | None = None,
        assumed: dict[int, int] | None = None,
    ) -> None:
        self.ids = ids
        self.capped = capped
        self.read = read
        self.fresh = fresh
        self.assumed = assumed

    def reached(self, campaign: int, cap: int) -> bool:
        if campaign in self.capped:
            return True
        fresh = self.fresh
        if fresh is None:
            if self.assumed is not None:
                self.assumed[campaign] = cap
                return False
            assert self.read is not None  # noqa: S101  (one of the three is given)
            fresh = self.fresh = self.read()
        if fresh.get(campaign, 0) < cap:
            return False
        self.capped.add(campaign)  # (a set's add is atomic: threads may share it)
        return True

    def confirmed_by(self, fresh: dict[int, int]) -> bool:
        """Whether the counts now, read, let every campaign assumed below its cap be;
        those that reached it go into ``capped``."""
        reached = [cid for cid, cap in (self.assumed or {}).items() if fresh.get(cid, 0) >= cap]
        self.capped.update(reached)
        return not reached


@dataclass(frozen=True, slots=True)
class Counts:
    """The live counters one decision reads."""

    served: dict[int, int]  # today, by campaign
    frequency: dict[int, int]  # today, for this reader, by campaign
    totals: dict[str, int]  # goal totals and click rates, by counter key
    # Set while the reader's frequency counts are on their way (``Engine.decide``): they
    # count as none, and each check that lets a campaign through notes here the count
    # the reader must stay below for the decision to stand (``confirmed_by``).
    assumed: dict[int, int] | None = None
    # Campaigns whose ``served`` count may be behind: checked when drawn (``_Near``).
    near: _Near | None = None

    def frequency_reached(self, campaign: int, cap: int, shown: int) -> bool:
        """Whether the reader has seen the campaign as often as its frequency ``cap``
        allows today, counting the ``shown`` times on this page."""
        allowed = cap - shown
        if self.assumed is None:
            return self.frequency.get(campaign, 0) >= allowed
        if allowed <= 0:
            return True
        if allowed < self.assumed.get(campaign, allowed + 1):
            self.assumed[campaign] = allowed
        return False

    def confirmed_by(self, frequency: dict[int, int]) -> bool:
        """Whether the reader's counts, now read, let every check made on assumed ones
        come out the same: then so does the whole decision."""
        return all(frequency.get(cid, 0) < allowed for cid, allowed in (self.assumed or {}).items())


def build_snapshot(version: int, *, now: dt.datetime) -> Snapshot:
    """Read the deliverable campaigns, their approved promotions and all slots."""
    with_renditions = Prefetch("image__renditions", queryset=Rendition.objects.all())
    campaigns = (
        Campaign.objects.deliverable()
        .prefetch_related(
            "slots",
            Prefetch(
                "campaign_promotions",
                queryset=CampaignPromotion.objects.select_related("promotion__image")
                .filter(promotion__review_status=Promotion.ReviewStatus.APPROVED)
                .order_by("promotion_id"),
            ),
        )
        .order_by("pk")
    )
    promotions = [
        link.promotion for campaign in campaigns for link in campaign.campaign_promotions.all()
    ]
    slots = {
        slot.key: slot
        for slot in Slot.objects.select_related("house_promotion__image").prefetch_related(
            Prefetch("house_promotion__image__renditions")
        )
    }
    prefetch_related_objects(promotions, with_renditions)
    by_slot: dict[str, list[CampaignEntry]] = {key: [] for key in slots}
    for campaign in campaigns:
        entry = CampaignEntry.from_campaign(campaign)
        for slot in campaign.slots.all():
            by_slot[slot.key].append(entry)
    ordered = {
        key: tuple(sorted(entries, key=lambda e: (-e.tier, e.id)))
        for key, entries in by_slot.items()
    }
    reading = {e.id: e for entries in ordered.values() for e in entries if e.reads_today}
    return Snapshot(
        version=version,
        slots=slots,
        by_slot=ordered,
        built_at=now,
        reading_today=tuple(reading[cid] for cid in sorted(reading)),
        tiers={
            key: tuple(
                tuple(e for e in entries if e.tier == tier)
                for tier in sorted({e.tier for e in entries}, reverse=True)
            )
            for key, entries in ordered.items()
        },
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    campaign: CampaignEntry
    reason: Reason

    @property
    def label(self) -> str:
        return str(REASON_LABELS[self.reason])


@dataclass(frozen=True, slots=True)
class SlotDecision:
    """One slot's outcome: a promotion, or the slot's fallback (house, inquiry, empty)."""

    slot: Slot
    promotion: Promotion | None
    campaign: CampaignEntry | None
    verdicts: tuple[Verdict, ...] = ()

    @property
    def fallback(self) -> str:
        """The fallback shown, or ``""`` when a campaign filled the slot."""
        if self.campaign is not None:
            return ""
        if self.slot.fallback == Slot.Fallback.HOUSE and self.promotion is None:
            return Slot.Fallback.EMPTY
        return str(self.slot.fallback)


@dataclass(frozen=True, slots=True)
class Decision:
    slots: dict[str, SlotDecision]
    page: PageContext
    snapshot: Snapshot

    def filled(self) -> list[SlotDecision]:
        return [d for d in self.slots.values() if d.campaign is not None]


@dataclass(slots=True)
class _Page:
    """What is already on the page while its slots are filled one by one."""

    promotions: set[int] = field(default_factory=set)
    advertisers: set[int] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)
    campaigns: dict[int, int] = field(default_factory=dict)


def pace_factor(daily_target: int, served_today: int, *, day_elapsed: float) -> float:
    """How far behind (> 1) or ahead (< 1) of today's even schedule a campaign is."""
    expected = daily_target * day_elapsed
    return min(MAX_PACE, max(MIN_PACE, (expected + 1.0) / (served_today + 1.0)))


@dataclass(frozen=True, slots=True)
class _Slow:
    """Goal totals and click rates as read at ``read_at``, and the page signatures whose
    slow counters are all among them."""

    read_at: float = float("-inf")
    values: dict[str, int] = field(default_factory=dict)
    covered: set[Targeted] = field(default_factory=set)


def _freeze_out_of_collection() -> None:
    """Keep the cyclic garbage collector away from a new snapshot.

    A snapshot holds most of a process's objects (a few hundred thousand with 1,000
    campaigns) and lives until the next version. Each full collection walked them all
    to find nothing, and the per-second counts (``_Live``) that outlive the young
    generations bring one every few seconds: about 18 µs per decision request on the
    bench's site, in-process. So everything alive now is frozen (``gc.freeze``), and
    unfrozen and collected when the next snapshot comes: the previous one's cycles are
    freed then, not kept for good. The collection costs about 0.1 s on that site, once
    per version, beside the build's 0.3 s."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class Engine:
    """Holds the current snapshot for this process; ``decide`` is safe across threads."""

    def __init__(
        self,
        counters: Callable[[], Counters] = get_counters,
        build: Callable[..., Snapshot] = build_snapshot,
        live_ttl: float | None = None,
        freeze: bool | None = None,
    ) -> None:
        self._counters = counters
        self._freeze = freeze  # (``None``: the setting)
        self._build = build
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._slow = _Slow()
        self._live_ttl = live_ttl  # (``None``: the setting)
        self._live: _Live | None = None
        # The last read of every campaign's served counts, kept across snapshots.
        self._read: _Read | None = None
        # The counter keys of ``Snapshot.reading_today``, for one snapshot and day.
        self._today_keys: tuple[Snapshot, dt.date, tuple[int, ...], tuple[str, ...]] | None = None

    @property
    def live_ttl(self) -> float:
        if self._live_ttl is not None:
            return self._live_ttl
        return float(settings.LITFASS_LIVE_COUNTS_TTL)

    def snapshot(self, *, now: dt.datetime, version: int | None = None) -> Snapshot:
        current = self._snapshot
        if current is not None and (version is None or current.version == version):
            return current
        with self._lock:
            current = self._snapshot
            if current is None or (version is not None and current.version != version):
                if version is None:
                    version = self._counters().read([keys.VERSION_KEY])[0]
                current = self._build(version, now=now)
                self._snapshot = current
                self._live = None
                if self.freeze:
                    _freeze_out_of_collection()
        return current

    @property
    def freeze(self) -> bool:
        if self._freeze is not None:
            return self._freeze
        return bool(settings.LITFASS_SNAPSHOT_FREEZE)

    def forget(self) -> None:
        self._snapshot = None
        self._slow = _Slow()
        self._live = None
        self._read = None

    def decide(
        self,
        page: PageContext,
        *,
        now: dt.datetime,
        rng: random.Random,
        explain: bool = False,
        skip_unknown: bool = False,
    ) -> Decision:
        """Fill every slot of ``page``; raises ``UnknownSlots`` for slots nobody set up,
        or leaves them out with ``skip_unknown``.

        Reads the live counters in one round trip, or none. Today's served counts of
        every campaign that caps or paces are read together, at most every ``live_ttl``
        seconds in this process, and shared by all pages; those of a campaign close to
        its daily cap are read anew when a draw picks it (``_Near``), with the reader's
        frequency counts when those are read anyway. The reader's frequency
        counts are read whenever they matter: the page is filled while they are on
        their way, and once more should they change the outcome (``_fill_asking``). An
        explanation reads everything it shows and keeps nothing for later decisions."""
        counters = self._counters()
        snap = self.snapshot(now=now)
        local = now.astimezone(BERLIN)
        day, weekday, hour = local.date(), local.weekday(), local.hour
        elapsed = _wall_fraction(local)
        stamp = now.timestamp()
        ttl = self.live_ttl
        # Replaced, never changed in place but for ``covered``: threads may share it.
        state = self._slow
        fresh = 0 <= stamp - state.read_at < SLOW_TTL
        slow = state.values if fresh else {}

        def fill(
            counts: Counts,
            dynamics: dict[int, tuple[Reason | None, float]] | None,
            pools: dict[tuple[Targeted, str], _Pool | None] | None,
            draws: random.Random = rng,
        ) -> Decision:
            return _fill(
                snap,
                page,
                targeted=targeted,
                timed=timed,
                counts=counts,
                day_elapsed=elapsed,
                rng=draws,
                explain=explain,
                dynamics=dynamics,
                pools=pools,
            )

        for _attempt in range(2):
            unknown = [key for key in page.slot_keys if key not in snap.slots]
            if unknown and skip_unknown:
                page = replace(page, slot_keys=tuple(k for k in page.slot_keys if k in snap.slots))
            elif unknown:
                raise UnknownSlots(unknown)
            targeted = snap.targeted(page, weekday, hour, day, now=now)
            # Start and end are checked on every decision: the snapshot may be a minute
            # behind the rotation, a campaign never is.
            timed: dict[int, Reason] = {}
            for entry in targeted.timed:
                reason = entry.time_reason(now)
                if reason is not None:
                    timed[entry.id] = reason
            # Counters of campaigns that turn out not to have started are read in vain;
            # that costs less than building the lists anew for every page view.
            covered = fresh and targeted in state.covered
            missing = [] if covered else [k for k in targeted.slow_keys if k not in slow]
            live = self._live
            usable = (
                live is not None
                and not explain
                and live.version == snap.version
                and live.day == day
                # (Never on counts "read" later than now: a clock set back.)
                and 0 <= stamp - live.read_at < ttl
            )
            if usable:
                assert live is not None  # noqa: S101  (``usable`` says so)
                near, near_keys = live.near_of(targeted)
                if not missing:
                    if page.visitor_key and targeted.frequency_fields:
                        # The near campaigns' counts come with the reader's.
                        frequency_hash = keys.frequency_hash(day, page.visitor_key)
                        return _fill_asking(
                            counters.ask_groups(
                                near_keys, [(frequency_hash, targeted.frequency_fields)]
                            ),
                            fill,
                            live,
                            Counts(
                                served=live.served,
                                frequency={},
                                totals=slow,
                                assumed={},
                                near=_Near(near, live.capped, assumed={}) if near else None,
                            ),
                            targeted.frequency_capped,
                            near,
                            rng,
                        )
                    # Fresh enough: no round trip at all, unless a draw picks a campaign
                    # near its cap.
                    checked = None
                    if near:
                        reader = _reader(counters, near, near_keys)
                        checked = _Near(near, live.capped, read=reader)
                    counts = Counts(served=live.served, frequency={}, totals=slow, near=checked)
                    return fill(counts, live.dynamics, live.pools)
                today_ids: Sequence[int] = near
                today_keys: Sequence[str] = near_keys
            elif explain or ttl <= 0:  # this page's, for this decision only
                today_ids, today_keys = targeted.today, targeted.today_keys
            else:  # every campaign's, for the next ``ttl`` seconds
                today_ids, today_keys = self._reading_today(snap, day)
            plain, (frequencies,) = counters.read_groups(
                [keys.VERSION_KEY, *today_keys, *missing],
                [(keys.frequency_hash(day, page.visitor_key), targeted.frequency_fields)]
                if page.visitor_key
                else [("", ())],
            )
            if plain[0] == snap.version:
                break
            snap = self.snapshot(now=now, version=plain[0])
        # (Twice a new version: the counts read are of the one before the last, and
        # this decision makes do with them; later ones read again.)
        current = plain[0] == snap.version
        served = len(today_keys) + 1
        today = dict(zip(today_ids, plain[1:served], strict=True))
        dynamics, pools = None, None
        if usable:
            assert live is not None  # noqa: S101
            today = {**live.served, **today}  # those near their cap, just read
        elif current and not (explain or ttl <= 0):
            before = self._read
            if before is not None and before.day != day:
                before = None
            # A rate is measured over at least a TTL: reads that threads made at once
            # (a moment apart) keep the earlier one as what the next is measured against.
            if before is None or stamp - before.read_at >= ttl:
                self._read = _Read(stamp, day, today)
            near_cap = _near_cap(snap.reading_today, today, ttl=ttl, before=before, read_at=stamp)
            live = self._live = _Live(stamp, snap.version, day, today, near_cap)
            dynamics, pools = live.dynamics, live.pools
        read = dict(zip(missing, plain[served:], strict=True))
        if not fresh:
            # One read of the slow counters serves the next SLOW_TTL seconds.
            self._slow = _Slow(read_at=stamp, values=read, covered={targeted})
            totals = read
        elif read:
            totals = {**slow, **read}
            self._slow = _Slow(state.read_at, totals, {*state.covered, targeted})
        else:
            totals = slow
            state.covered.add(targeted)
        counts = Counts(
            served=today,
            frequency=dict(zip(targeted.frequency_capped, frequencies, strict=True))
            if page.visitor_key
            else {},
            totals=totals,
        )
        return fill(counts, dynamics, pools)

    def _reading_today(
        self, snap: Snapshot, day: dt.date
    ) -> tuple[tuple[int, ...], tuple[str, ...]]:
        """The ids and today's served-count keys of every campaign that caps or paces."""
        found = self._today_keys
        if found is None or found[0] is not snap or found[1] != day:
            ids = tuple(e.id for e in snap.reading_today)
            found = self._today_keys = (
                snap,
                day,
                ids,
                tuple(keys.served_today(day, cid) for cid in ids),
            )
        return found[2], found[3]


# A fill of the page: counts, the shared verdicts and pools, the draws.
_Fill = Callable[
    [
        Counts,
        dict[int, tuple[Reason | None, float]] | None,
        dict[tuple[Targeted, str], _Pool | None] | None,
        random.Random,
    ],
    Decision,
]


def _reader(
    counters: Counters, near: Sequence[int], near_keys: Sequence[str]
) -> Callable[[], dict[int, int]]:
    return lambda: dict(zip(near, counters.read(near_keys), strict=True))


def _fill_asking(
    answer: Callable[[], tuple[list[int], list[list[int]]]],
    fill: _Fill,
    live: _Live,
    counts: Counts,
    frequency_capped: tuple[int, ...],
    near: Sequence[int],
    rng: random.Random,
) -> Decision:
    """Fill the page (``fill``, sharing ``live``'s verdicts and pools) while the reader's
    frequency counts (of ``frequency_capped``) and the served counts of the campaigns
    ``near`` their cap are on their way (``answer``), assuming none and below the cap,
    then check that the counts read let the decision stand.

    Both fills draw from one generator seeded alike, so with the same verdicts they
    make the same draws: a decision that stands is the one the counts would have made,
    and one that does not is made again on them, as if they had been read first. Most
    readers are far from a frequency cap, and a page filled meanwhile saves waiting for
    Redis: on a busy machine a wait costs more than the fill."""
    seed = rng.getrandbits(64)
    draws = random.Random(seed)  # noqa: S311  (a lottery, not a secret)
    decision = fill(counts, live.dynamics, live.pools, draws)
    plain, (found,) = answer()
    frequency = dict(zip(frequency_capped, found, strict=True))
    fresh = dict(zip(near, plain, strict=True))
    checked = counts.near
    if counts.confirmed_by(frequency) and (checked is None or checked.confirmed_by(fresh)):
        return decision
    draws = random.Random(seed)  # noqa: S311
    now = _Near(near, live.capped, fresh=fresh) if near else None
    counted = replace(counts, frequency=frequency, assumed=None, near=now)
    return fill(counted, live.dynamics, live.pools, draws)


def _dynamic(
    entry: CampaignEntry, counts: Counts, *, day_elapsed: float
) -> tuple[Reason | None, float]:
    """Why caps, goals or pacing hold the campaign back now; else its lottery weight.
    The same for every reader: the reader's frequency counts are checked after."""
    served = counts.served.get(entry.id, 0)
    if entry.daily_cap is not None and served >= entry.daily_cap:
        return Reason.DAILY_CAP, 0.0
    if entry.goal_impressions and counts.totals[entry.served_total_key] >= entry.goal_impressions:
        return Reason.GOAL_REACHED, 0.0
    if entry.goal_clicks and counts.totals[entry.clicks_total_key] >= entry.goal_clicks:
        return Reason.GOAL_REACHED, 0.0
    weight = float(entry.weight)
    if entry.daily_target is not None:
        if served >= entry.daily_target:
            return Reason.PACED, 0.0
        weight *= pace_factor(entry.daily_target, served, day_elapsed=day_elapsed)
    return None, weight


def _dynamic_of(
    entry: CampaignEntry,
    counts: Counts,
    dynamics: dict[int, tuple[Reason | None, float]],
    day_elapsed: float,
) -> tuple[Reason | None, float]:
    """``_dynamic``, kept in ``dynamics`` for the decisions on the same counts."""
    dynamic = dynamics.get(entry.id)
    if dynamic is None:
        # (Another thread may have put it there meanwhile: theirs stays.)
        dynamic = dynamics.setdefault(entry.id, _dynamic(entry, counts, day_elapsed=day_elapsed))
    return dynamic


def _misfit(
    entry: CampaignEntry, on_page: _Page, slot: Slot, page: PageContext, counts: Counts
) -> Reason | None:
    """Why a campaign that caps, goals and pacing let through cannot fill this slot of
    the page: the reader has seen it often enough, or it clashes with what is there."""
    reason = None
    if entry.frequency_cap:
        reason = _frequency_reason(entry, page, counts, on_page.campaigns.get(entry.id, 0))
    # Nothing on the page yet: nothing for the campaign to clash with.
    if reason is None and on_page.campaigns:
        reason = _page_reason(entry, on_page, slot, page)
    return reason


def _capped_now(entry: CampaignEntry, counts: Counts) -> Reason | None:
    """Whether a campaign near its daily cap, drawn, has reached it by its count now."""
    near = counts.near
    cap = entry.daily_cap
    if (
        near is not None
        and cap is not None
        and entry.id in near.ids
        and near.reached(entry.id, cap)
    ):
        return Reason.DAILY_CAP
    return None


def _frequency_reason(
    entry: CampaignEntry, page: PageContext, counts: Counts, shown: int = 0
) -> Reason | None:
    """Whether the reader has seen the campaign often enough today (with consent)."""
    cap = entry.frequency_cap
    if cap and page.visitor_key is not None and counts.frequency_reached(entry.id, cap, shown):
        return Reason.FREQUENCY_CAP
    return None


def _page_reason(
    entry: CampaignEntry, on_page: _Page, slot: Slot, page: PageContext
) -> Reason | None:
    """Why the campaign cannot join what is already on this page (and this reader)."""
    if entry.category and entry.category in on_page.categories:
        return Reason.CATEGORY_ON_PAGE
    if entry.frequency_cap and page.visitor_key is None and on_page.campaigns.get(entry.id):
        return Reason.ONCE_PER_PAGE
    repeated = not entry.is_house and entry.advertiser_id in on_page.advertisers
    if repeated and not slot.allows_repeats:
        return Reason.ADVERTISER_ON_PAGE
    return None


def _fill(
    snap: Snapshot,
    page: PageContext,
    *,
    targeted: Targeted,
    timed: dict[int, Reason],
    counts: Counts,
    day_elapsed: float,
    rng: random.Random,
    explain: bool,
    dynamics: dict[int, tuple[Reason | None, float]] | None = None,
    pools: dict[tuple[Targeted, str], _Pool | None] | None = None,
) -> Decision:
    verdicts_of = targeted.verdicts
    # (Shared by decisions on the same counts, within a second: ``_Live``.)
    dynamics = {} if dynamics is None else dynamics
    # One draw per slot where it can be (``_Pool``): not when a campaign's start or end
    # is checked, nor for an explanation.
    drawing = pools is not None and not timed and not explain
    on_page = _Page()
    decided: dict[str, SlotDecision] = {}
    for key in page.slot_keys:
        slot = snap.slots[key]
        verdicts: dict[int, Reason] = {}
        chosen: tuple[CampaignEntry, Promotion] | None = None
        if drawing:
            assert pools is not None  # noqa: S101  (``drawing`` says so)
            found = pools.get((targeted, key), _UNBUILT)
            if found is _UNBUILT:
                found = pools.setdefault(
                    (targeted, key),
                    _Pool.build(targeted.tiers[key], counts, dynamics, day_elapsed),
                )
            if isinstance(found, _Pool):
                entry = found.draw(rng)
                misfit = _misfit(entry, on_page, slot, page, counts) or _capped_now(entry, counts)
                promotion = None if misfit else _creative(entry, slot, on_page, counts, rng)
                if promotion is not None:
                    chosen = (entry, promotion)
        # Campaigns that targeting rules out only matter when the verdicts are wanted.
        for tier_entries in () if chosen else snap.tiers[key] if explain else targeted.tiers[key]:
            pool: list[tuple[CampaignEntry, float]] = []
            for entry in tier_entries:
                # Without ``explain`` only campaigns targeting let through come here.
                reason = (timed.get(entry.id) if timed else None) or (
                    verdicts_of[entry.id] if explain else None
                )
                weight = 0.0
                if reason is None:
                    reason, weight = _dynamic_of(entry, counts, dynamics, day_elapsed)
                    reason = reason or _misfit(entry, on_page, slot, page, counts)
                if reason is None:
                    pool.append((entry, weight))
                elif explain:
                    verdicts[entry.id] = reason
            while pool and chosen is None:
                index = _lottery(rng, [weight for _entry, weight in pool])
                entry, _weight = pool.pop(index)
                capped = _capped_now(entry, counts)
                if capped is not None:
                    verdicts[entry.id] = capped
                    continue
                promotion = _creative(entry, slot, on_page, counts, rng)
                if promotion is None:
                    verdicts[entry.id] = Reason.NO_PROMOTION
                    continue
                chosen = (entry, promotion)
                verdicts[entry.id] = Reason.CHOSEN
            if explain:
                for entry, _weight in pool:
                    verdicts[entry.id] = Reason.LOST_LOTTERY
            if chosen is not None:
                if explain:
                    tier = chosen[0].tier
                    for entry in snap.by_slot[key]:
                        if entry.tier < tier and entry.id not in verdicts:
                            reason = (
                                timed.get(entry.id)
                                or verdicts_of[entry.id]
                                or _dynamic(entry, counts, day_elapsed=day_elapsed)[0]
                                or _frequency_reason(entry, page, counts)
                            )
                            verdicts[entry.id] = reason or Reason.OUTRANKED
                break
        ordered: tuple[Verdict, ...] = ()
        if explain:
            by_id = {entry.id: entry for entry in snap.by_slot[key]}
            ordered = tuple(Verdict(by_id[cid], reason) for cid, reason in verdicts.items())
        if chosen is None:
            house = slot.house_promotion if slot.fallback == Slot.Fallback.HOUSE else None
            if house is not None and not house.is_approved:
                house = None
            decided[key] = SlotDecision(slot, house, None, ordered)
            continue
        entry, promotion = chosen
        on_page.promotions.add(promotion.pk)
        on_page.campaigns[entry.id] = on_page.campaigns.get(entry.id, 0) + 1
        if not entry.is_house:
            on_page.advertisers.add(entry.advertiser_id)
        if entry.category:
            on_page.categories.add(entry.category)
        decided[key] = SlotDecision(slot, promotion, entry, ordered)
    return Decision(slots=decided, page=page, snapshot=snap)


_UNBUILT: Any = object()


def _lottery(rng: random.Random, weights: Sequence[float]) -> int:
    total = sum(weights)
    if total <= 0:
        return rng.randrange(len(weights))
    point = rng.random() * total
    for index, weight in enumerate(weights):
        point -= weight
        if point < 0:
            return index
    return len(weights) - 1


def _creative(
    entry: CampaignEntry,
    slot: Slot,
    on_page: _Page,
    counts: Counts,
    rng: random.Random,
) -> Promotion | None:
    """The campaign's promotion for this slot, by its rotation mode."""
    free = [
        c
        for c in entry.creatives
        if slot.allows_repeats or c.promotion_id not in on_page.promotions
    ]
    if not free:
        return None
    if entry.rotation == Campaign.Rotation.WEIGHTED:
        return free[_lottery(rng, [c.weight for c in free])].promotion
    if entry.rotation == Campaign.Rotation.OPTIMISED:
        # Thompson sampling: draw each creative's click rate from its Beta posterior
        # and show the best draw, so creatives that are clicked more get shown more
        # while the uncertain ones still get tried.
        def draw(creative: Creative) -> float:
            served = counts.totals[creative.served_key]
            clicks = min(counts.totals[creative.clicks_key], served)
            return rng.betavariate(clicks + 1, served - clicks + 1)

        return max(free, key=draw).promotion
    return free[rng.randrange(len(free))].promotion


def berlin_day(now: dt.datetime) -> dt.date:
    return now.astimezone(BERLIN).date()


def day_fraction(now: dt.datetime) -> float:
    """How much of the Berlin day has passed, by the clock on the wall (on the days the
    clocks change too: the day's pacing runs by the hours its slots are sold by)."""
    return _wall_fraction(now.astimezone(BERLIN))


def _wall_fraction(local: dt.datetime) -> float:
    seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    return seconds / 86_400


engine = Engine()


def decide(
    page: PageContext,
    *,
    now: dt.datetime,
    rng: random.Random,
    explain: bool = False,
    skip_unknown: bool = False,
) -> Decision:
    """Fill all slots of ``page`` with this process's engine (see ``Engine.decide``)."""
    return engine.decide(page, now=now, rng=rng, explain=explain, skip_unknown=skip_unknown)
