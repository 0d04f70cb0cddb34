"""Review mode: a board's images one at a time, large, with keys (1–5 rate, A approve, R reject, C comment, ←/→
move); it walks the images still to review and remembers where each person was."""

from __future__ import annotations

from django.core.exceptions import BadRequest
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from generations.http import HtmxHttpRequest, htmx_redirect, login_required_if_configured
from generations.models import Generation
from reviews.domain import ReviewStatus
from reviews.forms import ReviewStatusForm
from reviews.http import board_for, image_panel_context
from reviews.selectors import review_step
from reviews.services.boards import BoardRefused, board_review_set, review_place_remember


@require_http_methods(["GET", "HEAD", "POST"])
@login_required_if_configured
def review_mode(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    if request.method == "POST":
        return _review(request, public_id)
    at = board_for(request, public_id)
    step = review_step(board=at.board, person=at.person, at=request.GET.get("at", ""))
    if step.item is not None and at.person.is_someone:
        review_place_remember(board=at.board, generation=step.item.generation, person=at.person)
    context = {"board": at.board, "access": at.access, "person": at.person, "step": step}
    if step.item is not None:
        context |= image_panel_context(request, step.item.generation)
        context["next_url"] = f"{request.path}?at={step.item.generation.public_id}"
    return render(request, "reviews/review.html", context)


def _review(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """Approve, reject or reset the image shown, then go on to the next image still to review (or stay, when
    it was reset or nothing is left)."""
    at = board_for(request, public_id, needs="edit")
    form = ReviewStatusForm(request.POST)
    if not form.is_valid():
        raise BadRequest("A review status is needs review, approved or rejected.")
    generation = get_object_or_404(Generation.objects.live(), public_id=request.POST.get("at", ""))
    status = ReviewStatus(form.cleaned_data["status"])
    try:
        board_review_set(board=at.board, generation=generation, status=status, person=at.person)
    except BoardRefused as err:
        raise BadRequest(str(err)) from err
    step = review_step(board=at.board, person=at.person, at=generation.public_id)
    going_on = status != ReviewStatus.NEEDS_REVIEW and step.next_unreviewed
    shown = step.next_unreviewed if going_on else generation.public_id
    return htmx_redirect(request, f"{reverse('reviews:review', args=[at.board.public_id])}?at={shown}")
