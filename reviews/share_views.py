"""A board's share links as their holders see them: the board's images (the lightbox on them), its preview for
link unfurls, and, when the link's scope allows, comments by guests who give a name; and a link's switch."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from generations.http import HtmxHttpRequest, login_required_if_configured, maker_session
from reviews.forms import CommentForm, GuestCommentForm, ShareLinkSwitchForm
from reviews.http import (
    board_for,
    comment_answer,
    comments_context,
    image_on_board,
    image_panel_context,
    preview_response,
    replied_comment,
    share_link_view,
    smart_board_images,
)
from reviews.models import BoardShareLink
from reviews.people import Person
from reviews.selectors import live_board_items
from reviews.services.comments import CommentRefused, comment_post, guest_for
from reviews.services.links import share_link_delete, share_link_switch


@require_safe
@share_link_view
def shared_board(request: HtmxHttpRequest, link: BoardShareLink) -> HttpResponse:
    board = link.board
    comments = comments_context(request, board=board, link=link) if link.allows_comments else {"link": link}
    if request.GET.get("part") == "comments" and link.allows_comments:
        return render(request, "reviews/comments.html#threads", comments)
    if board.is_smart:
        images = list(smart_board_images(board, request))
    else:
        images = [item.generation for item in live_board_items(board).select_related("generation")]
    return render(request, "reviews/shared.html", comments | {"board": board, "images": images})


@require_safe
@share_link_view
def shared_preview(request: HttpRequest, link: BoardShareLink) -> HttpResponse:
    return preview_response(link.board)


@require_safe
@share_link_view
def shared_image(request: HtmxHttpRequest, link: BoardShareLink, public_id: str) -> HttpResponse:
    """An image's comments on a share page (its lightbox loads them; a live update re-reads them)."""
    generation = image_on_board(link.board, public_id)
    context = image_panel_context(request, generation, link=link)
    part = (
        "reviews/comments.html#threads"
        if request.GET.get("part") == "comments"
        else "reviews/image_panel.html#panel"
    )
    return render(request, part, context)


@require_POST
@share_link_view
def shared_comment(request: HtmxHttpRequest, link: BoardShareLink, public_id: str = "") -> HttpResponse:
    """A comment through a share link whose scope allows it: on one of the board's images, or on the board. A
    guest gives a name; their comments count against the guests' limit for their network address."""
    if not link.allows_comments:
        raise PermissionDenied("This share link is for looking only.")
    generation = image_on_board(link.board, public_id) if public_id else None
    target = {"generation": generation} if generation is not None else {"board": link.board}
    form = (CommentForm if request.user.is_authenticated else GuestCommentForm)(request.POST)
    posted = form.is_valid()
    if posted:
        reply_to = replied_comment(form, **target)
        person = _commenter(request, form)
        try:
            comment_post(
                person=person,
                text=form.cleaned_data["text"],
                reply_to=reply_to,
                share_link=link if person.guest is not None else None,
                address=request.META.get("REMOTE_ADDR") if person.guest is not None else None,
                **target,
            )
        except CommentRefused as err:
            form.add_error(None, str(err))
            posted = False
    context = comments_context(request, link=link, form=None if posted else form, **target)
    anchor = f"#image-{generation.public_id}" if generation is not None else "#board-comments"
    return comment_answer(request, context, posted=posted, back=f"{link.get_absolute_url()}{anchor}")


def _commenter(request: HtmxHttpRequest, form: CommentForm) -> Person:
    if request.user.is_authenticated:
        return Person(user=request.user)
    return Person(guest=guest_for(session_key=maker_session(request), name=form.cleaned_data["name"]))


@require_POST
@login_required_if_configured
def share_link_switch_view(request: HtmxHttpRequest, public_id: str, link_id: str) -> HttpResponse:
    """Switch one of a board's links on or off, or delete it (`delete`): off or deleted, it answers 404 at once."""
    at = board_for(request, public_id, needs="manage")
    link = get_object_or_404(BoardShareLink, board=at.board, public_id=link_id)
    if "delete" in request.POST:
        share_link_delete(link=link)
        messages.success(request, f"The share link “{link}” was deleted; it leads nowhere now.")
    else:
        form = ShareLinkSwitchForm(request.POST)
        form.is_valid()
        share_link_switch(link=link, active=form.cleaned_data.get("active", False))
        messages.success(
            request,
            f"The share link “{link}” is {'on again' if link.is_active else 'off: it answers 404 now'}.",
        )
    return redirect(f"{reverse('reviews:board-settings', args=[at.board.public_id])}#links")
