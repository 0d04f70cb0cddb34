from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest

from generations.batch_plan import (
    CONFIGURED_MODEL,
    BatchPlan,
    count_alternatives,
    draw_seeds,
    expand_alternatives,
)
from generations.domain import (
    DEFAULT_SIZE,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    OTHER_RATIO,
    PRESETS,
    RATIOS,
    SEED_RULE,
    GenerationParameters,
    parse_size,
    preset_choices,
    validate_prompt,
    validate_seed,
)
from generations.hooks import GALLERY_EXTRAS, GENERATION_EXTRAS, GalleryRefinement, GenerationExtra
from generations.models import Generation, GenerationStatus, is_public_id
from generations.selectors import ANY_STATUS, GalleryFilters

CUSTOM_SIZE = "custom"


class WithGenerationExtras(forms.Form):
    """Fields other rooms add beside a generation's parameters (generations/hooks.py: "Add to board"), offered
    to the person behind `request`; `extras` hands their checked values to the services that queue."""

    def __init__(self, *args: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        for name, extra in GENERATION_EXTRAS.items():
            if request is not None and (field := extra.form_field(request)) is not None:
                self.fields[name] = field

    @property
    def extra_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in GENERATION_EXTRAS if name in self.fields]

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        for name, extra in GENERATION_EXTRAS.items():
            if name in self.fields and name in cleaned and self.request is not None:
                try:
                    cleaned[name] = extra.from_form(self.request, cleaned[name])
                except ValueError as err:
                    self.add_error(name, str(err))
        return cleaned

    @property
    def extras(self) -> list[tuple[GenerationExtra, Any]]:
        """The extras a valid form asks for, each with its checked value."""
        return [
            (extra, self.cleaned_data[name])
            for name, extra in GENERATION_EXTRAS.items()
            if name in self.fields
        ]


class GenerationForm(WithGenerationExtras):
    """One image's parameters, checked by the same rules as the API's (generations/domain.py)."""

    prompt = forms.CharField(
        strip=False,
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "maxlength": MAX_PROMPT_CHARS,
                "placeholder": "A cute orange tabby cat basking in sunlight on a windowsill",
            }
        ),
        error_messages={"required": "Describe the image you want."},
    )
    size = forms.ChoiceField(
        choices=[*preset_choices(), ("Other", [(CUSTOM_SIZE, "Custom size…")])], initial=DEFAULT_SIZE
    )
    custom_size = forms.CharField(
        required=False,
        label="Custom size",
        widget=forms.TextInput(attrs={"placeholder": "1200x900", "inputmode": "text", "autocomplete": "off"}),
        help_text="Width x height, 512×512 to 2048×2048 pixels in total.",
    )
    seed = forms.IntegerField(
        required=False,
        widget=forms.NumberInput(attrs={"placeholder": "random", "min": 0, "max": MAX_SEED}),
        help_text="Blank draws a random seed; the same seed and prompt make the same image.",
        error_messages={"invalid": SEED_RULE},
    )
    prompt_extend = forms.BooleanField(
        required=False,
        label="Extend prompt",
        help_text="The model rewrites your prompt first and explains why. Slower, costs more.",
    )

    @classmethod
    def initial_from(cls, parameters: GenerationParameters | None) -> dict:
        """The form's values for these parameters ("use these settings"), or its defaults for None."""
        if parameters is None:
            return {"size": DEFAULT_SIZE}
        preset = parameters.size in {preset.value for preset in PRESETS}
        return {
            "prompt": parameters.prompt,
            "seed": parameters.seed,
            "prompt_extend": parameters.prompt_extend,
            **(
                {"size": parameters.size} if preset else {"size": CUSTOM_SIZE, "custom_size": parameters.size}
            ),
        }

    def clean_prompt(self) -> str:
        try:
            return validate_prompt(self.cleaned_data["prompt"])
        except ValueError as err:
            raise forms.ValidationError(str(err)) from err

    def clean_seed(self) -> int | None:
        try:
            return validate_seed(self.cleaned_data["seed"])
        except ValueError as err:
            raise forms.ValidationError(str(err)) from err

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        size = cleaned.get("size")
        if size is None:
            return cleaned
        field = "custom_size" if size == CUSTOM_SIZE else "size"
        if size == CUSTOM_SIZE and not cleaned.get("custom_size"):
            self.add_error("custom_size", "Type a size such as 1200x900, or pick a preset.")
            return cleaned
        try:
            cleaned["width"], cleaned["height"] = parse_size(cleaned[field])
        except ValueError as err:
            self.add_error(field, str(err))
        return cleaned

    @property
    def parameters(self) -> GenerationParameters:
        """What a valid form asks for."""
        data = self.cleaned_data
        return GenerationParameters(
            data["prompt"], data["width"], data["height"], data["seed"], data["prompt_extend"]
        )


class GalleryFilterForm(forms.Form):
    """The gallery's filters. They live in the query string, so a filtered view is itself a shareable link."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    owner = forms.ChoiceField(required=False, choices=[("", "Everyone"), ("mine", "Mine")], label="Made by")
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Done or in progress"),
            *GenerationStatus.choices,
            (ANY_STATUS, "Any, failed included"),
        ],
    )
    ratio = forms.ChoiceField(
        required=False,
        label="Aspect ratio",
        choices=[("", "Any ratio"), *((ratio, ratio) for ratio in RATIOS), (OTHER_RATIO, "Other")],
    )
    extend = forms.ChoiceField(
        required=False,
        label="Prompt extend",
        choices=[("", "Extended or not"), ("on", "Extended"), ("off", "Not extended")],
    )
    favourites = forms.BooleanField(required=False, label="Favourites only")
    batch = forms.CharField(required=False, max_length=32, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for extra in GALLERY_EXTRAS:  # other rooms' filters (generations/hooks.py), after the gallery's own
            self.fields.update(extra.fields())

    def clean_batch(self) -> str:
        batch = self.cleaned_data["batch"]
        if batch and not is_public_id(batch):
            raise forms.ValidationError("Not a batch.")
        return batch

    def active_count(self) -> int:
        """How many filters beyond the search narrow the gallery: the number on its Filters button."""
        filters = self.filters()
        return sum(
            (
                filters.mine,
                bool(filters.status),
                bool(filters.ratio),
                filters.prompt_extend is not None,
                filters.favourites,
            )
        )

    def filters(self) -> GalleryFilters:
        """The filters asked for; a value that does not validate is left out rather than refused."""
        self.is_valid()
        data = {name: self.cleaned_data.get(name) for name in self.fields}
        return GalleryFilters(
            query=(data["q"] or "").strip(),
            mine=data["owner"] == "mine",
            status=data["status"] or "",
            ratio=data["ratio"] or "",
            prompt_extend={"on": True, "off": False}.get(data["extend"] or ""),
            favourites=bool(data["favourites"]),
            batch=data["batch"] or "",
        )

    def refinements(self, request: HttpRequest) -> list[GalleryRefinement]:
        """What other rooms' filters (valid values only) ask of this request's gallery."""
        self.is_valid()
        asked = (extra.refinement(request, self.cleaned_data) for extra in GALLERY_EXTRAS)
        return [refinement for refinement in asked if refinement is not None]


SELECTION_MAX = 100


class PublicIdsField(forms.Field):
    """Several public ids (repeated `id` values), each once, in the order given."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": "Tick one image or more first.",
        "too_many": f"Pick at most {SELECTION_MAX} images at a time.",
        "invalid": "That is not an image of this gallery.",
    }

    def to_python(self, value: list[str] | None) -> list[str]:
        return list(dict.fromkeys(value or []))

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        if len(value) > SELECTION_MAX:
            raise forms.ValidationError(self.error_messages["too_many"], code="too_many")
        if not all(is_public_id(public_id) for public_id in value):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class GallerySelectionForm(forms.Form):
    """Gallery tiles picked together (or one tile's star) and what to do with them all."""

    id = PublicIdsField()
    operation = forms.ChoiceField(
        choices=[
            ("favourite", "Add to favourites"),
            ("unfavourite", "Remove from favourites"),
            ("delete", "Delete"),
        ]
    )


class SelectionDeleteForm(forms.Form):
    """Deleting several images asks once; with favourites among them, twice (as deleting one does)."""

    confirmed = forms.BooleanField(widget=forms.HiddenInput)
    confirm_favourites = forms.BooleanField(required=False, label="Yes, delete the favourites among them too")

    def __init__(self, *args: Any, favourites: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.favourites = favourites
        if not favourites:
            del self.fields["confirm_favourites"]

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        if self.favourites and not cleaned.get("confirm_favourites"):
            self.add_error(
                "confirm_favourites", "Favourites are among them: tick the box to delete them anyway."
            )
        return cleaned


class GenerationDeleteForm(forms.Form):
    """Deleting asks once; deleting a favourite asks twice."""

    confirm_favourite = forms.BooleanField(required=False, label="Yes, delete it although it is a favourite")

    def __init__(self, *args: Any, generation: Generation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.generation = generation
        if not generation.is_favourite:
            del self.fields["confirm_favourite"]

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        if self.generation.is_favourite and not cleaned.get("confirm_favourite"):
            self.add_error("confirm_favourite", "This is a favourite: tick the box to delete it anyway.")
        return cleaned


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, label="Token name", widget=forms.TextInput(attrs={"placeholder": "e.g. batch script"})
    )


class ApiTokenRevokeForm(forms.Form):
    token = forms.IntegerField(min_value=1, max_value=2**63 - 1)


EXTEND_MODES = {"off": [False], "on": [True], "both": [False, True]}
SEED_LIST_SEPARATORS = re.compile(r"[\s,;]+")


class BatchForm(WithGenerationExtras):
    """Many prompts × seeds × sizes × prompt extend; clean() turns it into the plan a batch makes."""

    prompts = forms.CharField(
        max_length=MAX_PROMPT_CHARS * 10,
        widget=forms.Textarea(
            attrs={"rows": 5, "placeholder": "A {red|blue|green} bicycle by the sea\nA lighthouse at dusk"}
        ),
        help_text="One prompt per line. {red|blue|green} inside a line makes one prompt per choice.",
        error_messages={"required": "Write at least one prompt."},
    )
    seed_count = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100,
        initial=4,
        label="Seeds to draw",
        help_text="Each prompt is made with these same random seeds.",
    )
    seed_list = forms.CharField(
        required=False,
        max_length=2000,
        label="Or these seeds",
        widget=forms.TextInput(
            attrs={"placeholder": "1, 2, 42", "inputmode": "numeric", "autocomplete": "off"}
        ),
        help_text="Used instead of drawing seeds when given.",
    )
    sizes = forms.MultipleChoiceField(
        required=False,
        choices=preset_choices(named=False),
        initial=[DEFAULT_SIZE],
        widget=forms.CheckboxSelectMultiple,
    )
    custom_sizes = forms.CharField(
        required=False,
        max_length=500,
        label="Custom sizes",
        widget=forms.TextInput(attrs={"placeholder": "1200x900, 900x1200", "autocomplete": "off"}),
    )
    extend = forms.ChoiceField(
        choices=[("off", "Off"), ("on", "On"), ("both", "Both: each image with and without")],
        initial="off",
        label="Prompt extend",
        widget=forms.RadioSelect,
    )
    # Only where the operator lists extra models (settings.EXTRA_MODELS): otherwise the form has no such field.
    models = forms.MultipleChoiceField(
        required=False,
        label="Models",
        widget=forms.CheckboxSelectMultiple,
        help_text="Each image with every model ticked, every setting sent explicitly so that they compare fairly.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        models = self.fields["models"]
        assert isinstance(models, forms.MultipleChoiceField)
        if not settings.EXTRA_MODELS:
            del self.fields["models"]
            return
        models.choices = [(name, name) for name in (settings.ZIMAGE_MODEL, *settings.EXTRA_MODELS)]
        models.initial = [settings.ZIMAGE_MODEL]

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        prompts = self._prompts(cleaned.get("prompts") or "")
        seeds = self._seeds(cleaned.get("seed_list") or "", cleaned.get("seed_count"))
        sizes = self._sizes(cleaned.get("sizes") or [], cleaned.get("custom_sizes") or "")
        if self.errors or not (prompts and seeds and sizes and cleaned.get("extend")):
            return cleaned
        chosen = cleaned.get("models") or []
        models = list(CONFIGURED_MODEL) if chosen in ([], [settings.ZIMAGE_MODEL]) else chosen
        plan = BatchPlan(prompts, seeds, sizes, EXTEND_MODES[cleaned["extend"]], models)
        if plan.count > settings.BATCH_MAX_IMAGES:
            raise forms.ValidationError(
                f"{plan.summary()}: a batch makes at most {settings.BATCH_MAX_IMAGES} images. Take some away."
            )
        cleaned["plan"] = plan
        return cleaned

    def _prompts(self, text: str) -> list[str]:
        # Counted before anything is made: `{a|b}` twenty times on one line means a million prompts.
        lines = list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
        cap = settings.BATCH_MAX_IMAGES
        if count_alternatives(lines, stop_past=cap) > cap:
            self.add_error(
                "prompts",
                f"These lines make more than {cap} prompts (each {{a|b}} multiplies them); "
                f"a batch makes at most {cap} images.",
            )
            return []
        prompts = list(
            dict.fromkeys(prompt for line in lines for prompt in expand_alternatives(line) if prompt)
        )
        if not prompts and text:
            self.add_error("prompts", "Write at least one prompt.")
        for prompt in prompts:
            try:
                validate_prompt(prompt)
            except ValueError as err:
                self.add_error("prompts", f"{err} (“{prompt[:40]}…”)")
                break
        return prompts

    def _seeds(self, listed: str, count: int | None) -> list[int]:
        if not listed.strip():
            return draw_seeds(count or self.fields["seed_count"].initial)
        values = [value for value in SEED_LIST_SEPARATORS.split(listed.strip()) if value]
        try:
            seeds = [validate_seed(int(value)) for value in values]
        except ValueError:
            self.add_error("seed_list", f"{SEED_RULE} List them separated by commas.")
            return []
        return list(dict.fromkeys(seeds))

    def _sizes(self, presets: list[str], custom: str) -> list[str]:
        sizes = list(presets)
        for value in (item for item in re.split(r"[,;\s]+", custom) if item):
            try:
                width, height = parse_size(value)
            except ValueError as err:
                self.add_error("custom_sizes", f"{value}: {err}")
                return []
            sizes.append(f"{width}x{height}")
        if not sizes:
            self.add_error("sizes", "Pick at least one size.")
        return list(dict.fromkeys(sizes))
