"""Which provider this instance uses: the real one when ZIMAGE_API_KEY is set, otherwise the offline demo."""

from __future__ import annotations

from django.conf import settings

from generations.provider.client import HttpProvider
from generations.provider.demo import DemoProvider


def configured_provider() -> HttpProvider | DemoProvider:
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
        extra_models=settings.EXTRA_MODELS,
    )
