"""The pure plan of a batch: which cells every combination of prompts × seeds × sizes × prompt extend (× models,
where the operator lists extra models) makes,
the `{a|b}` alternatives of a prompt line, and the geometry of the grid that shows them (rows, columns, sections).

Nothing here touches the database or files: the batch form, the use cases and the grid page all read it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from generations.domain import GenerationParameters, draw_seed
from generations.models import Batch

ALTERNATIVES = re.compile(r"\{([^{}]*)\}")
# The grid's parameters, in the order a cell's index counts them (the last varies fastest).
PARAMETERS = ("prompt", "seed", "size", "extend", "model")
PARAMETER_LABELS = {
    "prompt": "Prompt",
    "seed": "Seed",
    "size": "Size",
    "extend": "Prompt extend",
    "model": "Model",
}
# A plan's models when it compares none: the configured model.
CONFIGURED_MODEL = [""]


def expand_alternatives(line: str) -> list[str]:
    """One prompt per combination of `{a|b|c}` alternatives in the line ("A {red|blue} car" → 2 prompts)."""
    pieces = ALTERNATIVES.split(line)
    choices = [[piece] if index % 2 == 0 else piece.split("|") for index, piece in enumerate(pieces)]
    return [" ".join("".join(combination).split()) for combination in itertools.product(*choices)]


@dataclass(frozen=True, slots=True)
class Cell:
    """One place of a batch's grid: its index, and the image it asks for."""

    index: int
    parameters: GenerationParameters
    model: str = ""  # one of the extra models, or "" for the configured one

    def value(self, parameter: str) -> object:
        asked = self.parameters
        return {
            "prompt": asked.prompt,
            "seed": asked.seed,
            "size": asked.size,
            "extend": asked.prompt_extend,
            "model": self.model,
        }[parameter]


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What a batch will make: the lists whose every combination is a cell."""

    prompts: list[str]
    seeds: list[int]
    sizes: list[str]
    extend_modes: list[bool]
    models: list[str] = field(default_factory=lambda: list(CONFIGURED_MODEL))

    @classmethod
    def of(cls, batch: Batch) -> BatchPlan:
        return cls(
            batch.prompts, batch.seeds, batch.sizes, batch.extend_modes, batch.model_names or CONFIGURED_MODEL
        )

    @property
    def count(self) -> int:
        return (
            len(self.prompts) * len(self.seeds) * len(self.sizes) * len(self.extend_modes) * len(self.models)
        )

    @property
    def extended_count(self) -> int:
        return self.count // len(self.extend_modes) if True in self.extend_modes else 0

    def values(self, parameter: str) -> Sequence[object]:
        values: dict[str, Sequence[object]] = {
            "prompt": self.prompts,
            "seed": self.seeds,
            "size": self.sizes,
            "extend": self.extend_modes,
            "model": self.models,
        }
        return values[parameter]

    def cells(self) -> Iterator[Cell]:
        combinations = itertools.product(self.prompts, self.seeds, self.sizes, self.extend_modes, self.models)
        for index, (prompt, seed, size, prompt_extend, model) in enumerate(combinations):
            yield _cell(index, prompt, seed, size, prompt_extend, model)

    def cell(self, index: int) -> Cell:
        place, model = divmod(index, len(self.models))
        place, extend = divmod(place, len(self.extend_modes))
        place, size = divmod(place, len(self.sizes))
        prompt, seed = divmod(place, len(self.seeds))
        return _cell(
            index,
            self.prompts[prompt],
            self.seeds[seed],
            self.sizes[size],
            self.extend_modes[extend],
            self.models[model],
        )

    def summary(self) -> str:
        """What it will do and cost: "3 prompts × 4 seeds × 2 sizes = 24 images, 12 with prompt extend"."""
        factors = [
            _count(len(self.prompts), "prompt"),
            _count(len(self.seeds), "seed"),
            _count(len(self.sizes), "size"),
        ]
        if len(self.extend_modes) > 1:
            factors.append("prompt extend off and on")
        if len(self.models) > 1:
            factors.append(_count(len(self.models), "model"))
        extended = f", {self.extended_count} with prompt extend" if self.extended_count else ""
        return f"{' × '.join(factors)} = {_count(self.count, 'image')}{extended}"


def _cell(index: int, prompt: str, seed: int, size: str, prompt_extend: bool, model: str) -> Cell:
    width, height = (int(side) for side in size.split("x"))
    return Cell(index, GenerationParameters(prompt, width, height, seed, prompt_extend), model)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def draw_seeds(count: int) -> list[int]:
    return [draw_seed() for _ in range(count)]


def value_label(parameter: str, value: object) -> str:
    """How a grid's header names a value: "Seed 42", "1024×1536", "Prompt extend on", or the prompt itself."""
    if parameter == "extend":
        return f"Prompt extend {'on' if value else 'off'}"
    if parameter == "seed":
        return f"Seed {value}"
    if parameter == "size":
        return str(value).replace("x", "×")
    return str(value)


@dataclass(frozen=True, slots=True)
class GridRow:
    value: object
    cell_indexes: list[int]


@dataclass(frozen=True, slots=True)
class GridSection:
    """One grid: the cells sharing the values of the parameters that are on neither axis."""

    caption: str
    rows: list[GridRow]


def grid_sections(plan: BatchPlan, x: str, y: str) -> list[GridSection]:
    others = [parameter for parameter in PARAMETERS if parameter not in (x, y)]
    by_values = {
        tuple(cell.value(parameter) for parameter in (y, x, *others)): cell.index for cell in plan.cells()
    }
    sections = []
    for fixed in itertools.product(*(plan.values(parameter) for parameter in others)):
        caption = ", ".join(
            value_label(parameter, value)
            for parameter, value in zip(others, fixed, strict=True)
            if len(plan.values(parameter)) > 1
        )
        rows = [
            GridRow(
                value=row_value,
                cell_indexes=[
                    by_values[(row_value, column_value, *fixed)] for column_value in plan.values(x)
                ],
            )
            for row_value in plan.values(y)
        ]
        sections.append(GridSection(caption=caption, rows=rows))
    return sections


def default_axes(plan: BatchPlan) -> tuple[str, str]:
    """Rows and columns for a first look: prompts down and seeds across, or whatever else varies."""
    varying = [parameter for parameter in PARAMETERS if len(plan.values(parameter)) > 1]
    y = next((p for p in ("prompt", "size", "extend", "seed") if p in varying), "prompt")
    x = next((p for p in ("model", "seed", "size", "extend", "prompt") if p in varying and p != y), None)
    return x or next(p for p in ("seed", "size", "extend", "prompt") if p != y), y
