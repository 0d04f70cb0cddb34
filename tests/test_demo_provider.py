"""The offline demo's pictures: a landscape per prompt and seed, labelled in a corner, never a caption band."""

from __future__ import annotations

import io

from PIL import Image, ImageStat

from generations.domain import GenerationParameters
from generations.provider.demo import draw_demo_image


def picture(prompt: str = "A lighthouse at dusk", seed: int = 1, width: int = 1024, height: int = 1536):
    image = Image.open(io.BytesIO(draw_demo_image(GenerationParameters(prompt, width, height, seed, False))))
    image.load()
    return image


def test_the_same_prompt_and_seed_paint_the_same_picture_and_another_seed_another():
    first = picture()

    assert first.tobytes() == picture().tobytes()
    assert first.tobytes() != picture(seed=2).tobytes()
    assert first.size == (1024, 1536)


def test_the_label_sits_in_a_small_corner_and_no_band_covers_the_picture():
    image = picture(width=1360, height=768).convert("L")
    bottom = image.crop((0, round(image.height * 0.75), image.width, image.height))
    corner = (0, image.height - round(image.height * 0.12), round(image.width * 0.25), image.height)

    labelled = ImageStat.Stat(image.crop(corner)).extrema[0]
    beside_the_label = image.crop((corner[2], corner[1], image.width, image.height))
    assert labelled[1] - labelled[0] > 150, "white letters on a dark pill in the bottom left corner"
    assert ImageStat.Stat(beside_the_label).extrema[0][1] < 200, "no lettering across the bottom"
    assert min(ImageStat.Stat(bottom).mean) > 10, "the bottom quarter is landscape, not a black band"
