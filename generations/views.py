from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from generations.forms import GenerationForm
from generations.models import Generation, GenerationStatus
from generations.services.generations import generation_create, generation_retry, generations_interrupt_stale
from generations.sizes import DEFAULT_SIZE, PRESETS

RECENT_RESULTS = 24
ONE_YEAR_S = 365 * 24 * 3600


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    return _render_home(request, GenerationForm(initial=_initial_from(request.GET.get("from"))))


@require_POST
def generation_new(request: HtmxHttpRequest) -> HttpResponse:
    form = GenerationForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            return render(request, "generations/home.html#generation-form", {"form": form})
        return _render_home(request, form, status=400)
    generation = generation_create(
        prompt=form.cleaned_data["prompt"],
        width=form.cleaned_data["width"],
        height=form.cleaned_data["height"],
        seed=form.cleaned_data["seed"],
        prompt_extend=form.cleaned_data["prompt_extend"],
        user=request.user,
    )
    if not request.htmx:
        return redirect("generations:home")
    # The form comes back as it was sent, ready for the next tweak; the new card goes on top of the results.
    return render(request, "generations/generation_created.html", {"form": form, "generation": generation})


@require_GET
def generation_card(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(Generation, public_id=public_id)
    if generation.is_pending and generations_interrupt_stale():
        generation.refresh_from_db()
    context = {"generation": generation, "large": request.GET.get("large") == "1"}
    return render(request, "generations/home.html#generation-card", context)


@require_GET
def generation_detail(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(Generation, public_id=public_id)
    return render(request, "generations/detail.html", {"generation": generation})


@require_POST
def generation_retry_view(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    original = get_object_or_404(Generation, public_id=public_id)
    generation = generation_retry(generation=original, user=request.user)
    if request.htmx and request.htmx.target == "results":
        return render(request, "generations/home.html#generation-card", {"generation": generation})
    if request.htmx:
        return HttpResponseClientRedirect(generation.get_absolute_url())
    return redirect(generation)


@require_GET
def generation_image(request: HttpRequest, public_id: str, variant: str) -> FileResponse:
    generation = get_object_or_404(Generation, public_id=public_id, status=GenerationStatus.SUCCEEDED)
    file = generation.image if variant == "image" else generation.thumbnail
    if not file:
        raise Http404("This generation has no stored image.")
    download = request.GET.get("download") == "1"
    response = FileResponse(
        file.open("rb"),
        as_attachment=download,
        filename=f"zimage-{generation.public_id}-{generation.seed}.{file.name.rsplit('.', 1)[-1]}",
    )
    # A generation's image never changes once stored, so browsers and proxies may keep it for good.
    patch_cache_control(response, public=True, max_age=ONE_YEAR_S, immutable=True)
    response.headers["ETag"] = f'"{generation.image_sha256}-{variant}"'
    return response


def _render_home(request: HttpRequest, form: GenerationForm, status: int = 200) -> HttpResponse:
    generations = Generation.objects.newest_first()[:RECENT_RESULTS]
    return render(
        request,
        "generations/home.html",
        {"form": form, "generations": generations, "presets": PRESETS},
        status=status,
    )


def _initial_from(public_id: str | None) -> dict:
    """Form values copied from an earlier generation, for "use these settings" links."""
    source = Generation.objects.filter(public_id=public_id).first() if public_id else None
    if source is None:
        return {"size": DEFAULT_SIZE}
    preset_values = {preset.value for preset in PRESETS}
    size_fields = (
        {"size": source.size}
        if source.size in preset_values
        else {"size": "custom", "custom_size": source.size}
    )
    return {
        "prompt": source.prompt,
        "seed": source.seed,
        "prompt_extend": source.prompt_extend,
        **size_fields,
    }
