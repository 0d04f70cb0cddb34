"""Use cases of a batch: record and queue it (refused whole past any limit), retry its failed cells, run it
again, cancel the cells not yet sent.

Every cell is an ordinary generation (gallery, share link, download), linked to its batch with its place in the
grid, so that a retry or a re-run of the batch puts the same request in the same place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from generations.batch_plan import BatchPlan, Cell
from generations.hooks import GenerationExtra
from generations.models import Batch, Generation, GenerationStatus, Requester
from generations.selectors import latest_cells
from generations.services.lifecycle import generations_attach, generations_cancel, generations_queue


def batch_create(
    *,
    plan: BatchPlan,
    prompts_text: str,
    requester: Requester,
    rerun_of: Batch | None = None,
    extras: Sequence[tuple[GenerationExtra, Any]] = (),
) -> Batch:
    """Record a batch and all its cells, and queue them, in one transaction; refused whole past any limit (or
    by an extra that refuses its cells, see `generation_create`).

    Its cells wait for their turns at the provider, taking turns with other people's batches."""
    with transaction.atomic():
        batch = Batch.objects.create(
            user=requester.user,
            maker_session=requester.session,
            prompts_text=prompts_text,
            prompts=plan.prompts,
            seeds=plan.seeds,
            sizes=plan.sizes,
            extend_modes=plan.extend_modes,
            model_names=[model for model in plan.models if model],
            rerun_of=rerun_of,
        )
        cells = _queue_cells(batch, list(plan.cells()), requester)
        generations_attach(generations=cells, extras=extras)
    return batch


def batch_retry_failed(*, batch: Batch, requester: Requester, cell_index: int | None = None) -> int:
    """Queue again the cells whose latest attempt failed or was interrupted (or cancelled), or only the one at
    `cell_index` if it did; how many."""
    plan = BatchPlan.of(batch)
    with transaction.atomic():
        retry = [
            plan.cell(index)
            for index, cell in latest_cells(batch).items()
            if cell.status
            in (GenerationStatus.FAILED, GenerationStatus.INTERRUPTED, GenerationStatus.CANCELLED)
            and cell_index in (None, cell.cell_index)
        ]
        if retry:
            _queue_cells(batch, retry, requester)
    return len(retry)


def batch_run_again(*, batch: Batch, requester: Requester) -> Batch:
    """A new batch with exactly the same cells: same prompts, seeds, sizes and prompt extend."""
    return batch_create(
        plan=BatchPlan.of(batch), prompts_text=batch.prompts_text, requester=requester, rerun_of=batch
    )


def batch_cancel(*, batch: Batch) -> int:
    """Cancel the cells not yet sent to the provider (running ones finish); how many were cancelled.

    The caller has checked that the person may (Batch.can_be_changed_by)."""
    return generations_cancel(generations=batch.cells.filter(status=GenerationStatus.QUEUED))


def _queue_cells(batch: Batch, cells: list[Cell], requester: Requester) -> list[Generation]:
    return generations_queue(
        parameters=[cell.parameters for cell in cells],
        requester=requester,
        batch=batch,
        cell_indexes=[cell.index for cell in cells],
        models=[cell.model for cell in cells],
    )
