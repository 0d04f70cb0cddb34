"""Reads: the gallery's pages (newest first, filtered, keyset-paginated), a batch's cells and progress, the usage
figures and budgets, the queue's estimates, operations metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
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
from procrastinate.contrib.django.models import ProcrastinateJob, ProcrastinateWorker

from generations.batch_plan import BatchPlan
from generations.domain import FREE, ImagePrice
from generations.hooks import GalleryRefinement
from generations.models import (
    ACTIVE_STATUSES,
    Batch,
    DailySpend,
    Generation,
    GenerationStatus,
    PersonBudget,
    Price,
    ProviderPace,
    Requester,
    is_public_id,
)
from generations.money import BudgetPeriods, own_or_default
from generations.pacing import PACE_ROW, turn_outlook
from generations.provider.pace import Pace
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
    "job_id",
    "prompt",
    "width",
    "height",
    "aspect_ratio",
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
        return GalleryPage(
            generations=with_silent_workers_shown(rows), next_cursor=end_cursor, end_cursor=end_cursor
        )
    rows = list(generations[: page_size + 1])
    page = with_silent_workers_shown(rows[:page_size])
    next_cursor = _encode_cursor(page[-1]) if len(rows) > page_size else None
    return GalleryPage(
        generations=page, next_cursor=next_cursor, end_cursor=_encode_cursor(page[-1]) if page else None
    )


def with_silent_workers_shown(generations: list[Generation]) -> list[Generation]:
    """The generations as readers should see them: a running one whose worker stopped heart-beating (it died,
    with no live worker left to notice) shows as interrupted, with Retry, instead of "Generating…" for ever.

    One query, only when some are running; rows that finished meanwhile are left as read (their next refresh
    shows them). Generations are changed in memory only.
    """
    running = {g.pk: g for g in generations if g.status == GenerationStatus.RUNNING and g.job_id is not None}
    if running:
        cutoff = timezone.now() - timedelta(seconds=settings.WORKER_STALLED_AFTER_S)
        live_jobs = ProcrastinateJob.objects.filter(status="doing", worker__last_heartbeat__gte=cutoff)
        silent = Generation.objects.filter(pk__in=running, status=GenerationStatus.RUNNING).exclude(
            job_id__in=live_jobs.values("id")
        )
        for pk in silent.values_list("pk", flat=True):
            running[pk].show_as_interrupted()
    return generations


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
    spend: Decimal
    may_be_billed: int
    median_ms: float | None
    p95_ms: float | None

    @property
    def extended_share(self) -> float:
        return self.extended / self.generations if self.generations else 0.0


@dataclass(frozen=True, slots=True)
class BatchUsage:
    public_id: str
    first_prompt: str
    created_at: datetime
    generations: int
    spend: Decimal


@dataclass(frozen=True, slots=True)
class Usage:
    first_day: date
    last_day: date
    days: list[UsageRow]  # days with generations, oldest first (label: the ISO date)
    users: list[UsageRow]
    batches: list[BatchUsage]  # the costliest
    failures: list[tuple[str, int]]

    @property
    def spend(self) -> Decimal:
        return sum((day.spend for day in self.days), Decimal(0))

    @property
    def generations(self) -> int:
        return sum(day.generations for day in self.days)


USAGE_BATCHES = 20
VISITORS = "visitors (not signed in)"


def usage_summary(*, days: int = 30, requester: Requester | None = None) -> Usage:
    """Generations and spend per day (UTC), per person and per batch over the last `days`, with failures by
    reason and provider latency: the team's, or only `requester`'s."""
    now = timezone.now()
    first_day = (now - timedelta(days=days - 1)).date()
    recent = Generation.objects.filter(created_at__gte=datetime.combine(first_day, time.min, tzinfo=UTC))
    if requester is not None:
        recent = recent.asked_by(requester)
    figures = {
        "generations": Count("id"),
        "extended": Count("id", filter=Q(prompt_extend=True)),
        "failed": Count("id", filter=Q(status__in=["failed", "interrupted"])),
        "spend": Sum("cost", default=Decimal(0)),
        "may_be_billed": Count("id", filter=Q(may_be_billed=True)),
        "median_ms": PercentileCont("provider_latency_ms", 0.5),
        "p95_ms": PercentileCont("provider_latency_ms", 0.95),
    }
    per_day = recent.annotate(day=TruncDate("created_at")).values("day").annotate(**figures).order_by("day")
    # django-stubs types these rows by the named fields alone: it does not see the annotations of **figures.
    per_user = recent.values("user__username").annotate(**figures).order_by("-spend", "-generations")  # type: ignore[misc]
    per_batch = (
        recent.filter(batch__isnull=False)
        .values("batch__public_id", "batch__prompts", "batch__created_at")
        .annotate(generations=Count("id"), spend=Sum("cost", default=Decimal(0)))
        .order_by("-spend", "-batch__created_at")[:USAGE_BATCHES]
    )
    failures = (
        recent.filter(status__in=["failed", "interrupted"])
        .values_list("error_code")
        .annotate(count=Count("id"))
        .order_by("-count")
    )
    return Usage(
        first_day=first_day,
        last_day=now.date(),
        days=[UsageRow(label=row.pop("day").isoformat(), **row) for row in per_day],  # type: ignore[misc]
        users=[UsageRow(label=row.pop("user__username") or VISITORS, **row) for row in per_user],  # type: ignore[misc]
        batches=[
            BatchUsage(
                public_id=row["batch__public_id"],
                first_prompt=(row["batch__prompts"] or [""])[0],
                created_at=row["batch__created_at"],
                generations=row["generations"],
                spend=row["spend"],
            )
            for row in per_batch
        ],
        failures=list(failures),
    )


def usage_by_day_and_person(*, days: int = 30, requester: Requester | None = None) -> list[dict[str, Any]]:
    """The rows of the usage CSV: per day (UTC) and person, images and spend, oldest first."""
    first_day = (timezone.now() - timedelta(days=days - 1)).date()
    recent = Generation.objects.filter(created_at__gte=datetime.combine(first_day, time.min, tzinfo=UTC))
    if requester is not None:
        recent = recent.asked_by(requester)
    return [
        dict(row)
        for row in recent.annotate(day=TruncDate("created_at"))
        .values("day", "user__username")
        .annotate(
            generations=Count("id"),
            spend=Sum("cost", default=Decimal(0)),
            may_be_billed=Count("id", filter=Q(may_be_billed=True)),
        )
        .order_by("day", "user__username")
    ]


PROVIDER_LATENCY_BUCKETS_S = (0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120, 180)
QUEUE_WAIT_BUCKETS_S = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)


@dataclass(frozen=True, slots=True)
class Histogram:
    buckets: list[tuple[float, int]]  # (upper bound in seconds, how many at or below it)
    count: int
    sum_s: float


@dataclass(frozen=True, slots=True)
class ProviderPaceFigures:
    concurrency: int  # the pace now, within the configured ceilings
    per_minute: int
    held_s: float  # until a 429's hold ends (0: none)
    in_flight: int  # turns granted and not ended
    sent_last_minute: int
    waiting_for_rate_limit: int  # generations sent back by a 429, waiting for their next try
    rate_limited_total: int  # 429s the provider answered
    rate_limit_wait_s_total: float  # what those 429s asked to wait, in all


@dataclass(frozen=True, slots=True)
class OperationsSnapshot:
    queued: int
    running: int
    live_workers: int
    # (status, error code, how many, what they cost, how many may be billed), every generation ever made
    outcomes: list[tuple[str, str, int, Decimal, int]]
    provider_latency: Histogram
    queue_wait: Histogram
    pace: ProviderPaceFigures


def operations_snapshot(*, worker_alive_s: float) -> OperationsSnapshot:
    """What operators watch (for /metrics), counted across every process from the database itself."""
    statuses = dict(
        Generation.objects.active()
        .values_list("status")
        .annotate(count=Count("id"))
        .values_list("status", "count")
    )
    outcomes = list(
        Generation.objects.values_list("status", "error_code")
        .annotate(
            count=Count("id"),
            cost=Sum("cost", default=Decimal(0)),
            may_be_billed=Count("id", filter=Q(may_be_billed=True)),
        )
        .order_by("status")
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
        pace=_provider_pace_figures(),
    )


def _provider_pace_figures() -> ProviderPaceFigures:
    outlook = turn_outlook()
    counters = (
        ProviderPace.objects.filter(pk=PACE_ROW)
        .values("rate_limited_total", "rate_limit_wait_s_total")
        .first()
    )
    return ProviderPaceFigures(
        concurrency=outlook.pace.concurrency,
        per_minute=outlook.pace.per_minute,
        held_s=max((outlook.pace.held_until - outlook.now).total_seconds(), 0.0)
        if outlook.pace.held_until
        else 0.0,
        in_flight=len(outlook.in_flight_started_s_ago),
        sent_last_minute=len(outlook.window_sent_s_ago),
        waiting_for_rate_limit=Generation.objects.filter(
            status=GenerationStatus.QUEUED, next_try_at__gt=outlook.now
        ).count(),
        rate_limited_total=counters["rate_limited_total"] if counters else 0,
        rate_limit_wait_s_total=counters["rate_limit_wait_s_total"] if counters else 0.0,
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
    return {
        cell.cell_index: cell
        for cell in with_silent_workers_shown(list(cells))
        if cell.cell_index is not None
    }


CELL_FIELDS = (
    "public_id",
    "batch_id",
    "job_id",
    "cell_index",
    "prompt",
    "width",
    "height",
    "seed",
    "prompt_extend",
    "aspect_ratio",
    "status",
    "error_code",
    "error_message",
    "thumbnail",
    "image",
    "image_sha256",
    "image_dhash",
    "deleted_at",
    "started_at",
    "finished_at",
    "dispatched_at",
    "cost",
    "may_be_billed",
)


@dataclass(frozen=True, slots=True)
class BatchProgress:
    total: int
    done: int
    failed: int
    cancelled: int
    queued: int  # not yet sent to the provider: what Cancel still stops

    @property
    def finished_count(self) -> int:
        return self.done + self.failed + self.cancelled

    @property
    def retryable(self) -> int:
        """The cells "Retry" sends again: the failed and the cancelled ones."""
        return self.failed + self.cancelled

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
        queued=statuses.count(GenerationStatus.QUEUED),
    )


@dataclass(frozen=True, slots=True)
class QueueWait:
    """Where a queued generation stands: how many go before it, when its turn should come (an estimate at the
    current pace), and, after a 429, how long until it may be sent again."""

    ahead: int
    starts_in_s: float
    rate_limit_wait_s: int


def queue_wait(*, generation: Generation) -> QueueWait:
    if generation.is_dispatched:
        return QueueWait(ahead=0, starts_in_s=0.0, rate_limit_wait_s=0)
    ahead = generation.queue_position()
    rate_limit_wait_s = generation.next_try_in_s
    is_batch_cell = generation.batch_id is not None
    starts_in_s = max(
        turn_outlook().turn_starts_s(ahead + 1, batch_cells=is_batch_cell)[-1], rate_limit_wait_s
    )
    return QueueWait(ahead=ahead, starts_in_s=starts_in_s, rate_limit_wait_s=rate_limit_wait_s)


@dataclass(frozen=True, slots=True)
class BatchOutlook:
    """What a batch about to be queued would cost and how long it would take at the current pace."""

    images: int
    cost: Decimal
    waiting: int  # queued before it
    takes_s: float
    pace: Pace


def batch_outlook(*, plan: BatchPlan) -> BatchOutlook:
    """An estimate: other people's work, arriving meanwhile, and 429s move it."""
    price = current_price()
    cost = plan.count * price.per_image + plan.extended_count * price.prompt_extend_extra
    outlook = turn_outlook()
    waiting = Generation.objects.filter(status=GenerationStatus.QUEUED).count()
    takes_s = outlook.turn_starts_s(waiting + plan.count, batch_cells=True)[-1] + outlook.latency_s
    return BatchOutlook(images=plan.count, cost=cost, waiting=waiting, takes_s=takes_s, pace=outlook.pace)


def current_price() -> ImagePrice:
    """What an image costs if queued now: nothing in the offline demo."""
    if not settings.ZIMAGE_API_KEY:
        return FREE
    return Price.objects.in_effect(timezone.now())


@dataclass(frozen=True, slots=True)
class BatchSpend:
    """A batch's images and what its finished cells cost, and how long its unfinished ones should still take."""

    images: int
    cost: Decimal
    may_be_billed: int
    unfinished: int
    left_s: float | None


def batch_spend(*, cells: dict[int, Generation]) -> BatchSpend:
    unfinished = [cell for cell in cells.values() if cell.is_active]
    left_s = None
    if unfinished:
        outlook = turn_outlook()
        waiting = [cell for cell in unfinished if cell.is_queued and not cell.is_dispatched]
        # The batch is done when its last queued cell is: the one with the latest turn.
        last_turn = max(waiting, key=lambda cell: cell.pk).queue_position() if waiting else 0
        left_s = outlook.latency_s + (
            outlook.turn_starts_s(last_turn + 1, batch_cells=True)[-1] if waiting else 0.0
        )
    return BatchSpend(
        images=sum(1 for cell in cells.values() if cell.has_image),
        cost=sum((cell.cost for cell in cells.values() if not cell.is_active), Decimal(0)),
        may_be_billed=sum(1 for cell in cells.values() if cell.may_be_billed),
        unfinished=len(unfinished),
        left_s=left_s,
    )


BUDGET_WARNING_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class BudgetUse:
    label: str  # "today's budget", "this month's budget", "the team's budget this month"
    spent: Decimal
    budget: Decimal

    @property
    def share(self) -> float:
        return float(self.spent / self.budget)

    @property
    def percent(self) -> int:
        return int(self.share * 100)


def budgets_nearly_spent(*, requester: Requester) -> list[BudgetUse]:
    """The budgets `requester` has used 80 % or more of (the banner's warning; the limits refuse past 100 %)."""
    periods = BudgetPeriods(timezone.now())
    mine = Generation.objects.asked_by(requester).filter(created_at__gte=periods.month_since)
    spent = mine.aggregate(
        today=Sum("cost", filter=Q(created_at__gte=periods.today_since), default=Decimal(0)),
        month=Sum("cost", default=Decimal(0)),
    )
    own = PersonBudget.objects.filter(user=requester.user).first() if requester.user is not None else None
    team = DailySpend.objects.filter(day__gte=periods.month_since.date()).aggregate(
        month=Sum("amount", default=Decimal(0))
    )
    uses = [
        BudgetUse(
            "today's budget",
            spent["today"],
            own_or_default(own.per_day if own else None, settings.BUDGET_USER_DAY),
        ),
        BudgetUse(
            "this month's budget",
            spent["month"],
            own_or_default(own.per_month if own else None, settings.BUDGET_USER_MONTH),
        ),
        BudgetUse("the team's budget this month", team["month"], settings.BUDGET_TEAM_MONTH),
    ]
    return [use for use in uses if use.budget and use.share >= BUDGET_WARNING_SHARE]
