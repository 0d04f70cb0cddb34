"""Gallery search in Chinese, Japanese, Korean and English, against the real search vector in PostgreSQL."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from generations.search import search_query_text
from generations.selectors import GalleryFilters, gallery_page
from tests.factories import make_generation

pytestmark = pytest.mark.django_db

CHINESE = "一只可爱的橘猫在窗台上晒太阳"
JAPANESE = "窓辺で眠る可愛い猫とコーヒーカップ"
KOREAN = "창가에서 햇볕을 쬐는 고양이"
MIXED = "A cyberpunk 城市 at night, neon 霓虹灯 signs reflecting in puddles"


def found(query: str) -> set[str]:
    page = gallery_page(filters=GalleryFilters(query=query), user=AnonymousUser())
    return {generation.prompt for generation in page.generations}


@pytest.fixture
def prompts() -> None:
    for prompt in (CHINESE, JAPANESE, KOREAN, MIXED, "A lighthouse on a cliff at dusk"):
        make_generation(prompt=prompt)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("橘猫", {CHINESE}),
        ("可爱的橘猫", {CHINESE}),
        ("晒太阳", {CHINESE}),
        (CHINESE, {CHINESE}),
        ("猫", {CHINESE, JAPANESE}),
        ("窗", {CHINESE}),
        ("可愛い猫", {JAPANESE}),
        ("眠る", {JAPANESE}),
        ("コーヒー", {JAPANESE}),
        ("고양이", {KOREAN}),
        ("햇볕", {KOREAN}),
        ("城市", {MIXED}),
        ("霓虹", {MIXED}),
        ("neon 霓虹灯", {MIXED}),
        ("puddle signs", {MIXED}),
        ("lighthouses", {"A lighthouse on a cliff at dusk"}),
    ],
)
def test_it_finds_a_prompt_by_any_word_or_phrase_in_its_own_language(prompts, query, expected):
    assert found(query) == expected


@pytest.mark.parametrize("query", ["橘狗", "猫橘", "太阳晒", "狗", "可愛い犬", "고양이들", "霓虹 lighthouse"])
def test_it_finds_nothing_for_words_the_prompts_do_not_hold(prompts, query):
    assert found(query) == set()


def test_it_keeps_search_operators_around_chinese_words(prompts):
    assert found("橘猫 or コーヒー") == {CHINESE, JAPANESE}
    assert found("猫 -橘猫") == {JAPANESE}
    assert found('"可爱的 橘猫"') == {CHINESE}


def test_it_does_not_join_words_across_punctuation():
    make_generation(prompt="可爱，橘猫。")

    assert found("橘猫") == {"可爱，橘猫。"}
    assert found("爱橘") == set()


def test_it_searches_a_chinese_revised_prompt_too():
    make_generation(prompt="A cat", revised_prompt="一只橘猫趴在木质窗台上，午后的阳光洒在它的毛上")

    assert found("阳光") == {"A cat"}


@pytest.mark.parametrize(
    "run",
    [
        "㐀㐁㐂",  # CJK extension A
        "𠀀𠀁𠀂",  # extension B, beyond the Basic Multilingual Plane
        "豈更車",  # compatibility ideographs
        "人々は",  # 々 between kanji and hiragana
        "ｶﾀｶﾅ",  # half-width katakana
        "ᄀᄁᄂ",  # Hangul jamo
    ],
)
def test_it_indexes_every_cjk_script_by_pairs_and_single_characters(run):
    make_generation(prompt=f"x {run} y")

    assert found(run[1:3]) == {f"x {run} y"}
    assert found(run[-1]) == {f"x {run} y"}


def test_it_turns_cjk_runs_into_phrases_of_overlapping_pairs():
    assert search_query_text("可爱的橘猫 cat") == '"可爱 爱的 的橘 橘猫" cat'
    assert search_query_text("猫") == '"猫"'
    assert search_query_text('"a 橘猫"') == '"a " "橘猫" ""'
