"""The playground's own OpenAI-compatible Images API: the provider's protocol, served with personal tokens.

Calls are synchronous, as the protocol is: the request queues the generation like the form does, then waits
for a worker to finish it, in an async view that holds no thread meanwhile. Each becomes a gallery entry of
the token's user, and the reply links to the playground's own permanent copy of the image.

A failure after the provider was asked may have been billed, so it answers `x-should-retry: false`, which the
official OpenAI SDKs obey (they otherwise retry 5xx twice): one failed call is one provider request. Refusals
made before anything was queued (limits, a full queue) carry `Retry-After` instead. A call that repeats an
earlier one (its Idempotency-Key, or an SDK's retry after a dropped connection) gets the earlier one's outcome
(services/idempotency.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from generations.api_fields import unknown_field
from generations.domain import (
    DEFAULT_SIZE,
    SEED_RULE,
    ErrorCode,
    GenerationParameters,
    parse_size,
    validate_prompt,
    validate_seed,
)
from generations.hooks import GENERATION_EXTRAS, GenerationExtra
from generations.models import Generation, GenerationStatus
from generations.permissions import MAY_NOT_GENERATE, may_generate
from generations.services.idempotency import (
    MAX_KEY_CHARS,
    IdempotencyKeyReused,
    api_call_begin,
    api_call_leave,
)
from generations.services.lifecycle import generation_wait
from generations.services.limits import GenerationRefused
from generations.services.tokens import api_token_user
from lib.db import database_calls_in_parallel, database_sync_to_async
from lib.untrusted_text import text_problem

DO_NOT_RETRY = {"x-should-retry": "false"}
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"


@dataclass(frozen=True, slots=True)
class ApiImageRequest:
    parameters: GenerationParameters
    response_format: str
    # Fields another room added to the body (generations/hooks.py), as sent: {"board": "Keepers"}.
    extras: dict[str, object]


class ApiError(Exception):
    """An OpenAI-shaped error; its code says the HTTP status (`code.http_status`)."""

    def __init__(self, code: ErrorCode, message: str, *, param: str | None = None, **headers: str) -> None:
        super().__init__(message)
        self.code, self.message, self.param, self.headers = code, message, param, headers

    @property
    def status(self) -> int:
        return self.code.http_status


@csrf_exempt
def models(request: HttpRequest) -> JsonResponse:
    try:
        _authenticate(request, method="GET")
    except ApiError as err:
        return api_error_response(err)
    return JsonResponse({"object": "list", "data": [_model_object()]})


@csrf_exempt
def model(request: HttpRequest, model_id: str) -> JsonResponse:
    try:
        _authenticate(request, method="GET")
        if model_id != settings.ZIMAGE_MODEL:
            raise ApiError(
                ErrorCode.MODEL_NOT_FOUND, f"The model `{model_id}` does not exist.", param="model"
            )
    except ApiError as err:
        return api_error_response(err)
    return JsonResponse(_model_object())


def _model_object() -> dict:
    return {"id": settings.ZIMAGE_MODEL, "object": "model", "created": 0, "owned_by": "z-image-playground"}


@csrf_exempt
async def image_generations(request: HttpRequest) -> JsonResponse:
    # A hundred calls may wait at once: their database steps run on a few threads of their own, not on the one
    # thread where Django runs every sync view and middleware hook under ASGI (the site's pages queued behind them).
    with database_calls_in_parallel():
        return await _image_generation(request)


async def _image_generation(request: HttpRequest) -> JsonResponse:
    try:
        user = await database_sync_to_async(_authenticate)(request, method="POST")
        image_request = _parse(request.body)
        public_id = await database_sync_to_async(_begin)(request, image_request, user)
    except ApiError as err:
        return api_error_response(err)
    except IdempotencyKeyReused as err:
        return api_error_response(ApiError(err.code, str(err), param=IDEMPOTENCY_KEY_HEADER))
    except GenerationRefused as err:
        # A spent budget comes back in hours: the SDKs' own retries would only be refused again.
        no_retry = DO_NOT_RETRY if err.code == ErrorCode.BUDGET_EXCEEDED else {}
        return api_error_response(
            ApiError(err.code, err.user_message, **{"Retry-After": str(err.retry_after_s)}, **no_retry)
        )
    try:
        generation = await generation_wait(public_id=public_id, timeout_s=settings.API_WAIT_S)
    finally:
        # Answered, out of time, or gone (a disconnect cancels this view): the last caller to leave a generation
        # still queued cancels it, so that it never reaches the provider.
        await asyncio.shield(database_sync_to_async(api_call_leave)(public_id=public_id))
    if generation.is_queued:
        # Never sent to the provider: cancelled for free, and the caller may simply try again later.
        return api_error_response(
            ApiError(
                ErrorCode.QUEUE_TIMEOUT,
                "The playground's queue did not reach this request in time; nothing was billed. Try again later.",
                **{"Retry-After": "30"},
            )
        )
    if generation.is_running:
        return api_error_response(
            ApiError(
                ErrorCode.STILL_RUNNING,
                f"The image is still being made; it will appear in the gallery at "
                f"{request.build_absolute_uri(generation.get_absolute_url())}",
                **DO_NOT_RETRY,
            )
        )
    if generation.status != GenerationStatus.SUCCEEDED:
        return api_error_response(
            # Looked up by value (EnumMeta.__call__): mypy reads the call as ErrorCode.__new__'s.
            ApiError(ErrorCode(generation.error_code), generation.error_message, **DO_NOT_RETRY)  # type: ignore[call-arg]
        )
    item = await sync_to_async(_result_item, thread_sensitive=False)(request, generation, image_request)
    return JsonResponse({"created": int(generation.created_at.timestamp()), "data": [item]})


def _begin(request: HttpRequest, image_request: ApiImageRequest, user: User) -> str:
    """The public id of the generation that answers this call (services/idempotency.py), queued with the extras
    its body asks for (generations/hooks.py): an extra's refusal (ValueError) leaves nothing recorded or queued."""
    extras: list[tuple[GenerationExtra, object]] = []
    for name, value in image_request.extras.items():
        extra = GENERATION_EXTRAS[name]
        try:
            extras.append((extra, extra.from_api(value, user)))
        except ValueError as err:
            raise ApiError(ErrorCode.INVALID_REQUEST, str(err), param=name) from err
    try:
        return api_call_begin(
            user=user,
            parameters=image_request.parameters,
            body=request.body,
            extras=extras,
            **_repeat_markers(request),
        )
    except ValueError as err:
        raise ApiError(ErrorCode.INVALID_REQUEST, str(err), param=", ".join(image_request.extras)) from err


def _result_item(request: HttpRequest, generation: Generation, image_request: ApiImageRequest) -> dict:
    if image_request.response_format == "b64_json":
        with generation.image.open("rb") as file:
            item = {"b64_json": base64.b64encode(file.read()).decode()}
    else:
        item = {"url": request.build_absolute_uri(generation.image_url)}
    if generation.prompt_extend:
        item |= {"revised_prompt": generation.revised_prompt, "reasoning_content": generation.reasoning}
    return item


def _authenticate(request: HttpRequest, *, method: str) -> User:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    user = api_token_user(token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        raise ApiError(
            ErrorCode.INVALID_API_KEY,
            "Incorrect API key provided. Make a personal token on the playground's API tokens page.",
        )
    if not may_generate(user):
        raise ApiError(ErrorCode.PERMISSION_DENIED, MAY_NOT_GENERATE)
    if request.method != method:
        raise ApiError(ErrorCode.METHOD_NOT_ALLOWED, f"Use {method} for this endpoint.", Allow=method)
    return user


def _repeat_markers(request: HttpRequest) -> dict:
    """What says that a call may repeat an earlier one: its Idempotency-Key, or an official SDK's retry count."""
    key = request.headers.get(IDEMPOTENCY_KEY_HEADER, "").strip()
    if len(key) > MAX_KEY_CHARS or text_problem(key):
        raise ApiError(
            ErrorCode.INVALID_REQUEST,
            f"An Idempotency-Key is text of at most {MAX_KEY_CHARS} characters.",
            param=IDEMPOTENCY_KEY_HEADER,
        )
    retries = request.headers.get("x-stainless-retry-count", "")  # "0" on a first attempt
    sdk_retry = retries.isascii() and retries.isdigit() and retries.strip("0") != ""
    return {"idempotency_key": key, "sdk_retry": sdk_retry}


def _parse(raw: bytes) -> ApiImageRequest:
    """Validate a request body as the provider does (docs/provider-api.md), by the same rules as the form
    (generations/domain.py); raise ApiError on the first problem."""
    try:
        body = json.loads(raw)
    except RecursionError as err:
        raise ApiError(ErrorCode.INVALID_JSON, "The request body is nested too deeply.") from err
    except ValueError as err:
        raise ApiError(ErrorCode.INVALID_JSON, "The request body is not valid JSON.") from err
    if not isinstance(body, dict):
        raise ApiError(ErrorCode.INVALID_REQUEST, "The request body must be a JSON object.")
    if body.get("model") != settings.ZIMAGE_MODEL:
        raise ApiError(
            ErrorCode.MODEL_NOT_FOUND, f"The model `{body.get('model')}` does not exist.", param="model"
        )
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise ApiError(ErrorCode.INVALID_PARAMETERS, "parameters must be an object.", param="parameters")
    own_fields = {name: value for name, value in body.items() if name not in GENERATION_EXTRAS}
    if unknown := unknown_field(own_fields, parameters, model=settings.ZIMAGE_MODEL):
        param, message = unknown
        raise ApiError(ErrorCode.UNKNOWN_PARAMETER, message, param=param)
    prompt = body.get("prompt")
    try:
        prompt = validate_prompt(prompt if isinstance(prompt, str) else "")
    except ValueError as err:
        raise ApiError(ErrorCode.INVALID_PROMPT, str(err), param="prompt") from err
    size = body.get("size", DEFAULT_SIZE)
    try:
        width, height = parse_size(size if isinstance(size, str) else "")
    except ValueError as err:
        raise ApiError(ErrorCode.INVALID_SIZE, str(err), param="size") from err
    if body.get("n", 1) != 1:
        raise ApiError(ErrorCode.INVALID_N, "n must be 1: one request makes one image.", param="n")
    response_format = body.get("response_format", "url")
    if response_format not in ("url", "b64_json"):
        raise ApiError(
            ErrorCode.INVALID_RESPONSE_FORMAT,
            "response_format must be url or b64_json.",
            param="response_format",
        )
    seed = parameters.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ApiError(ErrorCode.INVALID_SEED, SEED_RULE, param="parameters.seed")
    try:
        seed = validate_seed(seed)
    except ValueError as err:
        raise ApiError(ErrorCode.INVALID_SEED, str(err), param="parameters.seed") from err
    prompt_extend = parameters.get("prompt_extend", False)
    if not isinstance(prompt_extend, bool):
        raise ApiError(
            ErrorCode.INVALID_PARAMETERS,
            "prompt_extend must be true or false.",
            param="parameters.prompt_extend",
        )
    extras = {name: body[name] for name in GENERATION_EXTRAS if name in body}
    return ApiImageRequest(
        GenerationParameters(prompt, width, height, seed, prompt_extend), response_format, extras
    )


def api_error_response(err: ApiError) -> JsonResponse:
    """The error as OpenAI's APIs send theirs, which the official SDKs turn into their exception classes."""
    error_type = "invalid_request_error" if err.status < 500 else "server_error"
    if err.code == ErrorCode.BUDGET_EXCEEDED:
        error_type = (
            "insufficient_quota"  # OpenAI's type for a spent quota (a 429 the SDKs raise as RateLimitError)
        )
    payload = {
        "error": {"message": err.message, "type": error_type, "param": err.param, "code": str(err.code)}
    }
    response = JsonResponse(payload, status=err.status)
    for name, value in err.headers.items():
        response[name] = value
    return response
