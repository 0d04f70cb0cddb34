"""The domain's rules, in one place: what a generation asks for (GenerationParameters), the bounds each value
must respect (prompt, seed, size, with the sentences that explain them), the provider's recommended sizes, and
the code of every way a generation can fail or be refused. The forms, the API, the provider client and the
batches all take them from here.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import overload

from lib.untrusted_text import text_problem

MAX_PROMPT_CHARS = 4000
# What Z-Image Turbo accepts beside the prompt and size; an extra model lists its own (settings.EXTRA_MODELS), of
# which the playground sends prompt_extend and seed as asked, and watermark off.
DEFAULT_MODEL_ACCEPTS = frozenset({"prompt_extend", "seed"})
MAX_SEED = 2_147_483_647
SEED_RULE = f"The seed is a whole number from 0 to {MAX_SEED}."
MIN_PIXELS = 512 * 512
MAX_PIXELS = 2048 * 2048
DEFAULT_SIZE = "1024x1536"
_SIZE_PATTERN = re.compile(r"^\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*$")


@dataclass(frozen=True, slots=True)
class SizePreset:
    width: int
    height: int
    ratio: str
    name: str

    @property
    def value(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def label(self) -> str:
        return f"{self.name} · {self.width}×{self.height}"


PRESETS = (
    SizePreset(1024, 1024, "1:1", "Square"),
    SizePreset(1280, 1280, "1:1", "Large square"),
    SizePreset(1536, 1536, "1:1", "Extra-large square"),
    SizePreset(1024, 1536, "2:3", "Portrait (default)"),
    SizePreset(1104, 1472, "3:4", "Portrait"),
    SizePreset(896, 1184, "3:4", "Small portrait"),
    SizePreset(1328, 1760, "3:4", "Large portrait"),
    SizePreset(768, 1360, "9:16", "Vertical screen"),
    SizePreset(960, 1704, "9:16", "Large vertical screen"),
    SizePreset(1152, 2048, "9:16", "Extra-large vertical"),
    SizePreset(1360, 768, "16:9", "Horizontal screen"),
    SizePreset(1704, 960, "16:9", "Large horizontal screen"),
    SizePreset(2048, 1152, "16:9", "Extra-wide screen"),
    SizePreset(1184, 896, "4:3", "Landscape"),
    SizePreset(1472, 1104, "4:3", "Large landscape"),
    SizePreset(1760, 1328, "4:3", "Extra-large landscape"),
)


RATIOS = tuple(dict.fromkeys(preset.ratio for preset in PRESETS))
OTHER_RATIO = "other"


def aspect_ratio(width: int, height: int) -> str:
    """The preset ratio a size is closest to ("3:4" for 896x1184), or "other" when none is within 2 %."""
    shape = width / height
    for ratio in RATIOS:
        across, down = (int(side) for side in ratio.split(":"))
        if abs(shape / (across / down) - 1) <= 0.02:
            return ratio
    return OTHER_RATIO


def preset_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Presets grouped by aspect ratio, in the shape Django's ChoiceField takes for <optgroup>s."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for preset in PRESETS:
        groups.setdefault(preset.ratio, []).append((preset.value, preset.label))
    return list(groups.items())


def parse_size(value: str) -> tuple[int, int]:
    """Parse "WxH" and check the provider's pixel bound; raise ValueError with a sentence for people."""
    match = _SIZE_PATTERN.match(value or "")
    if not match:
        raise ValueError("Write the size as width x height, for example 1024x1536.")
    width, height = int(match[1]), int(match[2])
    pixels = width * height
    if not MIN_PIXELS <= pixels <= MAX_PIXELS:
        raise ValueError(
            f"{width}×{height} is {pixels:,} pixels; the model accepts {MIN_PIXELS:,} to {MAX_PIXELS:,} "
            "(512×512 to 2048×2048)."
        )
    return width, height


def validate_prompt(value: str) -> str:
    """The prompt, trimmed; ValueError with a sentence for people when it is empty, too long or not text."""
    prompt = value.strip()
    if not prompt:
        raise ValueError("Describe the image you want.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(
            f"A prompt may be {MAX_PROMPT_CHARS:,} characters at most; this one is {len(prompt):,}."
        )
    if problem := text_problem(prompt):
        raise ValueError(f"The prompt {problem}.")
    return prompt


@overload
def validate_seed(value: int) -> int: ...
@overload
def validate_seed(value: int | None) -> int | None: ...
def validate_seed(value: int | None) -> int | None:
    """The seed, or None (the playground draws one); ValueError when it is out of the provider's range."""
    if value is not None and not 0 <= value <= MAX_SEED:
        raise ValueError(SEED_RULE)
    return value


def draw_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


@dataclass(frozen=True, slots=True)
class GenerationParameters:
    """What one image is asked for: the five inputs that reproduce it. A seed of None is drawn when queued."""

    prompt: str
    width: int
    height: int
    seed: int | None
    prompt_extend: bool

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    def with_seed(self) -> GenerationParameters:
        """These parameters with a seed: the provider does not say which it drew, so the playground draws it."""
        return self if self.seed is not None else replace(self, seed=draw_seed())

    def model_fields(self) -> dict:
        """The fields of a Generation (or a batch cell) that record these parameters."""
        return {
            "prompt": self.prompt,
            "width": self.width,
            "height": self.height,
            "seed": self.seed,
            "prompt_extend": self.prompt_extend,
            "aspect_ratio": aspect_ratio(self.width, self.height),
        }


class ErrorCode(StrEnum):
    """Every way a generation can fail or be refused, for machines; `http_status` is how the API answers it.

    Failures of the provider are the provider's (`provider_rate_limited` is the provider limiting this
    playground); refusals before anything is recorded are the caller's (`rate_limited` is the caller's own limit).
    """

    http_status: int

    def __new__(cls, value: str, http_status: int) -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.http_status = http_status
        return member

    # A generation that failed (stored on its row).
    PROVIDER_ERROR = "provider_error", 502
    PROVIDER_UNREACHABLE = "provider_unreachable", 502
    PROVIDER_TIMEOUT = "provider_timeout", 504
    PROVIDER_AUTH = "provider_auth", 502
    PROVIDER_REJECTED = "provider_rejected", 400
    PROVIDER_RATE_LIMITED = "provider_rate_limited", 503
    PROVIDER_UNAVAILABLE = "provider_unavailable", 503
    BAD_RESPONSE = "bad_response", 502
    IMAGE_DOWNLOAD_FAILED = "image_download_failed", 502
    IMAGE_TOO_LARGE = "image_too_large", 502
    NOT_AN_IMAGE = "not_an_image", 502
    INTERNAL_ERROR = "internal_error", 500
    CANCELLED = "cancelled", 409
    INTERRUPTED = "interrupted", 503
    # A generation refused before anything was recorded or sent: a limit, the queue.
    RATE_LIMITED = "rate_limited", 429
    TOO_MANY_QUEUED = "too_many_queued", 429
    QUEUE_FULL = "queue_full", 503
    # An API call that waited too long for its generation.
    QUEUE_TIMEOUT = "queue_timeout", 503
    STILL_RUNNING = "still_running", 504
    # A request that cannot be taken as it is.
    BAD_REQUEST = "bad_request", 400
    INVALID_TEXT = "invalid_text", 400
    INVALID_BODY = "invalid_body", 400
    REQUEST_TOO_LARGE = "request_too_large", 413
    NOT_FOUND = "not_found", 404
    SERVER_ERROR = "server_error", 500
    INVALID_API_KEY = "invalid_api_key", 401
    PERMISSION_DENIED = "permission_denied", 403
    METHOD_NOT_ALLOWED = "method_not_allowed", 405
    INVALID_JSON = "invalid_json", 400
    INVALID_REQUEST = "invalid_request", 400
    MODEL_NOT_FOUND = "model_not_found", 404
    INVALID_PROMPT = "invalid_prompt", 400
    INVALID_SIZE = "invalid_size", 400
    INVALID_N = "invalid_n", 400
    INVALID_RESPONSE_FORMAT = "invalid_response_format", 400
    INVALID_PARAMETERS = "invalid_parameters", 400
    INVALID_SEED = "invalid_seed", 400


# Failures that end the same way however often the same request is sent again: the provider refused the
# prompt (its content inspection, or a request it calls invalid) or the API key, or made an image larger than
# the playground keeps.
FAILURES_A_RETRY_CANNOT_MEND = frozenset(
    {ErrorCode.PROVIDER_REJECTED, ErrorCode.PROVIDER_AUTH, ErrorCode.IMAGE_TOO_LARGE}
)
