from django import template
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

register = template.Library()

# Raw HTML in article bodies is escaped, not passed through; links with unsafe schemes
# (javascript:, data:) are refused by markdown-it's own link validation.
_markdown = MarkdownIt("commonmark", {"html": False, "typographer": False})


@register.filter
def markdown(text: str) -> SafeString:
    """Render an article body written in Markdown as safe HTML."""
    return mark_safe(_markdown.render(text))  # noqa: S308  (html disabled above)


@register.inclusion_tag("portal/includes/reserved_slot.html")
def reserved_slot(key: str, width: int, height: int) -> dict[str, object]:
    """Reserve a slot's space so that filling it later never shifts the layout."""
    return {"key": key, "width": width, "height": height}
