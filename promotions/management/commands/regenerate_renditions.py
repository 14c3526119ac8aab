from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from promotions.models import Image, Slot
from promotions.renditions import DENSITIES, get_rendition


class Command(BaseCommand):
    help = "Erzeugt fehlende Renditions aller Bilder für alle Slots (1x und 2x)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--image", type=int, action="append", help="Nur diese Bild-IDs.")

    def handle(self, *args: Any, **options: Any) -> None:
        images = Image.objects.order_by("pk")
        if options["image"]:
            images = images.filter(pk__in=options["image"])
        specs = [
            spec.scaled(density)
            for slot in Slot.objects.all()
            for spec in slot.specs
            for density in DENSITIES
        ]
        with tqdm(total=images.count() * len(specs), unit="rendition", file=self.stderr) as bar:
            for image in images.iterator():
                for spec in specs:
                    get_rendition(image, spec)
                    bar.update()
        self.stdout.write(
            self.style.SUCCESS(f"{images.count()} images × {len(specs)} specs ready.")
        )
