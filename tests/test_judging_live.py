"""Blind judging over real HTTP, as production serves it (ASGI): many judges voting at once, the guests' limit
per address under simultaneous requests, and votes pushed to the event stream that open leaderboards follow."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from judging.models import Ballot, Judge
from judging.selectors import round_leaderboard
from judging.services.rounds import guest_link_create
from judging.services.voting import ballot_vote, ballots_open, judge_join
from tests.factories import make_finished_batch, make_round

pytestmark = pytest.mark.django_db(transaction=True)

CSRF = "c" * 32
TOKEN = re.compile(r'data-ballot(?:-template)?="([\w-]+)"')


def guest(base_url: str, link_url: str, name: str) -> httpx.Client:
    """A guest's browser: joined through the link under `name`, its session cookie kept."""
    client = httpx.Client(
        base_url=base_url, cookies={"csrftoken": CSRF}, headers={"X-CSRFToken": CSRF}, timeout=30
    )
    assert client.post(link_url, data={"name": name}).status_code == 302
    return client


def open_ballots(client: httpx.Client, link_url: str) -> list[str]:
    return list(dict.fromkeys(TOKEN.findall(client.get(link_url).text)))


def vote(client: httpx.Client, token: str) -> httpx.Response:
    return client.post(f"/vote/{token}/", data={"choice": "left"}, headers={"HX-Request": "true"})


def test_twenty_judges_voting_at_once_each_get_pairs_once_and_every_vote_counts(
    asgi_server, demo_mode, settings
):
    settings.JUDGING_GUEST_VOTES_PER_MINUTE = 1000
    round = make_round(make_finished_batch(prompts=("A fox", "A hare"), seeds=(1, 2, 3, 4)), "extend")
    link_url = guest_link_create(round=round).get_absolute_url()
    judges = [guest(asgi_server, link_url, f"Judge {n}") for n in range(20)]
    start = threading.Barrier(len(judges))

    def judge_votes(client: httpx.Client) -> list[int]:
        tokens = open_ballots(client, link_url)
        start.wait()
        statuses = []
        for _ in range(5):
            response = vote(client, tokens.pop(0))
            statuses.append(response.status_code)
            tokens += [token for token in dict.fromkeys(TOKEN.findall(response.text)) if token not in tokens]
        return statuses

    with ThreadPoolExecutor(max_workers=len(judges)) as pool:
        statuses = [status for result in pool.map(judge_votes, judges) for status in result]

    assert statuses == [200] * 100
    voted = Ballot.objects.filter(voted_at__isnull=False)
    assert voted.count() == 100
    for judge in Judge.objects.all():
        pairs = list(judge.ballots.values_list("pair_id", flat=True))
        assert len(pairs) == len(set(pairs)), "no pair twice for a judge"
        assert judge.ballots.filter(voted_at__isnull=False).count() == 5
    assert round_leaderboard(round=round).votes == 100
    for client in judges:
        client.close()


def test_the_guests_limit_per_address_holds_when_their_votes_come_at_once(asgi_server, demo_mode, settings):
    settings.JUDGING_GUEST_VOTES_PER_MINUTE = 5
    round = make_round(make_finished_batch(prompts=("A fox", "A hare"), seeds=(1, 2, 3, 4)), "extend")
    link_url = guest_link_create(round=round).get_absolute_url()
    guests = [guest(asgi_server, link_url, f"Guest {n}") for n in range(10)]
    ballots = [(client, token) for client in guests for token in open_ballots(client, link_url)]
    start = threading.Barrier(len(ballots))

    def send(ballot: tuple[httpx.Client, str]) -> int:
        start.wait()
        return vote(*ballot).status_code

    with ThreadPoolExecutor(max_workers=len(ballots)) as pool:
        statuses = list(pool.map(send, ballots))

    assert len(statuses) == 20
    assert sorted(statuses) == [200] * 5 + [429] * 15
    assert Ballot.objects.filter(voted_at__isnull=False).count() == 5
    for client in guests:
        client.close()


def test_a_vote_is_pushed_to_the_event_stream_of_its_round(asgi_server, demo_mode):
    batch = make_finished_batch(prompts=("A fox",), seeds=(1,))
    round = make_round(batch, "extend")
    generation = batch.cells.first()
    assert generation
    judge = judge_join(round=round, name="Ada", address=None)
    ballot = ballots_open(judge=judge)[0]
    subscribed = threading.Event()
    lines: list[str] = []

    def listen() -> None:
        url = f"{asgi_server}/events/?id={round.public_id}&id={generation.public_id}"
        with httpx.stream("GET", url, timeout=30) as stream:
            for line in stream.iter_lines():
                lines.append(line)
                if line == "event: status":  # a generation's status is read once the stream is subscribed
                    subscribed.set()
                if line.startswith("data:") and lines[-2] == "event: vote":
                    return

    listener = threading.Thread(target=listen)
    listener.start()
    assert subscribed.wait(timeout=15)
    ballot_vote(ballot=ballot, answer="right", address=None)
    listener.join(timeout=15)

    assert not listener.is_alive(), f"no vote event came: {lines}"
    assert lines[-1] == f'data: {{"id": "{round.public_id}", "status": "vote"}}'
