"""Money, time estimates and the queue's state as pages show them: `{% load costs %}`.

{{ amount|money }}                 $0.015, $0.81
{{ seconds|about }}                "about 2 min"
{% queue_note generation %}        a queued card's line: its place, its estimated start, a 429's wait
{% batch_outlook plan %}           a batch before it is sent: images, cost, time at the current pace
"""

from __future__ import annotations

from decimal import Decimal

from django import template

from generations.batch_plan import BatchPlan
from generations.models import Generation
from generations.money import money as format_money
from generations.selectors import batch_outlook as outlook_of_batch
from generations.selectors import queue_wait

register = template.Library()


@register.filter
def money(amount: Decimal | None) -> str:
    return format_money(amount)


@register.filter
def about(seconds: float | None) -> str:
    """A duration as an estimate reads: "a few seconds", "about 20 s", "about 2 min", "about 3 h"."""
    if seconds is None:
        return ""
    if seconds < 10:
        return "a few seconds"
    if seconds < 90:
        return f"about {round(seconds / 5) * 5} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {round(seconds / 3600)} h"


@register.inclusion_tag("generations/queue_note.html")
def queue_note(generation: Generation) -> dict:
    return {"generation": generation, "wait": queue_wait(generation=generation)}


@register.inclusion_tag("generations/batch_outlook.html")
def batch_outlook(plan: BatchPlan) -> dict:
    return {"plan": plan, "outlook": outlook_of_batch(plan=plan)}
