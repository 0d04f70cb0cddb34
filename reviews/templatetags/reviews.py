"""What the reviews add to pages, theirs and the gallery's: an image's panel (rating and comments) by tag, and
filters that show stars, comments with their @mentions, and what a person may do with a comment."""

from __future__ import annotations

from django import template
from django.template.loader import render_to_string
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from generations.models import Generation
from reviews.domain import MENTION, mean_band, mean_stars
from reviews.http import image_panel_context
from reviews.models import Comment
from reviews.people import Person
from reviews.selectors import comment_may_be_deleted_by, comment_may_be_edited_by

register = template.Library()


@register.simple_tag(takes_context=True)
def image_reviews(context: template.Context, generation: Generation) -> SafeString:
    """An image's rating and comments, for the request's person (the detail page shows it under the image)."""
    request = context["request"]
    return render_to_string(
        "reviews/image_panel.html#panel", image_panel_context(request, generation), request=request
    )


@register.filter
def comment_text(text: str) -> SafeString:
    """A comment as typed, escaped, its line breaks kept and its @mentions marked."""
    pieces = []
    end = 0
    for match in MENTION.finditer(text):
        pieces.append(conditional_escape(text[end : match.start()]))
        pieces.append(format_html('<span class="mention">{}</span>', match.group()))
        end = match.end()
    pieces.append(conditional_escape(text[end:]))
    return mark_safe("".join(pieces).replace("\n", "<br>"))  # noqa: S308 (every piece is escaped above)


@register.filter
def editable_by(comment: Comment, person: Person) -> bool:
    return comment_may_be_edited_by(comment, person)


@register.filter
def deletable_by(comment: Comment, person: Person) -> bool:
    return comment_may_be_deleted_by(comment, person)


register.filter("mean_stars", mean_stars)
register.filter("mean_band", mean_band)
