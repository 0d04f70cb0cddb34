"""The job engine's entry points (procrastinate): making a generation's image, and recovering from dead workers.

Workers run these as async tasks (`bin/worker`, or `manage.py procrastinate worker`), many at once per process.
No task is ever retried by the engine: a generation whose worker died may already have been billed by the
provider, so it ends `interrupted` and a person decides whether to retry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from procrastinate import JobContext
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.job_context import AbortReason
from procrastinate.jobs import Status

from generations.domain import ErrorCode, aspect_ratio
from generations.images import InvalidImageError, StoredImage, image_store
from generations.models import Generation, GenerationStatus
from generations.provider.client import GeneratedImage
from generations.provider.config import configured_provider
from generations.provider.errors import ProviderError
from lib.db import database_calls_in_parallel, database_sync_to_async
from lib.request_log import request_id as request_id_var

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Failure:
    code: ErrorCode
    user_message: str
    detail: str
    request_id: str = ""
    attempts: int = 0  # requests sent to the provider

    @classmethod
    def from_error(cls, err: ProviderError) -> Failure:
        return cls(err.code, err.user_message, err.detail, err.request_id, err.attempts)


Outcome = tuple[GeneratedImage, StoredImage] | Failure


@app.task(name="generations.run", queue=settings.GENERATION_QUEUE, pass_context=True)
async def run_generation(context: JobContext, public_id: str, request_id: str = "-") -> None:
    """Make a queued generation's image and record the outcome."""
    token = request_id_var.set(request_id)
    try:
        with database_calls_in_parallel():
            await generation_execute(
                public_id, cancelled_by_person=lambda: context.abort_reason() == AbortReason.USER_REQUEST
            )
    finally:
        request_id_var.reset(token)


async def generation_execute(public_id: str, *, cancelled_by_person: Callable[[], bool]) -> None:
    """Take a queued generation, call the provider, store the image, record the outcome. Never raises a
    ProviderError. Aborted (cancelled by a person, or the worker's shutdown grace ran out), it re-raises the
    CancelledError after closing the row."""
    generation = await _generation_start(public_id)
    if generation is None:
        return  # cancelled (or closed) before a worker took it: it never reaches the provider
    try:
        outcome = await _make_image(generation)
    except asyncio.CancelledError:
        if not cancelled_by_person():  # a person's cancellation is on the row already
            await asyncio.shield(_generation_interrupt(generation.pk))
        raise
    except Exception as err:
        logger.exception("generation %s crashed", generation.public_id)
        outcome = Failure(
            ErrorCode.INTERNAL_ERROR,
            "Something went wrong inside the playground. Retry, and tell us if it keeps happening.",
            f"{type(err).__name__}: {err}",
        )
    await _generation_finish(generation, outcome)


async def _make_image(generation: Generation) -> Outcome:
    try:
        result = await configured_provider().generate(generation.parameters, model=generation.model)
    except ProviderError as err:
        return Failure.from_error(err)
    try:
        stored = await asyncio.to_thread(image_store, result.data)
    except InvalidImageError as err:
        # The provider's requests made this image, so they count as its attempts.
        return Failure(err.code, err.user_message, err.detail, result.request_id, result.attempts)
    return result, stored


@database_sync_to_async
def _generation_start(public_id: str) -> Generation | None:
    """Take a queued generation: it is running from now on. None when it is no longer queued.

    One statement (the ORM's update() returns no rows): its round trips set the pace at which a burst of jobs
    reaches the provider.
    """
    taken = Generation.objects.raw(
        "UPDATE generations_generation SET status = %s, started_at = %s "
        "WHERE public_id = %s AND status = %s RETURNING *",
        [GenerationStatus.RUNNING, timezone.now(), public_id, GenerationStatus.QUEUED],
    )
    return next(iter(taken), None)


@database_sync_to_async
def _generation_finish(generation: Generation, outcome: Outcome) -> None:
    if isinstance(outcome, Failure):
        generation.status = GenerationStatus.FAILED
        generation.error_code = outcome.code
        generation.error_message = outcome.user_message
        generation.provider_request_id = outcome.request_id
        generation.attempts = outcome.attempts
        logger.warning(
            "generation %s failed: %s (%s) request_id=%s",
            generation.public_id,
            outcome.code,
            outcome.detail,
            outcome.request_id,
        )
    else:
        result, stored = outcome
        generation.status = GenerationStatus.SUCCEEDED
        generation.revised_prompt = result.revised_prompt
        generation.reasoning = result.reasoning
        generation.provider_url = result.provider_url
        generation.provider_request_id = result.request_id
        generation.attempts = result.attempts
        generation.provider_latency_ms = result.provider_latency_ms
        generation.image_fetch_ms = result.image_fetch_ms
        generation.image.name = stored.name
        generation.image_bytes = stored.byte_size
        generation.image_sha256 = stored.sha256
        # The provider's image is the truth about the size, should it differ from what was asked.
        generation.width, generation.height = stored.width, stored.height
        generation.aspect_ratio = aspect_ratio(stored.width, stored.height)
    generation.finished_at = timezone.now()
    generation.total_latency_ms = round(
        (generation.finished_at - generation.created_at).total_seconds() * 1000
    )
    # Only a still-running row is updated: a cancellation meanwhile is not overwritten.
    updated = Generation.objects.filter(pk=generation.pk, status=GenerationStatus.RUNNING).update(
        **{field: getattr(generation, field) for field in _RESULT_FIELDS}
    )
    if updated:
        assert generation.started_at is not None  # set as the job took it (_generation_start)
        logger.info(
            "generation %s %s in %d ms (queued %d ms, provider %s ms, image fetch %s ms, %d attempts)",
            generation.public_id,
            generation.status,
            generation.total_latency_ms,
            round((generation.started_at - generation.created_at).total_seconds() * 1000),
            generation.provider_latency_ms,
            generation.image_fetch_ms,
            generation.attempts,
        )


_RESULT_FIELDS = (
    "status",
    "error_code",
    "error_message",
    "revised_prompt",
    "reasoning",
    "provider_url",
    "provider_request_id",
    "attempts",
    "provider_latency_ms",
    "image_fetch_ms",
    "image",
    "image_bytes",
    "image_sha256",
    "width",
    "height",
    "aspect_ratio",
    "finished_at",
    "total_latency_ms",
)


@database_sync_to_async
def _generation_interrupt(generation_id: int) -> None:
    Generation.objects.filter(pk=generation_id).interrupt()


@app.periodic(cron="* * * * * */10", periodic_id="recover")
@app.task(
    name="generations.recover_stalled",
    queue=settings.GENERATION_QUEUE,
    # Ahead of every queued generation, so that it runs as soon as a worker has a free slot.
    priority=100,
    queueing_lock="generations.recover_stalled",
    pass_context=True,
)
async def recover_stalled_generations(context: JobContext, timestamp: int) -> None:
    """Every 10 seconds, close the generations of workers that died (their heartbeat stopped)."""
    job_manager = context.app.job_manager
    stalled = await job_manager.get_stalled_jobs(
        queue=settings.GENERATION_QUEUE,
        task_name=run_generation.name,
        seconds_since_heartbeat=settings.WORKER_STALLED_AFTER_S,
    )
    for job in stalled:
        assert job.id is not None  # read from the database, so it has its id
        before = await _generation_recover(job.id)
        if before == GenerationStatus.QUEUED:
            # Taken but never started: nothing reached the provider, so it may safely run again.
            await job_manager.retry_job(job)
        else:
            await job_manager.finish_job(job=job, status=Status.FAILED, delete_job=False)
        logger.warning("generation job %s of a dead worker was %s", job.id, before or "without a row")
    if orphans := await _generations_interrupt_orphans():
        logger.warning("%d running generations without a running job were interrupted", orphans)


@database_sync_to_async
def _generation_recover(job_id: int) -> str | None:
    """Mark the running generation of a dead worker's job interrupted; return the row's status before."""
    with transaction.atomic():
        generation = Generation.objects.select_for_update().filter(job_id=job_id).first()
        if generation is None:
            return None
        Generation.objects.filter(pk=generation.pk).interrupt()
    return generation.status


@database_sync_to_async
def _generations_interrupt_orphans() -> int:
    """Interrupt running generations whose job has ended: their worker failed to record the outcome."""
    unfinished_jobs = ProcrastinateJob.objects.filter(status__in=["todo", "doing"]).values("id")
    return Generation.objects.exclude(job_id__in=unfinished_jobs).interrupt()
