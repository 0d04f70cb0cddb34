"""The templates' own tags: an image's sources for `srcset`, the toolbar's icons and what its actions need,
durations in seconds."""

from __future__ import annotations

import functools
import json

from django import template
from django.conf import settings
from django.http import HttpRequest
from django.templatetags.static import static
from django.utils.html import format_html

from generations.http import may_change
from generations.images import THUMBNAIL_SIDES
from generations.models import Generation, MadeByAPerson, generation_url

register = template.Library()


@register.filter
def srcset(generation: Generation) -> str:
    """Both thumbnails and the original, each with its width, for `<img srcset>`: the browser fetches the
    smallest that is sharp at the size and pixel density it shows the image at (the `sizes` attribute)."""
    sources: dict[int, str] = {}
    longest = max(generation.width, generation.height)
    for view_name, side in zip(
        ("generations:thumbnail", "generations:thumbnail-2x"), THUMBNAIL_SIDES, strict=True
    ):
        width = round(generation.width * min(side / longest, 1))
        sources.setdefault(width, generation_url(view_name, generation.public_id))
    sources.setdefault(generation.width, generation.image_url)
    return ", ".join(f"{url} {width}w" for width, url in sources.items())


@register.simple_tag
def icon(name: str) -> str:
    """An icon of static/icons.svg, for a button or link that names itself in words beside it."""
    return format_html(
        '<svg class="icon" aria-hidden="true" focusable="false"><use href="{}#{}"></use></svg>',
        _sprite_url(settings.STATIC_URL),
        name,
    )


@functools.cache
def _sprite_url(static_url: str) -> str:
    """static/icons.svg's URL, asked once for each STATIC_URL (it carries the request's script prefix): a board's
    page shows seven icons a tile, and asking the storage each time was a fifth of its time."""
    return static("icons.svg")


@register.filter
def seconds(milliseconds: int | float | None) -> str:
    """A duration as people read it: "0.8 s", "12.4 s", "95 s"."""
    if milliseconds is None:
        return "—"
    value = milliseconds / 1000
    return f"{value:.1f} s" if value < 60 else f"{value:.0f} s"


@register.filter
def settings_json(generation: Generation) -> str:
    """What "Use settings" puts into the home page's form, as JSON for a data- attribute (playground.js)."""
    return json.dumps(
        {
            "prompt": generation.prompt,
            "size": generation.size,
            "seed": generation.seed,
            "prompt_extend": generation.prompt_extend,
        },
        ensure_ascii=False,
    )


@register.filter
def may_be_changed_by(made: MadeByAPerson, request: HttpRequest) -> bool:
    """Whether the reader may cancel or delete `made`, a generation or a batch."""
    return may_change(request, made)
