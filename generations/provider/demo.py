"""The offline demo provider: used when no ZIMAGE_API_KEY is set. It paints a landscape, no model."""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import random
import time
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter

from generations.domain import GenerationParameters
from generations.provider.client import AnswerListener, GeneratedImage
from generations.provider.pace import AnswerKind, ProviderAnswer
from lib.fonts import Lettering

DEMO_MODEL_NAME = "offline-demo"
DEMO_LABEL = "Offline demo"

type Colour = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Palette:
    sky_top: Colour
    horizon: Colour
    light: Colour  # the sun or the moon
    far: Colour  # the farthest ridge; nearer ones darken towards `near`
    near: Colour
    night: bool = False


PALETTES = (
    Palette((32, 44, 96), (246, 164, 118), (255, 230, 176), (136, 100, 146), (34, 26, 54)),  # dusk
    Palette((98, 162, 228), (214, 234, 248), (255, 252, 232), (128, 158, 180), (44, 78, 66)),  # a clear day
    Palette((12, 16, 44), (54, 64, 116), (238, 238, 222), (52, 60, 100), (10, 12, 28), night=True),
    Palette((246, 196, 158), (255, 238, 206), (255, 255, 238), (214, 156, 132), (112, 62, 70)),  # dawn
    Palette((92, 134, 152), (204, 222, 216), (246, 250, 240), (124, 154, 152), (32, 62, 62)),  # mist
    Palette((62, 32, 94), (242, 114, 122), (255, 214, 156), (152, 74, 112), (42, 16, 46)),  # a red sunset
    Palette((26, 70, 92), (128, 196, 190), (250, 246, 214), (70, 128, 126), (14, 42, 48)),  # a green evening
)
# The sun's disc is drawn this many times larger and scaled down, for a smooth edge.
SUPERSAMPLING = 4
EDGE_BLUR_PX = 0.8


@dataclass(frozen=True, slots=True)
class DemoProvider:
    latency_s: float = 1.5
    model: str = DEMO_MODEL_NAME
    is_demo = True

    async def generate(
        self,
        parameters: GenerationParameters,
        *,
        model: str = "",
        on_answer: AnswerListener | None = None,
    ) -> GeneratedImage:
        """Paint a landscape that depends only on the prompt and the seed (whatever the model), after a pretend
        delay."""
        started = time.monotonic()
        await asyncio.sleep(self.latency_s)
        if on_answer:
            await on_answer(ProviderAnswer(AnswerKind.SUCCEEDED), round((time.monotonic() - started) * 1000))
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
    """A landscape at the asked size: the prompt picks its colours, the prompt and the seed its shapes, so a
    batch's row of seeds shares a palette. A small corner label says it is the offline demo."""
    palette = PALETTES[_digest(parameters.prompt)[0] % len(PALETTES)]
    rng = random.Random(_digest(f"{parameters.prompt}\0{parameters.seed}"))  # noqa: S311 (pictures, not secrets)
    width, height = parameters.width, parameters.height
    horizon = round(height * rng.uniform(0.5, 0.66))
    image = _sky(palette, width, height, horizon)
    if palette.night:
        _stars(image, rng, horizon)
    _light(image, palette, rng, horizon)
    layers = rng.randint(3, 5)
    for layer in range(layers):
        _ridge(image, palette, rng, horizon, layer, layers)
    _dusk_below(image, palette, horizon)
    _corner_label(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _mix(first: Colour, second: Colour, amount: float) -> Colour:
    return (
        round(first[0] + (second[0] - first[0]) * amount),
        round(first[1] + (second[1] - first[1]) * amount),
        round(first[2] + (second[2] - first[2]) * amount),
    )


def _sky(palette: Palette, width: int, height: int, horizon: int) -> Image.Image:
    """A vertical gradient from the sky's top to the horizon's glow, made as one column and stretched."""
    column = Image.new("RGB", (1, height))
    column.putdata(
        [_mix(palette.sky_top, palette.horizon, min(y / horizon, 1.0) ** 1.4) for y in range(height)]
    )
    return column.resize((width, height), Image.Resampling.NEAREST)


def _stars(image: Image.Image, rng: random.Random, horizon: int) -> None:
    draw = ImageDraw.Draw(image)
    radius = max(image.width // 700, 1)
    for _ in range(rng.randint(60, 140)):
        x, y = rng.uniform(0, image.width), rng.uniform(0, horizon * 0.8)
        shade = rng.randint(150, 255)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(shade, shade, shade))


def _light(image: Image.Image, palette: Palette, rng: random.Random, horizon: int) -> None:
    """The sun (or the moon): a soft glow, then a disc with a smooth edge."""
    radius = min(image.width, image.height) * rng.uniform(0.05, 0.09)
    centre = (image.width * rng.uniform(0.2, 0.8), horizon * rng.uniform(0.3, 0.75))
    # The gradient is 181 (not 255) at the middle of its square's edges: fade to nothing there, not at its corners.
    glow = Image.radial_gradient("L").point(lambda value: round(130 * max(0.0, 1 - value / 181) ** 2))
    glow_size = round(radius * 7)
    image.paste(
        palette.light,
        (round(centre[0] - glow_size / 2), round(centre[1] - glow_size / 2)),
        glow.resize((glow_size, glow_size), Image.Resampling.BILINEAR),
    )
    disc_size = round(radius * 2)
    disc = Image.new("L", (disc_size * SUPERSAMPLING,) * 2)
    ImageDraw.Draw(disc).ellipse((0, 0, disc.width - 1, disc.height - 1), fill=255)
    image.paste(
        palette.light,
        (round(centre[0] - radius), round(centre[1] - radius)),
        disc.resize((disc_size, disc_size), Image.Resampling.LANCZOS),
    )


def _ridge(
    image: Image.Image, palette: Palette, rng: random.Random, horizon: int, layer: int, layers: int
) -> None:
    """One range of hills, farther ones higher, paler and closer to the horizon's colour."""
    depth = layer / (layers - 1)
    base = horizon + (image.height - horizon) * depth * 0.55
    amplitude = image.height * (0.16 - 0.1 * depth)
    waves = [(rng.uniform(1.0, 2.5) * 2**octave, rng.uniform(0, math.tau)) for octave in range(4)]
    sharp = rng.random() < 0.5 and depth < 0.6  # peaks for the far ranges, now and then

    def crest(x: int) -> float:
        lift = 0.0
        for octave, (frequency, phase) in enumerate(waves):
            wave = math.sin(frequency * math.tau * x / image.width + phase)
            lift += (1 - abs(wave) if sharp else (wave + 1) / 2) / 2**octave
        return base - amplitude * lift

    step = max(image.width // 512, 1)
    outline = [(x, crest(x)) for x in range(0, image.width + step, step)]
    colour = _mix(_mix(palette.far, palette.horizon, 0.35 * (1 - depth)), palette.near, depth)
    # Only the band the crest runs through needs a mask; a slight blur there smooths the polygon's stair-stepped
    # edge (Pillow draws without anti-aliasing). Below the band the hills are solid.
    top = max(math.floor(min(y for _, y in outline)) - 2, 0)
    bottom = min(math.ceil(max(y for _, y in outline)) + 2, image.height)
    band = Image.new("L", (image.width, bottom - top))
    ImageDraw.Draw(band).polygon(
        [*((x, y - top) for x, y in outline), (image.width, band.height), (0, band.height)], fill=255
    )
    image.paste(colour, (0, top), band.filter(ImageFilter.GaussianBlur(EDGE_BLUR_PX)))
    ImageDraw.Draw(image).rectangle((0, bottom, image.width, image.height), fill=colour)


def _dusk_below(image: Image.Image, palette: Palette, horizon: int) -> None:
    """The land darkens towards the bottom edge, so that the nearest hills do not read as a flat slab."""
    shade = Image.linear_gradient("L").point(lambda value: value * 100 // 255)
    image.paste(
        _mix(palette.near, (0, 0, 0), 0.5),
        (0, horizon),
        shade.resize((image.width, image.height - horizon), Image.Resampling.BILINEAR),
    )


def _corner_label(image: Image.Image) -> None:
    """ "Offline demo" in a small dark pill in the bottom left corner."""
    lettering = Lettering(max(round(min(image.size) * 0.024), 12))
    padding = lettering.size // 2
    label = Image.new(
        "RGBA", (round(lettering.width(DEMO_LABEL)) + 2 * padding, lettering.line_height + padding)
    )
    draw = ImageDraw.Draw(label)
    draw.rounded_rectangle(
        (0, 0, label.width - 1, label.height - 1), radius=label.height // 2, fill=(0, 0, 0, 150)
    )
    lettering.draw(draw, (padding, padding / 2), DEMO_LABEL, (255, 255, 255, 235))
    margin = lettering.size
    image.paste(label, (margin, image.height - label.height - margin), label)
