from __future__ import annotations

import functools
import secrets

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.urls import get_script_prefix, reverse
from django.utils import timezone


def new_public_id() -> str:
    """128 random bits, URL-safe: share links can be neither guessed nor enumerated."""
    return secrets.token_urlsafe(16)


_PUBLIC_ID_SLOT = "--public-id--"


def _generation_url(view_name: str, public_id: str) -> str:
    """reverse(), done once per URL name: a gallery page links each of its 48 tiles twice."""
    return _url_pattern(view_name, get_script_prefix()).replace(_PUBLIC_ID_SLOT, public_id)


@functools.cache
def _url_pattern(view_name: str, script_prefix: str) -> str:
    return reverse(view_name, args=[_PUBLIC_ID_SLOT])


class GenerationStatus(models.TextChoices):
    PENDING = "pending", "Generating"
    SUCCEEDED = "succeeded", "Done"
    FAILED = "failed", "Failed"
    INTERRUPTED = "interrupted", "Interrupted"


class GenerationSource(models.TextChoices):
    WEB = "web", "Playground"
    API = "api", "API"


class GenerationQuerySet(models.QuerySet):
    def pending(self) -> GenerationQuerySet:
        return self.filter(status=GenerationStatus.PENDING)

    def live(self) -> GenerationQuerySet:
        return self.filter(deleted_at__isnull=True)

    def newest_first(self) -> GenerationQuerySet:
        return self.order_by("-created_at", "-public_id")


class Generation(models.Model):
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="generations"
    )
    model = models.CharField(max_length=100)
    source = models.CharField(max_length=8, choices=GenerationSource, default=GenerationSource.WEB)
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

    status = models.CharField(max_length=16, choices=GenerationStatus, default=GenerationStatus.PENDING)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)

    provider_url = models.TextField(blank=True)
    provider_request_id = models.CharField(max_length=200, blank=True)
    image = models.FileField(upload_to="images/", blank=True)
    thumbnail = models.FileField(upload_to="thumbnails/", blank=True)
    image_bytes = models.PositiveIntegerField(null=True, blank=True)
    image_sha256 = models.CharField(max_length=64, blank=True)

    attempts = models.PositiveSmallIntegerField(default=0)
    provider_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    image_fetch_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Downloading the image URL."
    )
    total_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    is_favourite = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    search_vector = models.GeneratedField(
        expression=SearchVector("prompt", "revised_prompt", config="english"),
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
            models.Index(
                fields=["created_at"], name="generation_pending_idx", condition=models.Q(status="pending")
            ),
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

    def can_be_deleted_by(self, user) -> bool:
        """The maker deletes their own generations; staff delete any; anonymous ones are the team's."""
        if not user.is_authenticated:
            return self.user_id is None and not settings.REQUIRE_LOGIN
        return user.is_staff or self.user_id in (None, user.pk)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_pending(self) -> bool:
        return self.status == GenerationStatus.PENDING

    @property
    def elapsed_ms(self) -> int:
        end = self.finished_at or timezone.now()
        return max(round((end - self.created_at).total_seconds() * 1000), 0)


class ApiTokenQuerySet(models.QuerySet):
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
