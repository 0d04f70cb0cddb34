"""A generation's life as people drive it: queue it, cancel it, wait for it, repeat it, favourite and delete it.

Running it is the job engine's part (generations/tasks.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from procrastinate.contrib.django import app as job_engine

from generations.domain import FREE, ErrorCode, GenerationParameters
from generations.hooks import GenerationExtra
from generations.images import THUMBNAIL_SIDES, thumbnail_name
from generations.models import (
    Batch,
    Generation,
    GenerationQuerySet,
    GenerationSource,
    GenerationStatus,
    Price,
    Requester,
    new_public_id,
)
from generations.pacing import turns_grant
from generations.provider.config import configured_provider
from generations.selectors import with_silent_workers_shown
from generations.services.batch_files import batch_composites_delete
from generations.services.events import GenerationEvent, generation_events
from generations.services.limits import generation_limits_check
from lib.db import database_sync_to_async, through_database_outage
from lib.request_log import request_id

QUEUED_CANCEL_MESSAGE = "Cancelled before it was sent to the provider: nothing was billed."
RUNNING_CANCEL_MESSAGE = "Cancelled while the provider was making it: the provider may still bill for it."
# A waiting caller re-reads the row this often, in case a notification was missed (a dropped connection).
WAIT_RECHECK_S = 5.0


def generation_create(
    *,
    parameters: GenerationParameters,
    requester: Requester,
    source: str = GenerationSource.WEB,
    extras: Sequence[tuple[GenerationExtra, Any]] = (),
) -> Generation:
    """Record a queued generation within the limits and budgets, in one transaction; it waits for its turn at
    the provider there (generations/pacing.py), which may come at once.

    A blank seed is drawn here, because the provider does not report the seed it picks. Raises
    GenerationRefused when a limit is reached, and then nothing is recorded or queued. The requester's browser
    session is kept as the maker session (see Generation.can_be_changed_by). `extras` (another room's, with
    their checked values: generations/hooks.py) get the generation in the same transaction; one that refuses it
    (ValueError) leaves nothing recorded either.
    """
    with transaction.atomic():
        generations = generations_queue(parameters=[parameters], requester=requester, source=source)
        generations_attach(generations=generations, extras=extras)
    return generations[0]


def generations_attach(
    *, generations: list[Generation], extras: Sequence[tuple[GenerationExtra, Any]]
) -> None:
    """Hand generations just recorded to the extras asked for with them (inside the transaction that records)."""
    for extra, value in extras:
        extra.attach(value, generations)


def generations_queue(
    *,
    parameters: list[GenerationParameters],
    requester: Requester,
    source: str = GenerationSource.WEB,
    batch: Batch | None = None,
    cell_indexes: Sequence[int | None] | None = None,
    models: Sequence[str] | None = None,
) -> list[Generation]:
    """Record queued generations at the price in effect, check the limits with them counted, and give them the
    provider's free turns if they are next in line. Call inside a transaction: a refusal (GenerationRefused)
    leaves nothing recorded once it rolls back, and nothing is visible to a worker before it commits.

    `models` names an extra model for each ("" for the configured one), where a batch compares models.
    """
    provider = configured_provider()
    price = FREE if provider.is_demo else Price.objects.in_effect(timezone.now())
    generations = [
        Generation(
            public_id=new_public_id(),
            **asked.with_seed().model_fields(),
            model=model or provider.model,
            is_demo=provider.is_demo,
            price=price.of(asked),
            user=requester.user,
            source=source,
            maker_session=requester.session,
            client_address=requester.address if requester.user is None else None,
            request_id=request_id.get(),
            batch=batch,
            cell_index=cell_index,
        )
        for asked, cell_index, model in zip(
            parameters,
            cell_indexes or [None] * len(parameters),
            models or [""] * len(parameters),
            strict=True,
        )
    ]
    Generation.objects.bulk_create(generations)
    generation_limits_check(
        requester=requester,
        count=len(generations),
        cost=sum((generation.price for generation in generations), Decimal(0)),
    )
    by_public_id = {generation.public_id: generation for generation in generations}
    for turn in turns_grant():
        if generation := by_public_id.get(turn.public_id):
            generation.job_id, generation.dispatched_at = turn.job_id, turn.at
    return generations


def generation_cancel(*, generation: Generation) -> Generation:
    """Cancel a queued generation, which then never reaches the provider, or abort a running one.

    A running generation's request may already be with the provider, which may bill it: the card says so.
    A finished generation is returned as it is.
    """
    generations_cancel(generations=Generation.objects.filter(pk=generation.pk))
    generation.refresh_from_db()
    return generation


def generations_cancel(*, generations: GenerationQuerySet) -> int:
    """Cancel the queued or running generations among `generations` (see `generation_cancel`); how many."""
    with transaction.atomic():
        active = list(generations.active().select_for_update().only("pk", "status", "job_id"))
        for status, message in (
            (GenerationStatus.QUEUED, QUEUED_CANCEL_MESSAGE),
            (GenerationStatus.RUNNING, RUNNING_CANCEL_MESSAGE),
        ):
            Generation.objects.filter(pk__in=[g.pk for g in active if g.status == status]).update(
                status=GenerationStatus.CANCELLED,
                error_code=ErrorCode.CANCELLED,
                error_message=message,
                finished_at=timezone.now(),
            )
        for generation in active:
            if generation.job_id is not None:
                job_engine.job_manager.cancel_job_by_id(generation.job_id, abort=True)
    return len(active)


async def generation_wait(*, public_id: str, timeout_s: float) -> Generation:
    """The generation once it is final, or as it stands after `timeout_s`, woken by its status notifications.

    A database restart meanwhile is waited out (within `timeout_s`): the worker records the outcome once it is back.
    """
    deadline = time.monotonic() + timeout_s
    async with generation_events([public_id]) as events:
        while True:
            generation = await through_database_outage(
                lambda: _generation_by_public_id(public_id),
                grace_s=max(deadline - time.monotonic(), 0),
                what=f"waiting for generation {public_id}",
            )
            remaining = deadline - time.monotonic()
            if not generation.is_active or remaining <= 0:
                return generation
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(events.get(), timeout=min(WAIT_RECHECK_S, remaining))


async def generation_status_changes(
    *, public_ids: list[str], lifetime_s: float, keepalive_s: float
) -> AsyncIterator[GenerationEvent | None]:
    """The current status of each generation, then every change, for `lifetime_s`; None every `keepalive_s`."""
    deadline = time.monotonic() + lifetime_s
    async with generation_events(public_ids) as events:
        for public_id, status in await _statuses(public_ids):
            yield GenerationEvent(public_id=public_id, status=status)
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                yield await asyncio.wait_for(events.get(), timeout=min(keepalive_s, remaining))
            except TimeoutError:
                yield None


@database_sync_to_async
def _generation_by_public_id(public_id: str) -> Generation:
    """The generation as its reader sees it: one whose worker went silent is over (interrupted)."""
    [generation] = with_silent_workers_shown([Generation.objects.get(public_id=public_id)])
    return generation


@database_sync_to_async
def _statuses(public_ids: list[str]) -> list[tuple[str, str]]:
    return list(Generation.objects.live().filter(public_id__in=public_ids).values_list("public_id", "status"))


def generation_repeat(*, generation: Generation, requester: Requester, new_seed: bool = False) -> Generation:
    """A new generation with the same inputs: "Retry" keeps the seed, "same prompt, new seed" draws one."""
    parameters = replace(generation.parameters, seed=None) if new_seed else generation.parameters
    return generation_create(parameters=parameters, requester=requester)


def generation_set_favourite(*, generation: Generation, favourite: bool) -> Generation:
    generation.is_favourite = favourite
    generation.save(update_fields=["is_favourite"])
    return generation


def generation_delete(*, generation: Generation) -> Generation:
    """Hide a generation for good and remove its files unless another live generation has the same image.

    The row stays (marked deleted) so that its share link can say it was deleted instead of "not found". A
    batch's composites that may show it go too.
    """
    generation.deleted_at = timezone.now()
    generation.save(update_fields=["deleted_at"])
    for field in ("image", "thumbnail"):
        name = getattr(generation, field).name
        if name and not Generation.objects.live().filter(**{field: name}).exists():
            default_storage.delete(name)
            if field == "thumbnail":  # the larger thumbnail: the row names only the smaller one
                default_storage.delete(thumbnail_name(generation.image_sha256, THUMBNAIL_SIDES[1]))
    if generation.batch is not None:
        batch_composites_delete(batch=generation.batch)
    return generation


def generations_set_favourite(*, generations: list[Generation], favourite: bool) -> list[Generation]:
    """Favourite (or unfavourite) several generations at once: the gallery's selection and a tile's star."""
    Generation.objects.filter(pk__in=[generation.pk for generation in generations]).update(
        is_favourite=favourite
    )
    for generation in generations:
        generation.is_favourite = favourite
    return generations


def generations_delete(*, generations: list[Generation]) -> list[Generation]:
    """Delete several generations (see `generation_delete`); the caller has checked who may delete which."""
    return [generation_delete(generation=generation) for generation in generations]
