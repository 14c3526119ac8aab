from datetime import UTC, datetime

import factory
from django.contrib.auth.models import User

from portal.models import Announcement, Article, Author, Section, SiteSettings


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
