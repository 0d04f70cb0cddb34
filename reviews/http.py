"""The reviews' view kit: who the request's person is (a user, an open instance's browser session, a share link's
guest), the board a URL names with what that person may do there, and a share link's own rights."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import trigger_client_event

from generations.forms import GalleryFilterForm
from generations.http import MAKER_SESSION_KEY, HtmxHttpRequest, htmx_redirect, maker_session
from generations.models import Generation
from generations.selectors import gallery_generations
from reviews.forms import CommentForm, GuestCommentForm
from reviews.models import Board, BoardShareLink, Comment, LinkAudience
from reviews.people import NOBODY, Person
from reviews.selectors import (
    BoardAccess,
    board_access,
    comment_threads,
    guest_of_session,
    rating_panel,
    share_link_by_token,
)
from reviews.services.board_files import board_preview_png
from reviews.services.comments import guest_for


def person_of(request: HttpRequest) -> Person:
    """Who is looking: the signed-in user; on an open instance, the guest this browser session stands for (if it
    has written anything yet); else nobody."""
    if request.user.is_authenticated:
        return Person(user=request.user)
    guest = guest_of_session(request.session.get(MAKER_SESSION_KEY, ""))
    return Person(guest=guest) if guest is not None else NOBODY


def acting_person(request: HttpRequest) -> Person:
    """Who writes: as `person_of`, with an open instance's browser session made a guest on its first write."""
    person = person_of(request)
    if not person.is_someone and not settings.REQUIRE_LOGIN:
        person = Person(guest=guest_for(session_key=maker_session(request)))
    return person


@dataclass(frozen=True, slots=True)
class BoardRequest:
    board: Board
    person: Person
    access: BoardAccess


def board_for(request: HttpRequest, public_id: str, *, needs: str = "view") -> BoardRequest:
    """The board a URL names, and what the request's person may do with it; 403 without the right `needs`
    ("view", "rate_and_comment", "edit" or "manage"). A view that writes asks for `acting_person` once it is
    about to, so that a refused or invalid request records nobody."""
    board = get_object_or_404(Board.objects.select_related("owner", "owner_guest"), public_id=public_id)
    person = person_of(request)
    access = board_access(board=board, person=person)
    if not getattr(access, f"may_{needs}"):
        raise PermissionDenied(_REFUSALS[needs])
    return BoardRequest(board=board, person=person, access=access)


_REFUSALS = {
    "view": "Sign in to see the team's boards.",
    "rate_and_comment": "Sign in to rate and comment.",
    "edit": "Only the board's owner and members (and staff) can change its images.",
    "manage": "Only the board's owner (or a staff member) can change its settings, share links and members.",
}


def share_link_view[V: Callable[..., HttpResponse]](view: V) -> V:
    """A view of a share link's pages, called with the link instead of its token, while the link is switched on
    (else 404, the same as for one that never was); a link for signed-in users only sends others to sign in."""

    @functools.wraps(view)
    def wrapper(request: HtmxHttpRequest, token: str, *args: Any, **kwargs: Any) -> HttpResponse:
        link = share_link_by_token(token)
        if link is None:
            raise Http404("This share link does not exist or was switched off.")
        if link.audience == LinkAudience.SIGNED_IN and not request.user.is_authenticated:
            return htmx_redirect(
                request, f"{resolve_url(settings.LOGIN_URL)}?next={quote(request.get_full_path())}"
            )
        return view(request, link, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def image_on_board(board: Board, public_id: str) -> Generation:
    """A live image of the board (a share link opens those alone); 404 for any other."""
    return get_object_or_404(Generation.objects.live(), public_id=public_id, board_items__board=board)


def next_url(request: HttpRequest, candidate: str) -> str:
    """`candidate` (a form's `next`), else the Referer, when it is a page of this site; else ""."""
    candidate = candidate or request.headers.get("Referer", "")
    if candidate.startswith(("/", "http://", "https://")) and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def image_panel_context(
    request: HttpRequest, generation: Generation, *, link: BoardShareLink | None = None
) -> dict[str, Any]:
    """What an image's panel shows (its rating, its comments and their forms) to the request's person, on the
    team's pages or (`link`) on a share link's, where nobody rates."""
    person = person_of(request)
    return {
        "generation": generation,
        "rating": rating_panel(generation=generation, person=person) if link is None else None,
        "may_rate": link is None and _signed_in_or_open(request),
        **comments_context(request, generation=generation, link=link),
    }


def comments_context(
    request: HttpRequest,
    *,
    generation: Generation | None = None,
    board: Board | None = None,
    link: BoardShareLink | None = None,
    form: CommentForm | None = None,
) -> dict[str, Any]:
    """An image's or a board's comment threads with the URLs they are read and posted at (the team's, or a share
    link's), whether the request's person may comment, and the form (a guest through a link gives a name)."""
    person = person_of(request)
    on = generation or board
    assert on is not None  # comments are on an image or a board
    topic = on.public_id
    if link is not None:
        threads_url = (
            reverse("reviews:shared-image", args=[link.token, topic])
            if generation is not None
            else reverse("reviews:shared", args=[link.token])
        ) + "?part=comments"
        post_url = (
            reverse("reviews:shared-comment", args=[link.token, topic])
            if generation is not None
            else reverse("reviews:shared-board-comment", args=[link.token])
        )
    elif generation is not None:
        threads_url = reverse("reviews:image-panel", args=[topic]) + "?part=comments"
        post_url = reverse("reviews:image-comment", args=[topic])
    else:
        threads_url = post_url = reverse("reviews:board-comments", args=[topic])
    as_guest = link is not None and not request.user.is_authenticated
    if form is None:
        form = (
            GuestCommentForm(initial={"name": person.guest.name if person.guest else ""})
            if as_guest
            else CommentForm()
        )
    return {
        "person": person,
        "link": link,
        "topic": topic,
        "threads": comment_threads(generation=generation, board=board),
        "threads_url": threads_url,
        "post_url": post_url,
        "may_comment": link.allows_comments if link is not None else _signed_in_or_open(request),
        "comment_form": form,
        "as_guest": as_guest,
    }


def _signed_in_or_open(request: HttpRequest) -> bool:
    return request.user.is_authenticated or not settings.REQUIRE_LOGIN


def replied_comment(form: CommentForm, **target: Any) -> Comment | None:
    """The comment a new one answers (the form's `reply_to`): a live one on the same image or board, or none."""
    public_id = form.cleaned_data.get("reply_to")
    if not public_id:
        return None
    comment = Comment.objects.filter(public_id=public_id, deleted_at__isnull=True, **target).first()
    if comment is None:
        raise BadRequest("The comment answered is not here any more.")
    return comment


SMART_BOARD_MAX_IMAGES = 500


def smart_board_images(board: Board, request: HttpRequest) -> QuerySet[Generation]:
    """The images a smart board's filters match now (ratings filters as the request's person sees them), newest
    first, at most SMART_BOARD_MAX_IMAGES."""
    return filtered_gallery(request, QueryDict(board.smart_query))[:SMART_BOARD_MAX_IMAGES]


def filtered_gallery(request: HttpRequest, query: QueryDict) -> QuerySet[Generation]:
    """The gallery's images under the filters in `query` (other rooms' too), newest first."""
    form = GalleryFilterForm(query)
    return gallery_generations(
        filters=form.filters(), user=request.user, refinements=form.refinements(request)
    )


def preview_response(board: Board) -> HttpResponse:
    """The board's preview PNG (its first images, 2×2), cached a few minutes: the images may change."""
    with default_storage.open(board_preview_png(board=board), "rb") as file:
        response = HttpResponse(file.read(), content_type="image/png")
    patch_cache_control(response, public=True, max_age=300)
    return response


def comment_answer(
    request: HtmxHttpRequest, context: dict[str, Any], *, posted: bool, back: str
) -> HttpResponse:
    """The answer to a comment's form. With htmx, the form again: blank after a post, which also tells the page's
    comment threads to read themselves again; with its errors otherwise. Without JavaScript: back to the page,
    or the form with its errors on a page of its own."""
    if request.htmx:
        response = render(request, "reviews/comments.html#comment-form", context)
        return trigger_client_event(response, "comments-changed") if posted else response
    if posted:
        return redirect(back)
    return render(request, "reviews/comments.html", context | {"back": back}, status=400)
