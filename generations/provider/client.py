"""The only code that speaks HTTP to the Z-Image Turbo provider, over the OpenAI Images protocol.

Reference: docs/provider-api.md and https://platform.openai.com/docs/api-reference/images/create
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import itertools
import logging
import random
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from generations.domain import DEFAULT_MODEL_ACCEPTS, GenerationParameters
from generations.provider.errors import (
    ImageDownloadError,
    ImageTooLargeError,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejectedError,
    ProviderResponseError,
    ProviderStatusError,
    ProviderTimeout,
    ProviderUnavailable,
)

logger = logging.getLogger(__name__)

RETRYABLE_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})
MAX_PROVIDER_TEXT_CHARS = 20_000


def provider_request_body(
    parameters: GenerationParameters,
    *,
    model: str,
    response_format: str = "url",
    accepts: frozenset[str] = DEFAULT_MODEL_ACCEPTS,
) -> dict:
    """The body of one generation request: what the client sends, and what "copy as code" shows.

    Every setting the model `accepts` is sent explicitly (a model whose defaults differ, prompt extend or a
    watermark on, then makes a fair comparison); nothing it does not accept is sent."""
    if parameters.seed is None:
        raise ValueError(
            "The provider is always sent a seed: draw one first (GenerationParameters.with_seed)."
        )
    return {
        "model": model,
        "prompt": parameters.prompt,
        "size": parameters.size,
        "n": 1,
        "response_format": response_format,
        "parameters": {
            name: value
            for name, value in (
                ("prompt_extend", parameters.prompt_extend),
                ("seed", parameters.seed),
                ("watermark", False),
            )
            if name in accepts
        },
    }


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    data: bytes
    provider_url: str
    revised_prompt: str
    reasoning: str
    request_id: str
    attempts: int
    provider_latency_ms: int
    image_fetch_ms: int = 0


@dataclass(frozen=True, slots=True)
class HttpProvider:
    """An OpenAI-Images-compatible endpoint serving Z-Image Turbo."""

    base_url: str
    api_key: str
    model: str
    response_format: str = "url"
    deadline_s: float = 180.0
    connect_timeout_s: float = 10.0
    max_attempts: int = 4
    max_image_bytes: int = 40 * 1024 * 1024
    # Other models of the same account, by name, with the parameters each accepts.
    extra_models: dict[str, frozenset[str]] = field(default_factory=dict)
    is_demo = False

    async def generate(self, parameters: GenerationParameters, *, model: str = "") -> GeneratedImage:
        """Make one image: POST the request, retrying what is safe within the deadline, then fetch its bytes.

        `model` names one of the extra models; any other name (or none) means the configured model.

        Connect failures, 408, 429 (honouring Retry-After) and 5xx are retried with backoff; a read timeout
        is not, because the provider may already have billed the request.
        """
        deadline = time.monotonic() + self.deadline_s
        body = provider_request_body(
            parameters,
            model=model if model in self.extra_models else self.model,
            response_format=self.response_format,
            accepts=self.extra_models.get(model, DEFAULT_MODEL_ACCEPTS),
        )
        response, attempts, latency_ms = await self._post_with_retries(body, deadline)
        request_id = response.headers.get("x-request-id", "")
        try:
            item = _parse_result_item(response, request_id=request_id)
            fetch_ms = 0
            if b64_json := item.get("b64_json"):
                data, provider_url = _decode_b64(b64_json, request_id=request_id), ""
            elif isinstance(url := item.get("url"), str) and url.startswith(("https://", "http://")):
                fetch_started = time.monotonic()
                data, provider_url = await self._download(url, deadline, request_id=request_id), url
                fetch_ms = round((time.monotonic() - fetch_started) * 1000)
            else:
                raise ProviderResponseError("reply item has neither url nor b64_json", request_id=request_id)
            if len(data) > self.max_image_bytes:
                raise ImageTooLargeError(f"{len(data)} bytes", request_id=request_id)
        except ProviderError as err:
            err.attempts = attempts
            raise
        return GeneratedImage(
            data=data,
            provider_url=provider_url,
            revised_prompt=_provider_text(item.get("revised_prompt")),
            reasoning=_provider_text(item.get("reasoning_content")),
            request_id=request_id,
            attempts=attempts,
            provider_latency_ms=latency_ms,
            image_fetch_ms=fetch_ms,
        )

    async def _post_with_retries(self, body: dict, deadline: float) -> tuple[httpx.Response, int, int]:
        url = f"{self.base_url}/images/generations"
        headers = {"Authorization": f"Bearer {self.api_key}"}
        previous: ProviderError | None = None
        for attempt in range(1, self.max_attempts + 1):
            started = time.monotonic()
            delay: float | None = None  # None: this failure is not retried
            try:
                response = await _http_client().post(
                    url, json=body, headers=headers, timeout=self._timeout(deadline)
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as err:
                # Nothing reached the provider, so nothing was billed: safe to retry.
                error: ProviderError = ProviderConnectionError(f"{type(err).__name__}: {err}")
                error.__cause__ = err
                delay = _backoff_s(attempt)
            except httpx.TimeoutException as err:
                error = ProviderTimeout(
                    f"{type(err).__name__} after {time.monotonic() - started:.1f} s", after=previous
                )
                error.__cause__ = err
            except httpx.HTTPError as err:
                error = ProviderConnectionError(f"{type(err).__name__}: {err}")
                error.__cause__ = err
            else:
                if response.is_success:
                    return response, attempt, round((time.monotonic() - started) * 1000)
                error = _status_error(response)
                if response.status_code in RETRYABLE_STATUS_CODES:
                    retry_after_s = getattr(error, "retry_after_s", None)
                    delay = retry_after_s if retry_after_s is not None else _backoff_s(attempt)
            error.attempts = attempt
            if delay is None:
                raise error
            if attempt == self.max_attempts:
                error.out_of_attempts = True
                raise error
            if time.monotonic() + delay >= deadline:
                error.out_of_time = True
                raise error
            previous = error
            logger.info("provider attempt %d failed (%s), retrying in %.1f s", attempt, error.code, delay)
            await _pause(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    async def _download(self, url: str, deadline: float, *, request_id: str) -> bytes:
        try:
            async with _http_client().stream(
                "GET", url, timeout=self._timeout(deadline), follow_redirects=True
            ) as response:
                if not response.is_success:
                    raise ImageDownloadError(
                        f"image URL answered HTTP {response.status_code}", request_id=request_id
                    )
                declared = int(response.headers.get("content-length") or 0)
                if declared > self.max_image_bytes:
                    raise ImageTooLargeError(f"declared {declared} bytes", request_id=request_id)
                chunks, received = [], 0
                async for chunk in response.aiter_bytes():
                    # httpx's timeout is per read: a trickling server must not outlast the whole deadline.
                    if time.monotonic() > deadline:
                        raise ImageDownloadError("download passed the deadline", request_id=request_id)
                    received += len(chunk)
                    if received > self.max_image_bytes:
                        raise ImageTooLargeError(f"over {self.max_image_bytes} bytes", request_id=request_id)
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as err:
            raise ImageDownloadError(f"{type(err).__name__}: {err}", request_id=request_id) from err

    def _timeout(self, deadline: float) -> httpx.Timeout:
        remaining = max(deadline - time.monotonic(), 0.001)
        return httpx.Timeout(remaining, connect=min(self.connect_timeout_s, remaining))


# httpcore's pool scans every one of its connections, some checks once per pair of them, whenever a request starts
# or ends: one pool holding a worker's hundreds of connections spent more CPU than the requests themselves. Small
# pools, taken in turn, keep every scan short.
_POOLS_PER_LOOP = 16
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Iterator[httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def _http_client() -> httpx.AsyncClient:
    """The next of the event loop's pooled clients (a worker has one loop), made on first use: connections
    belong to a loop."""
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        pools = [
            httpx.AsyncClient(limits=limits, headers={"User-Agent": "zimage-playground/0.1"})
            for _ in range(_POOLS_PER_LOOP)
        ]
        _clients[loop] = itertools.cycle(pools)
    return next(_clients[loop])


async def _pause(seconds: float) -> None:
    """The wait before a retry (the specs watch these waits rather than the clock)."""
    await asyncio.sleep(seconds)


def _backoff_s(attempt: int) -> float:
    return min(0.5 * 2 ** (attempt - 1), 8.0) * random.uniform(0.75, 1.25)  # noqa: S311 (jitter, not crypto)


def _status_error(response: httpx.Response) -> ProviderStatusError:
    status = response.status_code
    request_id = response.headers.get("x-request-id", "")
    message, provider_code = _error_details(response)
    kwargs = {"status_code": status, "provider_code": provider_code, "request_id": request_id}
    if status == 429:
        return ProviderRateLimited(message, retry_after_s=_retry_after_s(response), **kwargs)
    if status in (401, 403):
        return ProviderAuthError(message, **kwargs)
    if status >= 500 or status == 408:
        return ProviderUnavailable(message, **kwargs)
    return ProviderRejectedError(message, **kwargs)


def _error_details(response: httpx.Response) -> tuple[str, str]:
    """The provider's error message and code, or a plain description when the body is not OpenAI-style JSON."""
    try:
        error = response.json()["error"]
        message, code = error.get("message"), error.get("code")
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"HTTP {response.status_code} {response.reason_phrase}".strip(), ""
    text = message if isinstance(message, str) and message else f"HTTP {response.status_code}"
    return text[:500], code if isinstance(code, str) else ""


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


def _parse_result_item(response: httpx.Response, *, request_id: str) -> dict:
    try:
        payload = response.json()
    except ValueError as err:
        raise ProviderResponseError("reply is not JSON", request_id=request_id) from err
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise ProviderResponseError("reply has no data item", request_id=request_id)
    return data[0]


def _decode_b64(value: object, *, request_id: str) -> bytes:
    if not isinstance(value, str):
        raise ProviderResponseError("b64_json is not a string", request_id=request_id)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ProviderResponseError("b64_json is not valid base64", request_id=request_id) from err


def _provider_text(value: object) -> str:
    return value[:MAX_PROVIDER_TEXT_CHARS] if isinstance(value, str) else ""
