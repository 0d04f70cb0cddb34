"""The provider's pace as arithmetic (generations/provider/pace.py): what answers say, how the pace follows them,
and the estimates. No database, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from generations.provider.pace import (
    RAISE_AFTER_SUCCESSES,
    AnswerKind,
    Ceilings,
    Pace,
    ProviderAnswer,
    RateLimitHeaders,
    TurnOutlook,
    pace_after,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CEILINGS = Ceilings(concurrency=5, per_minute=120)


def answer(kind: AnswerKind, **headers) -> ProviderAnswer:
    return ProviderAnswer(kind, RateLimitHeaders(**headers) if headers else None)


def after(
    pace: Pace, kind: AnswerKind, *, others_in_flight: int = 0, sent_in_window: int = 0, **headers
) -> Pace:
    return pace_after(
        pace,
        answer(kind, **headers),
        others_in_flight=others_in_flight,
        sent_in_window=sent_in_window,
        ceilings=CEILINGS,
        now=NOW,
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "12.5"},
            (60, 0, 12.5),
        ),
        ({"x-ratelimit-reset": "1m30s"}, (None, None, 90.0)),
        ({"x-ratelimit-reset": "250ms"}, (None, None, 0.25)),
        ({"x-ratelimit-reset": str(int(NOW.timestamp()) + 20)}, (None, None, 20.0)),
        ({"x-ratelimit-limit": "-3", "x-ratelimit-remaining": "lots", "x-ratelimit-reset": "soon"}, None),
        ({"x-ratelimit-reset": "99999999999999999999"}, (None, None, 3600.0)),
        ({"x-ratelimit-reset": "1e400"}, None),
        ({}, None),
    ],
)
def test_it_reads_the_rate_limit_headers_providers_send_and_ignores_what_is_malformed(headers, expected):
    parsed = RateLimitHeaders.parse(headers, now=NOW)

    assert (parsed and (parsed.limit, parsed.remaining, parsed.reset_s)) == expected


def retry_after_s(value: str) -> float | None:
    parsed = RateLimitHeaders.parse({"Retry-After": value}, now=NOW)
    return parsed.retry_after_s if parsed else None


def test_it_reads_retry_after_in_seconds_or_as_a_date_and_bounds_it():
    date = (NOW + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")

    assert retry_after_s("7") == 7
    assert retry_after_s(date) == 30
    assert retry_after_s("86400000") == 3600


def test_a_429_for_a_full_window_takes_the_stated_limit_and_holds_until_the_reset():
    pace = after(
        Pace(5, 120),
        AnswerKind.RATE_LIMITED,
        others_in_flight=2,
        limit=60,
        remaining=0,
        reset_s=20.0,
        retry_after_s=20.0,
    )

    assert (pace.concurrency, pace.per_minute) == (5, 60)
    assert pace.held_until == NOW + timedelta(seconds=20)
    assert pace.is_held(NOW + timedelta(seconds=19))
    assert not pace.is_held(NOW + timedelta(seconds=20))


def test_a_429_with_room_in_the_window_lowers_the_concurrency_to_what_was_in_flight():
    pace = after(
        Pace(5, 120), AnswerKind.RATE_LIMITED, others_in_flight=3, limit=120, remaining=80, retry_after_s=1.0
    )

    assert (pace.concurrency, pace.per_minute) == (3, 120)
    assert pace.held_until == NOW + timedelta(seconds=1)


def test_a_429_never_lowers_the_pace_below_one_request():
    pace = Pace(1, 1)
    for _ in range(3):
        pace = after(pace, AnswerKind.RATE_LIMITED, others_in_flight=0, sent_in_window=0)

    assert (pace.concurrency, pace.per_minute) == (1, 1)


def test_it_climbs_back_one_step_after_enough_answers_in_a_row_and_never_above_the_ceilings():
    pace = Pace(2, 40)
    for _ in range(RAISE_AFTER_SUCCESSES - 1):
        pace = after(pace, AnswerKind.SUCCEEDED)
    assert (pace.concurrency, pace.per_minute) == (2, 40), "not yet"

    pace = after(pace, AnswerKind.SUCCEEDED)
    assert (pace.concurrency, pace.per_minute, pace.successes) == (3, 44, 0)

    for _ in range(50 * RAISE_AFTER_SUCCESSES):
        pace = after(pace, AnswerKind.SUCCEEDED)
    assert (pace.concurrency, pace.per_minute) == (CEILINGS.concurrency, CEILINGS.per_minute)


def test_a_stated_per_minute_limit_is_taken_as_it_is_up_to_the_ceiling():
    assert after(Pace(5, 120), AnswerKind.SUCCEEDED, limit=30, remaining=29).per_minute == 30
    assert after(Pace(5, 30), AnswerKind.SUCCEEDED, limit=500, remaining=400).per_minute == 120


def test_an_answer_saying_the_window_is_full_holds_the_pace_before_any_429():
    pace = after(Pace(5, 120), AnswerKind.SUCCEEDED, limit=60, remaining=0, reset_s=9.0)

    assert pace.held_until == NOW + timedelta(seconds=9)


def free(pace: Pace, *, in_flight: int = 0, sent: int = 0, singles: int = 0) -> tuple[int, int]:
    return pace.free_turns(in_flight=in_flight, sent_in_window=sent, singles_in_window=singles, now=NOW)


def test_free_turns_keep_a_tenth_of_the_minute_for_single_prompts():
    pace = Pace(concurrency=3, per_minute=60)

    assert free(pace) == (3, 3)
    assert free(pace, in_flight=1, sent=53) == (2, 1)
    assert free(pace, sent=54) == (3, 0), "batch cells wait; prompts go"
    assert free(pace, sent=56, singles=2) == (3, 0), "the four prompts still to come keep their room"
    assert free(pace, sent=54, singles=6) == (3, 3), "prompts used their tenth: the rest is the cells'"
    assert free(pace, sent=60) == (0, 0)
    assert free(pace, in_flight=3) == (0, 0)


def test_a_held_pace_has_no_free_turn():
    pace = Pace(3, 60, held_until=NOW + timedelta(seconds=5))

    assert free(pace) == (0, 0)


def test_the_estimate_of_a_100_image_batch_at_3_at_once_and_60_a_minute_is_about_a_minute_and_a_half():
    outlook = TurnOutlook(
        Pace(3, 60), in_flight_started_s_ago=[], window_sent_s_ago=[], latency_s=2.0, now=NOW
    )

    starts = outlook.turn_starts_s(100)

    assert starts[:4] == [0.0, 0.0, 0.0, 2.0], "three at once, the fourth when the first ends"
    assert starts[59] == 38.0, "the first minute's 60 go at the pace of 3 at once"
    assert starts[60] == 61.0, "the 61st waits for the first to leave the window (61 s: a second's margin)"
    assert 85 <= starts[99] + 2.0 <= 95
    cells = outlook.turn_starts_s(100, batch_cells=True)
    assert cells[54] == 61.0, "batch cells leave a tenth of the minute to single prompts"
    assert 90 <= cells[99] + 2.0 <= 100


def test_the_estimate_starts_from_the_requests_in_flight_the_window_and_a_hold():
    outlook = TurnOutlook(
        Pace(2, 3, held_until=NOW + timedelta(seconds=4)),
        in_flight_started_s_ago=[1.0],
        window_sent_s_ago=[50.0, 1.0],
        latency_s=2.0,
        now=NOW,
    )

    # The hold first; then the window is full (two sent before, one now) until its oldest leaves at 11 s.
    assert outlook.turn_starts_s(3) == [4.0, 11.0, 60.0]
