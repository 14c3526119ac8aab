from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_safe

from .models import Rendition

IMMUTABLE = "public, max-age=31536000, immutable"


@require_safe
def rendition_file(request: HttpRequest, path: str) -> FileResponse:
    """Serve a rendition. Names carry a content hash and are never reused, so browsers
    and proxies may keep them forever."""
    image_id, _, _ = path.partition("/")
    if not image_id.isascii() or not image_id.isdigit():
        raise Http404
    # Filter on the indexed image first: the table holds images x specs x densities.
    rendition = Rendition.objects.filter(image_id=int(image_id), file=f"renditions/{path}").first()
    if rendition is None:
        raise Http404
    try:
        handle = rendition.file.open("rb")
    except FileNotFoundError as error:
        raise Http404 from error
    response = FileResponse(handle)
    response["Cache-Control"] = IMMUTABLE
    return response
