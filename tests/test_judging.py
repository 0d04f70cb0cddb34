"""Blind judging: rounds from a batch, its runs, a gallery filter or a board; the blind page; dealing; votes (by the team and
by guests through a live link); the leaderboard's counting; exports."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from generations.models import Batch, Generation, Requester
from generations.services.batches import batch_run_again
from judging.fit import bradley_terry
from judging.models import Ballot, Choice, GuestLink, Judge, Pair, Round, RoundImage
from judging.selectors import round_leaderboard
from judging.services.images import DISPLAY_LONG_SIDE
from judging.services.rounds import guest_link_create, guest_link_revoke
from judging.services.voting import ballot_vote, ballots_open, judge_join
from tests.factories import (
    finish,
    make_board,
    make_finished_batch,
    make_generation,
    make_round,
    make_user,
)
from tests.query_count import count_queries

pytestmark = pytest.mark.django_db

PROMPTS = ("A zebra crossing a bridge of glass", "A violin made of ice")


@pytest.fixture
def batch(demo_mode):
    return make_finished_batch(prompts=PROMPTS, seeds=(1234567, 7654321), extend=(False, True))


@pytest.fixture
def judge_client(client) -> Client:
    """A team member, signed in, who votes as their account."""
    client.force_login(make_user("ada"))
    return client


def vote_page(client: Client, round: Round) -> str:
    return client.get(reverse("judging:vote", args=[round.public_id])).text


def shown_ballot(page: str) -> str:
    """The token of the ballot a voting page shows (the first form)."""
    found = re.search(r'data-ballot="([\w-]+)"', page)
    assert found, "the page shows a pair"
    return found[1]


def test_it_pairs_each_cell_with_its_twin_in_the_other_arm(batch):
    round = make_round(batch, "extend")

    assert [arm.label for arm in round.arms.all()] == ["Prompt extend off", "Prompt extend on"]
    pairs = list(
        Pair.objects.filter(round=round).select_related("image_a__generation", "image_b__generation")
    )
    assert len(pairs) == 4
    for pair in pairs:
        first, second = pair.image_a.generation, pair.image_b.generation
        assert (first.prompt, first.seed, first.size) == (second.prompt, second.seed, second.size)
        assert (first.prompt_extend, second.prompt_extend) == (False, True)


def test_the_new_round_page_offers_the_parameters_that_vary_and_makes_the_round(client, batch):
    url = f"{reverse('judging:new')}?batch={batch.public_id}"
    page = client.get(url).text

    assert "Prompt extend: Prompt extend off vs Prompt extend on (4 pairs)" in page
    assert "Seed: Seed 1234567 vs Seed 7654321 (4 pairs)" in page
    assert 'value="size"' not in page, "one size makes no pairs"

    response = client.post(url, {"question": "Which would you ship?", "parameter": "seed"})

    round = Round.objects.get()
    assert response.url == round.get_absolute_url()
    assert (round.question, round.parameter, round.batch) == ("Which would you ship?", "seed", batch)


def test_a_batch_and_its_rerun_are_the_arms_of_a_run_round(batch):
    rerun = batch_run_again(batch=batch, requester=Requester.of(None))
    for generation in rerun.cells.all():
        finish(generation)

    round = make_round(rerun, "run")

    assert [arm.label[:5] for arm in round.arms.all()] == ["Run 1", "Run 2"]
    for pair in Pair.objects.filter(round=round).select_related("image_a__generation", "image_b__generation"):
        first, second = pair.image_a.generation, pair.image_b.generation
        assert (first.batch_id, second.batch_id) == (batch.pk, rerun.pk)
        assert first.parameters == second.parameters
    assert round.pairs.count() == 8


def test_a_gallery_filter_pairs_images_of_the_same_prompt_across_arms(client, demo_mode):
    for seed, extend in ((1, False), (2, True), (3, True)):
        finish(
            make_generation(prompt="A heron in fog", seed=seed, prompt_extend=extend, width=512, height=512)
        )
    finish(make_generation(prompt="Unrelated", seed=4, width=512, height=512))
    url = f"{reverse('judging:new')}?q=heron"

    client.post(url, {"question": "Which looks better?", "parameter": "extend"})

    round = Round.objects.get()
    assert round.pairs.count() == 2, "the image without extend meets each with it"
    assert {image.generation.prompt for image in RoundImage.objects.filter(round=round)} == {"A heron in fog"}


def test_a_board_makes_a_round_of_its_finished_images_in_its_order(client, demo_mode, settings):
    settings.REQUIRE_LOGIN = True
    owner = make_user("ada")
    images = [
        finish(make_generation(prompt="A lighthouse at dusk", seed=seed, width=512, height=512))
        for seed in (1, 2, 3)
    ]
    unfinished = make_generation(prompt="A lighthouse at dusk", seed=4, width=512, height=512)
    elsewhere = finish(make_generation(prompt="A lighthouse at dusk", seed=5, width=512, height=512))
    board = make_board(owner, generations=[images[2], unfinished, images[0], images[1]], name="Lighthouses")
    url = f"{reverse('judging:new')}?board={board.public_id}"
    assert client.get(url).status_code == 302, "a board is for the team: sign in first"
    client.force_login(make_user("bob"))

    page = client.get(url).text
    response = client.post(url, {"question": "Which would you ship?", "parameter": "seed"})

    assert f'From <a href="{board.get_absolute_url()}">Board: Lighthouses</a>: 3 finished images.' in page
    round = Round.objects.get()
    assert response.url == round.get_absolute_url()
    assert (round.source, round.source_url, round.batch) == (
        "Board: Lighthouses",
        board.get_absolute_url(),
        None,
    )
    judged = {image.generation_id for image in RoundImage.objects.filter(round=round)}
    assert judged == {image.pk for image in images}, "the unfinished one and one off the board stay out"
    assert elsewhere.pk not in judged
    assert client.get(f"{reverse('judging:new')}?board=nope").status_code == 404


def test_a_board_page_offers_to_judge_its_images_blind(client, demo_mode):
    board = make_board(None, generations=[finish(make_generation(prompt="A kite", seed=1))])

    page = client.get(board.get_absolute_url()).text

    assert f'href="{reverse("judging:new")}?board={board.public_id}"' in page
    assert "Judge blind…" in page


def test_the_blind_page_carries_none_of_the_hidden_parameters(judge_client, batch):
    round = make_round(batch, "extend")
    generations = list(Generation.objects.filter(batch=batch))

    page = vote_page(judge_client, round)
    vote_url = reverse("judging:vote", args=[round.public_id])

    hidden = [*PROMPTS, "1234567", "7654321", "512", "extend", "Extend", "seed", "Seed", "/g/", "z-image"]
    hidden += [generation.public_id for generation in generations]
    hidden += [generation.image_sha256[:12] for generation in generations]
    page_without_its_own_url = page.replace(vote_url, "")
    assert [value for value in hidden if value in page_without_its_own_url] == []
    image_urls = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', page)
    assert [alt for _url, alt in image_urls] == ["Image A", "Image B"] * 2, "the shown pair and the next"
    assert all(re.fullmatch(r"/vote/image/[\w-]{32}/", url) for url, _alt in image_urls)


def test_a_rounds_images_come_at_one_size_without_metadata(client, demo_mode):
    batch = make_finished_batch(prompts=PROMPTS[:1], sizes=("512x512", "768x1360"), extend=(False,))
    round = make_round(batch, "size")

    for image in RoundImage.objects.filter(round=round):
        response = client.get(image.get_absolute_url())
        picture = Image.open(io.BytesIO(response.content))
        assert picture.format == "WEBP"
        assert max(picture.size) == DISPLAY_LONG_SIDE, "the pixel count does not tell the size it was made at"
        assert not picture.info.get("exif")
        assert not picture.info.get("xmp")
        assert "private" in response["Cache-Control"]


def test_pairs_never_repeat_for_a_judge_skips_included(judge_client, batch):
    round = make_round(batch, "seed")
    seen = []
    page = vote_page(judge_client, round)
    answers = iter(["left", "skip", "right", "tie"])
    while "data-ballot=" in page:
        token = shown_ballot(page)
        seen.append(Ballot.objects.get(token=token).pair_id)
        judge_client.post(reverse("judging:ballot-vote", args=[token]), {"choice": next(answers)})
        page = vote_page(judge_client, round)

    assert len(seen) == len(set(seen)) == round.pairs.count() == 4
    assert "You have judged every pair of this round" in page


def test_each_judge_is_dealt_the_pairs_with_the_fewest_votes_first(batch):
    round = make_round(batch, "seed")
    first = judge_join(round=round, name="Ada", address=None)
    taken = {ballot.pair_id for ballot in ballots_open(judge=first)}

    second = judge_join(round=round, name="Ben", address=None)
    dealt = {ballot.pair_id for ballot in ballots_open(judge=second)}

    assert len(taken) == len(dealt) == 2
    assert taken.isdisjoint(dealt)


def test_a_ballot_keeps_its_first_answer(judge_client, batch):
    round = make_round(batch, "extend")
    token = shown_ballot(vote_page(judge_client, round))
    url = reverse("judging:ballot-vote", args=[token])

    judge_client.post(url, {"choice": "tie"})
    judge_client.post(url, {"choice": "left"})

    assert Ballot.objects.get(token=token).choice == Choice.TIE


def test_it_refuses_an_unknown_answer_and_another_judges_ballot(judge_client, batch):
    round = make_round(batch, "extend")
    token = shown_ballot(vote_page(judge_client, round))

    assert (
        judge_client.post(reverse("judging:ballot-vote", args=[token]), {"choice": "both"}).status_code == 400
    )
    assert Client().post(reverse("judging:ballot-vote", args=[token]), {"choice": "left"}).status_code == 404
    assert Ballot.objects.filter(voted_at__isnull=False).count() == 0


def test_left_and_right_are_recorded_as_the_arm_shown_there(judge_client, batch):
    round = make_round(batch, "extend")
    for _ in range(4):
        token = shown_ballot(vote_page(judge_client, round))
        judge_client.post(reverse("judging:ballot-vote", args=[token]), {"choice": "left"})

    for ballot in Ballot.objects.filter(round=round):
        assert ballot.choice == (Choice.A if ballot.a_on_left else Choice.B)


def test_the_fit_recovers_a_synthetic_preference():
    outcomes = np.random.default_rng(2026).random(600) < 0.7
    wins = np.array([[0, outcomes.sum()], [(~outcomes).sum(), 0]], dtype=float)

    fit = bradley_terry(wins, np.zeros((2, 2)))

    preference = fit.win_probability(0, 1)
    assert preference.low < 0.7 < preference.high
    assert not preference.includes_even
    assert fit.against_the_others(1).high < 0.5


def test_the_fit_ranks_three_arms_by_their_true_strengths():
    rng = np.random.default_rng(23)
    true = np.array([1.0, 0.0, -1.0])
    wins = np.zeros((3, 3))
    for _ in range(900):
        first, second = rng.choice(3, size=2, replace=False)
        chance = 1 / (1 + np.exp(true[second] - true[first]))
        winner, loser = (first, second) if rng.random() < chance else (second, first)
        wins[winner, loser] += 1

    fit = bradley_terry(wins, np.zeros((3, 3)))

    assert list(np.argsort(-fit.strengths)) == [0, 1, 2]
    for first, second in ((0, 1), (1, 2), (0, 2)):
        truth = 1 / (1 + np.exp(true[second] - true[first]))
        estimate = fit.win_probability(first, second)
        assert estimate.low < truth < estimate.high


def cast(round: Round, judge: Judge, choices: list[str]) -> None:
    """Votes by `judge` on the pairs dealt, in order: "a", "b", "tie", "both_bad" or "skip" about the pair."""
    for choice in choices:
        ballot = ballots_open(judge=judge)[0]
        side = {"a": "left" if ballot.a_on_left else "right", "b": "right" if ballot.a_on_left else "left"}
        ballot_vote(ballot=ballot, answer=side.get(choice, choice), address=None)


def test_ties_and_both_bad_count_as_half_wins_and_skips_not_at_all(demo_mode):
    batch = make_finished_batch(prompts=PROMPTS, seeds=range(1, 8), extend=(False, True))
    round = make_round(batch, "extend")
    judge = judge_join(round=round, name="Ada", address=None)

    cast(round, judge, ["b"] * 6 + ["a"] * 2 + ["tie"] * 2 + ["both_bad"] * 2 + ["skip"] * 2)

    board = round_leaderboard(round=round)
    [match] = board.head_to_heads
    assert (match.first_wins, match.second_wins, match.ties, match.both_bad) == (2, 6, 2, 2)
    assert match.observed
    assert match.fitted
    assert match.observed.value == pytest.approx((2 + (2 + 2) / 2) / 12)
    # Two arms: the fit gives the observed share, moved a little towards even by one virtual tie.
    assert match.fitted.value == pytest.approx((2 + 2 + 0.5) / 13, abs=1e-6)
    assert board.votes == 12
    assert board.skips == 2
    extended = board.arms[0]
    assert (extended.arm.label, extended.wins, extended.losses, extended.ties, extended.both_bad) == (
        "Prompt extend on",
        6,
        2,
        2,
        2,
    )


def test_the_leaderboard_says_plainly_when_the_votes_cannot_tell_the_arms_apart(batch):
    round = make_round(batch, "extend")
    cast(round, judge_join(round=round, name="Ada", address=None), ["a", "b", "a"])

    verdict = round_leaderboard(round=round).verdict

    assert verdict.startswith("The votes cannot yet tell Prompt extend off and Prompt extend on apart:")


def test_the_leaderboard_weighs_the_winner_against_its_price(demo_mode):
    batch = make_finished_batch(prompts=PROMPTS, seeds=range(1, 16), extend=(False, True))
    priced_as_the_provider_would(batch)
    round = make_round(batch, "extend")
    for name in ("Ada", "Ben"):
        cast(round, judge_join(round=round, name=name, address=None), ["b"] * 28 + ["a"] * 2)

    board = round_leaderboard(round=round)

    assert re.fullmatch(
        r"Prompt extend on wins 9\d % \(\d\d–9\d %, 60 votes\) at twice the price\.", board.verdict
    ), board.verdict
    assert [str(standing.cost) for standing in board.arms] == ["0.03", "0.015"]
    assert board.agreement.observed is not None
    assert board.judges[0].votes == 30


def test_the_leaderboard_costs_the_same_queries_at_10_and_100_votes(client, demo_mode, settings):
    settings.LIMIT_PER_MINUTE = settings.LIMIT_PER_DAY = 200
    batch = make_finished_batch(prompts=PROMPTS, seeds=range(1, 51), extend=(False, True))
    round = make_round(batch, "extend")
    counts = []
    for judges in (1, 10):
        while Judge.objects.filter(round=round).count() < judges:
            cast(round, judge_join(round=round, name=f"J{judges}", address=None), ["a", "b"] * 5)
        with count_queries() as counted:
            client.get(round.get_absolute_url())
        counts.append(counted.total)

    assert counts[0] == counts[1]


def test_guests_vote_only_through_a_live_link(client, batch, settings):
    settings.REQUIRE_LOGIN = True
    round = make_round(batch, "extend")
    link = guest_link_create(round=round)

    assert "Your name" in client.get(link.get_absolute_url()).text
    client.post(link.get_absolute_url(), {"name": "  Grace   Hopper "})
    page = client.get(link.get_absolute_url()).text
    token = shown_ballot(page)
    client.post(reverse("judging:ballot-vote", args=[token]), {"choice": "left"})
    assert Judge.objects.get().name == "Grace Hopper"
    assert Ballot.objects.filter(voted_at__isnull=False).count() == 1
    assert client.get(round.get_absolute_url()).status_code == 302, "the leaderboard is the team's"

    guest_link_revoke(link=link)
    next_token = shown_ballot(page.split("<template", 1)[1])
    refused = client.post(reverse("judging:ballot-vote", args=[next_token]), {"choice": "left"})

    assert refused.status_code == 410
    assert "turned off" in refused.text
    assert client.get(link.get_absolute_url()).status_code == 410
    assert Client().get(reverse("judging:guest", args=["x" * 32])).status_code == 404
    assert Ballot.objects.filter(voted_at__isnull=False).count() == 1


def test_a_new_guest_link_is_long_random_and_listed_until_revoked(client, batch):
    round = make_round(batch, "extend")

    client.post(reverse("judging:guest-link-new", args=[round.public_id]))

    link = GuestLink.objects.get()
    assert len(link.token) >= 32  # 24 random bytes
    assert link.token in client.get(round.get_absolute_url()).text
    client.post(reverse("judging:guest-link-revoke", args=[round.public_id, link.token]))
    assert link.token not in client.get(round.get_absolute_url()).text


def test_guest_joins_are_limited_per_address(client, batch, settings):
    settings.JUDGING_GUEST_JOINS_PER_HOUR = 2
    link = guest_link_create(round=make_round(batch, "extend"))

    answers = [Client().post(link.get_absolute_url(), {"name": f"Guest {n}"}).status_code for n in range(3)]

    assert answers == [302, 302, 429]
    assert Judge.objects.count() == 2


def test_the_exports_name_judge_pair_choice_and_time(client, batch):
    priced_as_the_provider_would(batch)
    round = make_round(batch, "extend")
    cast(round, judge_join(round=round, name="=cmd|' /C calc'!A0", address=None), ["a", "tie", "skip"])

    votes = list(
        csv.reader(io.StringIO(client.get(reverse("judging:votes-csv", args=[round.public_id])).text))
    )
    board = list(
        csv.reader(io.StringIO(client.get(reverse("judging:leaderboard-csv", args=[round.public_id])).text))
    )

    assert votes[0] == [
        "judge",
        "judge kind",
        "pair",
        "arm A",
        "arm B",
        "shown left",
        "choice",
        "voted at (UTC)",
    ]
    assert [row[6] for row in votes[1:]] == ["Prompt extend off", "Tie", "Skipped"]
    assert votes[1][0].startswith("'="), "a name that looks like a formula stays text in a spreadsheet"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", votes[1][7])
    assert board[0][:3] == ["rank", "arm", "preferred to the others"]
    assert [row[1] for row in board[1:]] == ["Prompt extend off", "Prompt extend on"]
    assert board[1][10] == "0.015"


def priced_as_the_provider_would(batch: Batch) -> None:
    """Demo images cost nothing: give the batch's cells the list price a real provider's would have."""
    batch.cells.filter(prompt_extend=False).update(price=Decimal("0.015"))
    batch.cells.filter(prompt_extend=True).update(price=Decimal("0.03"))
