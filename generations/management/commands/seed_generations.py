from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from generations.domain import PRESETS, GenerationParameters, aspect_ratio, draw_seed
from generations.images import StoredImage, StoredThumbnail, image_store, thumbnail_store
from generations.models import Generation, GenerationStatus, new_public_id
from generations.provider.demo import DEMO_MODEL_NAME, draw_demo_image

SUBJECTS = [
    "a lighthouse",
    "an orange tabby cat",
    "a ceramic mug",
    "a mountain lake",
    "a neon street",
    "a paper boat",
    "a vintage camera",
    "a bowl of ramen",
    "a red bicycle",
    "a glass perfume bottle",
    "a snowy cabin",
    "a portrait of an old fisherman",
    "a sneaker",
    "a desert road",
    "a koi pond",
    # Chinese, Japanese and Korean prompts are common with Z-Image: the search must find their words too.
    "一只可爱的橘猫",
    "窓辺で眠る猫",
    "빨간 자전거",
]
STYLES = [
    "at golden hour",
    "in the rain at night",
    "studio product photo",
    "watercolor",
    "cinematic, 35mm",
    "isometric illustration",
    "soft morning light",
    "on a marble counter",
    "in a misty forest",
    "minimalist",
]
DISTINCT_IMAGES = 24
BATCH = 2000


class Command(BaseCommand):
    help = "Fill the database with N synthetic generations (real rows, real small image files) for demos and benchmarks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=int)
        parser.add_argument("--seed", type=int, default=1, help="random seed, for repeatable data")

    def handle(self, *args: object, count: int, seed: int, **options: object) -> None:
        rng = random.Random(seed)  # noqa: S311 (synthetic data, not secrets)
        started = time.monotonic()
        images = [self._image(index) for index in range(DISTINCT_IMAGES)]
        now = timezone.now()
        made = 0
        while made < count:
            batch = [self._generation(rng, images, now) for _ in range(min(BATCH, count - made))]
            Generation.objects.bulk_create(batch)
            made += len(batch)
        self.stdout.write(f"{made} generations made in {time.monotonic() - started:.1f} s.")

    def _image(self, index: int) -> tuple[int, int, StoredImage, StoredThumbnail]:
        # Small files of the right shape: seeded rows are for browsing and benchmarks, not for looking closely.
        preset = PRESETS[index % len(PRESETS)]
        width, height = preset.width // 4, preset.height // 4
        data = draw_demo_image(GenerationParameters(f"seed image {index}", width, height, index, False))
        stored = image_store(data)
        return preset.width, preset.height, stored, thumbnail_store(data, sha256=stored.sha256)

    def _generation(self, rng: random.Random, images: list, now: datetime) -> Generation:
        width, height, stored, thumbnail = rng.choice(images)
        prompt_extend = rng.random() < 0.3
        prompt = f"{rng.choice(SUBJECTS)}, {rng.choice(STYLES)}"
        failed = rng.random() < 0.05
        created_at = now - timedelta(seconds=rng.uniform(0, 365 * 24 * 3600))
        return Generation(
            public_id=new_public_id(),
            model=DEMO_MODEL_NAME,
            is_demo=True,
            prompt=prompt,
            width=width,
            height=height,
            aspect_ratio=aspect_ratio(width, height),
            seed=draw_seed(),
            prompt_extend=prompt_extend,
            revised_prompt=f"{prompt}, highly detailed, balanced composition"
            if prompt_extend and not failed
            else "",
            reasoning="Synthetic reasoning for a seeded row." if prompt_extend and not failed else "",
            status=GenerationStatus.FAILED if failed else GenerationStatus.SUCCEEDED,
            error_code="provider_unavailable" if failed else "",
            error_message="The image provider is having trouble right now. Retry in a minute."
            if failed
            else "",
            image="" if failed else stored.name,
            thumbnail="" if failed else thumbnail.name,
            image_dhash="" if failed else thumbnail.dhash,
            image_bytes=None if failed else stored.byte_size,
            image_sha256="" if failed else stored.sha256,
            attempts=1,
            provider_latency_ms=rng.randint(1500, 9000),
            total_latency_ms=rng.randint(9100, 9500),
            created_at=created_at,
            finished_at=created_at + timedelta(seconds=9),
            is_favourite=rng.random() < 0.02,
        )
