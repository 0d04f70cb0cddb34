"""Text drawn into images: every script a prompt is likely to use has its glyphs, and labels wrap or ellipsise."""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops, ImageDraw

from lib.fonts import ELLIPSIS, Lettering

LETTERING = Lettering(24)
# Characters neither font has: each font then draws its missing-glyph box.
MISSING = ("\ue000", "\u4dbf")


def drawn(text: str) -> Image.Image:
    image = Image.new("L", (round(LETTERING.width(text)) + 8, LETTERING.line_height), 0)
    LETTERING.draw(ImageDraw.Draw(image), (4, 0), text, (255,))
    return image


def is_missing_glyph(character: str) -> bool:
    return any(
        ImageChops.difference(drawn(character), drawn(missing)).getbbox() is None for missing in MISSING
    )


@pytest.mark.parametrize(
    "prompt",
    [
        "一只可爱的橘猫在窗台上晒太阳，金色的夕阳",
        "窓辺で眠る猫、カメラ",
        "빨간 자전거와 등대",
        "臺灣的夜市與燈籠",
        "Crème brûlée, Zażółć gęślą jaźń, Ελληνικά, Русский, Tiếng Việt",
        "1024×1536 · “quotes” — …",
    ],
)
def test_it_draws_every_character_of_the_scripts_prompts_use(prompt):
    assert all(is_missing_glyph(missing) for missing in MISSING), (
        "the check itself recognises a missing glyph"
    )

    missing = [character for character in prompt if not character.isspace() and is_missing_glyph(character)]

    assert missing == []


def test_it_wraps_between_words_and_between_chinese_characters():
    assert LETTERING.wrap("A red bicycle by the sea", LETTERING.width("A red bicycle by"), 3) == [
        "A red bicycle by",
        "the sea",
    ]
    lines = LETTERING.wrap("一只可爱的橘猫在窗台上晒太阳", LETTERING.width("一只可爱的"), 5)
    assert "".join(lines) == "一只可爱的橘猫在窗台上晒太阳"
    assert all(LETTERING.width(line) <= LETTERING.width("一只可爱的") for line in lines)


def test_it_ends_what_does_not_fit_with_an_ellipsis():
    width = LETTERING.width("A red bicycle by")
    lines = LETTERING.wrap("A red bicycle by the sea at golden hour with a lighthouse", width, 2)

    assert len(lines) == 2
    assert lines[0] == "A red bicycle by"
    assert lines[1].endswith(ELLIPSIS)
    assert all(LETTERING.width(line) <= width for line in lines)
    assert LETTERING.fit("1024×1536, prompt extend on", LETTERING.width("1024×1536")).endswith(ELLIPSIS)


def test_a_word_longer_than_a_line_is_broken_where_it_must():
    width = LETTERING.width("Supercali")
    lines = LETTERING.wrap("Supercalifragilistic", width, 5)

    assert "".join(lines) == "Supercalifragilistic"
    assert all(LETTERING.width(line) <= width for line in lines)
