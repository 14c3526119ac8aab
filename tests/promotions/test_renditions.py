import io
import threading

import pytest
from django.db import connection
from PIL import Image as PILImage
from PIL import ImageCms, JpegImagePlugin

from promotions.models import Rendition
from promotions.renditions import crop_box, get_rendition, render, srcset
from promotions.specs import parse_spec
from tests.factories import PromotionImageFactory
from tests.images import image_bytes


def _render(content: bytes, spec: str, **focal) -> PILImage.Image:
    rendered = render(io.BytesIO(content), parse_spec(spec), **focal)
    result = PILImage.open(io.BytesIO(rendered.content))
    assert result.size == (rendered.width, rendered.height)
    return result


def _pixel(image: PILImage.Image, xy: tuple[int, int] = (10, 10)) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def _halves(left: str, right: str, size=(400, 200)) -> bytes:
    image = PILImage.new("RGB", size, left)
    image.paste(PILImage.new("RGB", (size[0] // 2, size[1]), right), (size[0] // 2, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("spec", "size", "fmt"),
    [
        ("fill-300x250|format-jpeg", (300, 250), "JPEG"),
        ("fill-300x250|format-webp", (300, 250), "WEBP"),
        ("fill-300x250|format-avif", (300, 250), "AVIF"),
        ("max-600x400|format-png", (533, 400), "PNG"),
        ("width-300", (300, 225), "JPEG"),
        ("height-150", (200, 150), "JPEG"),
    ],
)
def test_renditions_have_the_spec_size_and_format(spec, size, fmt):
    result = _render(image_bytes(4000, 3000), spec)

    assert (result.size, result.format) == (size, fmt)


def test_large_jpeg_is_decoded_at_reduced_scale(monkeypatch):
    drafts = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        drafts.append((self.mode, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)

    _render(image_bytes(4000, 3000), "fill-300x250")

    # The decoder scaled 4000 x 3000 down by 8 (to 500 x 375) before resampling.
    assert drafts == [("RGB", (500, 375))]


@pytest.mark.parametrize(("focal_x", "colour"), [(0.0, (255, 0, 0)), (1.0, (0, 0, 255))])
def test_fill_crops_around_the_focal_point(focal_x, colour):
    result = _render(_halves("red", "blue"), "fill-100x100|format-png", focal_x=focal_x)

    assert _pixel(result.convert("RGB"), (50, 50)) == colour


def test_crop_box_stays_inside_the_image():
    assert crop_box(400, 200, aspect=1.0, focal_x=1.0, focal_y=0.5) == (200, 0, 400, 200)
    assert crop_box(400, 200, aspect=1.0, focal_x=0.5, focal_y=0.5) == (100, 0, 300, 200)


def test_exif_orientation_is_applied():
    image = PILImage.new("RGB", (400, 200), "red")
    exif = image.getexif()
    exif[0x0112] = 6  # rotated 90 degrees: the photo is really portrait
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)

    result = _render(out.getvalue(), "width-100")

    assert result.size == (100, 200)
    assert 0x0112 not in result.getexif()


def test_alpha_is_flattened_onto_white_for_jpeg():
    transparent = image_bytes(50, 50, fmt="PNG", mode="RGBA", color=(0, 0, 0, 0))

    result = _render(transparent, "fill-20x20|format-jpeg")

    assert result.mode == "RGB"
    assert all(channel > 245 for channel in _pixel(result))


def test_alpha_is_kept_for_webp():
    transparent = image_bytes(50, 50, fmt="PNG", mode="RGBA", color=(0, 0, 0, 0))

    result = _render(transparent, "fill-20x20|format-webp")

    assert result.mode == "RGBA"
    assert _pixel(result)[3] == 0


def test_cmyk_is_converted_to_rgb():
    cmyk = image_bytes(60, 60, mode="CMYK", color=(0, 255, 255, 0))  # pure red in CMYK

    result = _render(cmyk, "fill-20x20|format-jpeg")

    red, green, blue = _pixel(result)
    assert result.mode == "RGB"
    assert red > 200
    assert green < 60
    assert blue < 60


def test_embedded_colour_profile_is_converted_and_dropped(monkeypatch):
    conversions = []
    original = ImageCms.profileToProfile

    def spy(image, source, target, **options):
        conversions.append(ImageCms.getProfileDescription(source))
        return original(image, source, target, **options)

    monkeypatch.setattr(ImageCms, "profileToProfile", spy)
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    content = image_bytes(60, 60, color=(10, 120, 200), icc_profile=profile)

    result = _render(content, "fill-20x20|format-png")

    assert len(conversions) == 1
    assert result.info.get("icc_profile") is None
    assert all(abs(a - b) < 12 for a, b in zip(_pixel(result), (10, 120, 200), strict=True))


def test_animated_gif_uses_its_first_frame():
    frames = [PILImage.new("RGB", (40, 40), colour) for colour in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])

    result = _render(out.getvalue(), "fill-20x20|format-png")

    red, _, blue = _pixel(result.convert("RGB"))
    assert red > 200
    assert blue < 60


@pytest.mark.django_db
def test_rendition_is_made_once_and_then_reused():
    image = PromotionImageFactory.create()
    spec = parse_spec("fill-300x250|format-webp")

    first = get_rendition(image, spec)
    second = get_rendition(image, spec)

    assert first.pk == second.pk
    assert Rendition.objects.filter(image=image).count() == 1
    assert first.file.name.startswith(f"renditions/{image.pk}/{image.pk}-")
    assert first.file.name.endswith(".webp")


@pytest.mark.django_db
def test_moving_the_focal_point_makes_a_new_crop_but_keeps_the_old_file():
    image = PromotionImageFactory.create()
    spec = parse_spec("fill-100x100")
    before = get_rendition(image, spec)

    image.focal_point_x = 0.1
    image.save()
    after = get_rendition(image, spec)

    assert before.pk != after.pk
    assert before.file.storage.exists(before.file.name)


@pytest.mark.django_db
def test_resizes_that_do_not_crop_ignore_the_focal_point():
    image = PromotionImageFactory.create()
    before = get_rendition(image, parse_spec("max-100x100"))

    image.focal_point_x = 0.1
    image.save()

    assert get_rendition(image, parse_spec("max-100x100")).pk == before.pk


@pytest.mark.django_db
def test_srcset_lists_1x_and_2x():
    image = PromotionImageFactory.create(width=1000, height=800)

    text = srcset(image, parse_spec("fill-300x250|format-jpeg"))

    one, two = text.split(", ")
    assert one.endswith(" 1x")
    assert two.endswith(" 2x")
    assert Rendition.objects.get(image=image, spec="fill-600x500|format-jpeg").width == 600


@pytest.mark.django_db
def test_srcset_leaves_out_a_2x_the_source_cannot_fill():
    image = PromotionImageFactory.create(width=300, height=250)

    assert srcset(image, parse_spec("fill-300x250")).count(",") == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_generate_a_rendition_once(settings):
    assert connection.vendor == "postgresql"
    image = PromotionImageFactory.create(width=2000, height=1500)
    spec = parse_spec("fill-300x250|format-webp")
    barrier = threading.Barrier(6)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(get_rendition(image, spec).pk)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(results)) == 1
    assert Rendition.objects.filter(image=image).count() == 1
    files = list((settings.MEDIA_ROOT / "renditions" / str(image.pk)).iterdir())
    assert len(files) == 1


@pytest.mark.django_db
def test_partial_file_left_by_a_killed_generator_is_replaced():
    image = PromotionImageFactory.create()
    spec = parse_spec("fill-60x40|format-png")
    rendition = get_rendition(image, spec)
    name, content = rendition.file.name, rendition.file.read()
    rendition.file.close()
    rendition.delete()
    with rendition.file.storage.open(name, "wb") as partial:
        partial.write(content[: len(content) // 2])

    again = get_rendition(image, spec)

    assert again.file.name == name
    with again.file.storage.open(name, "rb") as stored:
        assert stored.read() == content
