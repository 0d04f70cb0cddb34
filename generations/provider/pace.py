"""The provider account's pace, as arithmetic: what its answers say about its limits, how the pace follows them,
how many turns are free now, and when the next ones will be. No database, no HTTP: the job engine keeps the
pace in PostgreSQL for the whole cluster (generations/pacing.py) and asks these rules what to do.

The account has two limits over a sliding window (docs/provider-api.md, "Rate limits"): requests in flight at
once, and requests a minute. The configured ceilings (PROVIDER_MAX_CONCURRENT, PROVIDER_MAX_PER_MINUTE) are
never passed; below them the pace drops at each 429, holds until the provider's reset, and climbs back one step
per RAISE_AFTER_SUCCESSES answers in a row.
"""

from __future__ import annotations

import email.utils
import heapq
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

# The provider's window is 60 s; ours is a second longer, so that a request sent a little later than recorded
# (the worker's own delay) never makes the provider count one too many.
WINDOW = timedelta(seconds=61)
RAISE_AFTER_SUCCESSES = 10
# Headers are untrusted: a reset or Retry-After beyond this is taken as this.
LONGEST_WAIT_S = 3600.0
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


@dataclass(frozen=True, slots=True)
class RateLimitHeaders:
    """What one answer said about the account's limits (every field optional, as providers differ).

    `limit` and `remaining` count requests in the current minute; `reset_s` is how long until the window has
    room again; `retry_after_s` is the 429's own `Retry-After`.
    """

    limit: int | None = None
    remaining: int | None = None
    reset_s: float | None = None
    retry_after_s: float | None = None

    @classmethod
    def parse(cls, headers: Mapping[str, str], *, now: datetime | None = None) -> RateLimitHeaders | None:
        """The rate-limit headers of an answer, or None when it carries none. Malformed values are ignored."""
        now = now or datetime.now(UTC)
        headers = {name.lower(): value for name, value in headers.items()}
        parsed = cls(
            limit=_count(headers.get("x-ratelimit-limit")),
            remaining=_count(headers.get("x-ratelimit-remaining")),
            reset_s=_reset_s(headers.get("x-ratelimit-reset"), now),
            retry_after_s=parse_retry_after_s(headers.get("retry-after"), now),
        )
        return parsed if parsed != cls() else None

    @property
    def window_is_full(self) -> bool:
        return self.remaining == 0

    @property
    def wait_s(self) -> float:
        """How long the provider asks us to wait: the longer of Retry-After and the window's reset."""
        return max(self.retry_after_s or 0.0, self.reset_s if self.window_is_full and self.reset_s else 0.0)


def parse_retry_after_s(value: str | None, now: datetime) -> float | None:
    """A `Retry-After` value (seconds, or an HTTP date) as seconds from `now`; None when absent or malformed."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return _bounded(float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return _bounded((moment - now).total_seconds())


def _count(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) <= 9 else None


def _reset_s(value: str | None, now: datetime) -> float | None:
    """X-RateLimit-Reset as seconds from now. Providers send seconds ("12.5"), a Unix time ("1717000000") or a
    duration ("1m30s", "250ms")."""
    value = (value or "").strip().lower()
    if not value or len(value) > 32:
        return None
    try:
        number = float(value)
    except ValueError:
        parts = _DURATION_PART.findall(value)
        if not parts or "".join(number + unit for number, unit in parts) != value:
            return None
        seconds = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
        return _bounded(sum(float(number) * seconds[unit] for number, unit in parts))
    if not math.isfinite(number):
        return None
    if number > 1_000_000_000:  # a Unix time
        return _bounded(number - now.timestamp())
    return _bounded(number)


def _bounded(seconds: float) -> float | None:
    return min(max(seconds, 0.0), LONGEST_WAIT_S) if math.isfinite(seconds) else None


class AnswerKind(StrEnum):
    SUCCEEDED = "succeeded"  # a 2xx
    RATE_LIMITED = "rate_limited"  # a 429: not run, not billed
    OTHER = "other"  # another status, or no answer at all


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    """How one turn at the provider ended, as far as its limits are concerned."""

    kind: AnswerKind
    headers: RateLimitHeaders | None = None

    @property
    def wait_s(self) -> float:
        """After a 429, how long before asking again: what the provider said, and at least a second."""
        return max(self.headers.wait_s if self.headers else 0.0, 1.0)


NO_ANSWER = ProviderAnswer(AnswerKind.OTHER)


@dataclass(frozen=True, slots=True)
class Ceilings:
    """The account's limits as configured: the pace never goes above them."""

    concurrency: int
    per_minute: int


@dataclass(frozen=True, slots=True)
class Pace:
    """The pace the whole cluster keeps now: how many requests at once, how many a minute, and no request at
    all before `held_until` (a 429's reset)."""

    concurrency: int
    per_minute: int
    held_until: datetime | None = None
    successes: int = 0  # answers in a row without a 429, towards the next raise

    def within(self, ceilings: Ceilings) -> Pace:
        return replace(
            self,
            concurrency=max(min(self.concurrency, ceilings.concurrency), 1),
            per_minute=max(min(self.per_minute, ceilings.per_minute), 1),
        )

    def is_held(self, now: datetime) -> bool:
        return self.held_until is not None and now < self.held_until

    def interactive_headroom(self) -> int:
        """Requests of each minute kept for single prompts: batch cells may use the rest, so that a colleague's
        prompt never waits for the window to slide while someone's batch fills it."""
        return self.per_minute // 10

    def room_for_batch_cells(self, *, sent_in_window: int, singles_in_window: int) -> int:
        """Requests batch cells may still send within the window: all but the headroom that single prompts
        have not used yet."""
        unused_headroom = max(self.interactive_headroom() - singles_in_window, 0)
        return max(self.per_minute - sent_in_window - unused_headroom, 0)

    def free_turns(
        self, *, in_flight: int, sent_in_window: int, singles_in_window: int, now: datetime
    ) -> tuple[int, int]:
        """How many requests may start now: (for anyone, for batch cells)."""
        if self.is_held(now):
            return 0, 0
        free = max(min(self.concurrency - in_flight, self.per_minute - sent_in_window), 0)
        room = self.room_for_batch_cells(sent_in_window=sent_in_window, singles_in_window=singles_in_window)
        return free, min(free, room)


def pace_after(
    pace: Pace,
    answer: ProviderAnswer,
    *,
    others_in_flight: int,
    sent_in_window: int,
    ceilings: Ceilings,
    now: datetime,
) -> Pace:
    """The pace after one answer.

    A 429 lowers the dimension it hit (the window, when the headers say it is full or nothing else was in flight;
    otherwise the concurrency, to what was in flight besides it) and holds every request until the provider's
    reset. A minute's limit the provider states is taken as it is (up to the ceiling). Other answers count
    towards a slow raise: one more at once, and a tenth more a minute when the provider states no limit, after
    RAISE_AFTER_SUCCESSES in a row.
    """
    headers = answer.headers or RateLimitHeaders()
    stated_per_minute = min(headers.limit, ceilings.per_minute) if headers.limit else None
    if answer.kind == AnswerKind.RATE_LIMITED:
        window_hit = headers.window_is_full or others_in_flight == 0
        lowered = (
            replace(pace, per_minute=stated_per_minute or max(sent_in_window - 1, 1))
            if window_hit
            else replace(pace, concurrency=max(min(pace.concurrency - 1, others_in_flight), 1))
        )
        hold = now + timedelta(seconds=answer.wait_s)
        held_until = max(hold, pace.held_until) if pace.held_until else hold
        return replace(lowered, held_until=held_until, successes=0).within(ceilings)
    paced = replace(pace, per_minute=stated_per_minute) if stated_per_minute else pace
    if headers.window_is_full and headers.reset_s:
        # Another client of the same account filled the window: wait with it rather than meet a 429.
        paced = replace(paced, held_until=now + timedelta(seconds=headers.reset_s))
    if answer.kind != AnswerKind.SUCCEEDED:
        return paced.within(ceilings)
    if paced.successes + 1 < RAISE_AFTER_SUCCESSES:
        return replace(paced, successes=paced.successes + 1).within(ceilings)
    raised_per_minute = (
        paced.per_minute if stated_per_minute else paced.per_minute + max(paced.per_minute // 10, 1)
    )
    return replace(
        paced, concurrency=paced.concurrency + 1, per_minute=raised_per_minute, successes=0
    ).within(ceilings)


@dataclass(frozen=True, slots=True)
class TurnOutlook:
    """What the estimates start from: the pace, when the requests in flight should end, when the window's
    requests were sent, and how long a request usually takes."""

    pace: Pace
    in_flight_started_s_ago: list[float]
    window_sent_s_ago: list[float]
    latency_s: float
    now: datetime

    def turn_starts_s(self, turns: int, *, batch_cells: bool = False) -> list[float]:
        """Seconds from now until each of the next `turns` requests may start, at this pace, if every request
        takes `latency_s` (batch cells leave each minute's headroom to single prompts). An estimate: other
        people's work and 429s move it."""
        window = WINDOW.total_seconds()
        per_minute = self.pace.per_minute - (self.pace.interactive_headroom() if batch_cells else 0)
        held_s = max((self.pace.held_until - self.now).total_seconds(), 0.0) if self.pace.held_until else 0.0
        slots = sorted(max(self.latency_s - ago, 0.0) for ago in self.in_flight_started_s_ago)
        slots = slots[: self.pace.concurrency]
        slots += [0.0] * (self.pace.concurrency - len(slots))
        heapq.heapify(slots)
        # When each request in the window leaves it, oldest first; new requests join the end.
        leaves = sorted(max(window - ago, 0.0) for ago in self.window_sent_s_ago)
        leaves = leaves[max(len(leaves) - per_minute, 0) :]
        starts = []
        for _ in range(turns):
            start = max(heapq.heappop(slots), held_s)
            if len(leaves) >= per_minute:
                start = max(start, leaves[len(leaves) - per_minute])
            starts.append(start)
            heapq.heappush(slots, start + self.latency_s)
            leaves.append(start + window)
        return starts
