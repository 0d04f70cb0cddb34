"""Use cases of a generation: create it, run it against the provider, retry it, and clean up after crashes."""

from __future__ import annotations

import contextvars
import copy
import json
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from generations.models import Generation, GenerationSource, GenerationStatus
from generations.services.demo_provider import DemoProvider
from generations.services.images import image_store, png_with_text, thumbnail_store
from generations.services.limits import generation_limits_check
from generations.services.provider import MAX_SEED, HttpProvider, ImageRequest, ProviderError
from generations.sizes import aspect_ratio

logger = logging.getLogger(__name__)


def get_provider() -> HttpProvider | DemoProvider:
    """The real provider when ZIMAGE_API_KEY is set, otherwise the offline demo."""
    if not settings.ZIMAGE_API_KEY:
        return DemoProvider(latency_s=settings.ZIMAGE_DEMO_LATENCY_S)
    return HttpProvider(
        base_url=settings.ZIMAGE_BASE_URL,
        api_key=settings.ZIMAGE_API_KEY,
        model=settings.ZIMAGE_MODEL,
        response_format=settings.ZIMAGE_RESPONSE_FORMAT,
        deadline_s=settings.ZIMAGE_DEADLINE_S,
        connect_timeout_s=settings.ZIMAGE_CONNECT_TIMEOUT_S,
        max_attempts=settings.ZIMAGE_MAX_ATTEMPTS,
        max_image_bytes=settings.ZIMAGE_MAX_IMAGE_BYTES,
    )


def generation_create(
    *,
    prompt: str,
    width: int,
    height: int,
    seed: int | None,
    prompt_extend: bool,
    user: AbstractBaseUser | AnonymousUser | None = None,
    source: str = GenerationSource.WEB,
    in_background: bool = True,
) -> Generation:
    """Record a pending generation within the limits, then start it in the background once it is committed.

    A blank seed is drawn here, because the provider does not report the seed it picks. With
    `in_background=False` the caller runs it (`generation_run`), as the synchronous API does.
    Raises GenerationRefused, before anything is recorded or sent, when a limit is reached.
    """
    provider = get_provider()
    owner = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        generation_limits_check(user=owner)
        generation = Generation.objects.create(
            prompt=prompt,
            width=width,
            height=height,
            seed=secrets.randbelow(MAX_SEED + 1) if seed is None else seed,
            prompt_extend=prompt_extend,
            aspect_ratio=aspect_ratio(width, height),
            model=provider.model,
            is_demo=provider.is_demo,
            user=owner,
            source=source,
        )
    if in_background:
        # The copied context carries the request id, so the background run's log lines match the request's.
        transaction.on_commit(
            lambda: _executor().submit(
                contextvars.copy_context().run, _run_in_background, copy.copy(generation)
            )
        )
    return generation


def generation_repeat(
    *,
    generation: Generation,
    new_seed: bool = False,
    user: AbstractBaseUser | AnonymousUser | None = None,
) -> Generation:
    """A new generation with the same inputs: "Retry" keeps the seed, "same prompt, new seed" draws one."""
    return generation_create(
        prompt=generation.prompt,
        width=generation.width,
        height=generation.height,
        seed=None if new_seed else generation.seed,
        prompt_extend=generation.prompt_extend,
        user=user,
    )


def generation_set_favourite(*, generation: Generation, favourite: bool) -> Generation:
    generation.is_favourite = favourite
    generation.save(update_fields=["is_favourite"])
    return generation


def generation_delete(*, generation: Generation) -> Generation:
    """Hide a generation for good and remove its files unless another live generation has the same image.

    The row stays (marked deleted) so that its share link can say it was deleted instead of "not found".
    """
    generation.deleted_at = timezone.now()
    generation.save(update_fields=["deleted_at"])
    for field in ("image", "thumbnail"):
        name = getattr(generation, field).name
        if name and not Generation.objects.live().filter(**{field: name}).exists():
            default_storage.delete(name)
    return generation


def generation_download_png(*, generation: Generation, share_url: str) -> bytes:
    """The stored image as a PNG that carries its prompt, seed and settings as text chunks."""
    parameters = {
        "prompt": generation.prompt,
        "revised_prompt": generation.revised_prompt,
        "size": generation.size,
        "seed": generation.seed,
        "prompt_extend": generation.prompt_extend,
        "model": generation.model,
        "share_url": share_url,
    }
    with generation.image.open("rb") as file:
        data = file.read()
    texts = {
        "parameters": json.dumps(parameters, ensure_ascii=False),
        "Description": generation.prompt,
        "Software": "Z-Image Playground",
    }
    return png_with_text(data, texts)


def generation_thumbnail(*, generation: Generation) -> str:
    """The name of the generation's WebP thumbnail, made from the stored image the first time it is asked for."""
    if not generation.thumbnail:
        with generation.image.open("rb") as file:
            name = thumbnail_store(file.read(), sha256=generation.image_sha256)
        Generation.objects.filter(pk=generation.pk).update(thumbnail=name)
        generation.thumbnail.name = name
    return generation.thumbnail.name


def generation_run(generation: Generation) -> Generation:
    """Call the provider for a pending generation and record the outcome. Never raises a ProviderError."""
    provider = get_provider()
    request = ImageRequest(
        prompt=generation.prompt,
        width=generation.width,
        height=generation.height,
        seed=generation.seed,
        prompt_extend=generation.prompt_extend,
    )
    try:
        result = provider.generate(request)
        stored = image_store(result.data)
    except ProviderError as err:
        generation.status = GenerationStatus.FAILED
        generation.error_code = err.code
        generation.error_message = err.user_message
        generation.provider_request_id = err.request_id
        logger.warning(
            "generation %s failed: %s (%s) request_id=%s",
            generation.public_id,
            err.code,
            err.detail,
            err.request_id,
        )
    else:
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
    # Only a still-pending row is updated: an "interrupted" verdict from another process is not overwritten.
    updated = Generation.objects.filter(pk=generation.pk, status=GenerationStatus.PENDING).update(
        **{field: getattr(generation, field) for field in _RESULT_FIELDS}
    )
    if updated:
        logger.info(
            "generation %s %s in %d ms (provider %s ms, image fetch %s ms, %d attempts)",
            generation.public_id,
            generation.status,
            generation.total_latency_ms,
            generation.provider_latency_ms,
            generation.image_fetch_ms,
            generation.attempts,
        )
    else:
        generation.refresh_from_db()
    return generation


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


def generation_is_orphaned(generation: Generation) -> bool:
    """Whether a pending generation is older than any process could still be working on it."""
    return generation.is_pending and generation.created_at < _orphan_cutoff()


def generations_interrupt_stale() -> int:
    """Mark pending generations that no process can still be working on as interrupted; return how many."""
    cutoff = _orphan_cutoff()
    return (
        Generation.objects.pending()
        .filter(created_at__lt=cutoff)
        .update(
            status=GenerationStatus.INTERRUPTED,
            error_code="interrupted",
            error_message="The playground restarted while this image was being made. Retry to make it again.",
            finished_at=timezone.now(),
        )
    )


def _orphan_cutoff():
    return timezone.now() - timedelta(seconds=settings.ZIMAGE_DEADLINE_S + settings.GENERATION_STALE_GRACE_S)


_executor_instance: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """A bounded pool per process: it caps paid provider calls in flight, and page views never wait on it."""
    global _executor_instance
    with _executor_lock:
        if _executor_instance is None:
            _executor_instance = ThreadPoolExecutor(
                max_workers=settings.GENERATION_WORKERS, thread_name_prefix="generation"
            )
        return _executor_instance


def _run_in_background(generation: Generation) -> None:
    """Run a committed generation on a pool thread. It holds a database connection only for its final write."""
    started = time.monotonic()
    try:
        generation_run(generation)
    except Exception:
        logger.exception(
            "generation %s crashed after %.1f s", generation.public_id, time.monotonic() - started
        )
        Generation.objects.filter(pk=generation.pk, status=GenerationStatus.PENDING).update(
            status=GenerationStatus.FAILED,
            error_code="internal_error",
            error_message="Something went wrong inside the playground. Retry, and tell us if it keeps happening.",
            finished_at=timezone.now(),
        )
    finally:
        connection.close()  # back to the pool
