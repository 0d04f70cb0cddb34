"""The gallery: its pages (filtered, keyset-paginated, a page at a time for infinite scroll), a tile refreshed
while its image is made, what a reader does to several tiles at once (favourite, unfavourite, delete), and the
comparison of the tiles they picked."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe
from django_htmx.http import trigger_client_event

from generations.forms import GalleryFilterForm, GallerySelectionForm, SelectionDeleteForm
from generations.http import HtmxHttpRequest, login_required_if_configured, may_change, our_page_or
from generations.models import Generation
from generations.selectors import gallery_page, picked_generations, with_silent_workers_shown
from generations.services.lifecycle import generations_delete, generations_set_favourite
from generations.templatetags.playground import seconds


@require_safe
def gallery(request: HtmxHttpRequest) -> HttpResponse:
    filter_form = GalleryFilterForm(request.GET)
    page = gallery_page(
        filters=filter_form.filters(),
        user=request.user,
        cursor=request.GET.get("after", ""),
        until=request.GET.get("until", ""),
        refinements=filter_form.refinements(request),
    )
    next_url = None
    if page.next_cursor:
        query = request.GET.copy()
        query.pop("until", None)
        query["after"] = page.next_cursor
        # A whole path: the lightbox's share URL is in the address bar while it loads the next page.
        next_url = f"{request.path}?{query.urlencode()}"
    context = {"filter_form": filter_form, "page": page, "next_url": next_url}
    if request.htmx and request.GET.get("after"):
        return render(request, "generations/gallery.html#gallery-page", context)
    if request.htmx and request.htmx.target == "gallery-results":
        return render(request, "generations/gallery.html#gallery-results", context)
    return render(request, "generations/gallery.html", context)


@require_safe
def compare(request: HttpRequest) -> HttpResponse:
    picked = list(dict.fromkeys(request.GET.getlist("id")))
    public_ids = picked[:COMPARE_MAX]
    by_id = Generation.objects.live().in_bulk(public_ids, field_name="public_id")
    generations = [by_id[public_id] for public_id in public_ids if public_id in by_id]
    rows = [
        (label, values, len(set(values)) > 1)
        for label, values in (
            (label, [getter(generation) for generation in generations]) for label, getter in COMPARED_FIELDS
        )
    ]
    context = {
        "generations": generations,
        "rows": rows,
        "picked": len(picked),
        "left_out": len(picked) - len(public_ids),
        "compare_max": COMPARE_MAX,
    }
    return render(request, "generations/compare.html", context)


COMPARE_MAX = 4
COMPARED_FIELDS = (
    ("Prompt", lambda g: g.prompt),
    ("Revised prompt", lambda g: g.revised_prompt or "—"),
    ("Size", lambda g: f"{g.width}×{g.height}"),
    ("Seed", lambda g: str(g.seed)),
    ("Prompt extend", lambda g: "on" if g.prompt_extend else "off"),
    ("Model", lambda g: g.model),
    ("Status", lambda g: g.get_status_display()),
    ("Provider time", lambda g: seconds(g.provider_latency_ms)),
)


@require_safe
def generation_tile(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.live(), public_id=public_id)
    with_silent_workers_shown([generation])
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
    return HttpResponseRedirect(next_url)


def _delete(request: HtmxHttpRequest, generations: list[Generation], next_url: str) -> HttpResponse:
    deletable = [generation for generation in generations if may_change(request, generation)]
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
        return HttpResponseRedirect(next_url)
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
    return our_page_or(request, candidate, default=reverse("generations:gallery"))
