"""Use cases of voting: a judge joins a round (a team member by account or browser session, a guest through a
live guest link under a name), gets pairs dealt (the most informative first, never the same pair twice), and
votes. Guests are limited per address, counted in PostgreSQL under a lock, so the limits hold across processes.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from generations.services.events import event_announce
from judging.models import Ballot, Choice, GuestLink, Judge, Pair, Round
from judging.selectors import judge_open_ballots

# How many pairs a judge has dealt ahead: the one on screen and the next, whose images the page loads meanwhile.
OPEN_BALLOTS = 2
# The side a judge picked, as the page names it, and the choice it records about the pair's images a and b.
SIDES = ("left", "right")
ANSWERS = {"tie": Choice.TIE, "both_bad": Choice.BOTH_BAD, "skip": Choice.SKIP}
# pg_advisory_xact_lock's first key for the per-address locks of judging (the second is the address's hash).
ADDRESS_LOCK = 23


class JudgingRefused(Exception):
    """A vote or a join that cannot be taken, with the HTTP status a page answers it with."""

    def __init__(self, user_message: str, *, status: int, retry_after_s: int | None = None) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.status = status
        self.retry_after_s = retry_after_s


def judge_for_user(*, round: Round, user: User) -> Judge:
    """The signed-in team member's judge in this round (made on their first vote)."""
    judge, _created = Judge.objects.get_or_create(
        round=round, user=user, defaults={"name": user.get_username()[:80]}
    )
    return judge


def judge_join(*, round: Round, name: str, guest_link: GuestLink | None = None, address: str | None) -> Judge:
    """A judge under `name`: a guest through `guest_link` (which must be live; joins are limited per address),
    or a team member without an account on an open instance."""
    with transaction.atomic():
        if guest_link is not None:
            _guest_link_check(guest_link)
            _address_limit_check(
                address,
                Judge.objects.filter(
                    guest_link__isnull=False, created_at__gte=timezone.now() - timedelta(hours=1)
                ),
                field="joined_from",
                limit=settings.JUDGING_GUEST_JOINS_PER_HOUR,
                window_s=3600,
                what="guests joined",
            )
        return Judge.objects.create(round=round, name=name, guest_link=guest_link, joined_from=address)


def ballots_open(*, judge: Judge) -> list[Ballot]:
    """The judge's open ballots, dealing new pairs so that OPEN_BALLOTS are open while any pair is left."""
    with transaction.atomic():
        Judge.objects.select_for_update().filter(pk=judge.pk).first()  # one deal at a time per judge
        ballots = judge_open_ballots(judge=judge)
        if len(ballots) < OPEN_BALLOTS:
            _deal(judge, OPEN_BALLOTS - len(ballots))
            ballots = judge_open_ballots(judge=judge)
    return ballots


def ballot_vote(*, ballot: Ballot, answer: str, address: str | None) -> list[Ballot]:
    """Record the judge's answer ("left", "right", "tie", "both_bad" or "skip") and announce it to open
    leaderboards; the judge's open ballots after it. A ballot already voted keeps its first answer."""
    if answer not in (*SIDES, *ANSWERS):
        raise JudgingRefused("Pick the left or right image, a tie, both bad, or skip.", status=400)
    judge = ballot.judge
    with transaction.atomic():
        if judge.guest_link is not None:
            _guest_link_check(judge.guest_link)
            _address_limit_check(
                address,
                Ballot.objects.filter(
                    judge__guest_link__isnull=False, voted_at__gte=timezone.now() - timedelta(minutes=1)
                ),
                field="voted_from",
                limit=settings.JUDGING_GUEST_VOTES_PER_MINUTE,
                window_s=60,
                what="guest votes",
            )
        recorded = Ballot.objects.filter(pk=ballot.pk, voted_at__isnull=True).update(
            choice=_choice(answer, a_on_left=ballot.a_on_left), voted_at=timezone.now(), voted_from=address
        )
        if recorded:
            event_announce(topic=ballot.round.public_id, kind="vote")
    return ballots_open(judge=judge)


def _choice(answer: str, *, a_on_left: bool) -> Choice:
    if answer in ANSWERS:
        return ANSWERS[answer]
    return Choice.A if (answer == "left") == a_on_left else Choice.B


def _deal(judge: Judge, count: int) -> None:
    """Deal the most informative pairs this judge has not seen: those with the fewest ballots first (skips aside),
    then those whose arms are closest so far, then any; each with its sides drawn at random."""
    pairs = list(
        Pair.objects.filter(round=judge.round_id)
        .exclude(pk__in=Ballot.objects.filter(judge=judge).values("pair_id"))
        .annotate(load=Count("ballots", filter=~Q(ballots__choice=Choice.SKIP)))
        .values_list("pk", "arm_a_id", "arm_b_id", "load")
    )
    closeness = _arm_closeness(judge.round_id)
    ranked = sorted(
        pairs, key=lambda pair: (pair[3], closeness.get((pair[1], pair[2]), 0.0), secrets.randbits(32))
    )
    Ballot.objects.bulk_create(
        Ballot(round_id=judge.round_id, judge=judge, pair_id=pair_id, a_on_left=secrets.randbelow(2) == 0)
        for pair_id, *_rest in ranked[:count]
    )


def _arm_closeness(round_id: int) -> dict[tuple[int, int], float]:
    """For each pair of arms, how far the votes so far lean to one side (0: even), ties as half-wins, with one
    virtual tie so that a few votes do not count as certainty."""
    leaning: dict[tuple[int, int], list[float]] = {}
    tallies = (
        Ballot.objects.filter(round=round_id, choice__in=(Choice.A, Choice.B, Choice.TIE, Choice.BOTH_BAD))
        .values_list("pair__arm_a_id", "pair__arm_b_id", "choice")
        .annotate(count=Count("id"))
    )
    for arm_a, arm_b, choice, count in tallies:
        wins_and_votes = leaning.setdefault((arm_a, arm_b), [0.5, 1.0])
        wins_and_votes[0] += count * {Choice.A: 1.0, Choice.B: 0.0}.get(choice, 0.5)
        wins_and_votes[1] += count
    return {arms: abs(wins / votes - 0.5) for arms, (wins, votes) in leaning.items()}


def _guest_link_check(link: GuestLink) -> None:
    if GuestLink.objects.filter(pk=link.pk, revoked_at__isnull=True).exists():
        return
    raise JudgingRefused(
        "This judging link was turned off by the team: votes already given count, new ones cannot be taken.",
        status=410,
    )


def _address_limit_check(
    address: str | None, recent: QuerySet, *, field: str, limit: int, window_s: int, what: str
) -> None:
    """Refuse when `recent` already holds `limit` rows from this address; the address's lock is held to the
    commit, so simultaneous requests from one address are counted one after another."""
    if address is None:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [ADDRESS_LOCK, address])
    if recent.filter(**{field: address}).count() >= limit:
        raise JudgingRefused(
            f"Too many {what} from your address ({limit} in {window_s // 60} minutes at most): wait a little.",
            status=429,
            retry_after_s=window_s,
        )
