"""The playground's own OpenAI-compatible Images API: the provider's protocol, served with personal tokens.

Calls are synchronous, as the protocol is: the request queues the generation like the form does, then waits
for a worker to finish it, in an async view that holds no thread meanwhile. Each becomes a gallery entry of
the token's user, and the reply links to the playground's own permanent copy of the image.

A failure after the provider was asked may have been billed, so it answers `x-should-retry: false`, which the
official OpenAI SDKs obey (they otherwise retry 5xx twice): one failed call is one provider request. Refusals
made before anything was queued (limits, a full queue) carry `Retry-After` instead.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from generations.forms import MAX_PROMPT_CHARS
from generations.models import Generation, GenerationSource, GenerationStatus
from generations.services.generations import generation_cancel, generation_create, generation_wait
from generations.services.limits import GenerationRefused
from generations.services.provider import MAX_SEED
from generations.services.tokens import api_token_user
from generations.sizes import DEFAULT_SIZE, parse_size
from playground.db import database_sync_to_async
from playground.untrusted_text import text_problem

# How a failed generation answers, by its error code: the caller's fault is 4xx, the provider's is 5xx.
STATUS_BY_ERROR_CODE = {
    "provider_rejected": 400,
    "rate_limited": 429,
    "provider_timeout": 504,
    "provider_unavailable": 503,
    "cancelled": 409,
}
DO_NOT_RETRY = {"x-should-retry": "false"}


@dataclass(frozen=True, slots=True)
class ApiImageRequest:
    prompt: str
    width: int
    height: int
    seed: int | None
    prompt_extend: bool
    response_format: str


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, *, code: str, param: str | None = None, **headers: str
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.headers = status, message, code, param, headers


@csrf_exempt
def models(request: HttpRequest) -> JsonResponse:
    try:
        _authenticate(request, method="GET")
    except ApiError as err:
        return api_error_response(err)
    model = {"id": settings.ZIMAGE_MODEL, "object": "model", "created": 0, "owned_by": "z-image-playground"}
    return JsonResponse({"object": "list", "data": [model]})


@csrf_exempt
async def image_generations(request: HttpRequest) -> JsonResponse:
    try:
        user = await database_sync_to_async(_authenticate)(request, method="POST")
        image_request = _parse(request.body)
        generation = await database_sync_to_async(generation_create)(
            prompt=image_request.prompt,
            width=image_request.width,
            height=image_request.height,
            seed=image_request.seed,
            prompt_extend=image_request.prompt_extend,
            user=user,
            source=GenerationSource.API,
        )
    except ApiError as err:
        return api_error_response(err)
    except GenerationRefused as err:
        status = 503 if err.code == "queue_full" else 429
        return api_error_response(
            ApiError(status, err.user_message, code=err.code, **{"Retry-After": str(err.retry_after_s)})
        )
    generation = await generation_wait(public_id=generation.public_id, timeout_s=settings.API_WAIT_S)
    if generation.is_queued:
        # Never sent to the provider: cancelling is free, and the caller may simply try again later.
        await database_sync_to_async(generation_cancel)(generation=generation)
        return api_error_response(
            ApiError(
                503,
                "The playground's queue did not reach this request in time; nothing was billed. Try again later.",
                code="queue_timeout",
                **{"Retry-After": "30"},
            )
        )
    if generation.is_running:
        return api_error_response(
            ApiError(
                504,
                f"The image is still being made; it will appear in the gallery at "
                f"{request.build_absolute_uri(generation.get_absolute_url())}",
                code="still_running",
                **DO_NOT_RETRY,
            )
        )
    if generation.status != GenerationStatus.SUCCEEDED:
        status = STATUS_BY_ERROR_CODE.get(generation.error_code, 502)
        return api_error_response(
            ApiError(status, generation.error_message, code=generation.error_code, **DO_NOT_RETRY)
        )
    item = await sync_to_async(_result_item, thread_sensitive=False)(request, generation, image_request)
    return JsonResponse({"created": int(generation.created_at.timestamp()), "data": [item]})


def _result_item(request: HttpRequest, generation: Generation, image_request: ApiImageRequest) -> dict:
    if image_request.response_format == "b64_json":
        with generation.image.open("rb") as file:
            item = {"b64_json": base64.b64encode(file.read()).decode()}
    else:
        item = {"url": request.build_absolute_uri(generation.image_url)}
    if generation.prompt_extend:
        item |= {"revised_prompt": generation.revised_prompt, "reasoning_content": generation.reasoning}
    return item


def _authenticate(request: HttpRequest, *, method: str):
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    user = api_token_user(token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        raise ApiError(
            401,
            "Incorrect API key provided. Make a personal token on the playground's API tokens page.",
            code="invalid_api_key",
        )
    if request.method != method:
        raise ApiError(405, f"Use {method} for this endpoint.", code="method_not_allowed", Allow=method)
    return user


def _parse(raw: bytes) -> ApiImageRequest:
    """Validate a request body as the provider does (docs/provider-api.md); raise ApiError on the first problem."""
    try:
        body = json.loads(raw)
    except RecursionError as err:
        raise ApiError(400, "The request body is nested too deeply.", code="invalid_json") from err
    except ValueError as err:
        raise ApiError(400, "The request body is not valid JSON.", code="invalid_json") from err
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_request")
    if body.get("model") != settings.ZIMAGE_MODEL:
        raise ApiError(
            404, f"The model `{body.get('model')}` does not exist.", code="model_not_found", param="model"
        )
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ApiError(400, "prompt is required.", code="invalid_prompt", param="prompt")
    if problem := text_problem(prompt, max_chars=MAX_PROMPT_CHARS):
        raise ApiError(400, f"prompt {problem}.", code="invalid_prompt", param="prompt")
    size = body.get("size", DEFAULT_SIZE)
    try:
        width, height = parse_size(size if isinstance(size, str) else "")
    except ValueError as err:
        raise ApiError(400, str(err), code="invalid_size", param="size") from err
    if body.get("n", 1) != 1:
        raise ApiError(400, "n must be 1: one request makes one image.", code="invalid_n", param="n")
    response_format = body.get("response_format", "url")
    if response_format not in ("url", "b64_json"):
        raise ApiError(
            400,
            "response_format must be url or b64_json.",
            code="invalid_response_format",
            param="response_format",
        )
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise ApiError(400, "parameters must be an object.", code="invalid_parameters", param="parameters")
    seed = parameters.get("seed")
    if seed is not None and (
        not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED
    ):
        raise ApiError(
            400,
            f"seed must be an integer from 0 to {MAX_SEED}.",
            code="invalid_seed",
            param="parameters.seed",
        )
    prompt_extend = parameters.get("prompt_extend", False)
    if not isinstance(prompt_extend, bool):
        raise ApiError(
            400,
            "prompt_extend must be true or false.",
            code="invalid_parameters",
            param="parameters.prompt_extend",
        )
    return ApiImageRequest(prompt.strip(), width, height, seed, prompt_extend, response_format)


def api_error_response(err: ApiError) -> JsonResponse:
    """The error as OpenAI's APIs send theirs, which the official SDKs turn into their exception classes."""
    error_type = "invalid_request_error" if err.status < 500 else "server_error"
    payload = {"error": {"message": err.message, "type": error_type, "param": err.param, "code": err.code}}
    response = JsonResponse(payload, status=err.status)
    for name, value in err.headers.items():
        response[name] = value
    return response
