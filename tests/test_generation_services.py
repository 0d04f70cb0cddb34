from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from generations.models import Generation, GenerationStatus
from generations.services.generations import (
    generation_create,
    generation_repeat,
    generation_run,
    generation_thumbnail,
    generations_interrupt_stale,
)
from generations.services.images import InvalidImageError, image_store
from tests.conftest import make_generation
from tests.fake_provider import draw_image

pytestmark = pytest.mark.django_db


def test_it_records_a_pending_row_with_a_drawn_seed_before_calling_the_provider(
    demo_mode, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        generation = generation_create(
            prompt="A lighthouse", width=1024, height=1024, seed=None, prompt_extend=False
        )
    stored = Generation.objects.get(pk=generation.pk)
    assert stored.status == GenerationStatus.PENDING
    assert 0 <= stored.seed <= 2_147_483_647
    assert stored.is_demo
    assert len(stored.public_id) >= 22
    assert len(callbacks) == 1, "the provider call starts only once the row is committed"


def test_it_stores_the_image_and_provider_text_on_success(use_fake_provider):
    generation = make_generation(prompt="A lighthouse at dusk", width=1024, height=768, prompt_extend=True)

    generation_run(generation)

    generation.refresh_from_db()
    assert generation.status == GenerationStatus.SUCCEEDED
    assert generation.revised_prompt
    assert generation.reasoning
    assert generation.provider_url.startswith(use_fake_provider.base_url.removesuffix("/v1"))
    assert default_storage.exists(generation.image.name)
    assert generation.image_bytes == default_storage.size(generation.image.name)
    assert len(generation.image_sha256) == 64
    assert not generation.thumbnail, "the thumbnail is made when first asked for, off the generation's path"
    with default_storage.open(generation_thumbnail(generation=generation)) as thumbnail:
        image = Image.open(thumbnail)
        assert image.format == "WEBP"
        assert max(image.size) <= 512
    assert Generation.objects.get(pk=generation.pk).thumbnail.name == generation.thumbnail.name
    assert generation.provider_latency_ms is not None
    assert generation.total_latency_ms >= generation.provider_latency_ms
    assert generation.finished_at is not None
    sent = use_fake_provider.requests[-1]
    assert sent["size"] == "1024x768"
    assert sent["parameters"] == {"prompt_extend": True, "seed": 42}


@pytest.mark.parametrize(
    ("fault", "code", "message"),
    [
        ("401", "provider_auth", "refused the API key"),
        ("400", "provider_rejected", "Input data may contain inappropriate content"),
        ("503", "provider_unavailable", "having trouble"),
        ("garbage", "bad_response", "not a valid image result"),
        ("expired-url", "image_download_failed", "link may have expired"),
        ("not-image", "not_an_image", "not a usable image"),
        ("oversized", "image_too_large", "larger than this playground accepts"),
    ],
)
def test_it_records_a_failure_with_a_code_and_a_human_reason(use_fake_provider, fault, code, message):
    generation = make_generation(prompt=f"A lighthouse [fault:{fault}]")

    generation_run(generation)

    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == code
    assert message in generation.error_message
    assert not generation.image
    assert generation.finished_at is not None


def test_it_keeps_an_interrupted_verdict_made_meanwhile(use_fake_provider):
    generation = make_generation()
    Generation.objects.filter(pk=generation.pk).update(status=GenerationStatus.INTERRUPTED)

    result = generation_run(generation)

    assert result.status == GenerationStatus.INTERRUPTED


def test_it_retries_with_the_same_inputs_and_seed(demo_mode):
    failed = make_generation(status=GenerationStatus.FAILED, prompt_extend=True, width=1360, height=768)

    retried = generation_repeat(generation=failed)

    assert retried.pk != failed.pk
    assert retried.status == GenerationStatus.PENDING
    assert (retried.prompt, retried.seed, retried.size, retried.prompt_extend) == (
        failed.prompt,
        failed.seed,
        "1360x768",
        True,
    )


def test_it_marks_only_stale_pending_rows_interrupted(settings):
    settings.ZIMAGE_DEADLINE_S = 60
    stale = make_generation()
    Generation.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    fresh = make_generation()
    finished = make_generation(status=GenerationStatus.SUCCEEDED)
    Generation.objects.filter(pk=finished.pk).update(created_at=timezone.now() - timedelta(days=1))

    assert generations_interrupt_stale() == 1

    stale.refresh_from_db()
    assert stale.status == GenerationStatus.INTERRUPTED
    assert "Retry" in stale.error_message
    assert Generation.objects.get(pk=fresh.pk).status == GenerationStatus.PENDING
    assert Generation.objects.get(pk=finished.pk).status == GenerationStatus.SUCCEEDED


def test_the_demo_provider_draws_the_same_image_for_the_same_prompt_and_seed(demo_mode):
    first, second, other_seed = (
        make_generation(seed=7),
        make_generation(seed=7),
        make_generation(seed=8),
    )
    for generation in (first, second, other_seed):
        generation_run(generation)
        generation.refresh_from_db()
    assert first.status == GenerationStatus.SUCCEEDED
    assert first.image_sha256 == second.image_sha256 != other_seed.image_sha256


def test_it_refuses_bytes_that_are_not_an_image():
    with pytest.raises(InvalidImageError):
        image_store(b"<html>not an image</html>")


def test_it_refuses_a_truncated_image():
    png = draw_image("A lighthouse", 1, 640, 640)
    with pytest.raises(InvalidImageError):
        image_store(png[: len(png) // 2])


def test_each_generation_logs_its_outcome_and_latencies_but_not_the_prompt(use_fake_provider, caplog):
    caplog.set_level(logging.INFO, logger="generations")
    succeeded = make_generation(prompt="A very private prompt about a lighthouse")
    failed = make_generation(prompt="Another private prompt [fault:503]")

    generation_run(succeeded)
    generation_run(failed)

    assert f"generation {succeeded.public_id} succeeded in" in caplog.text
    assert f"generation {failed.public_id} failed: provider_unavailable" in caplog.text
    assert "private prompt" not in caplog.text
    assert use_fake_provider.api_key not in caplog.text
