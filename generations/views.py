from __future__ import annotations

import csv
import json
from datetime import date

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect, reswap, trigger_client_event

from generations.charts import spend_chart
from generations.domain import PRESETS
from generations.forms import (
    ApiTokenForm,
    ApiTokenRevokeForm,
    GenerationDeleteForm,
    GenerationForm,
)
from generations.http import (
    AuthenticatedHttpRequest,
    HtmxHttpRequest,
    generating_allowed,
    htmx_redirect,
    login_required_if_configured,
    may_change,
    our_page_or,
    requester,
)
from generations.images import THUMBNAIL_SIDES, InvalidImageError
from generations.models import Generation, GenerationStatus, is_public_id
from generations.selectors import (
    VISITORS,
    budgets_nearly_spent,
    usage_by_day_and_person,
    usage_summary,
    with_silent_workers_shown,
)
from generations.services.generation_files import generation_download_png, generation_thumbnail
from generations.services.lifecycle import (
    generation_cancel,
    generation_create,
    generation_delete,
    generation_repeat,
    generation_set_favourite,
    generation_status_changes,
)
from generations.services.limits import GenerationRefused
from generations.services.snippets import api_example_snippets, generation_request_snippets
from generations.services.tokens import api_token_create, api_token_revoke

RECENT_RESULTS = 24
ONE_YEAR_S = 365 * 24 * 3600


@require_safe
def home(request: HtmxHttpRequest) -> HttpResponse:
    source = _live_generation(request.GET.get("from", ""))
    form = GenerationForm(
        initial=GenerationForm.initial_from(source.parameters if source else None), request=request
    )
    return _render_home(request, form)


@require_POST
@generating_allowed
def generation_new(request: HtmxHttpRequest) -> HttpResponse:
    form = GenerationForm(request.POST, request=request)
    if not form.is_valid():
        return _form_with_errors(request, form, status=400)
    try:
        generation = generation_create(
            parameters=form.parameters, requester=requester(request), extras=form.extras
        )
    except GenerationRefused as err:
        form.add_error(None, err.user_message)
        return _form_with_errors(request, form, status=429)
    except ValueError as err:  # an extra refused it (a full board): nothing was queued
        form.add_error(None, str(err))
        return _form_with_errors(request, form, status=400)
    if not request.htmx:
        return redirect("generations:home")
    # Only the new card comes back, on top of the results: the form stays as typed, ready for the next tweak.
    # The event lets the page bring the card into view and say that it is queued.
    response = render(request, "generations/generation_created.html", {"generation": generation})
    trigger_client_event(response, "generation-queued", {"id": generation.public_id}, after="settle")
    return reswap(response, "none")


@require_safe
def generation_card(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.live(), public_id=public_id)
    with_silent_workers_shown([generation])
    return _render_card(request, generation)


@require_GET
async def generation_stream(request: HttpRequest) -> StreamingHttpResponse:
    """Server-sent events: each listed generation's status now, then every change, for a few minutes (and what
    the listed topics announce, e.g. a judging round's votes, as events of their own kind).

    The browser's EventSource reconnects by itself when the stream ends or drops; cards poll meanwhile.
    """
    public_ids = [value for value in dict.fromkeys(request.GET.getlist("id")) if is_public_id(value)]
    changes = generation_status_changes(
        public_ids=public_ids[:STREAM_MAX_GENERATIONS],
        lifetime_s=STREAM_LIFETIME_S,
        keepalive_s=STREAM_KEEPALIVE_S,
    )

    async def event_stream():
        yield f"retry: {STREAM_RETRY_MS}\n\n"
        async for event in changes:
            if event is None:
                yield ": keep-alive\n\n"
            else:
                data = {"id": event.public_id, "status": event.status}
                if event.about:
                    data["about"] = event.about
                yield f"event: {event.kind}\ndata: {json.dumps(data)}\n\n"

    response = StreamingHttpResponse(event_stream(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx and friends: pass each event on at once
    return response


STREAM_MAX_GENERATIONS = 50
STREAM_LIFETIME_S = 300
STREAM_KEEPALIVE_S = 15
STREAM_RETRY_MS = 2000


@require_POST
@login_required_if_configured
def generation_cancel_view(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.live(), public_id=public_id)
    if not may_change(request, generation):
        raise PermissionDenied("Only the person who made a generation (or a staff member) can cancel it.")
    generation = generation_cancel(generation=generation)
    if request.htmx:
        return _render_card(request, generation)
    return redirect(generation)


def _render_card(request: HtmxHttpRequest, generation: Generation) -> HttpResponse:
    """A card as htmx refreshes it: a detail page's (`?large=1`) or one of the home page's results."""
    context = {"generation": generation, "large": request.GET.get("large") == "1"}
    return render(request, "generations/card.html", context)


@require_safe
def generation_detail(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.select_related("user", "batch"), public_id=public_id)
    if generation.is_deleted:
        return render(request, "generations/deleted.html", {"generation": generation}, status=410)
    with_silent_workers_shown([generation])
    context = {
        "generation": generation,
        "snippets": generation_request_snippets(generation=generation, base_url=settings.ZIMAGE_BASE_URL),
    }
    return render(request, "generations/detail.html", context)


@require_POST
@generating_allowed
def generation_new_seed(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    original = get_object_or_404(Generation.objects.live(), public_id=public_id)
    try:
        generation = generation_repeat(generation=original, new_seed=True, requester=requester(request))
    except GenerationRefused as err:
        return _refused(request, err, original)
    return htmx_redirect(request, generation)


@require_POST
@login_required_if_configured
def generation_favourite(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.live(), public_id=public_id)
    generation_set_favourite(generation=generation, favourite=request.POST.get("favourite") == "on")
    if not request.htmx:
        return redirect(generation)
    # The toolbar's button, as it stands now, where it was pressed; a gallery behind the lightbox updates its tile.
    place = request.POST.get("place", "")
    context = {"generation": generation, "place": place if place in TOOLBAR_PLACES else "detail"}
    response = render(request, "generations/toolbar.html#action-favourite", context)
    return trigger_client_event(
        response, "favourite-changed", {"id": generation.public_id, "favourite": generation.is_favourite}
    )


TOOLBAR_PLACES = ("card", "detail", "lightbox", "cell")


@require_safe
def generation_panel(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """What the lightbox shows beside an image: its prompt, its parameters and the toolbar."""
    generation = get_object_or_404(Generation.objects.live(), public_id=public_id)
    return render(request, "generations/lightbox.html#panel", {"generation": generation})


@require_safe
def generation_actions(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """A grid cell's menu of actions, fetched when first opened."""
    generation = get_object_or_404(Generation.objects.live(), public_id=public_id)
    return render(
        request, "generations/toolbar.html#cell-actions", {"generation": generation, "place": "cell"}
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required_if_configured
def generation_delete_view(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.live(), public_id=public_id)
    if not may_change(request, generation):
        raise PermissionDenied("Only the person who made a generation (or a staff member) can delete it.")
    form = GenerationDeleteForm(request.POST if request.method == "POST" else None, generation=generation)
    if request.method == "POST" and form.is_valid():
        generation_delete(generation=generation)
        messages.success(request, "The generation was deleted. Its share link now says so.")
        return redirect("generations:gallery")
    return render(request, "generations/delete.html", {"generation": generation, "form": form})


@require_POST
@generating_allowed
def generation_retry_view(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    original = get_object_or_404(Generation.objects.live(), public_id=public_id)
    try:
        generation = generation_repeat(generation=original, requester=requester(request))
    except GenerationRefused as err:
        return _refused(request, err, original)
    if request.htmx and request.htmx.target == "results":
        return render(request, "generations/card.html", {"generation": generation})
    return htmx_redirect(request, generation)


@require_safe
def generation_image(request: HttpRequest, public_id: str) -> HttpResponse:
    name = _generation_with_image(public_id).image.name
    if not name:
        raise Http404("This generation has no stored image.")
    return _stored_file(name)


@require_safe
def generation_thumbnail_image(request: HttpRequest, public_id: str, *, larger: bool = False) -> HttpResponse:
    """The generation's thumbnail, or the larger one (twice the pixels across, for high-density screens)."""
    generation = _generation_with_image(public_id)
    try:
        name = generation_thumbnail(generation=generation, side=THUMBNAIL_SIDES[1 if larger else 0])
    except InvalidImageError as err:
        raise Http404("This image cannot be decoded for a thumbnail.") from err
    except FileNotFoundError as err:  # the storage lost it (restored from an older backup, say)
        raise Http404("This image is missing from the storage.") from err
    return _stored_file(name)


@require_safe
def generation_download(request: HttpRequest, public_id: str) -> HttpResponse:
    generation = _generation_with_image(public_id)
    share_url = request.build_absolute_uri(generation.get_absolute_url())
    response = HttpResponse(
        generation_download_png(generation=generation, share_url=share_url), content_type="image/png"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="zimage-{generation.public_id}-{generation.seed}.png"'
    )
    return _cached_for_good(response)


def _generation_with_image(public_id: str) -> Generation:
    return get_object_or_404(
        Generation.objects.live().exclude(image=""), public_id=public_id, status=GenerationStatus.SUCCEEDED
    )


def _stored_file(name: str) -> HttpResponse:
    with default_storage.open(name, "rb") as opened:
        response = HttpResponse(opened.read(), content_type=_IMAGE_TYPES.get(name.rsplit(".", 1)[-1]))
    return _cached_for_good(response)


def _cached_for_good(response: HttpResponse) -> HttpResponse:
    """A generation's image never changes once stored, so browsers and proxies may keep it for good."""
    patch_cache_control(response, public=True, max_age=ONE_YEAR_S, immutable=True)
    return response


_IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}


def _form_with_errors(request: HtmxHttpRequest, form: GenerationForm, *, status: int) -> HttpResponse:
    # htmx swaps only 2xx answers, so the form partial comes back as 200; a whole page keeps the real status.
    if request.htmx:
        return render(request, "generations/home.html#generation-form", {"form": form})
    return _render_home(request, form, status=status)


def _refused(request: HtmxHttpRequest, err: GenerationRefused, original: Generation) -> HttpResponse:
    messages.error(request, err.user_message)
    if request.htmx:
        back = our_page_or(request, request.htmx.current_url or "", default=original.get_absolute_url())
        return HttpResponseClientRedirect(back)
    return redirect(original)


@require_safe
@login_required_if_configured
def usage(request: HttpRequest) -> HttpResponse:
    scope = _usage_scope(request)
    summary = usage_summary(days=USAGE_DAYS, requester=requester(request) if scope == "mine" else None)
    per_day = {date.fromisoformat(day.label): (day.spend, day.generations) for day in summary.days}
    context = {
        "usage": summary,
        "chart": spend_chart(per_day=per_day, first=summary.first_day, last=summary.last_day),
        "days": USAGE_DAYS,
        "scope": scope,
    }
    return render(request, "generations/usage.html", context)


@require_safe
@login_required_if_configured
def usage_csv(request: HttpRequest) -> HttpResponse:
    scope = _usage_scope(request)
    rows = usage_by_day_and_person(days=USAGE_DAYS, requester=requester(request) if scope == "mine" else None)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="zimage-usage-{scope}-{timezone.now():%Y-%m-%d}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(["day (UTC)", "person", "images", f"spend ({settings.PRICE_CURRENCY})", "may be billed"])
    for row in rows:
        person = row["user__username"] or VISITORS
        writer.writerow(
            [row["day"].isoformat(), person, row["generations"], row["spend"], row["may_be_billed"]]
        )
    return response


def _usage_scope(request: HttpRequest) -> str:
    """The whole team's usage, or only mine (a visitor's: this browser and address)."""
    return "mine" if request.GET.get("scope") == "mine" else "team"


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache  # a new token is shown once: no cache, and no Back button, may show it again
@login_required
@generating_allowed
def api_tokens(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST if request.method == "POST" else None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        _token, new_token = api_token_create(user=request.user, name=form.cleaned_data["name"])
        form = ApiTokenForm()
    tokens = request.user.api_tokens.active()
    base_url = request.build_absolute_uri("/v1")
    example = api_example_snippets(base_url=base_url)
    context = {
        "form": form,
        "tokens": tokens,
        "new_token": new_token,
        "base_url": base_url,
        "example": example,
    }
    return render(request, "generations/api_tokens.html", context)


@require_POST
@login_required
def api_token_revoke_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ApiTokenRevokeForm(request.POST)
    if not form.is_valid():
        raise BadRequest("Name a token to revoke by its number.")
    if api_token_revoke(user=request.user, token_id=form.cleaned_data["token"]):
        messages.success(request, "The token was revoked; scripts using it now get 401.")
    return redirect("generations:api-tokens")


USAGE_DAYS = 30


def _render_home(request: HttpRequest, form: GenerationForm, status: int = 200) -> HttpResponse:
    generations = with_silent_workers_shown(list(Generation.objects.live().newest_first()[:RECENT_RESULTS]))
    context = {
        "form": form,
        "generations": generations,
        "presets": PRESETS,
        # Without JavaScript the page reloads itself while something is still being made.
        "refresh_while_active": any(generation.is_active for generation in generations),
        "budgets": budgets_nearly_spent(requester=requester(request)),
    }
    return render(request, "generations/home.html", context, status=status)


def _live_generation(public_id: str) -> Generation | None:
    """The live generation a "use these settings" link names, or None (a deleted one is gone for it too)."""
    return Generation.objects.live().filter(public_id=public_id).first() if is_public_id(public_id) else None
