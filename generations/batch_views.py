"""Batches: the batch form with its live summary, the grid page and its partials, downloads, re-runs, compare."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import BadRequest, PermissionDenied
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from generations.batch_plan import (
    PARAMETER_LABELS,
    PARAMETERS,
    BatchPlan,
    default_axes,
    grid_sections,
    value_label,
)
from generations.forms import BatchForm
from generations.http import (
    HtmxHttpRequest,
    generating_allowed,
    htmx_redirect,
    login_required_if_configured,
    may_change,
    requester,
    streamed_download,
)
from generations.models import Batch, Generation
from generations.selectors import (
    batch_progress,
    batch_spend,
    budgets_nearly_spent,
    latest_cells,
    with_silent_workers_shown,
)
from generations.services.batch_files import CHANGED_BITS, batch_comparison, batch_grid_png, batch_zip
from generations.services.batches import batch_cancel, batch_create, batch_retry_failed, batch_run_again
from generations.services.limits import GenerationRefused


@require_http_methods(["GET", "HEAD", "POST"])
def batch_new(request: HtmxHttpRequest) -> HttpResponse:
    if request.method != "POST":
        context = {
            "form": BatchForm(request=request),
            "batch_max": settings.BATCH_MAX_IMAGES,
            "budgets": budgets_nearly_spent(requester=requester(request)),
        }
        return render(request, "generations/batch_new.html", context)
    return _batch_submit(request)


@generating_allowed
def _batch_submit(request: HtmxHttpRequest) -> HttpResponse:
    form = BatchForm(request.POST, request=request)
    if form.is_valid():
        try:
            batch = batch_create(
                plan=form.cleaned_data["plan"],
                prompts_text=form.cleaned_data["prompts"],
                requester=requester(request),
                extras=form.extras,
            )
        except GenerationRefused as err:
            form.add_error(None, err.user_message)
        except ValueError as err:  # an extra refused the cells (a full board): nothing was queued
            form.add_error(None, str(err))
        else:
            return htmx_redirect(request, batch)
    context = {"form": form, "batch_max": settings.BATCH_MAX_IMAGES}
    if request.htmx:  # htmx swaps only 2xx answers: the form with its errors replaces itself
        return render(request, "generations/batch_new.html#batch-form", context)
    return render(request, "generations/batch_new.html", context, status=400)


@require_POST
@login_required_if_configured
def batch_preview(request: HtmxHttpRequest) -> HttpResponse:
    """What the form as it stands would make, and cost, or why it would be refused.

    The form's own helper: with REQUIRE_LOGIN on, only signed-in people see the form, so only they may ask.
    """
    form = BatchForm(request.POST)
    return render(request, "generations/batch_new.html#batch-summary", {"form": form})


@require_safe
@vary_on_headers("HX-Request")  # the same URL answers htmx with the grid alone: Back must not reuse that
def batch_detail(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    batch = get_object_or_404(Batch.objects.select_related("user", "rerun_of"), public_id=public_id)
    plan = BatchPlan.of(batch)
    x, y = _axes(request, plan)
    cells = latest_cells(batch)
    context = {
        "batch": batch,
        "plan": plan,
        "x": x,
        "y": y,
        **_grid(plan, x, y, cells.get),
        "progress": batch_progress(cells, plan.count),
        "spend": batch_spend(cells=cells),
        "parameters": [
            (parameter, PARAMETER_LABELS[parameter])
            for parameter in PARAMETERS
            if parameter != "model" or len(plan.models) > 1
        ],
        "grid_query": f"x={x}&y={y}",
    }
    if request.htmx and request.htmx.target == "batch-grid":
        return render(request, "generations/batch.html#batch-grid", context)
    return render(request, "generations/batch.html", context)


def _grid(plan: BatchPlan, x: str, y: str, cell_at: Callable[[int], object]) -> dict:
    """A grid page's geometry: its column labels, and per section (one per combination of the parameters on
    neither axis) a caption and rows of (label, [(cell, its column's label)]). A grid of one row is shown
    wrapped (`strip`), each cell with its label."""
    columns = [(value, value_label(x, value)) for value in plan.values(x)]
    return {
        "columns": columns,
        "sections": [
            (
                section.caption,
                [
                    (
                        value_label(y, row.value),
                        [
                            (cell_at(index), label)
                            for index, (_, label) in zip(row.cell_indexes, columns, strict=True)
                        ],
                    )
                    for row in section.rows
                ],
            )
            for section in grid_sections(plan, x, y)
        ],
        "strip": len(plan.values(y)) == 1,
    }


@require_safe
def batch_progress_view(request: HttpRequest, public_id: str) -> HttpResponse:
    """The progress and the buttons that follow it (Retry once a cell failed, Cancel while cells wait)."""
    batch = get_object_or_404(Batch, public_id=public_id)
    cells = latest_cells(batch)
    context = {
        "batch": batch,
        "progress": batch_progress(cells, BatchPlan.of(batch).count),
        "spend": batch_spend(cells=cells),
    }
    return render(request, "generations/batch.html#batch-status", context)


@require_safe
def batch_cell(request: HttpRequest, public_id: str) -> HttpResponse:
    generation = get_object_or_404(
        Generation.objects.select_related("batch"), public_id=public_id, batch__isnull=False
    )
    with_silent_workers_shown([generation])
    return _render_cell(request, generation)


def _render_cell(request: HttpRequest, generation: Generation) -> HttpResponse:
    context = {"cell": generation, "batch": generation.batch}
    return render(request, "generations/batch.html#grid-cell", context)


@require_POST
@login_required_if_configured
def batch_cancel_view(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    batch = get_object_or_404(Batch, public_id=public_id)
    if not may_change(request, batch):
        raise PermissionDenied("Only the person who made a batch (or a staff member) can cancel it.")
    batch_cancel(batch=batch)
    return _back_to(request, batch)


@require_POST
@generating_allowed
def batch_retry_failed_view(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """Retry every failed or cancelled cell, or (with `?cell=` its index) one of them, in its place."""
    batch = get_object_or_404(Batch, public_id=public_id)
    cell = request.GET.get("cell")
    if cell is not None and cell not in {str(index) for index in range(BatchPlan.of(batch).count)}:
        raise BadRequest("Name a cell of this batch by its index.")
    try:
        batch_retry_failed(
            batch=batch, requester=requester(request), cell_index=None if cell is None else int(cell)
        )
    except GenerationRefused as err:
        messages.error(request, err.user_message)
        return _back_to(request, batch)
    if cell is not None and request.htmx:
        return _render_cell(request, latest_cells(batch)[int(cell)])
    return _back_to(request, batch)


@require_POST
@generating_allowed
def batch_run_again_view(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    batch = get_object_or_404(Batch, public_id=public_id)
    try:
        rerun = batch_run_again(batch=batch, requester=requester(request))
    except GenerationRefused as err:
        messages.error(request, err.user_message)
        return _back_to(request, batch)
    return _back_to(request, rerun)


@require_safe
def batch_grid_image(request: HttpRequest, public_id: str) -> HttpResponse:
    batch = get_object_or_404(Batch, public_id=public_id)
    x, y = _axes(request, BatchPlan.of(batch))
    name = batch_grid_png(
        batch=batch, x=x, y=y, share_url=request.build_absolute_uri(batch.get_absolute_url())
    )
    with default_storage.open(name, "rb") as file:
        response = HttpResponse(file.read(), content_type="image/png")
    if request.GET.get("download"):
        response["Content-Disposition"] = (
            f'attachment; filename="zimage-batch-{batch.public_id}-{x}-by-{y}.png"'
        )
    patch_cache_control(response, public=True, max_age=60)
    return response


@require_safe
def batch_images_zip(request: HttpRequest, public_id: str) -> StreamingHttpResponse:
    batch = get_object_or_404(Batch, public_id=public_id)
    archive = batch_zip(
        batch=batch, share_url_of=lambda generation: request.build_absolute_uri(generation.get_absolute_url())
    )
    return streamed_download(
        archive, content_type="application/zip", filename=f"zimage-batch-{batch.public_id}.zip"
    )


@require_safe
def batch_compare(request: HttpRequest, public_id: str, other_id: str) -> HttpResponse:
    """Two runs of the same cells as one grid: each place shows both pictures and how far apart they are."""
    before = get_object_or_404(Batch, public_id=public_id)
    after = get_object_or_404(Batch, public_id=other_id)
    plan = BatchPlan.of(before)
    if plan != BatchPlan.of(after):
        raise Http404("These two batches did not make the same cells.")
    compared = batch_comparison(before=before, after=after)
    x, y = _axes(request, plan)
    context = {
        "before": before,
        "after": after,
        "batch": after,
        **_grid(plan, x, y, lambda index: compared[index]),
        "changed": sum(cell.changed for cell in compared),
        "total": len(compared),
        "changed_bits": CHANGED_BITS,
        "compared": True,
    }
    return render(request, "generations/batch_compare.html", context)


def _axes(request: HttpRequest, plan: BatchPlan) -> tuple[str, str]:
    x, y = request.GET.get("x", ""), request.GET.get("y", "")
    if x in PARAMETERS and y in PARAMETERS and x != y:
        return x, y
    return default_axes(plan)


def _back_to(request: HtmxHttpRequest, batch: Batch) -> HttpResponse:
    return htmx_redirect(request, batch)
