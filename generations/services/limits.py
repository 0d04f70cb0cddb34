"""Spending limits: per-person images per minute and per day, unfinished work, money per day and per month, the
team's money per month, and the queue's depth.

Counts come from the generations table itself (and the team's spend from a ledger the database keeps beside
it), so every web and worker process sees the same numbers. A person is a signed-in user or, on an open
instance, a visitor counted by browser session and by client address together. The provider's own limits are
the pace's (generations/pacing.py): over them, work waits in the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.utils import timezone

from generations.domain import ErrorCode
from generations.models import Generation, Requester
from generations.money import BudgetPeriods, money, own_or_default

WINDOWS = (
    (timedelta(minutes=1), "LIMIT_PER_MINUTE", "a minute"),
    (timedelta(days=1), "LIMIT_PER_DAY", "a day"),
)
# Everything the limits are checked against, in one round trip: the SQL function `generations_limit_counts`
# (migration `0016_provider_pace_and_money`) takes the person's lock, counts their rows, takes the queue's lock and
# counts what every request adds to.
LIMIT_COUNTS = """
SELECT unfinished, in_minute, in_day, spent_today, spent_this_month, budget_per_day, budget_per_month,
       team_spent_this_month, queued
  FROM generations_limit_counts(
           %(user)s, %(session)s, %(address)s, %(minute_since)s, %(day_since)s, %(today_since)s, %(month_since)s)
"""


class GenerationRefused(Exception):
    """A generation that was not queued because a limit was reached. Nothing was recorded or sent."""

    def __init__(self, user_message: str, *, code: ErrorCode, retry_after_s: int) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.code = code
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class LimitCounts:
    unfinished: int
    in_minute: int
    in_day: int
    spent_today: Decimal
    spent_this_month: Decimal
    budget_per_day: Decimal | None  # the person's own, set by staff
    budget_per_month: Decimal | None
    team_spent_this_month: Decimal
    queued: int


def generation_limits_check(*, requester: Requester, count: int = 1, cost: Decimal = Decimal(0)) -> None:
    """Raise GenerationRefused when `requester` may not have queued the `count` generations, costing `cost`,
    that the calling transaction has just recorded (they are counted); the caller's transaction then rolls back.

    A batch counts each of its images, and is refused whole when any limit would be passed. The locks the
    counts are read under (the person's, then the queue's) hold until the transaction commits.
    """
    now = timezone.now()
    periods = BudgetPeriods(now)
    user = requester.user
    with connection.cursor() as cursor:
        cursor.execute(
            LIMIT_COUNTS,
            {
                "user": user.pk if user is not None else None,
                "session": requester.session,
                "address": requester.address,
                "minute_since": now - WINDOWS[0][0],
                "day_since": now - WINDOWS[1][0],
                "today_since": periods.today_since,
                "month_since": periods.month_since,
            },
        )
        counts = LimitCounts(*cursor.fetchone())
    _check_windows(requester, count, now, counts)
    _check_unfinished(count, counts)
    _check_budgets(count, cost, periods, counts)
    if counts.queued > settings.MAX_QUEUED_GENERATIONS:
        raise GenerationRefused(
            f"The playground's queue is full ({counts.queued - count} images waiting{_asked(count)}). "
            "Try again in a minute.",
            code=ErrorCode.QUEUE_FULL,
            retry_after_s=30,
        )


def _check_windows(requester: Requester, count: int, now: datetime, counts: LimitCounts) -> None:
    in_windows = {"LIMIT_PER_MINUTE": counts.in_minute, "LIMIT_PER_DAY": counts.in_day}
    for window, setting, label in WINDOWS:
        limit = getattr(settings, setting)
        if count > limit:
            raise GenerationRefused(
                f"This batch asks for {count} images, more than your limit of {limit} images {label}. "
                "Make it smaller.",
                code=ErrorCode.RATE_LIMITED,
                retry_after_s=int(window.total_seconds()),
            )
        if in_windows[setting] > limit:
            # Room comes back once the newest-first row at offset `limit` has left the window.
            recent = (
                Generation.objects.asked_by(requester)
                .filter(created_at__gt=now - window)
                .order_by("-created_at")
            )
            resets_at = recent.values_list("created_at", flat=True)[limit] + window
            wait_s = max(int((resets_at - now).total_seconds()) + 1, 1)
            room = limit - (in_windows[setting] - count)
            raise GenerationRefused(
                f"You have reached your limit of {limit} images {label}{_asked(count, room)}. "
                f"You can generate again in {_duration(wait_s)} (at {resets_at:%H:%M:%S} UTC).",
                code=ErrorCode.RATE_LIMITED,
                retry_after_s=wait_s,
            )


def _check_unfinished(count: int, counts: LimitCounts) -> None:
    if counts.unfinished > settings.LIMIT_QUEUED_PER_USER:
        raise GenerationRefused(
            f"You already have {counts.unfinished - count} images queued or in progress{_asked(count)}; "
            f"your limit is {settings.LIMIT_QUEUED_PER_USER}. Wait for some to finish (or cancel some), then "
            "try again.",
            code=ErrorCode.TOO_MANY_QUEUED,
            retry_after_s=10,
        )


def _check_budgets(count: int, cost: Decimal, periods: BudgetPeriods, counts: LimitCounts) -> None:
    """A budget of 0 is none. The refusal says what the request would cost and what is left."""
    budgets = (
        (
            own_or_default(counts.budget_per_day, settings.BUDGET_USER_DAY),
            counts.spent_today,
            "today's",
            periods.tomorrow,
        ),
        (
            own_or_default(counts.budget_per_month, settings.BUDGET_USER_MONTH),
            counts.spent_this_month,
            "this month's",
            periods.next_month,
        ),
        (settings.BUDGET_TEAM_MONTH, counts.team_spent_this_month, "the team's monthly", periods.next_month),
    )
    for budget, spent, label, resets_at in budgets:
        if budget and spent > budget:
            left = max(budget - (spent - cost), Decimal(0))
            request = "This batch" if count > 1 else "This image"
            raise GenerationRefused(
                f"{request} would cost about {money(cost)}; {money(left)} of {label} budget of "
                f"{money(budget)} is left. It comes back at {resets_at:%Y-%m-%d %H:%M} UTC.",
                code=ErrorCode.BUDGET_EXCEEDED,
                retry_after_s=max(int((resets_at - periods.now).total_seconds()), 1),
            )


def _asked(count: int, room: int | None = None) -> str:
    """The numbers a refused batch is told: how many it asked for, and how many would have fitted."""
    if count == 1:
        return ""
    fits = f", room for {max(room, 0)}" if room is not None else ""
    return f" — this batch asks for {count}{fits}"


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 7200:
        return f"{seconds // 60} minutes"
    return f"{seconds // 3600} hours"
