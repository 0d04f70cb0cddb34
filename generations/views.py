from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect, reswap, trigger_client_event

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
    maker_session,
    may_delete,
)
from generations.images import InvalidImageError
from generations.models import Generation, GenerationStatus, is_public_id
from generations.selectors import usage_summary
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
            parameters=form.parameters,
            user=request.user,
            maker_session=maker_session(request),
            extras=form.extras,
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
    return _render_card(request, get_object_or_404(Generation.objects.live(), public_id=public_id))


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
    generation = generation_cancel(
        generation=get_object_or_404(Generation.objects.live(), public_id=public_id)
    )
    if request.htmx:
        return _render_card(request, generation)
    return redirect(generation)


def _render_card(request: HtmxHttpRequest, generation: Generation) -> HttpResponse:
    """A card as htmx refreshes it: the large one of a detail page (`?large=1`) carries its page's actions."""
    large = request.GET.get("large") == "1"
    context = {
        "generation": generation,
        "large": large,
        "can_delete": large and may_delete(request, generation),
    }
    return render(request, "generations/card.html", context)


@require_safe
def generation_detail(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.select_related("user", "batch"), public_id=public_id)
    if generation.is_deleted:
        return render(request, "generations/deleted.html", {"generation": generation}, status=410)
    context = {
        "generation": generation,
        "can_delete": may_delete(request, generation),
        "snippets": generation_request_snippets(generation=generation, base_url=settings.ZIMAGE_BASE_URL),
    }
    return render(request, "generations/detail.html", context)


@require_POST
@generating_allowed
def generation_new_seed(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    original = get_object_or_404(Generation.objects.live(), public_id=public_id)
    try:
        generation = generation_repeat(
            generation=original, new_seed=True, user=request.user, maker_session=maker_session(request)
        )
    except GenerationRefused as err:
        return _refused(request, err, original)
    return htmx_redirect(request, generation)


@require_POST
@login_required_if_configured
def generation_favourite(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.live(), public_id=public_id)
    generation_set_favourite(generation=generation, favourite=request.POST.get("favourite") == "on")
    if request.htmx:
        return render(request, "generations/detail.html#favourite-form", {"generation": generation})
    return redirect(generation)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required_if_configured
def generation_delete_view(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.live(), public_id=public_id)
    if not may_delete(request, generation):
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
        generation = generation_repeat(
            generation=original, user=request.user, maker_session=maker_session(request)
        )
    except GenerationRefused as err:
        return _refused(request, err, original)
    if request.htmx and request.htmx.target == "results":
        return render(request, "generations/card.html", {"generation": generation})
    return htmx_redirect(request, generation)


@require_safe
def generation_image(request: HttpRequest, public_id: str) -> HttpResponse:
    generation = _generation_with_image(public_id)
    if not generation.image:
        raise Http404("This generation has no stored image.")
    return _stored_file(generation.image)


@require_safe
def generation_thumbnail_image(request: HttpRequest, public_id: str) -> HttpResponse:
    generation = _generation_with_image(public_id)
    try:
        generation_thumbnail(generation=generation)
    except InvalidImageError as err:
        raise Http404("This image cannot be decoded for a thumbnail.") from err
    return _stored_file(generation.thumbnail)


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
        Generation.objects.live(), public_id=public_id, status=GenerationStatus.SUCCEEDED
    )


def _stored_file(file: FieldFile) -> HttpResponse:
    with file.open("rb") as opened:
        response = HttpResponse(
            opened.read(), content_type=_IMAGE_TYPES.get((file.name or "").rsplit(".", 1)[-1])
        )
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
        return HttpResponseClientRedirect(request.htmx.current_url or original.get_absolute_url())
    return redirect(original)


@require_safe
@login_required_if_configured
def usage(request: HttpRequest) -> HttpResponse:
    summary = usage_summary(days=USAGE_DAYS)
    busiest = max((day.generations for day in summary.days), default=0)
    bars = [
        {"day": day, "x": index * 12, "y": 100 - height, "height": height}
        for index, day in enumerate(summary.days)
        for height in [round(100 * day.generations / busiest) if busiest else 0]
    ]
    context = {"usage": summary, "bars": bars, "chart_width": max(len(bars) * 12, 12), "days": USAGE_DAYS}
    return render(request, "generations/usage.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
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
    generations = list(Generation.objects.live().newest_first()[:RECENT_RESULTS])
    context = {
        "form": form,
        "generations": generations,
        "presets": PRESETS,
        # Without JavaScript the page reloads itself while something is still being made.
        "refresh_while_active": any(generation.is_active for generation in generations),
    }
    return render(request, "generations/home.html", context, status=status)


def _live_generation(public_id: str) -> Generation | None:
    """The live generation a "use these settings" link names, or None (a deleted one is gone for it too)."""
    return Generation.objects.live().filter(public_id=public_id).first() if is_public_id(public_id) else None
