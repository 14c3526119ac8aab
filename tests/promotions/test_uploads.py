import io

import pytest
from django.core.exceptions import ValidationError
from PIL import Image as PILImage
from PIL import PngImagePlugin

from promotions.models import Image
from promotions.uploads import check_image_upload, do_store_image
from tests.images import image_bytes, png_bomb, png_with_size


def _check(content: bytes):
    return check_image_upload(io.BytesIO(content), size=len(content))


def _png_with_script() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(document.cookie)</script>")
    return image_bytes(40, 40, fmt="PNG", pnginfo=info)


BAD_INPUT = {
    "not an image": (b"Dies ist ein Text, kein Bild.\n" * 10, "not_an_image"),
    "pdf": (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "not_an_image"),
    "truncated jpeg": (image_bytes(800, 600, quality=95)[:3000], "corrupt"),
    "svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>alert(1)</script></svg>",
        "markup",
    ),
    "jpeg with appended html": (
        image_bytes(40, 40) + b"<html><script>alert(1)</script></html>",
        "markup",
    ),
    "png with script in a text chunk": (_png_with_script(), "markup"),
    "empty file": (b"", "empty"),
    "zero-size png": (png_with_size(0, 0), "not_an_image"),
    "bmp": (image_bytes(20, 20, fmt="BMP"), "format"),
    "decompression bomb (1-bit PNG 50000x50000)": (png_bomb(), "too_many_pixels"),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_input_is_refused_with_a_reason(case):
    content, code = BAD_INPUT[case]

    with pytest.raises(ValidationError) as excinfo:
        _check(content)

    assert excinfo.value.code == code
    assert excinfo.value.messages[0]


def test_file_over_the_byte_limit_is_refused_before_reading(settings):
    settings.LITFASS_IMAGE_MAX_BYTES = 10_000
    content = image_bytes(800, 800, quality=100)
    assert len(content) > 10_000

    with pytest.raises(ValidationError) as excinfo:
        _check(content)

    assert excinfo.value.code == "too_large"


def test_image_over_the_pixel_limit_is_refused(settings):
    settings.LITFASS_IMAGE_MAX_PIXELS = 100 * 100

    with pytest.raises(ValidationError) as excinfo:
        _check(image_bytes(101, 100))

    assert excinfo.value.code == "too_many_pixels"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "AVIF"])
def test_supported_formats_are_accepted(fmt):
    checked = _check(image_bytes(64, 48, fmt=fmt))

    assert (checked.width, checked.height, checked.format) == (64, 48, fmt)


def test_animated_gif_is_accepted():
    frames = [PILImage.new("RGB", (30, 20), color) for color in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])

    assert _check(out.getvalue()).format == "GIF"


@pytest.mark.django_db
def test_same_bytes_twice_are_one_image_and_one_file(settings):
    content = image_bytes(50, 50)

    first, created_first = do_store_image(_check(content))
    second, created_second = do_store_image(_check(content))

    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk
    assert Image.objects.count() == 1
    assert len(list((settings.MEDIA_ROOT / "images").rglob("*.jpg"))) == 1


@pytest.mark.django_db
def test_stored_image_is_named_by_its_hash():
    image, _ = do_store_image(_check(image_bytes(50, 50)))

    assert image.file.name == f"images/{image.content_hash[:2]}/{image.content_hash}.jpg"
    assert (image.width, image.height, image.format) == (50, 50, "JPEG")


def test_phone_jpeg_with_a_second_picture_is_accepted():
    frames = [PILImage.new("RGB", (64, 48), colour) for colour in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "MPO", save_all=True, append_images=frames[1:])

    checked = _check(out.getvalue())

    assert (checked.format, checked.extension) == ("MPO", "jpg")


def test_file_over_the_byte_limit_is_refused_without_a_declared_size(settings):
    settings.LITFASS_IMAGE_MAX_BYTES = 10_000
    content = image_bytes(800, 800, quality=100)

    with pytest.raises(ValidationError) as excinfo:
        check_image_upload(io.BytesIO(content))

    assert excinfo.value.code == "too_large"
