"""Shared test data: the form's usual values, generations made directly or through the service, users, tokens,
boards and their share links, finished batches and judging rounds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from accounts.services import person_set_role
from generations.batch_plan import BatchPlan
from generations.domain import GenerationParameters
from generations.models import Batch, Generation, GenerationStatus, Requester, new_public_id
from generations.services.batches import batch_create
from generations.services.generation_files import generation_thumbnail
from generations.services.lifecycle import generation_create
from generations.services.tokens import api_token_create
from generations.tasks import generation_execute
from judging.models import Round
from judging.selectors import batch_round_source
from judging.services.rounds import round_create
from reviews.models import Board, BoardShareLink
from reviews.people import Person
from reviews.services.boards import board_create, board_items_add
from tests.conftest import run_async
from tests.production import csrf_token

PASSWORD = "correct horse battery staple"
FORM = {"prompt": "A red bicycle", "size": "1024x1536", "custom_size": "", "seed": ""}
PARAMETERS = GenerationParameters("A lighthouse at dusk", 1024, 1536, 42, False)


def form_data(**fields: str) -> dict:
    """The home page's form as a person fills it in, with `fields` changed."""
    return FORM | fields


def make_parameters(**fields) -> GenerationParameters:
    return replace(PARAMETERS, **fields)


def make_generation(**fields) -> Generation:
    """A row as it stands in the database (queued unless `fields` say otherwise), with no job behind it."""
    parameter_fields = {name: fields.pop(name) for name in list(fields) if hasattr(PARAMETERS, name)}
    values = make_parameters(**parameter_fields).model_fields() | {"model": "z-image-turbo"} | fields
    return Generation.objects.create(**values)


def create_generation(*, user=None, **fields) -> Generation:
    """A generation queued through the service, as the form does: limits checked, its job deferred."""
    return generation_create(parameters=make_parameters(**fields), requester=Requester.of(user))


def finish(generation: Generation) -> Generation:
    """Run a queued generation to its end right here, as a worker would, and return it as recorded."""
    run_async(generation_execute, generation.public_id, cancelled_by_person=lambda: False)
    generation.refresh_from_db()
    return generation


def make_many_tiles(count: int, sizes: tuple[tuple[int, int], ...] = ((640, 640),)) -> list[Generation]:
    """`count` finished generations, "Tile 0" the newest, sharing the stored images and thumbnails of one
    generation per size in `sizes`, in turn (fast). Newest first."""
    originals = []
    for index, (width, height) in enumerate(sizes):
        original = finish(make_generation(prompt=f"Tile {index}", width=width, height=height, seed=index))
        generation_thumbnail(generation=original)
        original.refresh_from_db()
        originals.append(original)
    now = timezone.now()
    for index, original in enumerate(originals):
        Generation.objects.filter(pk=original.pk).update(created_at=now - timedelta(seconds=index))
    shared = [
        {
            field.attname: getattr(original, field.attname)
            for field in Generation._meta.concrete_fields
            if not field.generated and field.attname not in ("id", "public_id", "prompt", "created_at")
        }
        for original in originals
    ]
    Generation.objects.bulk_create(
        Generation(
            public_id=new_public_id(),
            prompt=f"Tile {index}",
            created_at=now - timedelta(seconds=index),
            **shared[index % len(shared)],
        )
        for index in range(len(originals), count)
    )
    return list(Generation.objects.live().newest_first())


def finish_all(batch: Batch) -> None:
    """Run a batch's queued cells to their end right here, as a worker would."""
    for generation in batch.cells.filter(status=GenerationStatus.QUEUED):
        finish(generation)


def make_user(username: str = "alice", *, role: Role = Role.MEMBER, **fields):
    """An account with a password (PASSWORD) and a role: a member unless said otherwise."""
    user = get_user_model().objects.create_user(username, password=PASSWORD, **fields)
    person_set_role(user=user, role=role, actor=None, ip=None)
    return user


def make_token(user, name: str = "tests") -> str:
    """A personal API token of `user`'s, as its owner copies it once."""
    return api_token_create(user=user, name=name)[1]


def make_finished_batch(
    prompts=("A red bicycle", "A lighthouse"), seeds=(1, 2), sizes=("512x512",), extend=(False, True)
) -> Batch:
    """A batch whose every cell is made (by whatever provider the test configured) and stored."""
    plan = BatchPlan(list(prompts), list(seeds), list(sizes), list(extend))
    batch = batch_create(plan=plan, prompts_text="\n".join(prompts), requester=Requester.of(None))
    for generation in batch.cells.all():
        finish(generation)
    return batch


def make_round(batch: Batch, parameter: str = "extend", question: str = "Which looks better?") -> Round:
    """A judging round over a batch's images, comparing the arms of `parameter`."""
    return round_create(
        source=batch_round_source(batch=batch), parameter=parameter, question=question, described_as="a batch"
    )


def make_batch(
    prompts=("A red bicycle", "A lighthouse"), seeds=(1, 2), sizes=("1024x1024",), extend=(False,), user=None
) -> Batch:
    """A batch queued through the service, as the batch form does: every combination of the lists given."""
    plan = BatchPlan(list(prompts), list(seeds), list(sizes), list(extend))
    return batch_create(plan=plan, prompts_text="\n".join(prompts), requester=Requester.of(user))


def signed_in(base_url: str, user) -> tuple[httpx.Client, str]:
    """An HTTP client with `user`'s session (or none), and the CSRF token of its home page."""
    cookies = {}
    if user is not None:
        session = Client()
        session.force_login(user)
        cookies[settings.SESSION_COOKIE_NAME] = session.cookies[settings.SESSION_COOKIE_NAME].value
    client = httpx.Client(base_url=base_url, cookies=cookies, timeout=30)
    return client, csrf_token(client)


def post_at_once(posts: list[tuple[httpx.Client, str, str]]) -> list[int]:
    """Submit the form once per (client, CSRF token, prompt), all at the same moment; the statuses."""

    def post(client: httpx.Client, token: str, prompt: str) -> Callable[[], int]:
        data = {"prompt": prompt, "size": "1024x1024", "csrfmiddlewaretoken": token}
        return lambda: client.post("/generate/", data=data, headers={"HX-Request": "true"}).status_code

    return at_once([post(*args) for args in posts])


def wait_until(condition, timeout_s: float = 120) -> None:
    """Only a bound on a hang: the worker shares a busy machine's cores with everything else."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        time.sleep(0.05)


def make_board(owner=None, *, generations=(), name: str = "Keepers", members=(), **fields) -> Board:
    """A board of `owner`'s (None: made on an open instance by nobody in particular) holding `generations`."""
    board = board_create(person=Person(user=owner), name=name, **fields)
    if generations:
        board_items_add(board=board, generations=list(generations), person=Person(user=owner))
    board.members.add(*members)
    return board


def make_share_link(board: Board, **fields) -> BoardShareLink:
    return BoardShareLink.objects.create(board=board, **fields)


def at_once[T](calls: list[Callable[[], T]]) -> list[T]:
    """Run the calls from threads held at a barrier, so that their requests reach the server together."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))
