"""Spending limits: per-user generations per minute and per day, per-user unfinished work, and the queue's depth.

Counts come from the generations table itself, so every web and worker process sees the same numbers. The real
cap on provider calls in flight is the workers' own concurrency: over it, work waits in the queue.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.utils import timezone

from generations.domain import ErrorCode
from generations.models import Generation, GenerationStatus

WINDOWS = (
    (timedelta(minutes=1), "LIMIT_PER_MINUTE", "a minute"),
    (timedelta(days=1), "LIMIT_PER_DAY", "a day"),
)
# pg_advisory_xact_lock key serialising the queue-depth check across every process ("zimg" in ASCII).
_QUEUE_LOCK_KEY = 0x7A696D67


class GenerationRefused(Exception):
    """A generation that was not queued because a limit was reached. Nothing was recorded or sent."""

    def __init__(self, user_message: str, *, code: ErrorCode, retry_after_s: int) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.code = code
        self.retry_after_s = retry_after_s


def generation_limits_check(*, user: AbstractBaseUser | None, count: int = 1) -> None:
    """Raise GenerationRefused when `user` may not queue `count` generations now. Call inside a transaction.

    A batch counts each of its images, and is refused whole when any limit would be passed.

    Two locks, always in this order, hold the limits under concurrent requests until the transaction ends: the
    user's row (two requests of one person cannot both take their last allowed image), then an advisory lock
    on the queue (requests of different people cannot overfill it together).
    """
    if user is not None:
        _check_user(user, count)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_QUEUE_LOCK_KEY])
    queued = Generation.objects.filter(status=GenerationStatus.QUEUED).count()
    if queued + count > settings.MAX_QUEUED_GENERATIONS:
        raise GenerationRefused(
            f"The playground's queue is full ({queued} images waiting{_asked(count)}). Try again in a minute.",
            code=ErrorCode.QUEUE_FULL,
            retry_after_s=30,
        )


def _check_user(user: AbstractBaseUser, count: int) -> None:
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    now = timezone.now()
    for window, setting, label in WINDOWS:
        limit = getattr(settings, setting)
        if count > limit:
            raise GenerationRefused(
                f"This batch asks for {count} images, more than your limit of {limit} images {label}. "
                "Make it smaller.",
                code=ErrorCode.RATE_LIMITED,
                retry_after_s=int(window.total_seconds()),
            )
        # Refused when the window already holds `limit - count + 1` images: the newest-first row at that offset
        # exists, and room comes back once it has left the window. One indexed row, however busy the user.
        recent = Generation.objects.filter(user=user, created_at__gt=now - window).order_by("-created_at")
        blocking = recent.values_list("created_at", flat=True)[limit - count : limit - count + 1].first()
        if blocking is not None:
            resets_at = blocking + window
            wait_s = max(int((resets_at - now).total_seconds()) + 1, 1)
            room = limit - recent.count()
            raise GenerationRefused(
                f"You have reached your limit of {limit} images {label}{_asked(count, room)}. "
                f"You can generate again in {_duration(wait_s)} (at {resets_at:%H:%M:%S} UTC).",
                code=ErrorCode.RATE_LIMITED,
                retry_after_s=wait_s,
            )
    unfinished = Generation.objects.filter(user=user).active().count()
    if unfinished + count > settings.LIMIT_QUEUED_PER_USER:
        raise GenerationRefused(
            f"You already have {unfinished} images queued or in progress{_asked(count)}; your limit is "
            f"{settings.LIMIT_QUEUED_PER_USER}. Wait for some to finish (or cancel some), then try again.",
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
