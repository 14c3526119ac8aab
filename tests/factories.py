import io
from datetime import UTC, datetime
from typing import cast

import factory
from django.contrib.auth.models import User

from ads.decision import BERLIN
from ads.models import (
    Advertiser,
    Campaign,
    CampaignPromotion,
    DailyRollup,
    FilteredRollup,
    FilterReason,
    HourlyRollup,
    Inquiry,
    Membership,
)
from portal.models import Announcement, Article, Author, Section, SiteSettings
from promotions.models import Image, Promotion, Slot
from promotions.uploads import check_image_upload, do_store_image
from tests.images import image_bytes


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery staple")


class StaffFactory(UserFactory):
    is_staff = True
    is_superuser = True


class AuthorFactory(factory.django.DjangoModelFactory[Author]):
    class Meta:
        model = Author

    name = factory.Sequence(lambda n: f"Autorin {n}")
    slug = factory.Sequence(lambda n: f"autorin-{n}")


class SectionFactory(factory.django.DjangoModelFactory[Section]):
    class Meta:
        model = Section

    name = factory.Sequence(lambda n: f"Rubrik {n}")
    slug = factory.Sequence(lambda n: f"rubrik-{n}")


class ArticleFactory(factory.django.DjangoModelFactory[Article]):
    class Meta:
        model = Article
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Artikel {n}")
    slug = factory.Sequence(lambda n: f"artikel-{n}")
    teaser = "Ein kurzer Teaser."
    body = "Erster Absatz.\n\n## Zwischenüberschrift\n\nZweiter Absatz.\n"
    author = factory.SubFactory(AuthorFactory)
    section = factory.SubFactory(SectionFactory)
    status = Article.Status.PUBLISHED
    published_at = datetime(2023, 7, 11, 8, 0, tzinfo=UTC)

    @factory.post_generation
    def tags(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create and extracted:
            self.tags.set(extracted)


class AnnouncementFactory(factory.django.DjangoModelFactory[Announcement]):
    class Meta:
        model = Announcement

    text = "DAS KI EXPERTENFORUM FEIERT SEINEN ERSTEN GEBURTSTAG!"
    link_url = "/artikel/ki-buendnis-mit-japan/"
    starts_at = datetime(2023, 7, 1, tzinfo=UTC)
    ends_at = None


class SiteSettingsFactory(factory.django.DjangoModelFactory[SiteSettings]):
    class Meta:
        model = SiteSettings
        django_get_or_create = ("id",)

    id = 1
    site_name = "KI Expertenforum"
    publisher = "Turtle-Media"
    copyright_line = "© 2023-2024 by Turtle-Media. Alle Rechte vorbehalten."
    editorial_line = "Das KI Expertenforum ist ein unabhängiges redaktionelles Angebot."
    issn = "2943-8918"


class PromotionImageFactory(factory.django.DjangoModelFactory[Image]):
    """An image stored the way uploads are: checked, hashed, saved once."""

    class Meta:
        model = Image

    title = factory.Sequence(lambda n: f"Bild {n}")
    width = 640
    height = 480
    color = factory.Sequence(lambda n: (n % 256, (n * 7) % 256, (n * 13) % 256))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        width, height, color = kwargs.pop("width"), kwargs.pop("height"), kwargs.pop("color")
        content = kwargs.pop("content", None) or image_bytes(width, height, color=color)
        checked = check_image_upload(io.BytesIO(content))
        image, _ = do_store_image(checked, image=model_class(**kwargs))
        return image


class PromotionFactory(factory.django.DjangoModelFactory[Promotion]):
    class Meta:
        model = Promotion

    title = factory.Sequence(lambda n: f"Promotion {n}")
    text = "Ein Buch über KI."
    image = factory.SubFactory(PromotionImageFactory)
    alt_text = "Buchcover"
    destination_url = "https://buecher.example/ki"
    review_status = Promotion.ReviewStatus.APPROVED


class SlotFactory(factory.django.DjangoModelFactory[Slot]):
    class Meta:
        model = Slot
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"slot-{n}")
    name = factory.Sequence(lambda n: f"Slot {n}")
    width = 300
    height = 250
    rendition_specs = "fill-300x250|format-webp, fill-300x250|format-jpeg"
    fallback = Slot.Fallback.INQUIRY


class AdvertiserFactory(factory.django.DjangoModelFactory[Advertiser]):
    class Meta:
        model = Advertiser

    name = factory.Sequence(lambda n: f"Werbekunde {n} GmbH")
    contact_email = factory.Sequence(lambda n: f"werbung{n}@example.org")


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    advertiser = factory.SubFactory(AdvertiserFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.MANAGER


class CampaignFactory(factory.django.DjangoModelFactory[Campaign]):
    """A live standard campaign in 2026 with one approved promotion, in ``slots``."""

    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    advertiser = factory.SubFactory(AdvertiserFactory)
    name = factory.Sequence(lambda n: f"Kampagne {n}")
    kind = Campaign.Kind.STANDARD
    status = Campaign.Status.LIVE
    starts_at = datetime(2026, 1, 1, tzinfo=UTC)
    ends_at = datetime(2027, 1, 1, tzinfo=UTC)
    pacing = Campaign.Pacing.ASAP

    @factory.post_generation
    def slots(self, create: bool, extracted: list[Slot] | None, **kwargs: object) -> None:
        if create and extracted:
            self.slots.set(extracted)

    @factory.post_generation
    def promotions(self, create: bool, extracted: int | list | None, **kwargs: object) -> None:
        if not create:
            return
        if extracted is None:
            extracted = 1
        items = (
            [PromotionFactory.create() for _ in range(extracted)]
            if isinstance(extracted, int)
            else extracted
        )
        for item in items:
            promotion, weight = item if isinstance(item, tuple) else (item, 100)
            CampaignPromotion.objects.create(
                campaign=cast(Campaign, self), promotion=promotion, weight=weight
            )


class HourlyRollupFactory(factory.django.DjangoModelFactory[HourlyRollup]):
    """One hour's counts of a campaign's (first) promotion in a slot."""

    class Meta:
        model = HourlyRollup

    hour = datetime(2026, 6, 10, 10, tzinfo=UTC)
    campaign = factory.SubFactory(CampaignFactory)
    promotion = factory.LazyAttribute(
        lambda cell: cell.campaign.campaign_promotions.order_by("pk").first().promotion
    )
    slot = factory.SubFactory(SlotFactory)
    served = 0
    views = 0
    clicks = 0
    unique_visitors = 0


class DailyRollupFactory(HourlyRollupFactory):
    """One Berlin day's counts; give it the same counts as the day's hourly cells."""

    class Meta:
        model = DailyRollup
        exclude = ("hour",)

    day = factory.LazyAttribute(lambda cell: cell.hour.astimezone(BERLIN).date())


class FilteredRollupFactory(factory.django.DjangoModelFactory[FilteredRollup]):
    """Refused events of one hour; ``campaign_id_seen`` 0 means the nonce was unknown."""

    class Meta:
        model = FilteredRollup

    hour = datetime(2026, 6, 10, 10, tzinfo=UTC)
    day = factory.LazyAttribute(lambda cell: cell.hour.astimezone(BERLIN).date())
    campaign_id_seen = 0
    event = "view"
    reason = FilterReason.BOT
    count = 1


class InquiryFactory(factory.django.DjangoModelFactory[Inquiry]):
    """A prospect's inquiry as the portal form stores it (created directly, unchecked)."""

    class Meta:
        model = Inquiry
        skip_postgeneration_save = True

    name = "Jana Berger"
    company = factory.Sequence(lambda n: f"Nordlicht Cloud {n} GmbH")
    email = factory.Sequence(lambda n: f"jana.berger{n}@nordlicht.example")
    phone = "+49 40 1234567"
    message = "Wir möchten im Herbst unsere KI-Plattform vorstellen."
    budget = Inquiry.Budget.UP_TO_5K
    consent_to_contact = True

    @factory.post_generation
    def desired_slots(self, create: bool, extracted: list[Slot] | None, **kwargs: object) -> None:
        if create and extracted:
            self.desired_slots.set(extracted)
