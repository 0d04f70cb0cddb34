"""One pace with the provider for the whole cluster, kept in PostgreSQL: turns at the provider are granted here,
so that every worker process on every machine together stays within the account's limits.

A generation waits in the queue until its turn comes. A turn is granted, under the pace row's lock, when a
request may start (fewer in flight than the pace's concurrency, fewer sent within the last minute than its
per-minute figure, no 429 being waited out), to the waiting generation that goes next in the fair order
(single prompts first, then people's batch cells in turn: the view `generations_waiting_turns`). Granting
records the turn (`ProviderTurn`, a leased slot) and queues the generation's job in the same transaction, so a
worker only ever holds work that has its turn; the rest waits in the queue, where it can be cancelled for free.

Turns are granted where they free up: by the request that queues work, by each worker as a turn ends (and its
answer moves the pace: generations/provider/pace.py), and by a tick every second (for the minute's window
sliding, a 429's hold ending, and turns of generations that stopped taking them: cancelled, or interrupted when
their worker died and its heartbeat stopped).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import datetime

import procrastinate
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Round
from django.utils import timezone
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.jobs import JobDeferrer

from generations.models import Generation, GenerationStatus, ProviderPace, ProviderTurn
from generations.provider.pace import (
    WINDOW,
    AnswerKind,
    Ceilings,
    Pace,
    ProviderAnswer,
    TurnOutlook,
    pace_after,
)

RUN_GENERATION_TASK = "generations.run"
# The offline demo is no paid account: its pace is the workers' own.
DEMO_CEILINGS = Ceilings(concurrency=10_000, per_minute=10_000_000)
PACE_ROW = 1
# Ended turns are kept while they count in the minute's window, then forgotten.
FORGET_TURNS_AFTER = 2 * WINDOW
LATENCY_WEIGHT = 0.2  # of each new answer in the moving average that estimates use

# The pace, locked until the transaction ends (every grant passes here one at a time), with the turns in flight
# and those sent within the window.
PACE_LOCKED = """
SELECT concurrency, per_minute, held_until, successes, configured_concurrency, configured_per_minute,
       (SELECT count(*) FROM generations_providerturn WHERE ended_at IS NULL),
       (SELECT count(*) FROM generations_providerturn WHERE coalesce(sent_at, granted_at) > %(window_since)s),
       (SELECT count(*) FROM generations_providerturn AS turn
          JOIN generations_generation AS g ON g.id = turn.generation_id
         WHERE coalesce(turn.sent_at, turn.granted_at) > %(window_since)s AND g.batch_id IS NULL),
       (SELECT min(coalesce(sent_at, granted_at)) FROM generations_providerturn
         WHERE coalesce(sent_at, granted_at) > %(window_since)s)
  FROM generations_providerpace
 WHERE id = %(pace_row)s
   FOR UPDATE
"""
# The waiting generations whose turn may come now, in the queue's fair order.
NEXT_IN_TURN = """
SELECT turn.id, turn.is_batch_cell, g.public_id, g.request_id
  FROM generations_waiting_turns AS turn
  JOIN generations_generation AS g USING (id)
 WHERE turn.next_try_at IS NULL OR turn.next_try_at <= %(now)s
 ORDER BY turn.turn
 LIMIT %(free)s
"""
# Their turn has come: marked with the job queued for each, and a turn recorded for each. One cancelled meanwhile
# is left out (its job finds it closed and ends at once).
GRANT_TURNS = """
WITH chosen AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(job_ids)s::bigint[]) AS chosen (id, job_id)
), granted AS (
    UPDATE generations_generation AS g
       SET dispatched_at = %(now)s, next_try_at = NULL, job_id = chosen.job_id
      FROM chosen
     WHERE g.id = chosen.id AND g.status = 'queued' AND g.dispatched_at IS NULL
 RETURNING g.id, g.public_id, g.job_id
), turns AS (
    INSERT INTO generations_providerturn (generation_id, granted_at)
    SELECT id, %(now)s FROM granted
)
SELECT public_id, job_id FROM granted ORDER BY id
"""
# Turns whose generation no longer takes them (cancelled, interrupted, or ended without its worker saying so).
END_ABANDONED_TURNS = """
UPDATE generations_providerturn AS turn
   SET ended_at = %(now)s
  FROM generations_generation AS g
 WHERE turn.generation_id = g.id
   AND turn.ended_at IS NULL
   AND NOT (g.status = 'running' OR (g.status = 'queued' AND g.dispatched_at IS NOT NULL))
"""


def pace_ceilings() -> Ceilings:
    """The account's limits as configured (PROVIDER_MAX_CONCURRENT, PROVIDER_MAX_PER_MINUTE)."""
    if not settings.ZIMAGE_API_KEY:
        return DEMO_CEILINGS
    return Ceilings(settings.PROVIDER_MAX_CONCURRENT, settings.PROVIDER_MAX_PER_MINUTE)


@dataclass(frozen=True, slots=True)
class GrantedTurn:
    public_id: str
    job_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class _LockedPace:
    pace: Pace
    in_flight: int
    sent_in_window: int
    singles_in_window: int  # of those, single prompts' (the rest are batch cells)
    window_oldest: datetime | None  # when the oldest request within the window was sent

    def next_opening(self) -> datetime | None:
        """When time alone frees a turn for any waiting work: a hold ends, or the window's oldest request
        leaves it. None when only a turn ending can (or nothing is in the way)."""
        if self.pace.held_until is not None and self.pace.held_until > timezone.now():
            return self.pace.held_until
        room = self.pace.room_for_batch_cells(
            sent_in_window=self.sent_in_window, singles_in_window=self.singles_in_window
        )
        if self.window_oldest is not None and room == 0:
            return self.window_oldest + WINDOW
        return None


def turns_grant() -> list[GrantedTurn]:
    """Give every free turn to the waiting generations that go next, and queue their jobs.

    Call inside the transaction that queued new work (it sees those rows, and a refusal undoes the grant too).
    """
    now = timezone.now()
    return _grant(_pace_locked(now), now)


@transaction.atomic
def turn_end(*, generation_id: int, answer: ProviderAnswer, latency_ms: int | None) -> None:
    """End a generation's turn with the provider's answer: the pace follows what the answer said, then the turns
    free now go to the next in line."""
    now = timezone.now()
    locked = _pace_locked(now)
    ended = ProviderTurn.objects.filter(generation_id=generation_id, ended_at__isnull=True).update(
        ended_at=now
    )
    others_in_flight = max(locked.in_flight - ended, 0)
    pace = pace_after(
        locked.pace,
        answer,
        others_in_flight=others_in_flight,
        sent_in_window=locked.sent_in_window,
        ceilings=pace_ceilings(),
        now=now,
    )
    _pace_save(pace, answer=answer, latency_ms=latency_ms)
    _grant(replace(locked, pace=pace, in_flight=others_in_flight), now)


@transaction.atomic
def turns_tidy() -> datetime | None:
    """End the turns of generations that stopped taking them, forget old ones, and grant what is free: the
    tick's work (the window sliding and a 429's hold ending free turns without anyone ending one). Returns when
    time alone frees the next turn, if it will."""
    now = timezone.now()
    locked = _pace_locked(now)
    with connection.cursor() as cursor:
        cursor.execute(END_ABANDONED_TURNS, {"now": now})
        abandoned = cursor.rowcount
    ProviderTurn.objects.filter(ended_at__lt=now - FORGET_TURNS_AFTER).delete()
    locked = replace(locked, in_flight=max(locked.in_flight - abandoned, 0))
    granted = _grant(locked, now)
    return replace(locked, sent_in_window=locked.sent_in_window + len(granted)).next_opening()


def generation_requeue_after_rate_limit(*, generation: Generation, retry_at: datetime) -> bool:
    """After a 429, put a running generation back in the queue, where it keeps its place and waits until
    `retry_at`: not a person's retry, and nothing was billed. False when it is no longer running (cancelled)."""
    return bool(
        Generation.objects.filter(pk=generation.pk, status=GenerationStatus.RUNNING).update(
            status=GenerationStatus.QUEUED,
            started_at=None,
            dispatched_at=None,
            job_id=None,
            next_try_at=retry_at,
            rate_limit_waits=F("rate_limit_waits") + 1,
        )
    )


def turn_outlook() -> TurnOutlook:
    """What the estimates start from (read without a lock: an estimate may be a moment old)."""
    now = timezone.now()
    row = ProviderPace.objects.filter(pk=PACE_ROW).first()
    ceilings = pace_ceilings()
    pace = (_pace_of(row) if row else Pace(ceilings.concurrency, ceilings.per_minute)).within(ceilings)
    turns = ProviderTurn.objects.filter(granted_at__gt=now - WINDOW).values_list(
        "granted_at", "sent_at", "ended_at"
    )
    sent = [(now - (sent_at or granted_at)).total_seconds() for granted_at, sent_at, _ in turns]
    in_flight = [
        (now - (sent_at or granted_at)).total_seconds() for granted_at, sent_at, ended in turns if not ended
    ]
    latency_ms = row.typical_latency_ms if row else ProviderPace._meta.get_field("typical_latency_ms").default
    if not settings.ZIMAGE_API_KEY:
        latency_ms = round(settings.ZIMAGE_DEMO_LATENCY_S * 1000)
    return TurnOutlook(
        pace=pace,
        in_flight_started_s_ago=in_flight,
        window_sent_s_ago=sent,
        latency_s=latency_ms / 1000,
        now=now,
    )


def _pace_locked(now: datetime) -> _LockedPace:
    """The pace row, locked (made on first use, and begun again at the ceilings when their settings change)."""
    ceilings = pace_ceilings()
    with connection.cursor() as cursor:
        cursor.execute(PACE_LOCKED, {"window_since": now - WINDOW, "pace_row": PACE_ROW})
        row = cursor.fetchone()
        if row is None:
            ProviderPace.objects.bulk_create([_fresh_pace(ceilings)], ignore_conflicts=True)
            cursor.execute(PACE_LOCKED, {"window_since": now - WINDOW, "pace_row": PACE_ROW})
            row = cursor.fetchone()
    concurrency, per_minute, held_until, successes, configured_concurrency, configured_per_minute, *counts = (
        row
    )
    pace = Pace(concurrency, per_minute, held_until, successes)
    if (configured_concurrency, configured_per_minute) != (ceilings.concurrency, ceilings.per_minute):
        pace = Pace(ceilings.concurrency, ceilings.per_minute)
        ProviderPace.objects.filter(pk=PACE_ROW).update(
            **_pace_fields(pace),
            configured_concurrency=ceilings.concurrency,
            configured_per_minute=ceilings.per_minute,
        )
    in_flight, sent_in_window, singles_in_window, window_oldest = counts
    return _LockedPace(pace.within(ceilings), in_flight, sent_in_window, singles_in_window, window_oldest)


def _fresh_pace(ceilings: Ceilings) -> ProviderPace:
    return ProviderPace(
        pk=PACE_ROW,
        concurrency=ceilings.concurrency,
        per_minute=ceilings.per_minute,
        configured_concurrency=ceilings.concurrency,
        configured_per_minute=ceilings.per_minute,
    )


def _pace_of(row: ProviderPace) -> Pace:
    return Pace(row.concurrency, row.per_minute, row.held_until, row.successes)


def _pace_fields(pace: Pace) -> dict:
    return {
        "concurrency": pace.concurrency,
        "per_minute": pace.per_minute,
        "held_until": pace.held_until,
        "successes": pace.successes,
    }


def _pace_save(pace: Pace, *, answer: ProviderAnswer, latency_ms: int | None) -> None:
    changes: dict = _pace_fields(pace)
    if answer.kind == AnswerKind.RATE_LIMITED:
        changes["rate_limited_total"] = F("rate_limited_total") + 1
        changes["rate_limit_wait_s_total"] = F("rate_limit_wait_s_total") + answer.wait_s
    if answer.kind == AnswerKind.SUCCEEDED and latency_ms is not None:
        changes["typical_latency_ms"] = Round(
            F("typical_latency_ms") * (1 - LATENCY_WEIGHT) + latency_ms * LATENCY_WEIGHT
        )
    ProviderPace.objects.filter(pk=PACE_ROW).update(**changes)


def _grant(locked: _LockedPace, now: datetime) -> list[GrantedTurn]:
    free, free_for_cells = locked.pace.free_turns(
        in_flight=locked.in_flight,
        sent_in_window=locked.sent_in_window,
        singles_in_window=locked.singles_in_window,
        now=now,
    )
    if free == 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(NEXT_IN_TURN, {"now": now, "free": free})
        chosen, cells = [], 0
        for generation_id, is_batch_cell, public_id, request_id in cursor.fetchall():
            if is_batch_cell:
                if cells == free_for_cells:
                    break
                cells += 1
            chosen.append((generation_id, public_id, request_id))
        if not chosen:
            return []
        # The request id travels with the job, so that the worker's log lines match the request's.
        job_ids = _turn_jobs().batch_defer(
            *(
                {"public_id": public_id, "request_id": request_id or "-"}
                for _, public_id, request_id in chosen
            )
        )
        ids = [generation_id for generation_id, _, _ in chosen]
        cursor.execute(GRANT_TURNS, {"now": now, "ids": ids, "job_ids": job_ids})
        return [GrantedTurn(public_id, job_id, now) for public_id, job_id in cursor.fetchall()]


@functools.cache
def _turn_jobs() -> JobDeferrer:
    """Generation jobs, queued on Django's connection inside the transaction that grants their turns (a worker
    process's engine defers through a pool of its own, outside that transaction)."""
    return procrastinate.App(connector=DjangoConnector()).configure_task(
        RUN_GENERATION_TASK, queue=settings.GENERATION_QUEUE
    )
