from django import template
from django.urls import reverse, translate_url
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

from ads.slots import slot_html

register = template.Library()

# Raw HTML in article bodies is escaped, not passed through; links with unsafe schemes
# (javascript:, data:) are refused by markdown-it's own link validation.
_markdown = MarkdownIt("commonmark", {"html": False, "typographer": False})


@register.filter
def markdown(text: str) -> SafeString:
    """Render an article body written in Markdown as safe HTML."""
    return mark_safe(_markdown.render(text))  # noqa: S308  (html disabled above)


@register.simple_tag(takes_context=True)
def language_url(context: template.Context, code: str) -> str:
    """This page in language ``code``: a plain link, so switching sets no cookie."""
    return translate_url(context["request"].get_full_path(), code)


@register.simple_tag(takes_context=True)
def slot(context: template.Context, key: str) -> str:
    """Render the page's slot ``key`` as the view's ``decision`` filled it; nothing if the
    editors have not set the slot up."""
    decision = context.get("decision")
    if decision is None or key not in decision.slots:
        return ""
    html = slot_html(
        decision,
        key,
        inquiry_url=reverse("portal:inquiry"),
        nonce=(context.get("nonces") or {}).get(key),
    )
    return mark_safe(html)  # noqa: S308  (rendered by the slot template, escaped there)
