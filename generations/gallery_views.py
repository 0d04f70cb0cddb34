"""The gallery's requests besides its pages: a tile refreshed while its image is made, and what a reader does to
several tiles at once (favourite, unfavourite, delete). Pages are in views.py."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_safe
from django_htmx.http import trigger_client_event

from generations.forms import GallerySelectionForm, SelectionDeleteForm
from generations.models import Generation
from generations.selectors import picked_generations
from generations.services.generations import generations_delete, generations_set_favourite
from generations.views import MAKER_SESSION_KEY, HtmxHttpRequest, login_required_if_configured


@require_safe
def generation_tile(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.live(), public_id=public_id)
    return render(request, "generations/gallery.html#gallery-tile", {"generation": generation})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required_if_configured
def gallery_selection(request: HtmxHttpRequest) -> HttpResponse:
    """Without JavaScript a GET asks first (the selection bar is a GET form, shared with Compare); htmx posts."""
    form = GallerySelectionForm(request.POST if request.method == "POST" else request.GET)
    next_url = _next_url(request)
    if not form.is_valid():
        return render(request, "generations/selection.html", {"form": form, "next_url": next_url}, status=400)
    generations = picked_generations(public_ids=form.cleaned_data["id"])
    operation = form.cleaned_data["operation"]
    if operation == "delete":
        return _delete(request, generations, next_url)
    context = {"form": form, "generations": generations, "next_url": next_url, "operation": operation}
    if request.method != "POST":
        return render(request, "generations/selection.html", context)
    favourite = operation == "favourite"
    generations_set_favourite(generations=generations, favourite=favourite)
    message = _counted(len(generations), "added to favourites" if favourite else "removed from favourites")
    if request.htmx:
        return render(request, "generations/selection.html#changed-tiles", {**context, "message": message})
    messages.success(request, message)
    return redirect(next_url)


def _delete(request: HtmxHttpRequest, generations: list[Generation], next_url: str) -> HttpResponse:
    maker_session = request.session.get(MAKER_SESSION_KEY, "")
    deletable = [
        generation
        for generation in generations
        if generation.can_be_deleted_by(request.user, maker_session=maker_session)
    ]
    confirming = request.method == "POST" and "confirmed" in request.POST
    form = SelectionDeleteForm(
        request.POST if confirming else None, favourites=sum(g.is_favourite for g in deletable)
    )
    if confirming and deletable and form.is_valid():
        generations_delete(generations=deletable)
        message = _counted(len(deletable), "deleted; their share links now say so")
        if request.htmx:
            context = {"generations": deletable, "message": message, "deleted": True}
            response = render(request, "generations/selection.html#changed-tiles", context)
            return trigger_client_event(response, "gallery-selection-done")
        messages.success(request, message)
        return redirect(next_url)
    context = {
        "form": form,
        "operation": "delete",
        "generations": deletable,
        "kept": [generation for generation in generations if generation not in deletable],
        "next_url": next_url,
    }
    template = "generations/selection.html#delete-form" if request.htmx else "generations/selection.html"
    return render(request, template, context)


def _counted(count: int, what: str) -> str:
    return f"{count} image{'' if count == 1 else 's'} {what}."


def _next_url(request: HtmxHttpRequest) -> str:
    """The gallery page the reader came from (kept in the form, else its Referer), so they go back to it."""
    candidate = request.POST.get("next") or request.GET.get("next") or request.headers.get("Referer", "")
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("generations:gallery")
