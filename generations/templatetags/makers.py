"""`{% may_change generation as can_change %}`: whether the reader may cancel or delete what a card shows."""

from __future__ import annotations

from django import template

from generations.http import may_change as reader_may_change
from generations.models import MadeByAPerson

register = template.Library()


@register.simple_tag(takes_context=True)
def may_change(context: template.Context, made: MadeByAPerson) -> bool:
    return reader_may_change(context["request"], made)
