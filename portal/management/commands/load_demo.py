from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from portal.demo import load_demo


class Command(BaseCommand):
    help = "Lädt die Demo-Inhalte (Referenzartikel, Ticker, Footer, Admin). Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--admin-username", default="admin")
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Also run with DEBUG off (it resets the demo admin's password).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError("DEBUG is off: pass --allow-production to load demo content.")
        result = load_demo(now=timezone.now(), admin_username=options["admin_username"])
        self.stdout.write(self.style.SUCCESS("Demo content loaded."))
        self.stdout.write(f"  Article: {result.article_url}")
        self.stdout.write(f"  Admin:   /admin/  user {result.admin_username!r}")
        self.stdout.write(f"           password {result.admin_password!r}")
