"""Checking and storing uploaded images: nothing is stored unless every check passes."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from PIL import Image as PILImage

from .models import Image
from .tasks import pregenerate_renditions

# MPO is how Pillow names a JPEG with a second picture (phone HDR gain maps): still a JPEG.
ALLOWED_FORMATS = {
    "JPEG": "jpg",
    "MPO": "jpg",
    "PNG": "png",
    "WEBP": "webp",
    "GIF": "gif",
    "AVIF": "avif",
}
# Markup or code inside an "image" is a polyglot meant for a browser that sniffs it; no
# real photo needs it. Markers are long enough not to occur by chance in pixel data.
_MARKUP_MARKERS = (b"<script", b"<html", b"<svg", b"<?php", b"<iframe", b"<!doctype", b"<?xml")


@dataclass(frozen=True, slots=True)
class CheckedImage:
    content: bytes
    width: int
    height: int
    format: str
    content_hash: str

    @property
    def extension(self) -> str:
        return ALLOWED_FORMATS[self.format]


def max_bytes() -> int:
    return int(settings.LITFASS_IMAGE_MAX_BYTES)


def max_pixels() -> int:
    return int(settings.LITFASS_IMAGE_MAX_PIXELS)


def check_image_upload(upload: IO[bytes], *, size: int | None = None) -> CheckedImage:
    """Validate an uploaded image file; raises ``ValidationError`` with a reason for editors.

    Refused: empty files, files over the byte limit, anything Pillow cannot identify
    (SVG, HTML, PDF, ...), formats outside JPEG/PNG/WebP/GIF/AVIF, images over the
    pixel limit (decompression bombs, checked from the header before decoding), truncated
    or corrupt files, and files that carry markup or script. Animated GIF/WebP are accepted;
    their renditions show the first frame.
    """
    limit = max_bytes()
    if size is not None and size > limit:
        raise _too_large(limit)
    content = upload.read(limit + 1)
    if not content:
        raise ValidationError(_("Die Datei ist leer."), code="empty")
    if len(content) > limit:
        raise _too_large(limit)
    lowered = content.lower()
    if any(marker in lowered for marker in _MARKUP_MARKERS):
        raise ValidationError(
            _("Die Datei enthält Markup oder Skript und wird nicht angenommen."), code="markup"
        )

    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; we refuse earlier.
        warnings.simplefilter("error", PILImage.DecompressionBombWarning)
        try:
            with PILImage.open(io.BytesIO(content)) as probe:
                image_format, (width, height) = probe.format, probe.size
                if image_format not in ALLOWED_FORMATS:
                    raise ValidationError(
                        _("Format %(format)s wird nicht unterstützt (JPEG, PNG, WebP, GIF, AVIF).")
                        % {"format": image_format},
                        code="format",
                    )
                if width < 1 or height < 1:
                    raise ValidationError(_("Das Bild hat keine Fläche."), code="zero_size")
                if width * height > max_pixels():
                    raise _too_many_pixels(width, height)
                probe.verify()
            with PILImage.open(io.BytesIO(content)) as decoded:
                decoded.load()
        except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as error:
            raise ValidationError(
                _("Das Bild ist zu groß (zu viele Pixel)."), code="too_many_pixels"
            ) from error
        except PILImage.UnidentifiedImageError as error:
            raise ValidationError(
                _("Die Datei ist kein Bild (erlaubt: JPEG, PNG, WebP, GIF, AVIF; kein SVG)."),
                code="not_an_image",
            ) from error
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            raise ValidationError(
                _("Das Bild ist beschädigt oder unvollständig."), code="corrupt"
            ) from error
    return CheckedImage(
        content=content,
        width=width,
        height=height,
        format=str(image_format),
        content_hash=hashlib.sha256(content).hexdigest(),
    )


def _too_large(limit: int) -> ValidationError:
    return ValidationError(
        _("Die Datei ist größer als %(mb)d MB.") % {"mb": limit // (1024 * 1024)},
        code="too_large",
    )


def _too_many_pixels(width: int, height: int) -> ValidationError:
    return ValidationError(
        _("Das Bild hat %(w)d × %(h)d Pixel; erlaubt sind höchstens %(mp)d Megapixel.")
        % {"w": width, "h": height, "mp": max_pixels() // 1_000_000},
        code="too_many_pixels",
    )


def do_store_image(checked: CheckedImage, *, image: Image | None = None) -> tuple[Image, bool]:
    """Store a checked image once per content; returns (image, created).

    ``image`` is an unsaved instance carrying what the editor entered (title, focal
    point). Pre-generating the renditions of a new image is queued after the commit.
    """
    existing = Image.objects.filter(content_hash=checked.content_hash).first()
    if existing is not None:
        return existing, False
    name = f"{checked.content_hash[:2]}/{checked.content_hash}.{checked.extension}"
    image = image or Image()
    image.width, image.height = checked.width, checked.height
    image.format = checked.format
    image.byte_size = len(checked.content)
    image.content_hash = checked.content_hash
    try:
        with transaction.atomic():
            image.file.save(name, ContentFile(checked.content), save=False)
            image.save()
    except IntegrityError:
        # The same bytes were stored concurrently; theirs is as good as ours.
        image.file.delete(save=False)
        return Image.objects.get(content_hash=checked.content_hash), False
    image_id = image.pk
    transaction.on_commit(lambda: pregenerate_renditions.delay(image_id))
    return image, True
