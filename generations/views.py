from __future__ import annotations

import functools
import json
import secrets
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect, reswap, trigger_client_event
from django_htmx.middleware import HtmxDetails

from generations.domain import PRESETS
from generations.forms import (
    ApiTokenForm,
    ApiTokenRevokeForm,
    GalleryFilterForm,
    GenerationDeleteForm,
    GenerationForm,
)
from generations.models import Generation, GenerationStatus, is_public_id
from generations.permissions import MAY_NOT_GENERATE, may_generate
from generations.selectors import gallery_page, usage_summary
from generations.services.generations import (
    generation_cancel,
    generation_create,
    generation_delete,
    generation_download_png,
    generation_repeat,
    generation_set_favourite,
    generation_status_changes,
    generation_thumbnail,
)
from generations.services.images import InvalidImageError
from generations.services.limits import GenerationRefused
from generations.services.snippets import api_example_snippets, generation_request_snippets
from generations.services.tokens import api_token_create, api_token_revoke

RECENT_RESULTS = 24
ONE_YEAR_S = 365 * 24 * 3600


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def login_required_if_configured(view):
    """Sign-in is required for this view when REQUIRE_LOGIN is on (the default with DEBUG off)."""

    @functools.wraps(view)
    def wrapper(request: HtmxHttpRequest, *args, **kwargs) -> HttpResponse:
        if settings.REQUIRE_LOGIN and not request.user.is_authenticated:
            login_url = f"{resolve_url(settings.LOGIN_URL)}?next={quote(request.get_full_path())}"
            return HttpResponseClientRedirect(login_url) if request.htmx else redirect(login_url)
        return view(request, *args, **kwargs)

    return wrapper


def generating_allowed(view):
    """For views that spend: sign-in as configured, then the role (a viewer is refused with 403 saying why)."""

    @functools.wraps(view)
    @login_required_if_configured
    def wrapper(request: HtmxHttpRequest, *args, **kwargs) -> HttpResponse:
        if not may_generate(request.user):
            raise PermissionDenied(MAY_NOT_GENERATE)
        return view(request, *args, **kwargs)

    return wrapper


@require_safe
def home(request: HtmxHttpRequest) -> HttpResponse:
    source = _live_generation(request.GET.get("from", ""))
    form = GenerationForm(initial=GenerationForm.initial_from(source.parameters if source else None))
    return _render_home(request, form)


@require_POST
@generating_allowed
def generation_new(request: HtmxHttpRequest) -> HttpResponse:
    form = GenerationForm(request.POST)
    if not form.is_valid():
        return _form_with_errors(request, form, status=400)
    try:
        generation = generation_create(
            parameters=form.parameters, user=request.user, maker_session=_maker_session(request)
        )
    except GenerationRefused as err:
        form.add_error(None, err.user_message)
        return _form_with_errors(request, form, status=429)
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
    """Server-sent events: each listed generation's status now, then every change, for a few minutes.

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
                data = json.dumps({"id": event.public_id, "status": event.status})
                yield f"event: status\ndata: {data}\n\n"

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
        "can_delete": large
        and generation.can_be_deleted_by(
            request.user, maker_session=request.session.get(MAKER_SESSION_KEY, "")
        ),
    }
    return render(request, "generations/home.html#generation-card", context)


@require_safe
def generation_detail(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.select_related("user", "batch"), public_id=public_id)
    if generation.is_deleted:
        return render(request, "generations/deleted.html", {"generation": generation}, status=410)
    context = {
        "generation": generation,
        "can_delete": generation.can_be_deleted_by(
            request.user, maker_session=request.session.get(MAKER_SESSION_KEY, "")
        ),
        "snippets": generation_request_snippets(generation=generation, base_url=settings.ZIMAGE_BASE_URL),
    }
    return render(request, "generations/detail.html", context)


@require_POST
@generating_allowed
def generation_new_seed(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    original = get_object_or_404(Generation.objects.live(), public_id=public_id)
    try:
        generation = generation_repeat(
            generation=original, new_seed=True, user=request.user, maker_session=_maker_session(request)
        )
    except GenerationRefused as err:
        return _refused(request, err, original)
    if request.htmx:
        return HttpResponseClientRedirect(generation.get_absolute_url())
    return redirect(generation)


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
    if not generation.can_be_deleted_by(
        request.user, maker_session=request.session.get(MAKER_SESSION_KEY, "")
    ):
        raise PermissionDenied("Only the person who made a generation (or a staff member) can delete it.")
    form = GenerationDeleteForm(request.POST if request.method == "POST" else None, generation=generation)
    if request.method == "POST" and form.is_valid():
        generation_delete(generation=generation)
        messages.success(request, "The generation was deleted. Its share link now says so.")
        return redirect("generations:gallery")
    return render(request, "generations/delete.html", {"generation": generation, "form": form})


@require_safe
def gallery(request: HtmxHttpRequest) -> HttpResponse:
    filter_form = GalleryFilterForm(request.GET)
    page = gallery_page(
        filters=filter_form.filters(),
        user=request.user,
        cursor=request.GET.get("after", ""),
        until=request.GET.get("until", ""),
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
    ("Provider time", lambda g: f"{g.provider_latency_ms} ms" if g.provider_latency_ms is not None else "—"),
)


@require_POST
@generating_allowed
def generation_retry_view(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    original = get_object_or_404(Generation.objects.live(), public_id=public_id)
    try:
        generation = generation_repeat(
            generation=original, user=request.user, maker_session=_maker_session(request)
        )
    except GenerationRefused as err:
        return _refused(request, err, original)
    if request.htmx and request.htmx.target == "results":
        return render(request, "generations/home.html#generation-card", {"generation": generation})
    if request.htmx:
        return HttpResponseClientRedirect(generation.get_absolute_url())
    return redirect(generation)


@require_safe
def generation_image(request: HttpRequest, public_id: str, variant: str) -> HttpResponse:
    generation = get_object_or_404(
        Generation.objects.live(), public_id=public_id, status=GenerationStatus.SUCCEEDED
    )
    if variant == "download":
        share_url = request.build_absolute_uri(generation.get_absolute_url())
        response = HttpResponse(generation_download_png(generation=generation, share_url=share_url))
        response["Content-Type"] = "image/png"
        response["Content-Disposition"] = (
            f'attachment; filename="zimage-{generation.public_id}-{generation.seed}.png"'
        )
    else:
        if not generation.image:
            raise Http404("This generation has no stored image.")
        if variant == "thumbnail":
            try:
                generation_thumbnail(generation=generation)
            except InvalidImageError as err:
                raise Http404("This image cannot be decoded for a thumbnail.") from err
        with getattr(generation, variant).open("rb") as file:
            response = HttpResponse(file.read(), content_type=_IMAGE_TYPES.get(file.name.rsplit(".", 1)[-1]))
    # A generation's image never changes once stored, so browsers and proxies may keep it for good.
    patch_cache_control(response, public=True, max_age=ONE_YEAR_S, immutable=True)
    response.headers["ETag"] = f'"{generation.image_sha256}-{variant}"'
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
def api_tokens(request: HttpRequest) -> HttpResponse:
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
def api_token_revoke_view(request: HttpRequest) -> HttpResponse:
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


def _maker_session(request: HttpRequest) -> str:
    """The random id this browser session gives the generations it asks for (made on first use)."""
    if not request.session.get(MAKER_SESSION_KEY):
        request.session[MAKER_SESSION_KEY] = secrets.token_urlsafe(16)
    return request.session[MAKER_SESSION_KEY]


MAKER_SESSION_KEY = "maker_session"


def _live_generation(public_id: str) -> Generation | None:
    """The live generation a "use these settings" link names, or None (a deleted one is gone for it too)."""
    return Generation.objects.live().filter(public_id=public_id).first() if is_public_id(public_id) else None
