"""Reads: what a round could compare (the images of a batch, its runs, a gallery filter, a set another room keeps
such as a board), the ballots a judge has
open, and a round's leaderboard."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.db.models import Avg, Count
from django.utils.text import Truncator

from generations.batch_plan import BatchPlan, value_label
from generations.models import Batch, Generation, GenerationStatus
from generations.selectors import GalleryFilters, gallery_page, latest_cells
from judging.fit import Agreement, Estimate, Fit, agreement, bradley_terry, wilson
from judging.models import Arm, Ballot, Choice, Judge, Round, RoundImage, RoundParameter
from judging.pairing import Candidate, RoundPlan, round_plan

# A round made from a gallery filter takes at most this many of its newest images.
GALLERY_ROUND_MAX_IMAGES = 200
DECIDED = (Choice.A, Choice.B, Choice.TIE, Choice.BOTH_BAD)


@dataclass(frozen=True, slots=True)
class RoundOption:
    """A parameter a round could compare over some images: how many arms and pairs it would make."""

    parameter: str
    label: str
    arms: list[str]
    pairs: int


@dataclass(frozen=True, slots=True)
class RoundSource:
    """The images a round could be made from. From a batch run more than once, `runs` lists its runs (oldest
    first): only a comparison of runs takes the other runs' images."""

    generations: list[Generation]
    runs: list[Batch]
    batch: Batch | None = None

    def candidates(self, parameter: str) -> list[Candidate]:
        run_numbers = {run.pk: number for number, run in enumerate(self.runs, start=1)}
        generations = self.generations
        if self.batch is not None and parameter != RoundParameter.RUN:
            generations = [generation for generation in generations if generation.batch_id == self.batch.pk]
        return [
            Candidate(
                key=generation.pk,
                values={
                    "prompt": generation.prompt,
                    "seed": generation.seed,
                    "size": generation.size,
                    "extend": generation.prompt_extend,
                    "model": generation.model,
                    "run": run_numbers.get(generation.batch_id or 0, 0),
                },
            )
            for generation in generations
        ]

    def plan(self, parameter: str) -> RoundPlan:
        return round_plan(self.candidates(parameter), parameter, ARM_ORDER.get(parameter))

    def arm_label(self, parameter: str, value: Hashable) -> str:
        if parameter == RoundParameter.RUN:
            run = self.runs[int(value) - 1]  # type: ignore[call-overload]
            return f"Run {value} ({run.created_at:%Y-%m-%d %H:%M} UTC)"
        return value_label(parameter, value)

    def options(self) -> list[RoundOption]:
        """The parameters whose values differ among the images in a way that makes pairs."""
        options = []
        for parameter, label in RoundParameter.choices:
            if parameter == RoundParameter.RUN and len(self.runs) < 2:
                continue
            plan = self.plan(parameter)
            if plan.pairs:
                arms = [self.arm_label(parameter, value) for value in plan.arms]
                options.append(RoundOption(parameter, label, arms, len(plan.pairs)))
        return options


ARM_ORDER = {
    "seed": lambda value: value,
    "size": lambda value: (_pixels(value), value),
    "extend": lambda value: value,
    "run": lambda value: value,
}


def _pixels(size: str) -> int:
    width, height = (int(side) for side in size.split("x"))
    return width * height


def batch_round_source(*, batch: Batch) -> RoundSource:
    """A batch's finished cells, and those of its other runs (the run it repeats, and its re-runs), oldest first."""
    runs = [batch]
    if batch.rerun_of is not None:
        runs.insert(0, batch.rerun_of)
    plan = BatchPlan.of(batch)
    runs += [rerun for rerun in batch.reruns.order_by("created_at") if BatchPlan.of(rerun) == plan]
    finished = [
        cell.pk for run in runs for cell in latest_cells(run).values() if cell.has_image and cell.image
    ]
    generations = list(Generation.objects.filter(pk__in=finished).order_by("batch__created_at", "cell_index"))
    return RoundSource(generations=generations, runs=runs, batch=batch)


def gallery_round_source(*, filters: GalleryFilters, user: User | AnonymousUser) -> RoundSource:
    """The newest finished images a gallery filter shows (at most GALLERY_ROUND_MAX_IMAGES)."""
    page = gallery_page(
        filters=replace(filters, status=GenerationStatus.SUCCEEDED),
        user=user,
        page_size=GALLERY_ROUND_MAX_IMAGES,
    )
    generations = Generation.objects.filter(pk__in=[generation.pk for generation in page.generations])
    return RoundSource(generations=list(generations.newest_first()), runs=[])


def image_set_round_source(*, generations: list[Generation]) -> RoundSource:
    """The finished images of a set another room keeps (a board: generations/hooks.py), in the set's order."""
    order = [generation.pk for generation in generations]
    finished = (
        Generation.objects.live().filter(pk__in=order, status=GenerationStatus.SUCCEEDED).exclude(image="")
    )
    by_pk = {generation.pk: generation for generation in finished}
    return RoundSource(generations=[by_pk[pk] for pk in order if pk in by_pk], runs=[])


def judge_open_ballots(*, judge: Judge) -> list[Ballot]:
    """The pairs dealt to `judge` not yet voted on, the first one to show first."""
    return list(
        judge.ballots.filter(voted_at__isnull=True)
        .select_related("pair__image_a", "pair__image_b")
        .order_by("dealt_at", "pk")
    )


def judge_vote_count(*, judge: Judge) -> int:
    return judge.ballots.filter(voted_at__isnull=False).count()


@dataclass(frozen=True, slots=True)
class ArmStanding:
    arm: Arm
    against_others: Estimate | None
    votes: int
    wins: int
    losses: int
    ties: int
    both_bad: int
    cost: Decimal | None


@dataclass(frozen=True, slots=True)
class HeadToHead:
    first: Arm
    second: Arm
    first_wins: int
    second_wins: int
    ties: int
    both_bad: int
    fitted: Estimate | None  # how likely the first is preferred, from the fit

    @property
    def votes(self) -> int:
        return self.first_wins + self.second_wins + self.ties + self.both_bad

    @property
    def observed(self) -> Estimate | None:
        """The first arm's share of these votes, ties and "both bad" as half-wins."""
        return wilson(self.first_wins + (self.ties + self.both_bad) / 2, self.votes)


@dataclass(frozen=True, slots=True)
class JudgeStanding:
    judge: Judge
    votes: int
    skips: int
    agreement: float | None  # how often other judges gave the same answer on the pairs this judge voted on


@dataclass(frozen=True, slots=True)
class Leaderboard:
    round: Round
    arms: list[ArmStanding]  # strongest first
    head_to_heads: list[HeadToHead]
    judges: list[JudgeStanding]
    agreement: Agreement
    votes: int
    skips: int
    left_share: Estimate | None  # how often the image on the left won a decisive vote
    verdict: str

    @property
    def team_votes(self) -> int:
        return sum(standing.votes for standing in self.judges if not standing.judge.is_guest)

    @property
    def guest_votes(self) -> int:
        return sum(standing.votes for standing in self.judges if standing.judge.is_guest)


def round_leaderboard(*, round: Round) -> Leaderboard:
    """Everything the leaderboard shows, from four queries whatever the number of votes."""
    arms = list(round.arms.all())
    index = {arm.pk: position for position, arm in enumerate(arms)}
    wins = np.zeros((len(arms), len(arms)))
    ties = np.zeros((len(arms), len(arms)))
    counts: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    answers_by_pair: dict[int, Counter[str]] = defaultdict(Counter)
    left_wins = decisive = 0
    tallies = (
        Ballot.objects.filter(round=round, choice__in=DECIDED)
        .values_list("pair_id", "pair__arm_a_id", "pair__arm_b_id", "choice", "a_on_left")
        .annotate(count=Count("id"))
    )
    for pair, arm_a, arm_b, choice, a_on_left, count in tallies:
        first, second = index[arm_a], index[arm_b]
        counts[(first, second)][choice] += count
        # Ties and "both bad" are one answer when judges are compared: neither image is better.
        answers_by_pair[pair][choice if choice in (Choice.A, Choice.B) else Choice.TIE] += count
        if choice == Choice.A:
            wins[first, second] += count
        elif choice == Choice.B:
            wins[second, first] += count
        else:
            ties[first, second] += count
            ties[second, first] += count
        if choice in (Choice.A, Choice.B):
            decisive += count
            left_wins += count if (choice == Choice.A) == a_on_left else 0
    votes = int(wins.sum() + ties.sum() / 2)
    fit = bradley_terry(wins, ties) if votes and len(arms) > 1 else None
    standings = _arm_standings(round, arms, fit, counts)
    head_to_heads = [
        HeadToHead(
            first=arms[first],
            second=arms[second],
            first_wins=tally[Choice.A],
            second_wins=tally[Choice.B],
            ties=tally[Choice.TIE],
            both_bad=tally[Choice.BOTH_BAD],
            fitted=fit.win_probability(first, second) if fit else None,
        )
        for (first, second), tally in sorted(counts.items())
    ]
    judges = _judge_standings(round)
    skips = sum(standing.skips for standing in judges)
    return Leaderboard(
        round=round,
        arms=standings,
        head_to_heads=head_to_heads,
        judges=judges,
        agreement=agreement(answers_by_pair.values()),
        votes=votes,
        skips=skips,
        left_share=wilson(left_wins, decisive),
        verdict=_verdict(standings, fit, arms, votes),
    )


def _arm_standings(
    round: Round, arms: list[Arm], fit: Fit | None, counts: dict[tuple[int, int], Counter[str]]
) -> list[ArmStanding]:
    # Each image's own price, kept when it was queued (a demo image's is nothing).
    costs = dict(
        RoundImage.objects.filter(round=round)
        .values("arm_id")
        .annotate(cost=Avg("generation__price"))
        .values_list("arm_id", "cost")
    )
    standings = []
    for position, arm in enumerate(arms):
        tally: Counter[str] = Counter()
        for (first, second), pair_tally in counts.items():
            if position == first:
                tally.update(pair_tally)
            elif position == second:
                tally.update({"a": pair_tally["b"], "b": pair_tally["a"], **_drawn(pair_tally)})
        standings.append(
            ArmStanding(
                arm=arm,
                against_others=fit.against_the_others(position) if fit else None,
                votes=sum(tally.values()),
                wins=tally[Choice.A],
                losses=tally[Choice.B],
                ties=tally[Choice.TIE],
                both_bad=tally[Choice.BOTH_BAD],
                cost=_money(costs.get(arm.pk)),
            )
        )
    if fit is not None:
        standings.sort(key=lambda standing: -fit.strengths[arms.index(standing.arm)])
    return standings


def _money(amount: Decimal | None) -> Decimal | None:
    """An average price to the millionth the prices are kept in, without trailing zeros: 0.015, not 0.01500000."""
    if amount is None:
        return None
    return Decimal(format(amount.quantize(Decimal("0.000001")).normalize(), "f"))


def _drawn(tally: Counter[str]) -> dict[str, int]:
    return {Choice.TIE: tally[Choice.TIE], Choice.BOTH_BAD: tally[Choice.BOTH_BAD]}


def _judge_standings(round: Round) -> list[JudgeStanding]:
    """Each judge's votes and skips, and the share of other judges' votes on the same pairs that gave the same
    answer (ties and "both bad" as one); counted by PostgreSQL with window counts per pair and answer, so that
    10,000 votes never travel to Python."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH answers AS (
                SELECT judge_id, pair_id, choice = %(skip)s AS skipped,
                       CASE WHEN choice IN (%(a)s, %(b)s) THEN choice ELSE %(tie)s END AS answer
                FROM judging_ballot WHERE round_id = %(round)s AND choice <> ''
            ), compared AS (
                SELECT judge_id, skipped,
                       count(*) FILTER (WHERE NOT skipped) OVER (PARTITION BY pair_id, answer) - 1 AS agreeing,
                       count(*) FILTER (WHERE NOT skipped) OVER (PARTITION BY pair_id) - 1 AS voting
                FROM answers
            )
            SELECT judge.id, judge.name, judge.guest_link_id,
                   count(*) FILTER (WHERE NOT skipped) AS votes,
                   count(*) FILTER (WHERE skipped),
                   sum(agreeing) FILTER (WHERE NOT skipped),
                   sum(voting) FILTER (WHERE NOT skipped)
            FROM judging_judge judge LEFT JOIN compared ON compared.judge_id = judge.id
            WHERE judge.round_id = %(round)s
            GROUP BY judge.id ORDER BY votes DESC, judge.name
            """,
            {"a": Choice.A, "b": Choice.B, "tie": Choice.TIE, "skip": Choice.SKIP, "round": round.pk},
        )
        return [
            JudgeStanding(
                judge=Judge(pk=pk, round=round, name=name, guest_link_id=guest_link_id),
                votes=votes,
                skips=skips,
                agreement=agreeing / voting if voting else None,
            )
            for pk, name, guest_link_id, votes, skips, agreeing, voting in cursor.fetchall()
        ]


def _verdict(standings: list[ArmStanding], fit: Fit | None, arms: list[Arm], votes: int) -> str:
    """The answer in a sentence: who wins, how sure that is, at what price; or that nobody can tell yet."""
    if fit is None or len(standings) < 2:
        return "No votes yet: the leaderboard fills in as judges vote."
    leader, runner_up = standings[0], standings[1]
    head_to_head = fit.win_probability(arms.index(leader.arm), arms.index(runner_up.arm))
    odds = f"{_percent(head_to_head.value)} ({_interval(head_to_head)}, {_count(votes, 'vote')})"
    if head_to_head.includes_even:
        return (
            f"The votes cannot yet tell {_name(leader.arm)} and {_name(runner_up.arm)} apart: "
            f"{_name(leader.arm)} is preferred {odds}."
        )
    price = _price_phrase(leader.cost, runner_up.cost)
    if len(standings) == 2:
        return f"{_name(leader.arm)} wins {odds}{price}."
    return f"{_name(leader.arm)} leads: it beats {_name(runner_up.arm)}, the next best, {odds}{price}."


def _name(arm: Arm) -> str:
    return Truncator(arm.label).chars(60)


def _percent(share: float) -> str:
    return f"{round(share * 100)} %"


def _interval(estimate: Estimate) -> str:
    return f"{round(estimate.low * 100)}–{round(estimate.high * 100)} %"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


PRICE_WORDS = {Decimal(1): "the same price", Decimal(2): "twice the price", Decimal("0.5"): "half the price"}


def _price_phrase(cost: Decimal | None, other: Decimal | None) -> str:
    if not cost or not other:
        return ""
    ratio = (cost / other).quantize(Decimal("0.01"))
    words = PRICE_WORDS.get(ratio.normalize(), f"{ratio.normalize()}× the price")
    return f" at {words}"
