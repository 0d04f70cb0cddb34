from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import connection, models
from django.db.models import Case, ExpressionWrapper, F, Q, Value, When
from django.urls import get_script_prefix, reverse
from django.utils import timezone

from generations.domain import (
    FAILURES_A_RETRY_CANNOT_MEND,
    FAILURES_BILLED,
    FAILURES_MAY_BE_BILLED,
    UPSTREAM_LIST_PRICE,
    ErrorCode,
    GenerationParameters,
    ImagePrice,
)
from generations.search import SearchText

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


def new_public_id() -> str:
    """128 random bits, URL-safe: share links can be neither guessed nor enumerated."""
    return secrets.token_urlsafe(16)


PUBLIC_ID_PATTERN = r"[A-Za-z0-9_-]{1,32}"
_PUBLIC_ID = re.compile(PUBLIC_ID_PATTERN)


def is_public_id(value: str) -> bool:
    """Whether `value` could be a public id: anything else (NUL bytes, odd characters) names no generation."""
    return _PUBLIC_ID.fullmatch(value) is not None


_PUBLIC_ID_SLOT = "--public-id--"


def generation_url(view_name: str, public_id: str) -> str:
    """reverse(), done once per URL name: a gallery page links each of its 48 tiles twice."""
    return _url_pattern(view_name, get_script_prefix()).replace(_PUBLIC_ID_SLOT, public_id)


@functools.cache
def _url_pattern(view_name: str, script_prefix: str) -> str:
    return reverse(view_name, args=[_PUBLIC_ID_SLOT])


class GenerationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Generating"
    SUCCEEDED = "succeeded", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    INTERRUPTED = "interrupted", "Interrupted"


ACTIVE_STATUSES = (GenerationStatus.QUEUED, GenerationStatus.RUNNING)
INTERRUPTED_MESSAGE = (
    "The worker making this image stopped before it finished, so the provider may have billed it. "
    "Retry to make it again."
)


def money_field(**options: Any) -> models.DecimalField:
    """Money, kept to a millionth of the currency: prices like $0.015 an image add up exactly."""
    return models.DecimalField(max_digits=12, decimal_places=6, **options)


# What a generation costs, by the rules in domain.py: nothing when it failed without the provider making
# anything, or was cancelled before it was sent; its price otherwise (while unfinished, the price it will cost).
_NOT_BILLED = Q(status=GenerationStatus.FAILED) & ~Q(
    error_code__in=sorted(code.value for code in FAILURES_BILLED | FAILURES_MAY_BE_BILLED)
) | Q(status=GenerationStatus.CANCELLED, started_at__isnull=True)
_MAY_BE_BILLED = (
    Q(status=GenerationStatus.INTERRUPTED)
    | Q(status=GenerationStatus.CANCELLED, started_at__isnull=False)
    | Q(status=GenerationStatus.FAILED, error_code__in=sorted(code.value for code in FAILURES_MAY_BE_BILLED))
)
# The queue in its fair order (the view is made by the migration `0016_provider_pace_and_money`): waiting
# generations numbered by their turn. Those whose turn has come (a worker's job is queued for them) go first.
QUEUE_POSITION = """
    SELECT (SELECT count(*) FROM generations_generation WHERE status = 'queued' AND dispatched_at IS NOT NULL)
         + coalesce((SELECT turn - 1 FROM generations_waiting_turns WHERE id = %s), 0)
"""


class GenerationSource(models.TextChoices):
    WEB = "web", "Playground"
    API = "api", "API"


class MadeByAPerson:
    """Something a person made (a generation, a batch): who may cancel or delete it."""

    user_id: int | None
    maker_session: str

    def can_be_changed_by(self, user: User | AnonymousUser, *, maker_session: str = "") -> bool:
        """Staff change anything, a signed-in user what they made. What was made without signing in (an open
        instance) only the browser session that made it may change, `maker_session` being that session's id."""
        if user.is_authenticated and (user.is_staff or self.user_id == user.pk):
            return True
        return (
            not settings.REQUIRE_LOGIN
            and self.user_id is None
            and self.maker_session != ""
            and self.maker_session == maker_session
        )


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks for images: a signed-in user or, on an open instance, a visitor known by the browser session
    and the client address of the request (clearing cookies keeps the address; another network keeps the
    session)."""

    user: User | None
    session: str = ""
    address: str | None = None

    @classmethod
    def of(
        cls, user: User | AnonymousUser | None, *, session: str = "", address: str | None = None
    ) -> Requester:
        owner = user if user is not None and user.is_authenticated else None
        return cls(owner, session, address)

    def owns(self) -> Q:
        """Their generations, as the limits count them."""
        if self.user is not None:
            return Q(user=self.user)
        same_visitor = Q(maker_session=self.session) if self.session else Q(pk__in=[])
        if self.address:
            same_visitor |= Q(client_address=self.address)
        return same_visitor & Q(user__isnull=True)


class GenerationQuerySet(models.QuerySet["Generation"]):
    def active(self) -> GenerationQuerySet:
        """Generations still waiting in the queue or being made."""
        return self.filter(status__in=ACTIVE_STATUSES)

    def interrupt(self) -> int:
        """Close the running ones whose worker stopped before finishing; return how many."""
        return self.filter(status=GenerationStatus.RUNNING).update(
            status=GenerationStatus.INTERRUPTED,
            error_code=ErrorCode.INTERRUPTED,
            error_message=INTERRUPTED_MESSAGE,
            finished_at=timezone.now(),
        )

    def asked_by(self, requester: Requester) -> GenerationQuerySet:
        return self.filter(requester.owns())

    def live(self) -> GenerationQuerySet:
        return self.filter(deleted_at__isnull=True)

    def newest_first(self) -> GenerationQuerySet:
        return self.order_by("-created_at", "-public_id")


class Generation(MadeByAPerson, models.Model):
    """One image request and its outcome.

    Every change of `status` is announced on the PostgreSQL channel `generation_events` by a trigger (see the
    migration `0007_job_engine`), so that open pages and waiting API calls learn of it at once, whichever
    process made the change.
    """

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="generations"
    )
    model = models.CharField(max_length=100)
    source = models.CharField(max_length=8, choices=GenerationSource, default=GenerationSource.WEB)
    batch = models.ForeignKey("Batch", null=True, blank=True, on_delete=models.SET_NULL, related_name="cells")
    cell_index = models.PositiveIntegerField(
        null=True, blank=True, help_text="Its place in the batch's grid (the same place in a re-run)."
    )
    is_demo = models.BooleanField(
        default=False, help_text="Made by the offline demo provider, not the model."
    )
    client_address = models.GenericIPAddressField(
        null=True, blank=True, help_text="On an open instance, the address of the visitor who asked for it."
    )
    request_id = models.CharField(
        max_length=64, blank=True, help_text="The request that queued it, named in the worker's log lines."
    )

    prompt = models.TextField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    prompt_extend = models.BooleanField(default=False)
    aspect_ratio = models.CharField(
        max_length=8, blank=True, help_text='The nearest preset ratio, or "other".'
    )

    revised_prompt = models.TextField(blank=True)
    reasoning = models.TextField(blank=True)

    status = models.CharField(max_length=16, choices=GenerationStatus, default=GenerationStatus.QUEUED)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)

    provider_url = models.TextField(blank=True)
    provider_request_id = models.CharField(max_length=200, blank=True)
    image = models.FileField(upload_to="images/", blank=True)
    thumbnail = models.FileField(upload_to="thumbnails/", blank=True)
    image_bytes = models.PositiveIntegerField(null=True, blank=True)
    image_sha256 = models.CharField(max_length=64, blank=True)
    image_dhash = models.CharField(
        max_length=16, blank=True, help_text="A 64-bit perceptual hash (dHash, hex), made with the thumbnail."
    )

    price = money_field(
        default=Decimal(0),
        help_text="What it costs if billed, by the price in effect when it was queued.",
    )
    cost = models.GeneratedField(
        expression=Case(When(_NOT_BILLED, then=Value(Decimal(0))), default=F("price")),
        output_field=money_field(),
        db_persist=True,
    )
    may_be_billed = models.GeneratedField(
        expression=ExpressionWrapper(_MAY_BE_BILLED, output_field=models.BooleanField()),
        output_field=models.BooleanField(),
        db_persist=True,
    )

    attempts = models.PositiveSmallIntegerField(default=0)
    provider_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    image_fetch_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Downloading the image URL."
    )
    total_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    job_id = models.BigIntegerField(
        null=True, blank=True, db_index=True, help_text="The job engine's job that runs this generation."
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When a worker took it off the queue.")
    dispatched_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When its turn at the provider came (a worker's job was queued for it).",
    )
    next_try_at = models.DateTimeField(
        null=True, blank=True, help_text="After the provider's 429: not sent again before this."
    )
    rate_limit_waits = models.PositiveSmallIntegerField(
        default=0, help_text="How often the provider's rate limit sent it back to wait (none of it billed)."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    is_favourite = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    maker_session = models.CharField(
        max_length=32,
        blank=True,
        help_text="A random id kept in the browser session that made it: on an open instance, who may change it.",
    )
    search_vector = models.GeneratedField(
        # English words stemmed; Chinese, Japanese and Korean as character pairs and characters (see search.py).
        expression=SearchVector(SearchText("prompt"), SearchText("revised_prompt"), config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-public_id"]
        indexes = [
            # The gallery's keyset order; deleted rows never show, so they stay out of the index.
            models.Index(
                models.F("created_at").desc(),
                models.F("public_id").desc(),
                name="generation_gallery_idx",
                condition=models.Q(deleted_at__isnull=True),
            ),
            models.Index(
                models.F("created_at").desc(),
                models.F("public_id").desc(),
                name="generation_favourites_idx",
                condition=models.Q(deleted_at__isnull=True, is_favourite=True),
            ),
            # Queue positions and the queue's depth.
            models.Index(fields=["id"], name="generation_queued_idx", condition=models.Q(status="queued")),
            # The queue's fair order (generations_waiting_turns).
            models.Index(
                fields=["id"],
                name="generation_waiting_idx",
                condition=models.Q(status="queued", dispatched_at__isnull=True),
            ),
            GinIndex(fields=["search_vector"], name="generation_search_idx"),
            # Per-user limits count recent rows and sum their cost; "mine" in the gallery lists them.
            models.Index(fields=["user", "-created_at"], include=["cost"], name="generation_user_recent_idx"),
            # A visitor's limits (an open instance): their rows by browser session and by address.
            models.Index(
                fields=["maker_session", "created_at"],
                include=["cost"],
                name="generation_visitor_session_idx",
                condition=models.Q(user__isnull=True),
            ),
            models.Index(
                fields=["client_address", "created_at"],
                include=["cost"],
                name="generation_visitor_address_idx",
                condition=models.Q(user__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id}: {self.prompt[:60]}"

    def get_absolute_url(self) -> str:
        return generation_url("generations:detail", self.public_id)

    @property
    def image_url(self) -> str:
        return generation_url("generations:image", self.public_id)

    @property
    def thumbnail_url(self) -> str:
        return generation_url("generations:thumbnail", self.public_id)

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def parameters(self) -> GenerationParameters:
        return GenerationParameters(self.prompt, self.width, self.height, self.seed, self.prompt_extend)

    def show_as_interrupted(self) -> None:
        """Show it (in memory only) as its worker's death will record it: the row itself is closed by the
        recovery of dead workers, which needs a live worker to run."""
        self.status = GenerationStatus.INTERRUPTED
        self.error_code = ErrorCode.INTERRUPTED
        self.error_message = INTERRUPTED_MESSAGE

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def has_image(self) -> bool:
        """Made, stored and not deleted: an image to show, download or compare."""
        return self.status == GenerationStatus.SUCCEEDED and self.deleted_at is None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def retry_can_help(self) -> bool:
        """Whether sending the same request again may succeed where this one failed."""
        return self.error_code not in FAILURES_A_RETRY_CANNOT_MEND

    @property
    def is_queued(self) -> bool:
        return self.status == GenerationStatus.QUEUED

    @property
    def is_running(self) -> bool:
        return self.status == GenerationStatus.RUNNING

    @property
    def elapsed_ms(self) -> int:
        """How long the provider has been working on it (so far, while it runs)."""
        if self.started_at is None:
            return 0
        end = self.finished_at or timezone.now()
        return max(round((end - self.started_at).total_seconds() * 1000), 0)

    @property
    def is_dispatched(self) -> bool:
        """Its turn at the provider has come: a worker is about to send it."""
        return self.status == GenerationStatus.QUEUED and self.dispatched_at is not None

    @property
    def next_try_in_s(self) -> int:
        """After the provider's 429, seconds until it may be sent again (0 when it may be sent now)."""
        if self.next_try_at is None:
            return 0
        return max(round((self.next_try_at - timezone.now()).total_seconds()), 0)

    def queue_position(self) -> int:
        """How many queued generations go before this one, in the queue's fair order."""
        if self.is_dispatched:
            return 0
        with connection.cursor() as cursor:
            cursor.execute(QUEUE_POSITION, [self.pk])
            return cursor.fetchone()[0]


class Batch(MadeByAPerson, models.Model):
    """Many generations queued as one, every combination of prompts × seeds × sizes × prompt extend.

    Each cell is an ordinary generation linked here; the lists keep the order the grid's rows and columns follow.
    """

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="batches"
    )
    prompts_text = models.TextField(help_text="The prompts as typed, {a|b} alternatives included.")
    prompts = models.JSONField(help_text="The prompts, alternatives expanded.")
    seeds = models.JSONField()
    sizes = models.JSONField(help_text='"WxH" values.')
    extend_modes = models.JSONField(help_text="[false], [true] or [false, true].")
    model_names = models.JSONField(
        default=list,
        blank=True,
        help_text="The extra models it compares, or [] for the configured model alone.",
    )
    maker_session = models.CharField(
        max_length=32,
        blank=True,
        help_text="A random id kept in the browser session that made it: on an open instance, who may cancel it.",
    )
    rerun_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reruns",
        help_text="Run again from.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return f"{self.public_id}: {self.cell_count} images"

    def get_absolute_url(self) -> str:
        return reverse("generations:batch", args=[self.public_id])

    @property
    def cell_count(self) -> int:
        return (
            len(self.prompts)
            * len(self.seeds)
            * len(self.sizes)
            * len(self.extend_modes)
            * max(len(self.model_names), 1)
        )


class ApiCall(models.Model):
    """A `/v1` image call, kept so that a repeat of it gets the first call's outcome instead of a second paid
    image: the same `Idempotency-Key` with the same body, or an SDK's retry of the very same bytes after its
    connection dropped. Kept in PostgreSQL, so every web process sees it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_calls")
    idempotency_key = models.CharField(max_length=255, blank=True, help_text="Blank when none was sent.")
    body_sha256 = models.CharField(max_length=64)
    generation = models.OneToOneField(
        Generation, null=True, on_delete=models.CASCADE, related_name="api_call"
    )
    waiting = models.PositiveIntegerField(
        default=1,
        help_text="Callers waiting for its outcome now: the last to go away cancels it while queued.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="api_call_idempotency_key_unique",
            )
        ]
        indexes = [models.Index(fields=["user", "body_sha256", "-created_at"], name="api_call_body_idx")]

    def __str__(self) -> str:
        return f"API call {self.pk} of {self.user_id}"


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A personal token for the playground's OpenAI-compatible API. Only its SHA-256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16, help_text="The token's first characters, to tell tokens apart.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class PriceQuerySet(models.QuerySet["Price"]):
    def in_effect(self, at: datetime) -> ImagePrice:
        """The price of an image at `at`: the table's latest row from before then, else the upstream list price."""
        price = self.filter(effective_from__lte=at).order_by("-effective_from").first()
        if price is None:
            return UPSTREAM_LIST_PRICE
        return ImagePrice(per_image=price.per_image, prompt_extend_extra=price.prompt_extend_extra)


class Price(models.Model):
    """What the provider charges for an image from `effective_from` on, in PRICE_CURRENCY. Staff edit the table in
    the admin; each generation keeps the price it was queued at, so a change never rewrites past costs."""

    effective_from = models.DateTimeField(default=timezone.now)
    per_image = money_field()
    prompt_extend_extra = money_field(help_text="Added for an image with prompt extend.")
    note = models.CharField(max_length=200, blank=True, help_text="Where the price comes from.")

    objects = PriceQuerySet.as_manager()

    class Meta:
        ordering = ["-effective_from"]

    def __str__(self) -> str:
        return f"{self.per_image} an image from {self.effective_from:%Y-%m-%d}"


class PersonBudget(models.Model):
    """A person's own budgets, set by staff, in place of BUDGET_USER_DAY and BUDGET_USER_MONTH (blank: those)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="budget")
    per_day = money_field(null=True, blank=True, help_text="Blank: BUDGET_USER_DAY; 0: none.")
    per_month = money_field(null=True, blank=True, help_text="Blank: BUDGET_USER_MONTH; 0: none.")
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"budget of {self.user}"


class DailySpend(models.Model):
    """The team's spend per day (UTC), kept by a trigger on the generations table (migration
    `0016_provider_pace_and_money`), so that the team's monthly budget is a sum of 31 rows, not of a month's images."""

    day = models.DateField(primary_key=True)
    amount = money_field(default=Decimal(0))

    def __str__(self) -> str:
        return f"{self.day}: {self.amount}"


class ProviderPace(models.Model):
    """The pace the whole cluster keeps with the provider (one row): see generations/pacing.py."""

    concurrency = models.PositiveIntegerField()
    per_minute = models.PositiveIntegerField()
    # The ceilings it was begun at: when their settings change, the pace begins again at the new ones.
    configured_concurrency = models.PositiveIntegerField()
    configured_per_minute = models.PositiveIntegerField()
    held_until = models.DateTimeField(
        null=True, blank=True, help_text="No request before this (a 429's reset)."
    )
    successes = models.PositiveIntegerField(default=0, help_text="Answers in a row without a 429.")
    typical_latency_ms = models.PositiveIntegerField(
        default=2000, help_text="A moving average, for estimates."
    )
    rate_limited_total = models.BigIntegerField(default=0, help_text="429s the provider answered.")
    rate_limit_wait_s_total = models.FloatField(
        default=0.0, help_text="Seconds generations were told to wait by 429s."
    )

    def __str__(self) -> str:
        return f"{self.concurrency} at once, {self.per_minute} a minute"


class ProviderTurn(models.Model):
    """One request's turn at the provider: a slot leased to it when granted, sent when its worker sends it, and
    ended with the answer (or when its generation stops taking it: cancelled, or interrupted after its worker
    died). Turns not ended are the requests in flight; those sent within the last minute fill the window."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="provider_turns")
    granted_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["generation"], name="provider_turn_open_idx", condition=Q(ended_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"turn of generation {self.generation_id} granted {self.granted_at:%H:%M:%S}"
