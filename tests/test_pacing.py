"""One pace with the provider for the whole cluster (generations/pacing.py): turns granted in PostgreSQL within the
account's limits, in a fair order, 429s as waits, and workers that hold only the turns they were given."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from generations.domain import ErrorCode
from generations.images import StoredImage, image_store
from generations.models import Generation, GenerationStatus, ProviderPace, ProviderTurn
from generations.pacing import turn_end, turns_tidy
from generations.provider.pace import AnswerKind, ProviderAnswer
from generations.services.lifecycle import generation_cancel
from generations.tasks import generation_execute
from tests.conftest import run_async, running_worker
from tests.factories import create_generation, make_batch, make_user, post_at_once, signed_in, wait_until
from tests.fake_provider import FakeProvider

pytestmark = pytest.mark.django_db


@pytest.fixture
def paced(settings, use_fake_provider: FakeProvider) -> FakeProvider:
    """The fake provider as a real account: 2 at once and 60 a minute, and the pace set to those ceilings."""
    settings.PROVIDER_MAX_CONCURRENT = use_fake_provider.max_concurrent = 2
    settings.PROVIDER_MAX_PER_MINUTE = use_fake_provider.max_per_minute = 60
    return use_fake_provider


def waiting() -> list[Generation]:
    return list(Generation.objects.filter(status=GenerationStatus.QUEUED, dispatched_at__isnull=True))


def dispatched_prompts() -> list[str]:
    return list(
        Generation.objects.filter(dispatched_at__isnull=False)
        .order_by("dispatched_at", "id")
        .values_list("prompt", flat=True)
    )


def end_turns_of_dispatched() -> None:
    """The dispatched generations succeed, and their turns end (as a worker would say)."""
    for generation in Generation.objects.filter(status=GenerationStatus.QUEUED, dispatched_at__isnull=False):
        Generation.objects.filter(pk=generation.pk).update(status=GenerationStatus.SUCCEEDED)
        turn_end(generation_id=generation.pk, answer=ProviderAnswer(AnswerKind.SUCCEEDED), latency_ms=2000)


def test_a_generation_waits_in_the_queue_without_a_job_until_its_turn_comes(paced):
    first, second, third = (create_generation(prompt=f"Turn {index}") for index in range(3))

    assert [first.dispatched_at is not None, second.dispatched_at is not None] == [True, True], "two at once"
    assert (third.dispatched_at, third.job_id) == (None, None), "no worker holds work that has no turn"
    assert ProcrastinateJob.objects.filter(task_name="generations.run").count() == 2
    assert ProviderTurn.objects.filter(ended_at__isnull=True).count() == 2
    assert third.queue_position() == 2

    Generation.objects.filter(pk=first.pk).update(status=GenerationStatus.SUCCEEDED)
    turn_end(generation_id=first.pk, answer=ProviderAnswer(AnswerKind.SUCCEEDED), latency_ms=1500)

    third.refresh_from_db()
    assert third.dispatched_at is not None, "the turn that ended went to it"
    assert third.job_id is not None


@pytest.mark.django_db(transaction=True)
def test_simultaneous_posts_never_get_more_turns_than_the_pace_allows(
    asgi_server, settings, use_fake_provider
):
    settings.PROVIDER_MAX_CONCURRENT = 3
    sessions = [signed_in(asgi_server, make_user(f"person{index}")) for index in range(4)]

    statuses = post_at_once(
        [(client, token, f"At once {index}") for client, token in sessions for index in range(5)]
    )

    assert statuses == [200] * 20
    assert Generation.objects.filter(dispatched_at__isnull=False).count() == 3
    assert ProviderTurn.objects.filter(ended_at__isnull=True).count() == 3
    posted = list(Generation.objects.values_list("public_id", flat=True))
    assert (
        ProcrastinateJob.objects.filter(task_name="generations.run", args__public_id__in=posted).count() == 3
    )
    assert len(waiting()) == 17


def test_the_minutes_window_holds_turns_until_it_slides(paced, settings):
    settings.PROVIDER_MAX_PER_MINUTE = 4
    earlier = create_generation(prompt="Earlier")
    Generation.objects.filter(pk=earlier.pk).update(status=GenerationStatus.SUCCEEDED)
    ProviderTurn.objects.bulk_create(
        ProviderTurn(
            generation=earlier, granted_at=timezone.now(), sent_at=timezone.now(), ended_at=timezone.now()
        )
        for _ in range(3)
    )  # with its own, four requests sent within the minute

    generation = create_generation(prompt="Waits for the window")
    assert generation.dispatched_at is None

    ProviderTurn.objects.update(sent_at=timezone.now() - timedelta(seconds=62))
    turns_tidy()

    generation.refresh_from_db()
    assert generation.dispatched_at is not None


def test_single_prompts_go_first_and_batches_of_different_people_take_turns(paced, settings):
    settings.PROVIDER_MAX_CONCURRENT = 1
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    create_generation(prompt="Busy", user=carol)  # takes the only turn
    make_batch(prompts=["A1", "A2", "A3"], seeds=[1], user=alice)
    make_batch(prompts=["B1", "B2"], seeds=[1], user=bob)
    single = create_generation(prompt="Carol's prompt", user=carol)

    positions = {generation.prompt: generation.queue_position() for generation in waiting()}
    assert positions == {"Carol's prompt": 1, "A1": 2, "B1": 3, "A2": 4, "B2": 5, "A3": 6}
    response = Client().get(reverse("generations:card", args=[single.public_id]))
    assert "Queued (1 ahead of you)" in response.text

    for _ in range(6):
        end_turns_of_dispatched()
    assert dispatched_prompts() == ["Busy", "Carol's prompt", "A1", "B1", "A2", "B2", "A3"]


def test_a_429_sends_the_generation_back_to_wait_in_its_place_and_bills_nothing(paced):
    generation = create_generation(prompt="A lighthouse [fault:429:30]")

    run_async(generation_execute, generation.public_id, cancelled_by_person=lambda: False)

    generation.refresh_from_db()
    assert generation.status == GenerationStatus.QUEUED, "not a failure: the provider ran nothing"
    assert (generation.rate_limit_waits, generation.dispatched_at, generation.started_at) == (1, None, None)
    assert 28 <= generation.next_try_in_s <= 30
    assert generation.cost == generation.price, "still its price: it will be made"
    assert not ProviderTurn.objects.filter(ended_at__isnull=True).exists(), "its turn ended"
    card = Client().get(reverse("generations:card", args=[generation.public_id])).text
    assert "Waiting for the provider's rate limit (next try in" in card
    assert len(paced.requests) == 1


def test_a_429_holds_every_request_of_the_cluster_until_the_providers_reset(paced):
    limited = create_generation(prompt="A lighthouse [fault:429:30]")
    run_async(generation_execute, limited.public_id, cancelled_by_person=lambda: False)

    later = create_generation(prompt="Queued while held")

    assert later.dispatched_at is None
    pace = ProviderPace.objects.get()
    assert pace.held_until is not None
    assert pace.held_until > timezone.now() + timedelta(seconds=25)
    assert pace.rate_limited_total == 1
    metrics = Client().get("/metrics").text
    assert "zimage_provider_rate_limited_total 1.0" in metrics
    assert "zimage_provider_rate_limit_waiting 1.0" in metrics


def test_past_the_wait_budget_a_rate_limited_generation_fails_saying_so_and_costs_nothing(paced, settings):
    settings.PROVIDER_WAIT_MAX_S = 10
    generation = create_generation(prompt="A lighthouse [fault:429:30]")

    run_async(generation_execute, generation.public_id, cancelled_by_person=lambda: False)

    generation.refresh_from_db()
    assert (generation.status, generation.error_code) == (
        GenerationStatus.FAILED,
        ErrorCode.PROVIDER_RATE_LIMITED,
    )
    assert "rate limit kept this image waiting for more than 10 seconds (PROVIDER_WAIT_MAX_S)" in (
        generation.error_message
    )
    assert "Nothing was billed" in generation.error_message
    assert generation.cost == 0


@pytest.mark.django_db(transaction=True)
def test_a_turn_ends_when_the_provider_answers_before_the_image_is_stored(paced, monkeypatch):
    generation = create_generation(prompt="A lighthouse")
    turns_open_while_storing = []

    def store(data: bytes) -> StoredImage:
        turns_open_while_storing.append(ProviderTurn.objects.filter(ended_at__isnull=True).count())
        connection.close()  # this thread's own
        return image_store(data)

    monkeypatch.setattr("generations.tasks.image_store", store)
    run_async(generation_execute, generation.public_id, cancelled_by_person=lambda: False)

    assert turns_open_while_storing == [0], "the next request could start while this image was stored"
    assert Generation.objects.get(pk=generation.pk).status == GenerationStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_429_is_waited_out_and_the_generation_then_succeeds(paced):
    generation = create_generation(prompt="A lighthouse [fault:flaky:429:1]")

    with running_worker(concurrency=10):
        wait_until(lambda: Generation.objects.get(pk=generation.pk).status == GenerationStatus.SUCCEEDED)

    generation.refresh_from_db()
    assert generation.rate_limit_waits == 1
    assert len(paced.requests) == 2, "asked again once the provider's Retry-After had passed"


@pytest.mark.django_db(transaction=True)
def test_two_workers_together_never_pass_the_accounts_limits(paced):
    paced.latency_s = 0.3
    generations = [create_generation(prompt=f"Paced {index}", seed=index) for index in range(10)]

    with running_worker(concurrency=20, name="worker one"), running_worker(concurrency=20, name="worker two"):
        wait_until(lambda: not Generation.objects.active().exists())

    assert {generation.status for generation in Generation.objects.all()} == {GenerationStatus.SUCCEEDED}
    assert paced.max_in_flight == 2
    assert paced.rate_limited == 0, "never a 429: the pace kept the account's limits"
    assert len(paced.requests) == len(generations)


def test_a_dead_workers_turn_is_freed_once_its_generation_is_interrupted(paced, settings):
    settings.PROVIDER_MAX_CONCURRENT = 1
    running = create_generation(prompt="Its worker dies")
    Generation.objects.filter(pk=running.pk).update(status=GenerationStatus.RUNNING)
    waiting_one = create_generation(prompt="Next")
    assert waiting_one.dispatched_at is None

    Generation.objects.filter(pk=running.pk).interrupt()  # what the recovery of a dead worker does
    turns_tidy()

    waiting_one.refresh_from_db()
    assert waiting_one.dispatched_at is not None
    assert not ProviderTurn.objects.filter(generation=running, ended_at__isnull=True).exists()


def test_a_waiting_generation_cancelled_never_gets_a_turn_and_costs_nothing(paced, settings):
    settings.PROVIDER_MAX_CONCURRENT = 1
    create_generation(prompt="Busy")
    waiting_one = create_generation(prompt="Cancelled while waiting")

    generation_cancel(generation=waiting_one)
    end_turns_of_dispatched()

    waiting_one.refresh_from_db()
    assert (waiting_one.status, waiting_one.dispatched_at, waiting_one.cost) == (
        GenerationStatus.CANCELLED,
        None,
        0,
    )
