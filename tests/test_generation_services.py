from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from PIL import Image
from procrastinate.contrib.django import app as job_engine
from procrastinate.contrib.django.models import ProcrastinateJob

from generations.images import InvalidImageError, image_store
from generations.models import Generation, GenerationStatus
from generations.services.generation_files import generation_thumbnail
from generations.services.lifecycle import generation_cancel, generation_repeat
from generations.services.limits import GenerationRefused
from generations.tasks import recover_stalled_generations
from tests.conftest import run_async
from tests.factories import create_generation, finish, make_generation
from tests.fake_provider import draw_image

pytestmark = pytest.mark.django_db


def job_of(generation: Generation) -> ProcrastinateJob:
    assert generation.job_id is not None
    return ProcrastinateJob.objects.get(pk=generation.job_id)


def create(**fields) -> Generation:
    return create_generation(**({"seed": None} | fields))


def test_it_records_a_queued_row_with_a_drawn_seed_and_queues_its_job(demo_mode):
    generation = create()

    stored = Generation.objects.get(pk=generation.pk)
    assert stored.status == GenerationStatus.QUEUED
    assert 0 <= stored.seed <= 2_147_483_647
    assert stored.is_demo
    assert len(stored.public_id) >= 22
    job = job_of(stored)
    assert (job.task_name, job.status, job.queue_name) == ("generations.run", "todo", "generations")
    assert job.args["public_id"] == stored.public_id


def test_a_refused_generation_leaves_neither_a_row_nor_a_job(settings, demo_mode):
    settings.MAX_QUEUED_GENERATIONS = 1
    create()

    with pytest.raises(GenerationRefused) as refused:
        create(prompt="One too many")

    assert refused.value.code == "queue_full"
    assert Generation.objects.count() == ProcrastinateJob.objects.count() == 1


def test_it_stores_the_image_and_provider_text_on_success(use_fake_provider):
    generation = make_generation(prompt="A lighthouse at dusk", width=1024, height=768, prompt_extend=True)

    finish(generation)

    assert generation.status == GenerationStatus.SUCCEEDED
    assert generation.revised_prompt
    assert generation.reasoning
    assert generation.provider_url.startswith(use_fake_provider.base_url.removesuffix("/v1"))
    assert generation.image.name
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
    assert generation.started_at is not None
    assert generation.total_latency_ms is not None
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
def test_it_records_a_failure_with_a_code_and_a_human_reason(use_fake_provider, fault, code, message, pauses):
    generation = finish(make_generation(prompt=f"A lighthouse [fault:{fault}]"))

    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == code
    assert message in generation.error_message
    assert not generation.image
    assert generation.finished_at is not None


def test_a_failure_records_how_many_requests_it_took_and_says_it_retried(use_fake_provider, pauses):
    generation = finish(make_generation(prompt="A lighthouse [fault:503]"))

    assert generation.status == GenerationStatus.FAILED
    assert generation.attempts == len(use_fake_provider.requests) == 2
    assert generation.error_message.endswith("Retried once without success.")


def test_a_generation_cancelled_while_queued_never_reaches_the_provider(use_fake_provider):
    generation = create()

    cancelled = generation_cancel(generation=generation)
    finish(generation)  # the job, should a worker have taken it already

    assert cancelled.status == generation.status == GenerationStatus.CANCELLED
    assert "nothing was billed" in generation.error_message
    assert job_of(generation).status == "cancelled"
    assert use_fake_provider.requests == []


def test_a_running_generation_cancelled_says_the_provider_may_bill_it(demo_mode):
    generation = create()
    Generation.objects.filter(pk=generation.pk).update(status=GenerationStatus.RUNNING)

    cancelled = generation_cancel(generation=generation)

    assert cancelled.status == GenerationStatus.CANCELLED
    assert "may still bill" in cancelled.error_message


def test_cancelling_a_finished_generation_changes_nothing(demo_mode):
    generation = finish(make_generation())
    assert generation_cancel(generation=generation).status == GenerationStatus.SUCCEEDED


def test_it_retries_with_the_same_inputs_and_seed(demo_mode):
    failed = make_generation(status=GenerationStatus.FAILED, prompt_extend=True, width=1360, height=768)

    retried = generation_repeat(generation=failed)

    assert retried.pk != failed.pk
    assert retried.status == GenerationStatus.QUEUED
    assert (retried.prompt, retried.seed, retried.size, retried.prompt_extend) == (
        failed.prompt,
        failed.seed,
        "1360x768",
        True,
    )


def stall(generation: Generation, *, status: GenerationStatus) -> None:
    """What a worker killed mid-job leaves: the job taken ('doing') by a worker that no longer exists."""
    Generation.objects.filter(pk=generation.pk).update(status=status)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = NULL WHERE id = %s",
            [generation.job_id],
        )


def recover() -> None:
    run_async(recover_stalled_generations.func, SimpleNamespace(app=job_engine), timestamp=0)


def test_a_dead_workers_running_generation_ends_interrupted_and_is_never_rerun(demo_mode):
    generation = create()
    stall(generation, status=GenerationStatus.RUNNING)

    recover()

    generation.refresh_from_db()
    assert generation.status == GenerationStatus.INTERRUPTED
    assert "may have billed it" in generation.error_message
    assert job_of(generation).status == "failed"


def test_a_dead_workers_job_that_had_not_started_is_queued_again(demo_mode):
    generation = create()
    stall(generation, status=GenerationStatus.QUEUED)

    recover()

    generation.refresh_from_db()
    assert generation.status == GenerationStatus.QUEUED
    assert job_of(generation).status == "todo"


def test_a_running_generation_whose_job_ended_without_it_is_interrupted(demo_mode):
    generation = create()
    Generation.objects.filter(pk=generation.pk).update(status=GenerationStatus.RUNNING)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE procrastinate_jobs SET status = 'failed' WHERE id = %s", [generation.job_id])

    recover()

    generation.refresh_from_db()
    assert generation.status == GenerationStatus.INTERRUPTED


def test_the_demo_provider_draws_the_same_image_for_the_same_prompt_and_seed(demo_mode):
    first, second, other_seed = (
        finish(make_generation(seed=7)),
        finish(make_generation(seed=7)),
        finish(make_generation(seed=8)),
    )
    assert first.status == GenerationStatus.SUCCEEDED
    assert first.image_sha256 == second.image_sha256 != other_seed.image_sha256


def test_it_refuses_bytes_that_are_not_an_image():
    with pytest.raises(InvalidImageError):
        image_store(b"<html>not an image</html>")


def test_it_refuses_a_truncated_image():
    png = draw_image("A lighthouse", 1, 640, 640)
    with pytest.raises(InvalidImageError):
        image_store(png[: len(png) // 2])


def test_each_generation_logs_its_outcome_and_latencies_but_not_the_prompt(use_fake_provider, caplog, pauses):
    caplog.set_level(logging.INFO, logger="generations")
    succeeded = finish(make_generation(prompt="A very private prompt about a lighthouse"))
    failed = finish(make_generation(prompt="Another private prompt [fault:503]"))

    assert f"generation {succeeded.public_id} succeeded in" in caplog.text
    assert f"generation {failed.public_id} failed: provider_unavailable" in caplog.text
    assert "private prompt" not in caplog.text
    assert use_fake_provider.api_key not in caplog.text
