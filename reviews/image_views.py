"""An image's ratings and comments (the panel the detail page, the lightboxes and review mode show), a board's
own comments, editing and deleting a comment, and the inbox of @mentions."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import trigger_client_event

from generations.http import (
    AuthenticatedHttpRequest,
    HtmxHttpRequest,
    login_required_if_configured,
)
from generations.models import Generation
from reviews.domain import mean_band, mean_stars
from reviews.forms import CommentForm, RatingForm
from reviews.http import (
    acting_person,
    board_for,
    comment_answer,
    comments_context,
    image_panel_context,
    next_url,
    person_of,
    replied_comment,
)
from reviews.models import Comment
from reviews.selectors import batch_means, comment_may_be_deleted_by, comment_may_be_edited_by, inbox
from reviews.services.comments import comment_delete, comment_edit, comment_post, mentions_mark_seen
from reviews.services.ratings import rating_set

PANEL_PARTS = {
    "rating": "reviews/image_panel.html#rating",
    "comments": "reviews/comments.html#threads",
    "discussion": "reviews/image_panel.html#discussion",
}


@require_safe
def image_panel(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """An image's rating and comments: a part of it (`?part=`) when its live update asks, else the whole panel."""
    generation = get_object_or_404(Generation.objects.live(), public_id=public_id)
    context = image_panel_context(request, generation)
    template = PANEL_PARTS.get(request.GET.get("part", ""), "reviews/image_panel.html#panel")
    return render(request, template, context)


@require_POST
@login_required_if_configured
def image_rate(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.live(), public_id=public_id)
    form = RatingForm(request.POST)
    if not form.is_valid():
        raise BadRequest(form.errors["value"][0])
    rating_set(generation=generation, person=acting_person(request), value=form.cleaned_data["value"])
    if request.htmx:
        return render(request, PANEL_PARTS["rating"], image_panel_context(request, generation))
    return HttpResponseRedirect(_back_url(request, generation))


@require_POST
@login_required_if_configured
def image_comment(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.live(), public_id=public_id)
    form = CommentForm(request.POST)
    posted = form.is_valid()
    if posted:
        reply_to = replied_comment(form, generation=generation)
        comment_post(
            person=acting_person(request),
            text=form.cleaned_data["text"],
            generation=generation,
            reply_to=reply_to,
        )
    context = comments_context(request, generation=generation, form=None if posted else form)
    return comment_answer(request, context, posted=posted, back=_back_url(request, generation))


@require_http_methods(["GET", "HEAD", "POST"])
@login_required_if_configured
def board_comments(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """A board's own discussion: its threads (a live update re-reads them), and a new comment on it."""
    at = board_for(request, public_id, needs="rate_and_comment" if request.method == "POST" else "view")
    if request.method != "POST":
        return render(request, "reviews/comments.html#threads", comments_context(request, board=at.board))
    form = CommentForm(request.POST)
    posted = form.is_valid()
    if posted:
        reply_to = replied_comment(form, board=at.board)
        comment_post(
            person=acting_person(request), text=form.cleaned_data["text"], board=at.board, reply_to=reply_to
        )
    context = comments_context(request, board=at.board, form=None if posted else form)
    return comment_answer(
        request, context, posted=posted, back=f"{at.board.get_absolute_url()}#board-comments"
    )


@require_http_methods(["GET", "HEAD", "POST"])
def comment_edit_view(request: HtmxHttpRequest, comment_id: str) -> HttpResponse:
    comment = get_object_or_404(Comment.objects.select_related("generation", "board"), public_id=comment_id)
    person = person_of(request)
    if not comment_may_be_edited_by(comment, person):
        raise PermissionDenied("Only the person who wrote a comment can edit it.")
    form = CommentForm(request.POST if request.method == "POST" else None, initial={"text": comment.text})
    if request.method == "POST" and form.is_valid():
        comment_edit(comment=comment, text=form.cleaned_data["text"])
        return _after_comment_change(request, comment)
    context = {"comment": comment, "form": form, "person": person}
    template = "reviews/comment_edit.html#edit-form" if request.htmx else "reviews/comment_edit.html"
    return render(request, template, context, status=400 if form.errors and not request.htmx else 200)


@require_POST
def comment_delete_view(request: HtmxHttpRequest, comment_id: str) -> HttpResponse:
    comment = get_object_or_404(Comment.objects.select_related("generation", "board"), public_id=comment_id)
    person = person_of(request)
    if not comment_may_be_deleted_by(comment, person):
        raise PermissionDenied("Only the person who wrote a comment (or a staff member) can delete it.")
    comment_delete(comment=comment)
    return _after_comment_change(request, comment)


def _after_comment_change(request: HtmxHttpRequest, comment: Comment) -> HttpResponse:
    """With htmx nothing to swap: the page's comment threads read themselves again. Else the page the comment is
    on (a guest's, the share link they came through)."""
    if request.htmx:
        return trigger_client_event(HttpResponse(status=204), "comments-changed")
    if comment.share_link is not None and not request.user.is_authenticated:
        return redirect(comment.share_link)
    target = comment.generation or comment.board
    assert target is not None  # a comment is on an image or a board
    return redirect(f"{target.get_absolute_url()}#comment-{comment.public_id}")


def _back_url(request: HttpRequest, generation: Generation) -> str:
    """Where the form was (a board, review mode), else the image's own page."""
    return next_url(request, request.POST.get("next", "")) or generation.get_absolute_url()


@require_safe
def batch_ratings(request: HttpRequest, public_id: str) -> JsonResponse:
    """The team's mean of each rated cell of a batch, for its grid coloured by mean."""
    cells = {
        cell: {"mean": mean_stars(total, count), "band": mean_band(total, count), "count": count}
        for cell, (total, count) in batch_means(batch_public_id=public_id).items()
    }
    return JsonResponse({"cells": cells})


@require_safe
@login_required
def inbox_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "reviews/inbox.html", {"mentions": inbox(user=request.user)})


@require_POST
@login_required
def inbox_seen(request: AuthenticatedHttpRequest) -> HttpResponse:
    mentions_mark_seen(user=request.user)
    return redirect("reviews:inbox")
