"""The rendition spec language: ``fill-300x250|format-webp|quality-80``.

A spec is one resize operation (``fill-WxH`` crops around the focal point, ``max-WxH``
fits inside, ``width-W``, ``height-H``), optionally followed by ``format-…`` and
``quality-…``, joined by ``|`` in any order. ``parse_spec`` turns it into a small,
immutable ``RenditionSpec`` whose ``canonical`` string is what renditions are keyed by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from django.utils.translation import gettext as _

ResizeMethod = Literal["fill", "max", "width", "height"]
ImageFormat = Literal["jpeg", "png", "webp", "avif"]

FORMATS: tuple[ImageFormat, ...] = ("jpeg", "png", "webp", "avif")
MIME_TYPES: dict[ImageFormat, str] = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "avif": "image/avif",
}
EXTENSIONS: dict[ImageFormat, str] = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}
# Good-looking defaults per format; AVIF's scale reaches the same quality lower down.
DEFAULT_QUALITY: dict[ImageFormat, int] = {"jpeg": 82, "png": 100, "webp": 80, "avif": 60}
MAX_DIMENSION = 4000

_BOX = re.compile(r"^(fill|max)-([0-9]{1,5})x([0-9]{1,5})$")
_SIDE = re.compile(r"^(width|height)-([0-9]{1,5})$")


class InvalidSpec(ValueError):
    """A rendition spec that cannot be parsed; the message says why, for editors."""


@dataclass(frozen=True, slots=True)
class RenditionSpec:
    method: ResizeMethod
    width: int | None
    height: int | None
    format: ImageFormat = "jpeg"
    quality: int | None = None

    @property
    def effective_quality(self) -> int:
        return self.quality if self.quality is not None else DEFAULT_QUALITY[self.format]

    @property
    def uses_focal_point(self) -> bool:
        return self.method == "fill"

    @property
    def mime_type(self) -> str:
        return MIME_TYPES[self.format]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    @property
    def canonical(self) -> str:
        if self.method in ("fill", "max"):
            resize = f"{self.method}-{self.width}x{self.height}"
        else:
            resize = f"{self.method}-{self.width if self.method == 'width' else self.height}"
        parts = [resize, f"format-{self.format}"]
        if self.quality is not None:
            parts.append(f"quality-{self.quality}")
        return "|".join(parts)

    def scaled(self, factor: int) -> RenditionSpec:
        """The same spec for a denser screen, e.g. ``scaled(2)`` for a ``2x`` srcset entry."""
        return replace(
            self,
            width=self.width * factor if self.width else None,
            height=self.height * factor if self.height else None,
        )

    def target_size(self, source_width: int, source_height: int) -> tuple[int, int]:
        """The output size for a source of the given size; never larger than the source."""
        width, height = self.width or 0, self.height or 0
        if self.method == "fill":
            scale = min(1.0, source_width / width, source_height / height)
            return max(1, round(width * scale)), max(1, round(height * scale))
        if self.method == "max":
            scale = min(1.0, width / source_width, height / source_height)
        elif self.method == "width":
            scale = min(1.0, width / source_width)
        else:
            scale = min(1.0, height / source_height)
        return max(1, round(source_width * scale)), max(1, round(source_height * scale))


def _dimension(text: str, spec: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_DIMENSION:
        raise InvalidSpec(
            _("„%(spec)s“: Maße müssen zwischen 1 und %(max)d Pixel liegen.")
            % {"spec": spec, "max": MAX_DIMENSION}
        )
    return value


def parse_spec(spec: str) -> RenditionSpec:
    """Parse a spec such as ``fill-300x250|format-webp``; raises ``InvalidSpec``."""
    resize: tuple[ResizeMethod, int | None, int | None] | None = None
    new_resize: tuple[ResizeMethod, int | None, int | None]
    image_format: ImageFormat | None = None
    quality: int | None = None
    if not spec.strip():
        raise InvalidSpec(_("Die Angabe ist leer."))
    for raw in spec.split("|"):
        part = raw.strip().lower()
        if box := _BOX.match(part):
            method: ResizeMethod = "fill" if box[1] == "fill" else "max"
            new_resize = (method, _dimension(box[2], spec), _dimension(box[3], spec))
        elif side := _SIDE.match(part):
            value = _dimension(side[2], spec)
            new_resize = ("width", value, None) if side[1] == "width" else ("height", None, value)
        elif part.startswith("format-"):
            name = part.removeprefix("format-")
            if name == "jpg":
                name = "jpeg"
            if name not in FORMATS or image_format is not None:
                raise InvalidSpec(
                    _("„%(spec)s“: genau ein Format aus %(formats)s angeben.")
                    % {"spec": spec, "formats": ", ".join(FORMATS)}
                )
            image_format = name  # type: ignore[assignment]
            continue
        elif part.startswith("quality-"):
            digits = part.removeprefix("quality-")
            valid = re.fullmatch(r"[0-9]{1,3}", digits) and 1 <= int(digits) <= 100
            if not valid or quality is not None:
                raise InvalidSpec(
                    _("„%(spec)s“: Qualität ist eine Zahl von 1 bis 100.") % {"spec": spec}
                )
            quality = int(digits)
            continue
        else:
            raise InvalidSpec(
                _("„%(spec)s“: unbekannte Angabe „%(part)s“.") % {"spec": spec, "part": raw}
            )
        if resize is not None:
            raise InvalidSpec(
                _("„%(spec)s“: nur eine Größenangabe (fill, max, width, height).") % {"spec": spec}
            )
        resize = new_resize
    if resize is None:
        raise InvalidSpec(
            _("„%(spec)s“: eine Größenangabe fehlt, z. B. fill-300x250.") % {"spec": spec}
        )
    return RenditionSpec(
        method=resize[0],
        width=resize[1],
        height=resize[2],
        format=image_format or "jpeg",
        quality=quality,
    )


def parse_spec_list(text: str) -> list[RenditionSpec]:
    """Parse a slot's comma- or line-separated spec list; the last is the one every browser
    gets, the others are ``<source>`` alternatives."""
    items = [item.strip() for item in re.split(r"[,\n]", text) if item.strip()]
    if not items:
        raise InvalidSpec(_("Mindestens eine Angabe, z. B. fill-300x250|format-jpeg."))
    return [parse_spec(item) for item in items]
