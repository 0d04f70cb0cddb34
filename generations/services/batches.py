"""Use cases of a batch: record and queue it (refused whole past any limit), retry its failed cells, run it
again, cancel the cells not yet sent.

Every cell is an ordinary generation (gallery, share link, download), linked to its batch with its place in the
grid, so that a retry or a re-run of the batch puts the same request in the same place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction

from generations.batch_plan import BatchPlan, Cell
from generations.hooks import GenerationExtra
from generations.models import Batch, Generation, GenerationStatus
from generations.selectors import latest_cells
from generations.services.lifecycle import generations_attach, generations_cancel, generations_queue
from generations.services.limits import generation_limits_check


def batch_create(
    *,
    plan: BatchPlan,
    prompts_text: str,
    user: User | AnonymousUser | None = None,
    rerun_of: Batch | None = None,
    extras: Sequence[tuple[GenerationExtra, Any]] = (),
) -> Batch:
    """Record a batch and all its cells, and queue them, in one transaction; refused whole past any limit (or
    by an extra that refuses its cells, see `generation_create`)."""
    owner = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        batch = Batch.objects.create(
            user=owner,
            prompts_text=prompts_text,
            prompts=plan.prompts,
            seeds=plan.seeds,
            sizes=plan.sizes,
            extend_modes=plan.extend_modes,
            model_names=[model for model in plan.models if model],
            rerun_of=rerun_of,
        )
        cells = _queue_cells(batch, list(plan.cells()), owner)
        generations_attach(generations=cells, extras=extras)
        generation_limits_check(user=owner, count=plan.count)
    return batch


def batch_retry_failed(*, batch: Batch, user: User | AnonymousUser | None = None) -> int:
    """Queue again the cells whose latest attempt failed or was interrupted (or cancelled); how many."""
    owner = user if user is not None and user.is_authenticated else None
    plan = BatchPlan.of(batch)
    with transaction.atomic():
        retry = [
            plan.cell(index)
            for index, cell in latest_cells(batch).items()
            if cell.status
            in (GenerationStatus.FAILED, GenerationStatus.INTERRUPTED, GenerationStatus.CANCELLED)
        ]
        if retry:
            _queue_cells(batch, retry, owner)
            generation_limits_check(user=owner, count=len(retry))
    return len(retry)


def batch_run_again(*, batch: Batch, user: User | AnonymousUser | None = None) -> Batch:
    """A new batch with exactly the same cells: same prompts, seeds, sizes and prompt extend."""
    return batch_create(plan=BatchPlan.of(batch), prompts_text=batch.prompts_text, user=user, rerun_of=batch)


def batch_cancel(*, batch: Batch) -> int:
    """Cancel the cells not yet sent to the provider (running ones finish); how many were cancelled."""
    return generations_cancel(generations=batch.cells.filter(status=GenerationStatus.QUEUED))


def _queue_cells(batch: Batch, cells: list[Cell], owner: User | None) -> list[Generation]:
    return generations_queue(
        parameters=[cell.parameters for cell in cells],
        owner=owner,
        batch=batch,
        cell_indexes=[cell.index for cell in cells],
        models=[cell.model for cell in cells],
    )
