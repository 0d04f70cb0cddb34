"""Batches: every combination of prompts × seeds × sizes × prompt extend, queued as one, shown as a labelled grid.

Every cell is an ordinary generation (gallery, share link, download), linked to its batch with its place in the
grid, so that a retry or a re-run of the batch puts the same request in the same place.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import re
import tempfile
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont
from procrastinate.contrib.django import app as job_engine

from generations.domain import ErrorCode, GenerationParameters, draw_seed
from generations.models import Batch, Generation, GenerationStatus
from generations.services.generations import (
    QUEUED_CANCEL_MESSAGE,
    generation_download_png,
    generations_queue,
    generations_thumbnails,
)
from generations.services.images import dhash_distance, png_with_text
from generations.services.limits import generation_limits_check

ALTERNATIVES = re.compile(r"\{([^{}]*)\}")
# The grid's parameters, in the order a cell's index counts them (the last varies fastest).
PARAMETERS = ("prompt", "seed", "size", "extend")
PARAMETER_LABELS = {"prompt": "Prompt", "seed": "Seed", "size": "Size", "extend": "Prompt extend"}


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

    def value(self, parameter: str) -> object:
        asked = self.parameters
        return {
            "prompt": asked.prompt,
            "seed": asked.seed,
            "size": asked.size,
            "extend": asked.prompt_extend,
        }[parameter]


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What a batch will make: the lists whose every combination is a cell."""

    prompts: list[str]
    seeds: list[int]
    sizes: list[str]
    extend_modes: list[bool]

    @classmethod
    def of(cls, batch: Batch) -> BatchPlan:
        return cls(batch.prompts, batch.seeds, batch.sizes, batch.extend_modes)

    @property
    def count(self) -> int:
        return len(self.prompts) * len(self.seeds) * len(self.sizes) * len(self.extend_modes)

    @property
    def extended_count(self) -> int:
        return self.count // len(self.extend_modes) if True in self.extend_modes else 0

    def values(self, parameter: str) -> list:
        return {"prompt": self.prompts, "seed": self.seeds, "size": self.sizes, "extend": self.extend_modes}[
            parameter
        ]

    def cells(self) -> Iterator[Cell]:
        combinations = itertools.product(self.prompts, self.seeds, self.sizes, self.extend_modes)
        for index, (prompt, seed, size, prompt_extend) in enumerate(combinations):
            yield _cell(index, prompt, seed, size, prompt_extend)

    def cell(self, index: int) -> Cell:
        place, extend = divmod(index, len(self.extend_modes))
        place, size = divmod(place, len(self.sizes))
        prompt, seed = divmod(place, len(self.seeds))
        return _cell(
            index, self.prompts[prompt], self.seeds[seed], self.sizes[size], self.extend_modes[extend]
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
        extended = f", {self.extended_count} with prompt extend" if self.extended_count else ""
        return f"{' × '.join(factors)} = {_count(self.count, 'image')}{extended}"


def _cell(index: int, prompt: str, seed: int, size: str, prompt_extend: bool) -> Cell:
    width, height = (int(side) for side in size.split("x"))
    return Cell(index, GenerationParameters(prompt, width, height, seed, prompt_extend))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def draw_seeds(count: int) -> list[int]:
    return [draw_seed() for _ in range(count)]


def batch_create(*, plan: BatchPlan, prompts_text: str, user=None, rerun_of: Batch | None = None) -> Batch:
    """Record a batch and all its cells, and queue them, in one transaction; refused whole past any limit."""
    owner = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        batch = Batch.objects.create(
            user=owner,
            prompts_text=prompts_text,
            prompts=plan.prompts,
            seeds=plan.seeds,
            sizes=plan.sizes,
            extend_modes=plan.extend_modes,
            rerun_of=rerun_of,
        )
        _queue_cells(batch, list(plan.cells()), owner)
        generation_limits_check(user=owner, count=plan.count)
    return batch


def batch_retry_failed(*, batch: Batch, user=None) -> int:
    """Queue again the cells whose latest attempt failed or was interrupted (or cancelled); how many."""
    owner = user if user is not None and user.is_authenticated else None
    plan = BatchPlan.of(batch)
    with transaction.atomic():
        retry = [
            plan.cell(cell.cell_index)
            for cell in latest_cells(batch).values()
            if cell.status
            in (GenerationStatus.FAILED, GenerationStatus.INTERRUPTED, GenerationStatus.CANCELLED)
        ]
        if retry:
            _queue_cells(batch, retry, owner)
            generation_limits_check(user=owner, count=len(retry))
    return len(retry)


def batch_run_again(*, batch: Batch, user=None) -> Batch:
    """A new batch with exactly the same cells: same prompts, seeds, sizes and prompt extend."""
    return batch_create(plan=BatchPlan.of(batch), prompts_text=batch.prompts_text, user=user, rerun_of=batch)


def batch_cancel(*, batch: Batch) -> int:
    """Cancel the cells not yet sent to the provider (running ones finish); how many were cancelled."""
    with transaction.atomic():
        queued = list(
            batch.cells.select_for_update().filter(status=GenerationStatus.QUEUED).values_list("pk", "job_id")
        )
        Generation.objects.filter(pk__in=[pk for pk, _ in queued]).update(
            status=GenerationStatus.CANCELLED,
            error_code=ErrorCode.CANCELLED,
            error_message=QUEUED_CANCEL_MESSAGE,
            finished_at=timezone.now(),
        )
        for _, job_id in queued:
            job_engine.job_manager.cancel_job_by_id(job_id)
    return len(queued)


def _queue_cells(batch: Batch, cells: list[Cell], owner) -> None:
    generations_queue(
        parameters=[cell.parameters for cell in cells],
        owner=owner,
        batch=batch,
        cell_indexes=[cell.index for cell in cells],
    )


def latest_cells(batch: Batch) -> dict[int, Generation]:
    """Each cell's latest attempt (a retry replaces a failure in its place), by cell index. One query."""
    cells = (
        Generation.objects.filter(batch=batch, cell_index__isnull=False)
        .only(*CELL_FIELDS)
        .order_by("cell_index", "pk")
    )
    return {cell.cell_index: cell for cell in cells}


CELL_FIELDS = (
    "public_id",
    "batch_id",
    "cell_index",
    "prompt",
    "width",
    "height",
    "seed",
    "prompt_extend",
    "status",
    "error_message",
    "thumbnail",
    "image",
    "image_sha256",
    "image_dhash",
    "deleted_at",
    "started_at",
    "finished_at",
)


def batch_grid_png(*, batch: Batch, x: str, y: str, share_url: str) -> str:
    """The name of a composite PNG of the batch's grid with labelled axes, made once per set of images.

    The batch's parameters travel in its text chunks. Built from the cells' thumbnails.
    """
    plan = BatchPlan.of(batch)
    cells = latest_cells(batch)
    images = [cells[index].image_sha256 if index in cells else "" for index in range(plan.count)]
    key = hashlib.sha256(json.dumps([batch.public_id, x, y, images]).encode()).hexdigest()
    name = f"grids/{key[:2]}/{key}.png"
    if default_storage.exists(name):
        return name
    grid = _compose(plan, cells, x, y)
    buffer = io.BytesIO()
    grid.save(buffer, format="PNG", compress_level=1)
    parameters = {
        "prompts": plan.prompts,
        "seeds": plan.seeds,
        "sizes": plan.sizes,
        "prompt_extend": plan.extend_modes,
        "x": x,
        "y": y,
        "share_url": share_url,
    }
    texts = {
        "parameters": json.dumps(parameters, ensure_ascii=False),
        "Description": plan.summary(),
        "Software": "Z-Image Playground",
    }
    return default_storage.save(name, ContentFile(png_with_text(buffer.getvalue(), texts)))


CELL_PX = 256
LABEL_PX = 28
HEADER_PX = 180


def _compose(plan: BatchPlan, cells: dict[int, Generation], x: str, y: str) -> Image.Image:
    """Rows of `y` values by columns of `x` values; the other parameters' combinations stacked as sections."""
    finished = [cell for cell in cells.values() if _finished(cell)]
    generations_thumbnails(generations=finished)
    with ThreadPoolExecutor(max_workers=4) as pool:
        pictures = dict(
            zip((cell.cell_index for cell in finished), pool.map(_cell_picture, finished), strict=True)
        )
    sections = grid_sections(plan, x, y)
    columns = len(plan.values(x))
    rows = len(plan.values(y))
    section_height = LABEL_PX * 2 + rows * CELL_PX
    canvas = Image.new(
        "RGB", (HEADER_PX + columns * CELL_PX, len(sections) * section_height), (255, 255, 255)
    )
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=14)
    for number, section in enumerate(sections):
        top = number * section_height
        draw.text((8, top + 6), section.caption or plan.summary(), fill=(0, 0, 0), font=font)
        for column, value in enumerate(plan.values(x)):
            label = _fit(value_label(x, value), CELL_PX // 8)
            draw.text(
                (HEADER_PX + column * CELL_PX + 6, top + LABEL_PX + 6), label, fill=(0, 0, 0), font=font
            )
        for row_number, row in enumerate(section.rows):
            row_top = top + LABEL_PX * 2 + row_number * CELL_PX
            for line, text in enumerate(_wrap(value_label(y, row.value), HEADER_PX // 8, 8)):
                draw.text((6, row_top + 6 + line * 18), text, fill=(0, 0, 0), font=font)
            for column, index in enumerate(row.cell_indexes):
                left = HEADER_PX + column * CELL_PX
                if picture := pictures.get(index):
                    offset = ((CELL_PX - picture.width) // 2, (CELL_PX - picture.height) // 2)
                    canvas.paste(picture, (left + offset[0], row_top + offset[1]))
                else:
                    draw.rectangle(
                        (left + 4, row_top + 4, left + CELL_PX - 4, row_top + CELL_PX - 4), fill=EMPTY_CELL
                    )
    return canvas


EMPTY_CELL = (230, 230, 230)


def _cell_picture(generation: Generation) -> Image.Image:
    with default_storage.open(generation.thumbnail.name, "rb") as file:
        image = Image.open(file)
        image.thumbnail((CELL_PX - 8, CELL_PX - 8))
        return image.convert("RGB")


def value_label(parameter: str, value: object) -> str:
    """How a grid's header names a value: "Seed 42", "1024×1536", "Prompt extend on", or the prompt itself."""
    if parameter == "extend":
        return f"Prompt extend {'on' if value else 'off'}"
    if parameter == "seed":
        return f"Seed {value}"
    if parameter == "size":
        return str(value).replace("x", "×")
    return str(value)


def _fit(text: str, characters: int) -> str:
    return text if len(text) <= characters else text[: characters - 1] + "…"


def _wrap(text: str, width: int, lines: int) -> list[str]:
    chunks = [text[start : start + width] for start in range(0, len(text), width)] or [""]
    return chunks[: lines - 1] + ([_fit("".join(chunks[lines - 1 :]), width)] if len(chunks) >= lines else [])


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
    x = next((p for p in ("seed", "size", "extend", "prompt") if p in varying and p != y), None)
    return x or next(p for p in ("seed", "size", "extend", "prompt") if p != y), y


@dataclass(frozen=True, slots=True)
class BatchProgress:
    total: int
    done: int
    failed: int
    cancelled: int

    @property
    def finished_count(self) -> int:
        return self.done + self.failed + self.cancelled

    @property
    def finished(self) -> bool:
        return self.finished_count >= self.total

    def __str__(self) -> str:
        parts = [f"{self.done} of {self.total} done"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.cancelled:
            parts.append(f"{self.cancelled} cancelled")
        return ", ".join(parts)


def batch_progress(cells: dict[int, Generation], total: int) -> BatchProgress:
    statuses = [cell.status for cell in cells.values()]
    return BatchProgress(
        total=total,
        done=statuses.count(GenerationStatus.SUCCEEDED),
        failed=statuses.count(GenerationStatus.FAILED) + statuses.count(GenerationStatus.INTERRUPTED),
        cancelled=statuses.count(GenerationStatus.CANCELLED),
    )


@dataclass(frozen=True, slots=True)
class ComparedCell:
    cell: Cell
    before: Generation | None
    after: Generation | None
    distance: int | None  # differing bits of the two images' perceptual hashes (0 the same, 64 all different)

    @property
    def pair(self) -> tuple[Generation | None, Generation | None]:
        return self.before, self.after


def batch_comparison(*, before: Batch, after: Batch) -> list[ComparedCell]:
    """Two runs of the same cells side by side, each pair with how much its images differ."""
    plan = BatchPlan.of(before)
    first, second = latest_cells(before), latest_cells(after)
    rows = []
    # Thumbnails come with the perceptual hashes: made once, for the cells that lack them.
    generations_thumbnails(
        generations=[cell for cell in (*first.values(), *second.values()) if _finished(cell)]
    )
    for cell in plan.cells():
        old, new = first.get(cell.index), second.get(cell.index)
        distance = (
            dhash_distance(old.image_dhash, new.image_dhash) if _finished(old) and _finished(new) else None
        )
        rows.append(ComparedCell(cell=cell, before=old, after=new, distance=distance))
    return rows


def _finished(generation: Generation | None) -> bool:
    return (
        generation is not None
        and generation.status == GenerationStatus.SUCCEEDED
        and not generation.deleted_at
    )


def batch_zip(*, batch: Batch, share_url_of) -> tempfile.SpooledTemporaryFile:
    """The originals of the batch's finished cells as a ZIP, each PNG carrying its own parameters."""
    finished = [cell.pk for cell in latest_cells(batch).values() if _finished(cell)]
    archive_file = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)  # noqa: SIM115 (the caller streams and closes it)
    with zipfile.ZipFile(archive_file, "w", compression=zipfile.ZIP_STORED) as archive:
        for generation in Generation.objects.filter(pk__in=finished).order_by("cell_index"):
            data = generation_download_png(generation=generation, share_url=share_url_of(generation))
            archive.writestr(
                f"{generation.cell_index:03d}-seed{generation.seed}-{generation.public_id}.png", data
            )
    archive_file.seek(0)
    return archive_file
