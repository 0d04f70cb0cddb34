"""What the pace and the budgets cost each generation: database statements and their time on the request that
queues it and on the worker that runs it, with the queue empty and with 1,000 generations waiting for their turn.

Runs in-process on the benchmark's embedded PostgreSQL (var/bench), production settings, the offline demo provider
with no latency (so that only the database is timed; its steps are the same as with the real provider).

    .venv/bin/python -m benchmarks.pacing_cost
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import override_settings

from benchmarks.in_process import REPEAT, run  # sets Django up
from generations.domain import GenerationParameters
from generations.models import Generation, GenerationStatus, Requester
from generations.pacing import turn_end, turns_grant
from generations.provider.pace import AnswerKind, ProviderAnswer
from generations.services.lifecycle import generation_create
from generations.tasks import generation_execute

PREFIX = "bench-pacing"
WAITING = 1000
SUCCEEDED = ProviderAnswer(AnswerKind.SUCCEEDED)


def main() -> None:
    call_command("migrate", verbosity=0)
    _clear()
    requester = Requester(user=None, session="bench-pacing", address="127.0.0.1")
    print(
        f"\npacing: database work per generation on {os.cpu_count()} cores, median of {REPEAT} "
        "(statements and their round trips; each step adds one commit)"
    )
    with override_settings(
        ZIMAGE_API_KEY="", ZIMAGE_DEMO_LATENCY_S=0, LIMIT_PER_MINUTE=10**6, LIMIT_PER_DAY=10**6
    ):
        queued = _measure(lambda index: generation_create(parameters=_asked(index), requester=requester))
        ran = _measure(lambda index: _execute(queued.results[index].public_id))
        _report("the request that queues it, queue empty", queued)
        _report("the worker: start, outcome, its turn's end", ran)
        _clear()
    paced = {"ZIMAGE_API_KEY": "bench", "PROVIDER_MAX_CONCURRENT": 3, "PROVIDER_MAX_PER_MINUTE": 10**6}
    with override_settings(
        **paced,
        LIMIT_PER_MINUTE=10**6,
        LIMIT_PER_DAY=10**6,
        LIMIT_QUEUED_PER_USER=10**6,
        MAX_QUEUED_GENERATIONS=10**6,
    ):
        _fill_queue(requester)
        waiting = _measure(lambda index: generation_create(parameters=_asked(index), requester=requester))
        ended = _measure(
            lambda ending: turn_end(generation_id=ending, answer=SUCCEEDED, latency_ms=2000),
            prepare=lambda index: _one_turn_done(),
        )
        _report(f"the request that queues it, {WAITING:,} waiting", waiting)
        _report(f"a turn ends and the next of {WAITING:,} gets it", ended)
    _clear()


class _Measured:
    def __init__(self) -> None:
        self.statements: list[int] = []
        self.sql_ms: list[float] = []
        self.results: list = []


class _StatementTimer:
    """Counts the statements sent through Django's connection and times their round trips (a commit is not a
    statement here: each step's transaction adds one)."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started


def _measure(step: Callable[[int], object], prepare: Callable[[int], int] | None = None) -> _Measured:
    """`step` REPEAT times, its statements counted and timed (`prepare` makes its argument first, unmeasured)."""
    measured = _Measured()
    for index in range(REPEAT):
        argument = prepare(index) if prepare else index
        timer = _StatementTimer()
        with connection.execute_wrapper(timer):
            measured.results.append(step(argument))
        measured.statements.append(timer.count)
        measured.sql_ms.append(timer.seconds * 1000)
    return measured


def _report(label: str, measured: _Measured) -> None:
    print(
        f"  {label:48} {statistics.median(measured.statements):4.0f} statements "
        f"{statistics.median(measured.sql_ms):7.2f} ms"
    )


def _asked(index: int) -> GenerationParameters:
    return GenerationParameters(f"{PREFIX} {index}", 1024, 1024, index, False)


def _execute(public_id: str) -> None:
    async_to_sync(generation_execute)(public_id, cancelled_by_person=lambda: False)


def _fill_queue(requester: Requester) -> None:
    """The account's three turns taken, and WAITING generations behind them."""
    with transaction.atomic():
        for index in range(3 + WAITING):
            Generation.objects.create(
                **_asked(index).model_fields(), model="bench", maker_session=f"{PREFIX}-{index % 10}"
            )
        turns_grant()


def _one_turn_done() -> int:
    """One of the generations with a turn has its image: its id, for its turn to end."""
    with_turns = Generation.objects.filter(
        prompt__startswith=PREFIX, status=GenerationStatus.QUEUED, dispatched_at__isnull=False
    )
    done = with_turns.values_list("pk", flat=True)[0]
    Generation.objects.filter(pk=done).update(status=GenerationStatus.SUCCEEDED)
    return done


def _clear() -> None:
    """No generation of this benchmark left, nor the jobs queued for them (no worker runs here)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM procrastinate_jobs WHERE id IN "
            "(SELECT job_id FROM generations_generation WHERE prompt LIKE %s)",
            [f"{PREFIX} %"],
        )
    Generation.objects.filter(prompt__startswith=PREFIX).delete()


if __name__ == "__main__":
    run(main)
