"""One call, one image, whatever the network does: a repeated `/v1` call gets the first one's outcome.

- `Idempotency-Key` (Stripe's and the IETF draft's semantics): the same key with the same body is the same call,
  replayed (waited for while unfinished); the same key with another body is refused. A key is kept for a day.
- Without a key, an SDK's retry (`x-stainless-retry-count` of 1 or more: the official SDKs resend a call whose
  connection dropped) of the very same bytes by the same person, while the first is unfinished or finished a
  moment ago, is the first call too.
- A caller that goes away while its generation is still queued cancels it, so it never reaches the provider,
  unless another caller (a retry) waits for it too. One already at the provider finishes into the gallery.

The bookkeeping is a row per call in PostgreSQL (ApiCall), locked while it changes, so it holds across web
processes and under simultaneous requests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from generations.domain import ErrorCode, GenerationParameters
from generations.hooks import GenerationExtra
from generations.models import ApiCall, Generation, GenerationSource, GenerationStatus, Requester
from generations.services.lifecycle import generation_create, generations_cancel

IDEMPOTENCY_KEY_LIFETIME = timedelta(days=1)
# An SDK's retry of a call that finished this recently (its answer was lost with the connection) gets its outcome.
RETRY_WINDOW = timedelta(minutes=1)
MAX_KEY_CHARS = 255


class IdempotencyKeyReused(Exception):
    """The key names an earlier call with another body."""

    code = ErrorCode.IDEMPOTENCY_KEY_REUSED


def api_call_begin(
    *,
    user: User,
    parameters: GenerationParameters,
    body: bytes,
    idempotency_key: str = "",
    sdk_retry: bool = False,
    extras: Sequence[tuple[GenerationExtra, Any]] = (),
) -> str:
    """The public id of the generation that answers this call: the earlier call's when this one repeats it,
    else a new one, queued within the limits (GenerationRefused records nothing, the call included).

    Raises IdempotencyKeyReused for a known key with another body.
    """
    call = ApiCall(user=user, idempotency_key=idempotency_key, body_sha256=hashlib.sha256(body).hexdigest())
    with transaction.atomic():
        if idempotency_key:
            earlier = _claim_key(call)
        elif sdk_retry:
            earlier = _retried_call(call)
        else:
            earlier = None
        if earlier is not None and earlier.generation is not None:
            earlier.waiting += 1
            earlier.save(update_fields=["waiting"])
            return earlier.generation.public_id
        generation = generation_create(
            parameters=parameters, requester=Requester.of(user), source=GenerationSource.API, extras=extras
        )
        call.generation = generation
        call.save()
    return generation.public_id


def api_call_leave(*, public_id: str) -> None:
    """A caller of the call answered by this generation went away (or stopped waiting). When none is left and
    the generation is still queued, it is cancelled and the call forgotten (its key may be used again)."""
    with transaction.atomic():
        call = ApiCall.objects.select_for_update().filter(generation__public_id=public_id).first()
        if call is None:
            return
        call.waiting = max(call.waiting - 1, 0)
        queued = Generation.objects.filter(api_call=call, status=GenerationStatus.QUEUED)
        if call.waiting == 0 and generations_cancel(generations=queued):
            call.delete()
        else:
            call.save(update_fields=["waiting"])


def _claim_key(call: ApiCall) -> ApiCall | None:
    """The earlier call with this call's key, locked; or None once `call` is saved to hold the key.

    A simultaneous request with the same key waits on the unique index until this transaction ends, then finds
    the call it made (or, if it was refused and rolled back, holds the key itself).
    """
    try:
        with transaction.atomic():
            call.save()
            return None
    except IntegrityError:
        pass
    earlier = (
        ApiCall.objects.select_for_update(of=("self",))
        .select_related("generation")
        .get(user=call.user, idempotency_key=call.idempotency_key)
    )
    if earlier.created_at < timezone.now() - IDEMPOTENCY_KEY_LIFETIME:
        earlier.delete()
        call.save()
        return None
    if earlier.body_sha256 != call.body_sha256:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used for another request body within the last day. Use a new key for a "
            "new request; nothing was made or billed."
        )
    return earlier


def _retried_call(call: ApiCall) -> ApiCall | None:
    """The latest keyless call of the same bytes by the same person, unfinished or finished a moment ago, locked."""
    recent = Q(generation__status__in=[GenerationStatus.QUEUED, GenerationStatus.RUNNING]) | Q(
        generation__finished_at__gte=timezone.now() - RETRY_WINDOW
    )
    return (
        ApiCall.objects.select_for_update(of=("self",))
        .filter(recent, user=call.user, idempotency_key="", body_sha256=call.body_sha256)
        .select_related("generation")
        .order_by("-created_at")
        .first()
    )
