"""How the leaderboard writes its numbers: shares as whole per cents, intervals, and a small interval bar."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from judging.fit import Estimate

register = template.Library()

BAR_WIDTH = 120


@register.filter
def percent(share: float | None) -> str:
    return "—" if share is None else f"{round(share * 100)} %"


@register.filter
def interval(estimate: Estimate | None) -> str:
    return "" if estimate is None else f"{round(estimate.low * 100)}–{round(estimate.high * 100)} %"


@register.simple_tag
def interval_bar(estimate: Estimate | None) -> str:
    """The estimate as a dot on its 95 % interval, over a 0-100 % scale with 50 % marked (the numbers are in the
    text beside it, so it is hidden from screen readers)."""
    if estimate is None:
        return ""
    low, value, high = (
        round(share * BAR_WIDTH, 1) for share in (estimate.low, estimate.value, estimate.high)
    )
    return format_html(
        '<svg class="interval-bar" viewBox="0 0 {width} 12" width="{width}" height="12" aria-hidden="true">'
        '<line class="interval-scale" x1="0" y1="6" x2="{width}" y2="6"/>'
        '<line class="interval-even" x1="{even}" y1="1" x2="{even}" y2="11"/>'
        '<line class="interval-range" x1="{low}" y1="6" x2="{high}" y2="6"/>'
        '<circle class="interval-value" cx="{value}" cy="6" r="3.5"/></svg>',
        width=BAR_WIDTH,
        even=BAR_WIDTH / 2,
        low=low,
        high=high,
        value=value,
    )
