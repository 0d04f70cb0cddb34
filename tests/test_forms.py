from __future__ import annotations

import pytest

from generations.forms import GenerationForm
from tests.factories import form_data


def make_form(**fields) -> GenerationForm:
    return GenerationForm(data=form_data(**fields))


def test_it_accepts_a_preset_size_and_a_blank_seed():
    form = make_form()
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["width"], form.cleaned_data["height"]) == (1024, 1536)
    assert form.cleaned_data["seed"] is None
    assert form.cleaned_data["prompt_extend"] is False


def test_it_accepts_a_custom_size_within_the_pixel_bound():
    form = make_form(size="custom", custom_size="1200 x 900")
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["width"], form.cleaned_data["height"]) == (1200, 900)


@pytest.mark.parametrize(
    ("custom_size", "message"),
    [
        ("", "Type a size such as 1200x900"),
        ("big", "Write the size as width x height"),
        ("500x500", "the model accepts 262,144 to 4,194,304"),
        ("2049x2048", "the model accepts 262,144 to 4,194,304"),
    ],
)
def test_it_explains_a_bad_custom_size_next_to_the_field(custom_size, message):
    form = make_form(size="custom", custom_size=custom_size)
    assert not form.is_valid()
    assert message in form.errors["custom_size"][0]


def test_it_rejects_a_size_outside_the_preset_list():
    form = make_form(size="9999x9999")
    assert not form.is_valid()
    assert "size" in form.errors


def test_it_requires_a_prompt():
    form = make_form(prompt="   ")
    assert not form.is_valid()
    assert form.errors["prompt"] == ["Describe the image you want."]


def test_it_bounds_the_prompt_length():
    form = make_form(prompt="x" * 4001)
    assert not form.is_valid()
    assert "A prompt may be 4,000 characters at most" in form.errors["prompt"][0]


@pytest.mark.parametrize("seed", ["-1", "2147483648", "1.5", "abc"])
def test_it_rejects_a_seed_outside_the_provider_range(seed):
    form = make_form(seed=seed)
    assert not form.is_valid()
    assert "seed" in form.errors


@pytest.mark.parametrize("seed", ["0", "2147483647"])
def test_it_accepts_the_seed_range_ends(seed):
    form = make_form(seed=seed)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["seed"] == int(seed)
