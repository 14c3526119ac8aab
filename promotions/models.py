"""Inventory: slots, promotions (creatives), images and their renditions."""

from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .specs import InvalidSpec, RenditionSpec, parse_spec_list

_UNIT = [MinValueValidator(0.0), MaxValueValidator(1.0)]


class Image(models.Model):
    """An uploaded original. The same bytes uploaded twice are one Image."""

    title = models.CharField(_("Titel"), max_length=200, blank=True)
    file = models.FileField(_("Datei"), upload_to="images/", max_length=255)
    width = models.PositiveIntegerField(_("Breite"), editable=False)
    height = models.PositiveIntegerField(_("Höhe"), editable=False)
    format = models.CharField(_("Format"), max_length=10, editable=False)
    byte_size = models.PositiveIntegerField(_("Größe in Bytes"), editable=False)
    content_hash = models.CharField(
        _("Prüfsumme"), max_length=64, unique=True, editable=False, help_text="SHA-256"
    )
    focal_point_x = models.FloatField(
        _("Fokus X"),
        default=0.5,
        validators=_UNIT,
        help_text=_("0 = linker Rand, 1 = rechter Rand. Zuschnitte bleiben um diesen Punkt."),
    )
    focal_point_y = models.FloatField(
        _("Fokus Y"),
        default=0.5,
        validators=_UNIT,
        help_text=_("0 = oberer Rand, 1 = unterer Rand."),
    )
    created_at = models.DateTimeField(_("Hochgeladen am"), auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        verbose_name = _("Bild")
        verbose_name_plural = _("Bilder")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(focal_point_x__gte=0, focal_point_x__lte=1)
                & models.Q(focal_point_y__gte=0, focal_point_y__lte=1),
                name="image_focal_point_inside",
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.file.name

    @property
    def focal_point_key(self) -> str:
        return f"{self.focal_point_x:.3f},{self.focal_point_y:.3f}"


class Rendition(models.Model):
    """One derived file of an image, unique per (image, spec, focal point)."""

    image = models.ForeignKey(
        Image, on_delete=models.CASCADE, related_name="renditions", verbose_name=_("Bild")
    )
    spec = models.CharField(_("Angabe"), max_length=100, help_text=_("Kanonische Form."))
    focal_point_key = models.CharField(
        _("Fokus"),
        max_length=20,
        blank=True,
        help_text=_("Leer für Angaben, die nicht zuschneiden."),
    )
    file = models.FileField(_("Datei"), max_length=255)
    width = models.PositiveIntegerField(_("Breite"))
    height = models.PositiveIntegerField(_("Höhe"))
    created_at = models.DateTimeField(_("Erzeugt am"), auto_now_add=True)

    class Meta:
        verbose_name = _("Rendition")
        verbose_name_plural = _("Renditions")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["image", "spec", "focal_point_key"], name="rendition_unique_per_spec"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.image_id} {self.spec}"

    @property
    def url(self) -> str:
        return self.file.url


class SlotQuerySet(models.QuerySet["Slot"]):
    def for_page(self, keys: list[str]) -> dict[str, Slot]:
        """The page's slots by key, with house promotions, images and renditions."""
        slots = self.filter(key__in=keys).select_related("house_promotion__image")
        return {
            slot.key: slot for slot in slots.prefetch_related("house_promotion__image__renditions")
        }


class Slot(models.Model):
    """A place on the page where a promotion can be shown, with its reserved size."""

    class Fallback(models.TextChoices):
        HOUSE = "house", _("Hauspromotion")
        INQUIRY = "inquiry", _("„Werbung auf diesem Portal?“")
        EMPTY = "empty", _("Leerer, reservierter Platz")

    key = models.SlugField(
        _("Schlüssel"), max_length=50, unique=True, help_text=_("z. B. sidebar-top")
    )
    name = models.CharField(_("Name"), max_length=100)
    label = models.CharField(
        _("Kennzeichnung"),
        max_length=40,
        default="-Promotion-",
        help_text=_(
            "Steht über jedem Inhalt; „Anzeige“ für bezahlte Werbung. Werbung muss klar "
            "gekennzeichnet und vom redaktionellen Inhalt getrennt sein."
        ),
    )
    width = models.PositiveIntegerField(_("Breite"), validators=[MinValueValidator(1)])
    height = models.PositiveIntegerField(_("Höhe"), validators=[MinValueValidator(1)])
    rendition_specs = models.CharField(
        _("Bildformate"),
        max_length=500,
        default="fill-300x250|format-webp, fill-300x250|format-jpeg",
        help_text=_(
            "Kommagetrennt, z. B. „fill-150x212|format-avif, fill-150x212|format-jpeg“. "
            "Die letzte Angabe ist das Bild für alle Browser, die anderen sind Alternativen."
        ),
    )
    fallback = models.CharField(
        _("Wenn nichts gebucht ist"),
        max_length=10,
        choices=Fallback.choices,
        default=Fallback.INQUIRY,
    )
    house_promotion = models.ForeignKey(
        "Promotion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Hauspromotion"),
        limit_choices_to={"review_status": "approved"},
    )
    above_the_fold = models.BooleanField(
        _("Sofort sichtbar"),
        default=False,
        help_text=_("Bilder oben auf der Seite laden sofort, alle anderen erst beim Scrollen."),
    )

    allows_repeats = models.BooleanField(
        _("Wiederholungen erlaubt"),
        default=False,
        help_text=_(
            "Darf hier eine Promotion oder ein Auftraggeber erscheinen, der schon an anderer "
            "Stelle der Seite zu sehen ist?"
        ),
    )

    objects = SlotQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["key"]
        verbose_name = _("Slot")
        verbose_name_plural = _("Slots")

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    def clean(self) -> None:
        try:
            parse_spec_list(self.rendition_specs)
        except InvalidSpec as error:
            raise ValidationError({"rendition_specs": str(error)}) from error
        if self.fallback == self.Fallback.HOUSE and self.house_promotion_id is None:
            raise ValidationError(
                {"house_promotion": _("Für diesen Fall eine Hauspromotion wählen.")}
            )

    @property
    def specs(self) -> list[RenditionSpec]:
        return parse_spec_list(self.rendition_specs)


class PromotionQuerySet(models.QuerySet["Promotion"]):
    def approved(self) -> PromotionQuerySet:
        return self.filter(review_status=Promotion.ReviewStatus.APPROVED)


class Promotion(models.Model):
    """A creative: what is shown in a slot."""

    class ReviewStatus(models.TextChoices):
        DRAFT = "draft", _("Entwurf")
        PENDING = "pending", _("Wartet auf Prüfung")
        APPROVED = "approved", _("Freigegeben")
        REJECTED = "rejected", _("Abgelehnt")

    title = models.CharField(_("Titel"), max_length=120)
    text = models.TextField(_("Text"), max_length=500, blank=True)
    image = models.ForeignKey(
        Image,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="promotions",
        verbose_name=_("Bild"),
    )
    alt_text = models.CharField(
        _("Alternativtext"),
        max_length=200,
        blank=True,
        help_text=_("Beschreibt das Bild für Screenreader; Pflicht, wenn ein Bild gewählt ist."),
    )
    call_to_action = models.CharField(
        _("Handlungsaufforderung"), max_length=40, default="Mehr Infos"
    )
    destination_url = models.URLField(
        _("Ziel-URL"),
        max_length=2000,
        validators=[URLValidator(schemes=["http", "https"])],
    )
    review_status = models.CharField(
        _("Prüfstatus"),
        max_length=10,
        choices=ReviewStatus.choices,
        default=ReviewStatus.DRAFT,
        db_index=True,
    )
    rejection_reason = models.TextField(_("Ablehnungsgrund"), blank=True)
    reviewed_at = models.DateTimeField(_("Geprüft am"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("Angelegt am"), auto_now_add=True)
    updated_at = models.DateTimeField(_("Geändert am"), auto_now=True)

    objects = PromotionQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["-created_at"]
        verbose_name = _("Promotion")
        verbose_name_plural = _("Promotions")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~models.Q(review_status="rejected") | ~models.Q(rejection_reason=""),
                name="promotion_rejection_has_reason",
                violation_error_message=_("Eine Ablehnung braucht eine Begründung."),
            ),
            models.CheckConstraint(
                condition=models.Q(destination_url__startswith="https://")
                | models.Q(destination_url__startswith="http://"),
                name="promotion_destination_is_http",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.image_id and not self.alt_text.strip():
            raise ValidationError({"alt_text": _("Bitte das Bild kurz beschreiben.")})
        if self.review_status == self.ReviewStatus.REJECTED and not self.rejection_reason.strip():
            raise ValidationError({"rejection_reason": _("Bitte einen Grund angeben.")})

    @property
    def is_approved(self) -> bool:
        return self.review_status == self.ReviewStatus.APPROVED


class PromotionReview(Promotion):
    """The review queue in admin: promotions waiting for a decision."""

    class Meta:
        proxy = True
        verbose_name = _("Promotion zur Prüfung")
        verbose_name_plural = _("Prüfwarteschlange")
