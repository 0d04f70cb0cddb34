"""The offline demo provider: used when no ZIMAGE_API_KEY is set. It draws labelled synthetic images, no model."""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import textwrap
import time
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from generations.domain import GenerationParameters
from generations.provider.client import GeneratedImage

DEMO_MODEL_NAME = "offline-demo"
DEMO_LABEL = "OFFLINE DEMO · not Z-Image"


@dataclass(frozen=True, slots=True)
class DemoProvider:
    latency_s: float = 1.5
    model: str = DEMO_MODEL_NAME
    is_demo = True

    async def generate(self, parameters: GenerationParameters, *, model: str = "") -> GeneratedImage:
        """Draw an abstract picture that depends only on the prompt and the seed (whatever the model), after a
        pretend delay."""
        started = time.monotonic()
        await asyncio.sleep(self.latency_s)
        data = await asyncio.to_thread(draw_demo_image, parameters)
        revised_prompt = reasoning = ""
        if parameters.prompt_extend:
            revised_prompt = f"{parameters.prompt.strip()} — (offline demo: with a key, Z-Image Turbo rewrites the prompt here)"
            reasoning = (
                "This is the offline demo provider, not the model: no prompt was rewritten and no reasoning "
                "happened. Set ZIMAGE_API_KEY to generate real images with Z-Image Turbo."
            )
        return GeneratedImage(
            data=data,
            provider_url="",
            revised_prompt=revised_prompt,
            reasoning=reasoning,
            request_id="",
            attempts=1,
            provider_latency_ms=round((time.monotonic() - started) * 1000),
        )


def draw_demo_image(parameters: GenerationParameters) -> bytes:
    digest = hashlib.sha256(f"{parameters.prompt}\0{parameters.seed}".encode()).digest()
    rng = random.Random(digest)  # noqa: S311 (pictures, not secrets)
    # Paint soft blobs on a small canvas and scale it up: fast at any size, and smooth enough to look like art.
    small = Image.new("RGB", (48, max(round(48 * parameters.height / parameters.width), 1)), _colour(rng))
    draw = ImageDraw.Draw(small)
    for _ in range(14):
        x, y = rng.uniform(0, small.width), rng.uniform(0, small.height)
        radius = rng.uniform(4, 20)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=_colour(rng))
    image = small.filter(ImageFilter.GaussianBlur(3)).resize(
        (parameters.width, parameters.height), Image.Resampling.BICUBIC
    )
    _draw_caption(image, parameters)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)


def _draw_caption(image: Image.Image, parameters: GenerationParameters) -> None:
    draw = ImageDraw.Draw(image)
    size = max(image.width // 28, 14)
    font = ImageFont.load_default(size=size)
    lines = [
        DEMO_LABEL,
        *textwrap.wrap(parameters.prompt, width=42)[:3],
        f"seed {parameters.seed} · {parameters.size}",
    ]
    margin = size
    box_height = len(lines) * round(size * 1.35) + margin
    draw.rectangle((0, image.height - box_height - margin, image.width, image.height), fill=(0, 0, 0))
    y = image.height - box_height
    for line in lines:
        draw.text((margin, y), line, fill=(255, 255, 255), font=font)
        y += round(size * 1.35)
