"""Spending limits: per-user generations per minute and per day, and a cap on provider calls in flight.

Counts come from the generations table itself, so every app instance sees the same numbers.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from generations.models import Generation

WINDOWS = (
    (timedelta(minutes=1), "LIMIT_PER_MINUTE", "a minute"),
    (timedelta(days=1), "LIMIT_PER_DAY", "a day"),
)


class GenerationRefused(Exception):
    """A generation that was not started because a limit was reached. Nothing was sent to the provider."""

    def __init__(self, user_message: str, *, code: str, retry_after_s: int) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.code = code
        self.retry_after_s = retry_after_s


def generation_limits_check(*, user: AbstractBaseUser | None) -> None:
    """Raise GenerationRefused when `user` may not start a generation now. Call inside a transaction.

    The user's row is locked for the rest of the transaction, so two requests at once cannot both take the
    last allowed generation.
    """
    now = timezone.now()
    in_flight = Generation.objects.pending().count()
    if in_flight >= settings.MAX_GENERATIONS_IN_FLIGHT:
        raise GenerationRefused(
            f"The playground is busy with {in_flight} images right now. Try again in a few seconds.",
            code="busy",
            retry_after_s=5,
        )
    if user is None:
        return
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    for window, setting, label in WINDOWS:
        limit = getattr(settings, setting)
        recent = Generation.objects.filter(user=user, created_at__gt=now - window).order_by("-created_at")
        times = list(recent.values_list("created_at", flat=True)[:limit])
        if len(times) >= limit:
            resets_at = (times[-1] if times else now) + window
            wait_s = max(int((resets_at - now).total_seconds()) + 1, 1)
            raise GenerationRefused(
                f"You have reached your limit of {limit} images {label}. "
                f"You can generate again in {_duration(wait_s)} (at {resets_at:%H:%M:%S} UTC).",
                code="rate_limited",
                retry_after_s=wait_s,
            )


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 7200:
        return f"{seconds // 60} minutes"
    return f"{seconds // 3600} hours"
