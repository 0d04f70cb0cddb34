"""Judging rounds: making one from a batch, a gallery filter or a set of images another room keeps (a board), its leaderboard (live) and exports, guest links,
and the blind voting page with its ballots and round-scoped images."""

from __future__ import annotations

import csv
from collections.abc import Iterable

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from generations.forms import GalleryFilterForm
from generations.hooks import IMAGE_SETS
from generations.http import HtmxHttpRequest, login_required_if_configured
from generations.models import Batch, is_public_id
from judging.forms import QUESTION_PRESETS, JudgeNameForm, RoundForm
from judging.models import Ballot, GuestLink, Judge, Round, RoundImage
from judging.selectors import (
    Leaderboard,
    RoundSource,
    batch_round_source,
    gallery_round_source,
    image_set_round_source,
    judge_vote_count,
    round_leaderboard,
)
from judging.services.images import round_image_file
from judging.services.rounds import RoundRefused, guest_link_create, guest_link_revoke, round_create
from judging.services.voting import (
    JudgingRefused,
    ballot_vote,
    ballots_open,
    judge_for_user,
    judge_join,
)
from lib.client_address import client_ip

# The judges this browser session votes as, by round: {round public id: judge id}.
SESSION_JUDGES = "judging_judges"
ROUNDS_LISTED = 50
ONE_YEAR_S = 365 * 24 * 3600


@require_safe
@login_required_if_configured
def round_list(request: HttpRequest) -> HttpResponse:
    rounds = Round.objects.select_related("user").prefetch_related("arms")[:ROUNDS_LISTED]
    return render(request, "judging/rounds.html", {"rounds": rounds})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required_if_configured
def round_new(request: HtmxHttpRequest) -> HttpResponse:
    source, described_as, source_url = _round_source(request)
    options = source.options()
    form = RoundForm(request.POST if request.method == "POST" else None, options=options)
    if request.method == "POST" and form.is_valid():
        try:
            round = round_create(
                source=source,
                parameter=form.cleaned_data["parameter"],
                question=form.cleaned_data["question"],
                described_as=described_as,
                source_url=source_url,
                user=request.user,
            )
        except RoundRefused as err:
            form.add_error(None, err.user_message)
        else:
            return redirect(round)
    context = {
        "form": form,
        "options": options,
        "described_as": described_as,
        "source_url": source_url,
        "images": len(source.generations),
        "presets": QUESTION_PRESETS,
    }
    return render(request, "judging/round_new.html", context, status=400 if form.errors else 200)


def _round_source(request: HttpRequest) -> tuple[RoundSource, str, str]:
    """The images a new round is asked to compare (a batch, a set another room keeps such as a board, or a
    gallery filter), described in words and linked."""
    batch_id = request.GET.get("batch", "")
    if batch_id:
        if not is_public_id(batch_id):
            raise Http404("No such batch.")
        batch = get_object_or_404(Batch, public_id=batch_id)
        return batch_round_source(batch=batch), f"Batch: {batch}"[:300], batch.get_absolute_url()
    for kind, find in IMAGE_SETS.items():
        if named := request.GET.get(kind, ""):
            image_set = find(request, named)
            source = image_set_round_source(generations=image_set.generations)
            return source, image_set.described_as[:300], image_set.url
    filter_form = GalleryFilterForm(request.GET)
    query = request.GET.copy()
    query.pop("csrfmiddlewaretoken", None)
    gallery_url = f"{reverse('generations:gallery')}?{query.urlencode()}"
    search = filter_form.filters().query
    described = f"Gallery: “{search}”" if search else "Gallery filter"
    return (
        gallery_round_source(filters=filter_form.filters(), user=request.user),
        described[:300],
        gallery_url,
    )


@require_safe
@login_required_if_configured
def round_detail(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    round = get_object_or_404(Round.objects.select_related("batch", "user"), public_id=public_id)
    context = {
        "round": round,
        "board": round_leaderboard(round=round),
        "guest_links": [
            (link, request.build_absolute_uri(link.get_absolute_url())) for link in round.guest_links.live()
        ],
    }
    if request.htmx and request.htmx.target == "leaderboard":
        return render(request, "judging/round.html#leaderboard", context)
    return render(request, "judging/round.html", context)


@require_POST
@login_required_if_configured
def guest_link_new(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    round = get_object_or_404(Round, public_id=public_id)
    guest_link_create(round=round, user=request.user)
    return redirect(f"{round.get_absolute_url()}#guests")


@require_POST
@login_required_if_configured
def guest_link_revoke_view(request: HtmxHttpRequest, public_id: str, token: str) -> HttpResponse:
    link = get_object_or_404(GuestLink, round__public_id=public_id, token=token)
    guest_link_revoke(link=link)
    return redirect(f"{link.round.get_absolute_url()}#guests")


@require_http_methods(["GET", "HEAD", "POST"])
@login_required_if_configured
def round_vote(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """A team member votes: as their account, or on an open instance under a name kept in this browser session."""
    round = get_object_or_404(Round, public_id=public_id)
    if request.user.is_authenticated:
        return _voting_page(request, judge_for_user(round=round, user=request.user))
    return _judge_by_name(request, round, guest_link=None)


@require_http_methods(["GET", "HEAD", "POST"])
def guest_vote(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """A guest votes through a live guest link, under the name they give first."""
    link = get_object_or_404(GuestLink.objects.select_related("round"), token=token)
    if not link.is_live:
        return render(request, "judging/link_revoked.html", status=410)
    return _judge_by_name(request, link.round, guest_link=link)


def _judge_by_name(request: HtmxHttpRequest, round: Round, *, guest_link: GuestLink | None) -> HttpResponse:
    judge = _session_judge(request, round)
    if judge is not None and judge.guest_link_id == (guest_link.pk if guest_link else None):
        return _voting_page(request, judge)
    form = JudgeNameForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            judge = judge_join(
                round=round, name=form.cleaned_data["name"], guest_link=guest_link, address=client_ip(request)
            )
        except JudgingRefused as err:
            return _refused(request, err)
        request.session.setdefault(SESSION_JUDGES, {})[round.public_id] = judge.pk
        request.session.modified = True
        return redirect(request.path)
    context = {"form": form, "round": round}
    return render(request, "judging/join.html", context, status=400 if form.errors else 200)


def _voting_page(request: HttpRequest, judge: Judge) -> HttpResponse:
    context = {
        "judge": judge,
        "question": judge.round.question,
        "ballots": ballots_open(judge=judge),
        "votes": judge_vote_count(judge=judge),
    }
    return render(request, "judging/vote.html", context)


@require_POST
def ballot_vote_view(request: HtmxHttpRequest, token: str) -> HttpResponse:
    ballot = get_object_or_404(
        Ballot.objects.select_related("round", "judge__guest_link", "judge__round"), token=token
    )
    if not _votes_as(request, ballot.judge):
        raise Http404("No such ballot.")
    try:
        ballots = ballot_vote(
            ballot=ballot, answer=request.POST.get("choice", ""), address=client_ip(request)
        )
    except JudgingRefused as err:
        return _refused(request, err)
    if not request.htmx:
        judge = ballot.judge
        return redirect(
            judge.guest_link if judge.guest_link else reverse("judging:vote", args=[judge.round.public_id])
        )
    # Every open ballot: the page keeps those it has, and loads the others' images.
    context = {"queued": ballots, "votes": judge_vote_count(judge=ballot.judge)}
    return render(request, "judging/vote.html#ballots", context)


def _refused(request: HtmxHttpRequest, err: JudgingRefused) -> HttpResponse:
    response = render(request, "judging/refused.html", {"message": err.user_message}, status=err.status)
    if err.retry_after_s:
        response["Retry-After"] = str(err.retry_after_s)
    return response


def _votes_as(request: HttpRequest, judge: Judge) -> bool:
    """Whether the person behind `request` is `judge`: by account, or by this browser session."""
    if judge.user_id is not None and request.user.is_authenticated:
        return judge.user_id == request.user.pk
    return request.session.get(SESSION_JUDGES, {}).get(judge.round.public_id) == judge.pk


def _session_judge(request: HttpRequest, round: Round) -> Judge | None:
    judge_id = request.session.get(SESSION_JUDGES, {}).get(round.public_id)
    return (
        Judge.objects.filter(pk=judge_id, round=round).select_related("round").first() if judge_id else None
    )


@require_safe
def round_image(request: HttpRequest, token: str) -> HttpResponse:
    image = get_object_or_404(
        RoundImage.objects.select_related("generation"), token=token, generation__deleted_at__isnull=True
    )
    with default_storage.open(round_image_file(image=image), "rb") as file:
        response = HttpResponse(file.read(), content_type="image/webp")
    patch_cache_control(response, private=True, max_age=ONE_YEAR_S, immutable=True)
    return response


@require_safe
@login_required_if_configured
def round_votes_csv(request: HttpRequest, public_id: str) -> HttpResponse:
    round = get_object_or_404(Round, public_id=public_id)
    ballots = (
        Ballot.objects.filter(round=round, voted_at__isnull=False)
        .select_related("judge", "pair__arm_a", "pair__arm_b")
        .order_by("voted_at", "pk")
    )
    rows = (
        [
            ballot.judge.name,
            "guest" if ballot.judge.is_guest else "team",
            ballot.pair.number,
            ballot.pair.arm_a.label,
            ballot.pair.arm_b.label,
            "A" if ballot.a_on_left else "B",
            _answer(ballot),
            ballot.voted_at.isoformat() if ballot.voted_at else "",
        ]
        for ballot in ballots.iterator()
    )
    header = ["judge", "judge kind", "pair", "arm A", "arm B", "shown left", "choice", "voted at (UTC)"]
    return _csv(f"round-{round.public_id}-votes.csv", header, rows)


def _answer(ballot: Ballot) -> str:
    """What the judge said, naming the arm they preferred."""
    if ballot.choice == "a":
        return ballot.pair.arm_a.label
    if ballot.choice == "b":
        return ballot.pair.arm_b.label
    return ballot.get_choice_display()


@require_safe
@login_required_if_configured
def round_leaderboard_csv(request: HttpRequest, public_id: str) -> HttpResponse:
    round = get_object_or_404(Round, public_id=public_id)
    board = round_leaderboard(round=round)
    header = [
        "rank",
        "arm",
        "preferred to the others",
        "95% low",
        "95% high",
        "votes",
        "wins",
        "losses",
        "ties",
        "both bad",
        f"cost per image ({settings.PRICE_CURRENCY})",
    ]
    return _csv(f"round-{round.public_id}-leaderboard.csv", header, _leaderboard_rows(board))


def _leaderboard_rows(board: Leaderboard) -> Iterable[list]:
    for rank, standing in enumerate(board.arms, start=1):
        estimate = standing.against_others
        yield [
            rank,
            standing.arm.label,
            *(
                (f"{value:.4f}" for value in (estimate.value, estimate.low, estimate.high))
                if estimate
                else ["", "", ""]
            ),
            standing.votes,
            standing.wins,
            standing.losses,
            standing.ties,
            standing.both_bad,
            standing.cost if standing.cost is not None else "",
        ]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv(filename: str, header: list[str], rows: Iterable[list]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        # A spreadsheet would run a prompt that starts like a formula: such text is quoted as text.
        writer.writerow(
            [
                f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value
                for value in row
            ]
        )
    return response
