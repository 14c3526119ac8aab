"""The portal's editorial content: authors, sections, articles, the ticker and footer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from stdnum import issn
from taggit.managers import TaggableManager


class Author(models.Model):
    name = models.CharField(_("Name"), max_length=120)
    slug = models.SlugField(_("Kürzel"), max_length=120, unique=True)
    bio = models.TextField(_("Kurzbiografie"), blank=True)

    class Meta:
        ordering: ClassVar = ["name"]
        verbose_name = _("Autor:in")
        verbose_name_plural = _("Autor:innen")

    def __str__(self) -> str:
        return self.name


class Section(models.Model):
    name = models.CharField(_("Name"), max_length=80)
    slug = models.SlugField(_("Kürzel"), max_length=80, unique=True)

    class Meta:
        ordering: ClassVar = ["name"]
        verbose_name = _("Rubrik")
        verbose_name_plural = _("Rubriken")

    def __str__(self) -> str:
        return self.name


class ArticleQuerySet(models.QuerySet["Article"]):
    def published(self, now: datetime) -> ArticleQuerySet:
        return self.filter(status=Article.Status.PUBLISHED, published_at__lte=now)

    def with_relations(self) -> ArticleQuerySet:
        """Author, section and hashtags in two extra queries, however many articles."""
        # django-stubs cannot see taggit's manager as a relation, hence the ignore.
        return self.select_related("author", "section").prefetch_related("tags")  # type: ignore[misc]


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Entwurf")
        PUBLISHED = "published", _("Veröffentlicht")

    title = models.CharField(_("Titel"), max_length=200)
    slug = models.SlugField(_("Kürzel"), max_length=200, unique=True)
    subtitle = models.CharField(
        _("Unterzeile"),
        max_length=120,
        blank=True,
        help_text=_("Zeile unter Titel und Autorenzeile."),
    )
    teaser = models.TextField(_("Teaser"), max_length=600)
    body = models.TextField(
        _("Text"),
        help_text=_("Markdown: Absätze durch Leerzeilen, Zwischenüberschriften mit „## “."),
    )
    author = models.ForeignKey(
        Author, on_delete=models.PROTECT, related_name="articles", verbose_name=_("Autor:in")
    )
    section = models.ForeignKey(
        Section, on_delete=models.PROTECT, related_name="articles", verbose_name=_("Rubrik")
    )
    language = models.CharField(
        _("Sprache"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    status = models.CharField(
        _("Status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    published_at = models.DateTimeField(
        _("Veröffentlicht am"),
        null=True,
        blank=True,
        help_text=_("Erscheint ab diesem Zeitpunkt, wenn der Status „Veröffentlicht“ ist."),
    )
    created_at = models.DateTimeField(_("Angelegt am"), auto_now_add=True)
    updated_at = models.DateTimeField(_("Geändert am"), auto_now=True)

    tags = TaggableManager(_("Hashtags"), blank=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["-published_at", "-id"]
        verbose_name = _("Artikel")
        verbose_name_plural = _("Artikel")
        indexes: ClassVar = [models.Index(fields=["status", "-published_at"])]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~models.Q(status="published") | models.Q(published_at__isnull=False),
                name="article_published_has_date",
                violation_error_message=_("Ein veröffentlichter Artikel braucht ein Datum."),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("portal:article", kwargs={"slug": self.slug})

    def clean(self) -> None:
        if self.status == self.Status.PUBLISHED and self.published_at is None:
            raise ValidationError(
                {"published_at": _("Ein veröffentlichter Artikel braucht ein Datum.")}
            )

    def is_visible(self, now: datetime) -> bool:
        return (
            self.status == self.Status.PUBLISHED
            and self.published_at is not None
            and self.published_at <= now
        )


class AnnouncementQuerySet(models.QuerySet["Announcement"]):
    def current(self, now: datetime) -> AnnouncementQuerySet:
        return self.filter(starts_at__lte=now).filter(
            models.Q(ends_at__isnull=True) | models.Q(ends_at__gt=now)
        )


class Announcement(models.Model):
    """A line of the ticker at the top of every page: "+++ ... +++ MEHR"."""

    text = models.CharField(_("Text"), max_length=200)
    link_url = models.CharField(
        _("Link"),
        max_length=500,
        blank=True,
        help_text=_("Pfad auf dieser Website (/artikel/...) oder https://-Adresse."),
    )
    link_label = models.CharField(_("Linktext"), max_length=40, default="MEHR")
    starts_at = models.DateTimeField(_("Sichtbar ab"))
    ends_at = models.DateTimeField(_("Sichtbar bis"), null=True, blank=True)

    objects = AnnouncementQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["-starts_at"]
        verbose_name = _("Tickermeldung")
        verbose_name_plural = _("Tickermeldungen")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(ends_at__isnull=True)
                | models.Q(ends_at__gt=models.F("starts_at")),
                name="announcement_ends_after_start",
                violation_error_message=_("Das Ende muss nach dem Beginn liegen."),
            ),
        ]

    def __str__(self) -> str:
        return self.text

    def clean(self) -> None:
        if self.link_url and not self.link_url.startswith(("/", "https://", "http://")):
            raise ValidationError(
                {"link_url": _("Bitte einen Pfad (/...) oder eine http(s)-Adresse angeben.")}
            )


def validate_issn(value: str) -> None:
    if not issn.is_valid(value):
        raise ValidationError(_("„%(value)s“ ist keine gültige ISSN."), params={"value": value})


class SiteSettings(models.Model):
    """The one row of site-wide settings for the footer; read through ``current()``."""

    CACHE_KEY = "portal:site-settings"

    site_name = models.CharField(_("Name der Website"), max_length=120, default="Litfass")
    publisher = models.CharField(_("Verlag"), max_length=120, blank=True)
    copyright_line = models.CharField(
        _("Copyright-Zeile"),
        max_length=200,
        blank=True,
        help_text=_("Zum Beispiel „© 2023-2024 by Turtle-Media. Alle Rechte vorbehalten.“"),
    )
    editorial_line = models.CharField(
        _("Redaktionszeile"),
        max_length=200,
        blank=True,
        help_text=_(
            "Zum Beispiel „Das KI Expertenforum ist ein unabhängiges redaktionelles Angebot.“"
        ),
    )
    issn = models.CharField(
        _("ISSN"), max_length=9, blank=True, validators=[validate_issn], help_text="2943-8918"
    )

    class Meta:
        verbose_name = _("Website-Einstellungen")
        verbose_name_plural = _("Website-Einstellungen")
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(pk=1), name="site_settings_singleton"),
        ]

    def __str__(self) -> str:
        return self.site_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # There is only ever one row; the check constraint guards against a second.
        self.pk = 1
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.issn and issn.is_valid(self.issn):
            self.issn = issn.format(self.issn)

    @classmethod
    def current(cls) -> SiteSettings:
        """The settings row, cached; an unsaved default when none exists yet."""
        settings_row: SiteSettings | None = cache.get(cls.CACHE_KEY)
        if settings_row is None:
            settings_row = cls.objects.filter(pk=1).first() or cls(pk=1)
            cache.set(cls.CACHE_KEY, settings_row, timeout=None)
        return settings_row
