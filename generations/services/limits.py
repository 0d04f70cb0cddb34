"""Spending limits: per-user generations per minute and per day, per-user unfinished work, and the queue's depth.

Counts come from the generations table itself, so every web and worker process sees the same numbers. The real
cap on provider calls in flight is the workers' own concurrency: over it, work waits in the queue.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from generations.domain import ErrorCode
from generations.models import ACTIVE_STATUSES, Generation

WINDOWS = (
    (timedelta(minutes=1), "LIMIT_PER_MINUTE", "a minute"),
    (timedelta(days=1), "LIMIT_PER_DAY", "a day"),
)
# Unfinished work is minutes old at most (the deadline), so the longest window holds all of a user's counts.
_LONGEST_WINDOW = max(window for window, _, _ in WINDOWS)
# The queue's advisory lock (its key is "zimg" in ASCII), then the queue's depth as a statement of its own, so
# that the count sees what the lock's last holder committed.
_QUEUE_LOCK_THEN_COUNT = (
    "SELECT pg_advisory_xact_lock(2053729639); "  # 0x7A696D67
    "SELECT count(*) FROM generations_generation WHERE status = 'queued'"
)


class GenerationRefused(Exception):
    """A generation that was not queued because a limit was reached. Nothing was recorded or sent."""

    def __init__(self, user_message: str, *, code: ErrorCode, retry_after_s: int) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.code = code
        self.retry_after_s = retry_after_s


def generation_limits_check(*, user: User | None, count: int = 1) -> None:
    """Raise GenerationRefused when `user` may not have queued the `count` generations that the calling
    transaction has just recorded (they are counted); the caller's transaction then rolls back.

    A batch counts each of its images, and is refused whole when any limit would be passed.

    Two locks, always in this order, hold the limits under concurrent requests until the transaction commits:
    the user's row (two requests of one person cannot both take their last allowed image), then an advisory
    lock on the queue (requests of different people cannot overfill it together). They are taken last, after
    the rows are written, so that each is held for as few statements as possible: every request of every user
    passes through the queue's lock one at a time.
    """
    with connection.cursor() as cursor:
        if user is None:
            cursor.execute(_QUEUE_LOCK_THEN_COUNT)
        else:
            # Every limit in one round trip (a form post's costliest step was its round trips), in lock order.
            now = timezone.now()
            since = {setting: now - window for window, setting, _ in WINDOWS}
            cursor.execute(
                _user_lock_then_counts() + _QUEUE_LOCK_THEN_COUNT,
                {"user": user.pk, "longest": now - _LONGEST_WINDOW, **since},
            )
            cursor.nextset()
            unfinished, *in_windows = cursor.fetchone()
            _check_user(user, count, now, unfinished, dict(zip(since, in_windows, strict=True)))
            cursor.nextset()
        cursor.nextset()
        [queued] = cursor.fetchone()
    if queued > settings.MAX_QUEUED_GENERATIONS:
        raise GenerationRefused(
            f"The playground's queue is full ({queued - count} images waiting{_asked(count)}). "
            "Try again in a minute.",
            code=ErrorCode.QUEUE_FULL,
            retry_after_s=30,
        )


@functools.cache
def _user_lock_then_counts() -> str:
    """The user's row, locked, then their counts (this request's rows included) in one indexed range of their
    rows: unfinished, and created within each window."""
    users, generations = get_user_model()._meta.db_table, Generation._meta.db_table
    active = ", ".join(f"'{status}'" for status in ACTIVE_STATUSES)
    windows = ", ".join(f"count(*) FILTER (WHERE created_at > %({setting})s)" for _, setting, _ in WINDOWS)
    # The names and statuses are the code's own; every value is a parameter.
    lock = f"SELECT 1 FROM {users} WHERE id = %(user)s FOR UPDATE; "  # noqa: S608
    counts = f"SELECT count(*) FILTER (WHERE status IN ({active})), {windows} FROM {generations} "  # noqa: S608
    return lock + counts + "WHERE user_id = %(user)s AND created_at > %(longest)s; "


def _check_user(user: User, count: int, now: datetime, unfinished: int, in_windows: dict[str, int]) -> None:
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
            recent = Generation.objects.filter(user=user, created_at__gt=now - window).order_by("-created_at")
            resets_at = recent.values_list("created_at", flat=True)[limit] + window
            wait_s = max(int((resets_at - now).total_seconds()) + 1, 1)
            room = limit - (in_windows[setting] - count)
            raise GenerationRefused(
                f"You have reached your limit of {limit} images {label}{_asked(count, room)}. "
                f"You can generate again in {_duration(wait_s)} (at {resets_at:%H:%M:%S} UTC).",
                code=ErrorCode.RATE_LIMITED,
                retry_after_s=wait_s,
            )
    if unfinished > settings.LIMIT_QUEUED_PER_USER:
        raise GenerationRefused(
            f"You already have {unfinished - count} images queued or in progress{_asked(count)}; "
            f"your limit is {settings.LIMIT_QUEUED_PER_USER}. Wait for some to finish (or cancel some), then "
            "try again.",
            code=ErrorCode.TOO_MANY_QUEUED,
            retry_after_s=10,
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
