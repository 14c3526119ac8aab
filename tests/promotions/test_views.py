import pytest

from promotions.renditions import get_rendition
from promotions.specs import parse_spec
from tests.factories import PromotionImageFactory

pytestmark = pytest.mark.django_db


def test_rendition_is_served_with_far_future_caching(client):
    rendition = get_rendition(PromotionImageFactory.create(), parse_spec("fill-100x80|format-webp"))

    response = client.get(rendition.url)

    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Content-Type"] == "image/webp"
    assert b"".join(response.streaming_content)[:4] == b"RIFF"


@pytest.mark.parametrize(
    "path", ["/media/renditions/1/gibt-es-nicht.jpg", "/media/renditions/../images/x.jpg"]
)
def test_unknown_rendition_is_not_found(client, path):
    assert client.get(path).status_code == 404


def test_originals_are_not_served(client):
    image = PromotionImageFactory.create()

    assert client.get(f"/media/{image.file.name}").status_code == 404
