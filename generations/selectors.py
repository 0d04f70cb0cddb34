"""Reads: the gallery's pages (newest first, filtered, keyset-paginated), a batch's cells and progress, the usage
figures, operations metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.contrib.postgres.search import SearchQuery
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import Extract, TruncDate
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateWorker

from generations.hooks import GalleryRefinement
from generations.models import ACTIVE_STATUSES, Batch, Generation, GenerationStatus, is_public_id
from generations.search import search_query_text

GALLERY_PAGE_SIZE = 48
# A reload or a Back to a gallery scrolled deep renders every tile down to where the reader was, up to this many.
GALLERY_RESTORE_MAX = 20 * GALLERY_PAGE_SIZE
# Unless the status filter asks for them, the gallery shows what was made and what is being made, not failures.
GALLERY_DEFAULT_STATUSES = (GenerationStatus.SUCCEEDED, *ACTIVE_STATUSES)
ANY_STATUS = "all"
# What a gallery tile shows, plus the cursor: the search vector and long provider texts stay in the database.
TILE_FIELDS = (
    "public_id",
    "prompt",
    "width",
    "height",
    "status",
    "is_favourite",
    "created_at",
    "thumbnail",
    "deleted_at",
)


@dataclass(frozen=True, slots=True)
class GalleryFilters:
    query: str = ""
    mine: bool = False
    status: str = ""
    ratio: str = ""
    prompt_extend: bool | None = None
    favourites: bool = False
    batch: str = ""  # a batch's public id: only its cells


@dataclass(frozen=True, slots=True)
class GalleryPage:
    generations: list[Generation]
    next_cursor: str | None
    # Where this page ends, so that a reader's place can be named (and restored) as "down to here".
    end_cursor: str | None


def gallery_page(
    *,
    filters: GalleryFilters,
    user: User | AnonymousUser,
    cursor: str = "",
    until: str = "",
    page_size: int = GALLERY_PAGE_SIZE,
    refinements: Sequence[GalleryRefinement] = (),
) -> GalleryPage:
    """One page of live generations, newest first, after `cursor` (from the previous page) when given.

    Keyset pagination: each page costs the same, however deep the scroll, and rows made meanwhile never
    shift or repeat what a reader sees. With `until` (a page's end cursor) and no `cursor`, the page runs from
    the top down to that row (at most GALLERY_RESTORE_MAX rows): the pages a reader had loaded, in one go.
    Another room's refinements (generations/hooks.py) narrow the rows, and one may page them in an order of its
    own (then `until` restores its first page only).
    """
    generations = gallery_generations(filters=filters, user=user, refinements=refinements).only(*TILE_FIELDS)
    if order := next((refinement.page for refinement in refinements if refinement.page), None):
        rows, next_cursor, end_cursor = order(generations, cursor, page_size)
        return GalleryPage(generations=rows, next_cursor=next_cursor, end_cursor=end_cursor)
    if position := _decode_cursor(cursor):
        created_at, public_id = position
        generations = generations.filter(
            Q(created_at__lt=created_at) | Q(created_at=created_at, public_id__lt=public_id)
        )
    elif end := _decode_cursor(until):
        created_at, public_id = end
        rows = list(
            generations.filter(
                Q(created_at__gt=created_at) | Q(created_at=created_at, public_id__gte=public_id)
            )[:GALLERY_RESTORE_MAX]
        )
        # Whether older rows follow is left to the next page, which costs no more than asking now would.
        end_cursor = _encode_cursor(rows[-1]) if rows else None
        return GalleryPage(generations=rows, next_cursor=end_cursor, end_cursor=end_cursor)
    rows = list(generations[: page_size + 1])
    page = rows[:page_size]
    next_cursor = _encode_cursor(page[-1]) if len(rows) > page_size else None
    return GalleryPage(
        generations=page, next_cursor=next_cursor, end_cursor=_encode_cursor(page[-1]) if page else None
    )


def gallery_generations(
    *,
    filters: GalleryFilters,
    user: User | AnonymousUser,
    refinements: Sequence[GalleryRefinement] = (),
) -> QuerySet[Generation]:
    """The live generations these filters (and other rooms' refinements) match, newest first (a gallery page
    is a slice of them)."""
    generations = Generation.objects.live().order_by("-created_at", "-public_id")
    if filters.query:
        generations = generations.filter(
            search_vector=SearchQuery(
                search_query_text(filters.query), config="english", search_type="websearch"
            )
        )
    if filters.mine:
        generations = generations.filter(user=user) if user.is_authenticated else generations.none()
    if filters.status != ANY_STATUS:
        generations = generations.filter(
            status__in=[filters.status] if filters.status else GALLERY_DEFAULT_STATUSES
        )
    if filters.ratio:
        generations = generations.filter(aspect_ratio=filters.ratio)
    if filters.prompt_extend is not None:
        generations = generations.filter(prompt_extend=filters.prompt_extend)
    if filters.favourites:
        generations = generations.filter(is_favourite=True)
    if filters.batch:
        generations = generations.filter(batch__public_id=filters.batch)
    narrowed: QuerySet[Generation] = generations
    for refinement in refinements:
        if refinement.narrow is not None:
            narrowed = refinement.narrow(narrowed)
    return narrowed


def picked_generations(*, public_ids: list[str]) -> list[Generation]:
    """The live generations among `public_ids`, in that order (ids of deleted or unknown ones are dropped)."""
    by_id = Generation.objects.live().in_bulk(public_ids, field_name="public_id")
    return [by_id[public_id] for public_id in public_ids if public_id in by_id]


def _encode_cursor(generation: Generation) -> str:
    micros = round(generation.created_at.timestamp() * 1_000_000)
    return f"{micros}.{generation.public_id}"


def _decode_cursor(cursor: str) -> tuple[datetime, str] | None:
    """The position a cursor names, or None for a missing or mangled one (which starts from the top)."""
    micros, _, public_id = (cursor or "").partition(".")
    if not micros.isdigit() or not is_public_id(public_id):
        return None
    try:
        return datetime.fromtimestamp(int(micros) / 1_000_000, tz=UTC), public_id
    except (OverflowError, ValueError, OSError):
        return None


class PercentileCont(Aggregate):
    function = "PERCENTILE_CONT"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str | Combinable, percentile: float, **extra: Any) -> None:
        super().__init__(expression, percentile=percentile, **extra)


@dataclass(frozen=True, slots=True)
class UsageRow:
    label: str
    generations: int
    extended: int
    failed: int
    median_ms: float | None
    p95_ms: float | None

    @property
    def extended_share(self) -> float:
        return self.extended / self.generations if self.generations else 0.0


@dataclass(frozen=True, slots=True)
class Usage:
    days: list[UsageRow]
    users: list[UsageRow]
    failures: list[tuple[str, int]]


def usage_summary(*, days: int = 30) -> Usage:
    """Generations per day and per user over the last `days`, with failures by reason and provider latency."""
    since = timezone.now() - timedelta(days=days)
    recent = Generation.objects.filter(created_at__gte=since)
    figures = {
        "generations": Count("id"),
        "extended": Count("id", filter=Q(prompt_extend=True)),
        "failed": Count("id", filter=Q(status__in=["failed", "interrupted"])),
        "median_ms": PercentileCont("provider_latency_ms", 0.5),
        "p95_ms": PercentileCont("provider_latency_ms", 0.95),
    }
    per_day = recent.annotate(day=TruncDate("created_at")).values("day").annotate(**figures).order_by("day")
    # django-stubs types these rows by the named fields alone: it does not see the annotations of **figures.
    per_user = recent.values("user__username").annotate(**figures).order_by("-generations")  # type: ignore[misc]
    failures = (
        recent.filter(status__in=["failed", "interrupted"])
        .values_list("error_code")
        .annotate(count=Count("id"))
        .order_by("-count")
    )
    return Usage(
        days=[UsageRow(label=row.pop("day").isoformat(), **row) for row in per_day],  # type: ignore[misc]
        users=[UsageRow(label=row.pop("user__username") or "anonymous", **row) for row in per_user],  # type: ignore[misc]
        failures=list(failures),
    )


PROVIDER_LATENCY_BUCKETS_S = (0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120, 180)
QUEUE_WAIT_BUCKETS_S = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)


@dataclass(frozen=True, slots=True)
class Histogram:
    buckets: list[tuple[float, int]]  # (upper bound in seconds, how many at or below it)
    count: int
    sum_s: float


@dataclass(frozen=True, slots=True)
class OperationsSnapshot:
    queued: int
    running: int
    live_workers: int
    outcomes: list[tuple[str, str, int]]  # (status, error code, how many), every generation ever made
    provider_latency: Histogram
    queue_wait: Histogram


def operations_snapshot(*, worker_alive_s: float) -> OperationsSnapshot:
    """What operators watch (for /metrics), counted across every process from the database itself."""
    statuses = dict(
        Generation.objects.active()
        .values_list("status")
        .annotate(count=Count("id"))
        .values_list("status", "count")
    )
    outcomes = list(
        Generation.objects.values_list("status", "error_code").annotate(count=Count("id")).order_by("status")
    )
    queue_wait = ExpressionWrapper(F("started_at") - F("created_at"), output_field=DurationField())
    provider_s = F("provider_latency_ms") / 1000.0
    return OperationsSnapshot(
        queued=statuses.get(GenerationStatus.QUEUED, 0),
        running=statuses.get(GenerationStatus.RUNNING, 0),
        live_workers=ProcrastinateWorker.objects.filter(
            last_heartbeat__gte=timezone.now() - timedelta(seconds=worker_alive_s)
        ).count(),
        outcomes=outcomes,
        provider_latency=_histogram(
            Generation.objects.filter(provider_latency_ms__isnull=False),
            provider_s,
            PROVIDER_LATENCY_BUCKETS_S,
        ),
        queue_wait=_histogram(
            Generation.objects.filter(started_at__isnull=False).annotate(wait=queue_wait),
            Extract("wait", "epoch"),
            QUEUE_WAIT_BUCKETS_S,
        ),
    )


def _histogram(rows: QuerySet, seconds: Combinable, bounds: tuple[float, ...]) -> Histogram:
    figures = rows.annotate(seconds=ExpressionWrapper(seconds, output_field=FloatField())).aggregate(
        count=Count("id"),
        sum_s=Sum("seconds"),
        **{f"le_{index}": Count("id", filter=Q(seconds__lte=bound)) for index, bound in enumerate(bounds)},
    )
    return Histogram(
        buckets=[(bound, figures[f"le_{index}"]) for index, bound in enumerate(bounds)],
        count=figures["count"],
        sum_s=figures["sum_s"] or 0.0,
    )


def latest_cells(batch: Batch) -> dict[int, Generation]:
    """Each cell's latest attempt (a retry replaces a failure in its place), by cell index. One query."""
    cells = (
        Generation.objects.filter(batch=batch, cell_index__isnull=False)
        .only(*CELL_FIELDS)
        .order_by("cell_index", "pk")
    )
    return {cell.cell_index: cell for cell in cells if cell.cell_index is not None}


CELL_FIELDS = (
    "public_id",
    "batch_id",
    "cell_index",
    "prompt",
    "width",
    "height",
    "seed",
    "prompt_extend",
    "status",
    "error_message",
    "thumbnail",
    "image",
    "image_sha256",
    "image_dhash",
    "deleted_at",
    "started_at",
    "finished_at",
)


@dataclass(frozen=True, slots=True)
class BatchProgress:
    total: int
    done: int
    failed: int
    cancelled: int

    @property
    def finished_count(self) -> int:
        return self.done + self.failed + self.cancelled

    @property
    def finished(self) -> bool:
        return self.finished_count >= self.total

    def __str__(self) -> str:
        parts = [f"{self.done} of {self.total} done"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.cancelled:
            parts.append(f"{self.cancelled} cancelled")
        return ", ".join(parts)


def batch_progress(cells: dict[int, Generation], total: int) -> BatchProgress:
    statuses = [cell.status for cell in cells.values()]
    return BatchProgress(
        total=total,
        done=statuses.count(GenerationStatus.SUCCEEDED),
        failed=statuses.count(GenerationStatus.FAILED) + statuses.count(GenerationStatus.INTERRUPTED),
        cancelled=statuses.count(GenerationStatus.CANCELLED),
    )
