from __future__ import annotations

import functools
import re
import secrets
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.urls import get_script_prefix, reverse
from django.utils import timezone

from generations.domain import FAILURES_A_RETRY_CANNOT_MEND, ErrorCode, GenerationParameters
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


def _generation_url(view_name: str, public_id: str) -> str:
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


class GenerationSource(models.TextChoices):
    WEB = "web", "Playground"
    API = "api", "API"


class GenerationQuerySet(models.QuerySet["Generation"]):
    def active(self) -> GenerationQuerySet:
        """Generations still waiting in the queue or being made."""
        return self.filter(status__in=ACTIVE_STATUSES)

    def interrupt(self) -> int:
        """Close the running ones whose worker stopped before finishing; return how many."""
        return self.filter(status=GenerationStatus.RUNNING).update(
            status=GenerationStatus.INTERRUPTED,
            error_code=ErrorCode.INTERRUPTED,
            error_message=(
                "The worker making this image stopped before it finished, so the provider may have billed it. "
                "Retry to make it again."
            ),
            finished_at=timezone.now(),
        )

    def live(self) -> GenerationQuerySet:
        return self.filter(deleted_at__isnull=True)

    def newest_first(self) -> GenerationQuerySet:
        return self.order_by("-created_at", "-public_id")


class Generation(models.Model):
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
    finished_at = models.DateTimeField(null=True, blank=True)

    is_favourite = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    maker_session = models.CharField(
        max_length=32,
        blank=True,
        help_text="A random id kept in the browser session that made it: on an open instance, who may delete it.",
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
            GinIndex(fields=["search_vector"], name="generation_search_idx"),
            # Per-user limits count recent rows; "mine" in the gallery lists them.
            models.Index(fields=["user", "-created_at"], name="generation_user_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id}: {self.prompt[:60]}"

    def get_absolute_url(self) -> str:
        return _generation_url("generations:detail", self.public_id)

    @property
    def image_url(self) -> str:
        return _generation_url("generations:image", self.public_id)

    @property
    def thumbnail_url(self) -> str:
        return _generation_url("generations:thumbnail", self.public_id)

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def parameters(self) -> GenerationParameters:
        return GenerationParameters(self.prompt, self.width, self.height, self.seed, self.prompt_extend)

    def can_be_deleted_by(self, user: User | AnonymousUser, *, maker_session: str = "") -> bool:
        """Staff delete any generation, a signed-in user their own. One made without signing in (an open
        instance) only the browser session that made it may delete, `maker_session` being that session's id."""
        if user.is_authenticated and (user.is_staff or self.user_id == user.pk):
            return True
        return (
            not settings.REQUIRE_LOGIN
            and self.user_id is None
            and self.maker_session != ""
            and self.maker_session == maker_session
        )

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

    def queue_position(self) -> int:
        """How many queued generations are ahead of this one."""
        return Generation.objects.filter(status=GenerationStatus.QUEUED, pk__lt=self.pk).count()


class Batch(models.Model):
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
