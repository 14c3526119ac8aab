"""Renditions: an image in the size and format a slot needs, made once and kept.

Generation decodes only as many pixels as the output needs (JPEG ``draft`` decodes at
1/2, 1/4 or 1/8 scale; other formats are ``reduce``d by ``resize(reducing_gap=...)``)
before one final Lanczos resample, applies the EXIF orientation, converts colour
profiles and CMYK to sRGB, flattens alpha for JPEG and uses the first frame of animated
images. Files are named by image id, spec and content hash and are never overwritten.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from PIL import Image as PILImage
from PIL import ImageCms, ImageOps

from .models import Image, Rendition
from .specs import RenditionSpec

_SRGB = ImageCms.createProfile("sRGB")
# A larger gap means a sharper result and slower resize; 3.0 is indistinguishable from
# a full Lanczos resample in practice.
REDUCING_GAP = 3.0
DENSITIES = (1, 2)
PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF"}


@dataclass(frozen=True, slots=True)
class RenderedImage:
    content: bytes
    width: int
    height: int


def crop_box(
    width: int, height: int, *, aspect: float, focal_x: float, focal_y: float
) -> tuple[int, int, int, int]:
    """The largest box of the given aspect ratio inside the image, centred on the focal
    point as far as the edges allow."""
    if width / height > aspect:
        crop_w, crop_h = max(1, round(height * aspect)), height
    else:
        crop_w, crop_h = width, max(1, round(width / aspect))
    left = min(max(0, round(focal_x * width - crop_w / 2)), width - crop_w)
    top = min(max(0, round(focal_y * height - crop_h / 2)), height - crop_h)
    return left, top, left + crop_w, top + crop_h


def _oriented_size(image: PILImage.Image) -> tuple[int, int]:
    # EXIF orientations 5 to 8 rotate by 90 degrees: width and height swap.
    orientation = image.getexif().get(0x0112, 1)
    return (image.height, image.width) if orientation in (5, 6, 7, 8) else image.size


def _to_srgb(image: PILImage.Image) -> PILImage.Image:
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=output_mode)
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: fall back to Pillow's plain conversion below
    if image.mode == "CMYK":
        return image.convert("RGB")
    return image


def _normalise_mode(image: PILImage.Image, image_format: str) -> PILImage.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        image = image.convert("RGBA")
        if image_format == "jpeg":
            # JPEG has no alpha: flatten onto white as the page background is white.
            background = PILImage.new("RGB", image.size, (255, 255, 255))
            background.paste(image, mask=image.getchannel("A"))
            return background
        return image
    if image.mode not in ("RGB", "L"):
        return image.convert("RGB")
    return image


def render(
    source: IO[bytes], spec: RenditionSpec, *, focal_x: float = 0.5, focal_y: float = 0.5
) -> RenderedImage:
    """Make one rendition from an open source file."""
    with PILImage.open(source) as opened:
        if getattr(opened, "n_frames", 1) > 1:
            opened.seek(0)
        width, height = _oriented_size(opened)
        target_w, target_h = spec.target_size(width, height)
        aspect = target_w / target_h
        if spec.method == "fill":
            left, top, right, bottom = crop_box(
                width, height, aspect=aspect, focal_x=focal_x, focal_y=focal_y
            )
            needed = max(target_w / (right - left), target_h / (bottom - top))
        else:
            needed = max(target_w / width, target_h / height)
        if opened.format in ("JPEG", "MPO") and needed < 1:
            # Decode at the smallest DCT scale (1/2, 1/4, 1/8) that leaves enough pixels.
            raw_w, raw_h = opened.size
            mode = "RGB" if opened.mode in ("RGB", "YCbCr") else opened.mode
            opened.draft(mode, (math.ceil(raw_w * needed), math.ceil(raw_h * needed)))
        opened.load()
        image = ImageOps.exif_transpose(opened)
        if spec.method == "fill":
            box = crop_box(*image.size, aspect=aspect, focal_x=focal_x, focal_y=focal_y)
        else:
            box = (0, 0, *image.size)
        image = _normalise_mode(_to_srgb(image), spec.format)
        resized = image.resize(
            (target_w, target_h),
            PILImage.Resampling.LANCZOS,
            box=box,
            reducing_gap=REDUCING_GAP,
        )
    # Pixels are sRGB now; no profile, EXIF or text of the original goes out with them.
    resized.info = {}
    output = io.BytesIO()
    save_options: dict[str, object] = {"quality": spec.effective_quality}
    if spec.format == "jpeg":
        save_options["progressive"] = True
    elif spec.format == "avif":
        # Speed 8 encodes a slot-sized AVIF about twice as fast as the default 6, for
        # files some 20 % larger; at these sizes the time matters more.
        save_options["speed"] = 8
    elif spec.format == "png":
        save_options = {"compress_level": 6}
    resized.save(output, PIL_FORMATS[spec.format], **save_options)
    return RenderedImage(content=output.getvalue(), width=target_w, height=target_h)


def _focal_key(image: Image, spec: RenditionSpec) -> str:
    return image.focal_point_key if spec.uses_focal_point else ""


@contextmanager
def _generation_lock(image: Image, spec_key: str, focal_key: str) -> Iterator[None]:
    """One generator per (image, spec, focal point) at a time, across processes."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            digest = hashlib.blake2b(
                f"{image.pk}|{spec_key}|{focal_key}".encode(), digest_size=8
            ).digest()
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)]
                )
        else:
            # SQLite (embedded mode) has no advisory locks; a write lock on the image row
            # serialises generators there, and the unique constraint catches the rest.
            Image.objects.filter(pk=image.pk).update(title=F("title"))
        yield


def _same_content(storage: Storage, name: str, content: bytes) -> bool:
    if storage.size(name) != len(content):
        return False
    with storage.open(name, "rb") as existing:
        return bool(existing.read() == content)


def get_rendition(image: Image, spec: RenditionSpec) -> Rendition:
    """The rendition of ``image`` for ``spec``, generated on first use."""
    spec_key, focal_key = spec.canonical, _focal_key(image, spec)
    prefetched = getattr(image, "_prefetched_objects_cache", {}).get("renditions")
    if prefetched is not None:
        # Pages prefetch their images' renditions: no query per picture.
        for rendition in prefetched:
            if rendition.spec == spec_key and rendition.focal_point_key == focal_key:
                return rendition
    found = Rendition.objects.filter(image=image, spec=spec_key, focal_point_key=focal_key).first()
    if found is not None:
        return found
    with _generation_lock(image, spec_key, focal_key):
        # Whoever held the lock before us may have made it already.
        found = Rendition.objects.filter(
            image=image, spec=spec_key, focal_point_key=focal_key
        ).first()
        if found is not None:
            return found
        with image.file.open("rb") as source:
            rendered = render(
                source, spec, focal_x=image.focal_point_x, focal_y=image.focal_point_y
            )
        content_hash = hashlib.sha256(rendered.content).hexdigest()[:16]
        spec_hash = hashlib.sha256(f"{spec_key}|{focal_key}".encode()).hexdigest()[:12]
        name = f"renditions/{image.pk}/{image.pk}-{spec_hash}-{content_hash}.{spec.extension}"
        rendition = Rendition(
            image=image,
            spec=spec_key,
            focal_point_key=focal_key,
            width=rendered.width,
            height=rendered.height,
        )
        storage = rendition.file.storage
        if storage.exists(name) and _same_content(storage, name, rendered.content):
            # Same image, spec and bytes: a file left by a generator that died before
            # its row was written. Identical content, so it is reused, not overwritten.
            rendition.file.name = name
        else:
            if storage.exists(name):
                # A generator killed mid-write left a partial file under the final name.
                storage.delete(name)
            rendition.file.save(name, ContentFile(rendered.content), save=False)
        try:
            with transaction.atomic():
                rendition.save()
        except IntegrityError:
            return Rendition.objects.get(image=image, spec=spec_key, focal_point_key=focal_key)
        return rendition


def srcset(image: Image, spec: RenditionSpec, *, densities: Iterable[int] = DENSITIES) -> str:
    """``url 1x, url 2x`` for a srcset attribute; a density the source is too small for
    is left out."""
    entries, seen = [], set()
    for density in densities:
        rendition = get_rendition(image, spec.scaled(density))
        if density > 1 and (rendition.width, rendition.height) in seen:
            continue
        seen.add((rendition.width, rendition.height))
        entries.append(f"{rendition.url} {density}x")
    return ", ".join(entries)
