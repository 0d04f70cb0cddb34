"""What can go wrong when asking the provider for an image: a small tree in the spirit of openai-python's.

`ProviderError` → status errors (with the HTTP status, the provider's code and request id) and connection errors
→ timeout. Each carries its `ErrorCode` (for machines, and how the playground's API answers it) and a sentence
for people that says what was retried.
"""

from __future__ import annotations

from generations.domain import ErrorCode


class ProviderError(Exception):
    """A generation the provider did not complete. `code` is for machines (and says how the playground's API
    answers it: `code.http_status`), `user_message` for people.

    `attempts` counts the requests sent, retries included. A failure that is retried until the attempts or the
    time run out says so (`out_of_attempts`, `out_of_time`).
    """

    code = ErrorCode.PROVIDER_ERROR
    reason = "The image provider failed to make this image."

    def __init__(self, detail: str, *, request_id: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.request_id = request_id
        self.attempts = 1
        self.out_of_attempts = False
        self.out_of_time = False

    @property
    def user_message(self) -> str:
        retries = self.attempts - 1
        if self.out_of_time and retries:
            return f"{self.reason} Retried {_times(retries)}, then out of time."
        if self.out_of_time:
            return f"{self.reason} Not retried: the wait before a retry would have passed the time limit."
        if self.out_of_attempts and retries:
            return f"{self.reason} Retried {_times(retries)} without success."
        return self.reason


class ProviderConnectionError(ProviderError):
    code = ErrorCode.PROVIDER_UNREACHABLE
    reason = "Could not reach the image provider. Check the network or ZIMAGE_BASE_URL, then retry."


class ProviderTimeout(ProviderConnectionError):
    """The provider did not answer before the deadline. `after` is the failure of the attempt before, if any."""

    code = ErrorCode.PROVIDER_TIMEOUT

    def __init__(self, detail: str, *, after: ProviderError | None = None) -> None:
        super().__init__(detail)
        self.after = after

    @property
    def user_message(self) -> str:
        if self.after is None:
            return (
                "The image provider did not answer in time. It may still charge for the request, "
                "so it was not sent again."
            )
        return (
            f"The image provider failed ({_failure_summary(self.after)}) and was retried "
            f"{_times(self.attempts - 1)}, then out of time: the last attempt was still unanswered at the "
            "time limit, and the provider may still charge for it."
        )


class ProviderStatusError(ProviderError):
    """The provider answered with a non-2xx status."""

    def __init__(
        self, detail: str, *, status_code: int, provider_code: str = "", request_id: str = ""
    ) -> None:
        super().__init__(detail, request_id=request_id)
        self.status_code = status_code
        self.provider_code = provider_code


class ProviderAuthError(ProviderStatusError):
    code = ErrorCode.PROVIDER_AUTH
    reason = "The image provider refused the API key. Check ZIMAGE_API_KEY."


class ProviderRejectedError(ProviderStatusError):
    code = ErrorCode.PROVIDER_REJECTED

    @property
    def reason(self) -> str:  # type: ignore[override]
        return f"The image provider refused this request: {self.detail}"


class ProviderRateLimited(ProviderStatusError):
    code = ErrorCode.PROVIDER_RATE_LIMITED
    reason = "The image provider is rate limiting us. Wait a moment, then retry."

    def __init__(
        self,
        detail: str,
        *,
        retry_after_s: float | None,
        status_code: int,
        provider_code: str = "",
        request_id: str = "",
    ) -> None:
        super().__init__(detail, status_code=status_code, provider_code=provider_code, request_id=request_id)
        self.retry_after_s = retry_after_s


class ProviderUnavailable(ProviderStatusError):
    code = ErrorCode.PROVIDER_UNAVAILABLE
    reason = "The image provider is having trouble right now. Retry in a minute."


class ProviderResponseError(ProviderError):
    code = ErrorCode.BAD_RESPONSE
    reason = "The image provider sent a reply that is not a valid image result."


class ImageDownloadError(ProviderError):
    code = ErrorCode.IMAGE_DOWNLOAD_FAILED
    reason = "The image could not be downloaded from the provider (its link may have expired)."


class ImageTooLargeError(ImageDownloadError):
    code = ErrorCode.IMAGE_TOO_LARGE
    reason = "The provider's image was larger than this playground accepts."


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _failure_summary(error: ProviderError) -> str:
    if isinstance(error, ProviderStatusError):
        return f"HTTP {error.status_code}"
    return "could not connect" if isinstance(error, ProviderConnectionError) else error.code
