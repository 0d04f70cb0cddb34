"""A batch's files and images: the composite PNG of its grid, the ZIP of its originals, and the comparison of two
runs by perceptual hash.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageDraw

from generations.batch_plan import BatchPlan, Cell, grid_sections, value_label
from generations.images import dhash_distance, png_with_text
from generations.models import Batch, Generation
from generations.selectors import latest_cells
from generations.services.generation_files import generations_thumbnails, generations_zip
from lib.fonts import Lettering


def batch_grid_png(*, batch: Batch, x: str, y: str, share_url: str) -> str:
    """The name of a composite PNG of the batch's grid with labelled axes, made once per set of images.

    The batch's parameters travel in its text chunks. Built from the cells' thumbnails.
    """
    plan = BatchPlan.of(batch)
    cells = latest_cells(batch)
    # A deleted cell is blank, and deleting it makes another key (its row keeps the image's checksum).
    images = [cells[index].image_sha256 if _shows_image(cells, index) else "" for index in range(plan.count)]
    key = hashlib.sha256(json.dumps([batch.public_id, x, y, images]).encode()).hexdigest()
    name = f"{_composites_folder(batch)}/{key}.png"
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
        **({"models": plan.models} if len(plan.models) > 1 else {}),
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


def batch_composites_delete(*, batch: Batch) -> None:
    """Remove the batch's composite PNGs, which may show an image that is now deleted; they are made again."""
    folder = _composites_folder(batch)
    try:
        _, names = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in names:
        default_storage.delete(f"{folder}/{name}")


def _composites_folder(batch: Batch) -> str:
    return f"grids/{batch.public_id}"


def _shows_image(cells: dict[int, Generation], index: int) -> bool:
    return index in cells and cells[index].has_image


CELL_PX = 256
HEADER_PX = 180
PADDING_PX = 8
LABELS = Lettering(15)
CAPTION = Lettering(17)
INK = (30, 32, 38)
EMPTY_CELL = (232, 233, 236)
# Column labels take two lines, row labels as many as a cell's height holds; longer ones end in an ellipsis.
COLUMN_LABEL_LINES = 2


def _compose(plan: BatchPlan, cells: dict[int, Generation], x: str, y: str) -> Image.Image:
    """Rows of `y` values by columns of `x` values; the other parameters' combinations stacked as sections."""
    finished = [cell for cell in cells.values() if cell.has_image]
    generations_thumbnails(generations=finished)
    with ThreadPoolExecutor(max_workers=4) as pool:
        pictures = dict(
            zip((cell.cell_index for cell in finished), pool.map(_cell_picture, finished), strict=True)
        )
    sections = grid_sections(plan, x, y)
    columns = len(plan.values(x))
    rows = len(plan.values(y))
    caption_px = CAPTION.line_height + 2 * PADDING_PX
    column_labels_px = COLUMN_LABEL_LINES * LABELS.line_height + 2 * PADDING_PX
    section_height = caption_px + column_labels_px + rows * CELL_PX
    canvas = Image.new(
        "RGB", (HEADER_PX + columns * CELL_PX, len(sections) * section_height), (255, 255, 255)
    )
    draw = ImageDraw.Draw(canvas)
    label_width = CELL_PX - 2 * PADDING_PX
    row_label_lines = (CELL_PX - 2 * PADDING_PX) // LABELS.line_height
    for number, section in enumerate(sections):
        top = number * section_height
        CAPTION.draw(
            draw,
            (PADDING_PX, top + PADDING_PX),
            CAPTION.fit(section.caption or plan.summary(), canvas.width - 2 * PADDING_PX),
            INK,
        )
        for column, value in enumerate(plan.values(x)):
            lines = LABELS.wrap(value_label(x, value), label_width, COLUMN_LABEL_LINES)
            for line, text in enumerate(lines):
                left = HEADER_PX + column * CELL_PX + PADDING_PX
                LABELS.draw(draw, (left, top + caption_px + line * LABELS.line_height), text, INK)
        for row_number, row in enumerate(section.rows):
            row_top = top + caption_px + column_labels_px + row_number * CELL_PX
            lines = LABELS.wrap(value_label(y, row.value), HEADER_PX - 2 * PADDING_PX, row_label_lines)
            for line, text in enumerate(lines):
                LABELS.draw(draw, (PADDING_PX, row_top + PADDING_PX + line * LABELS.line_height), text, INK)
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


def _cell_picture(generation: Generation) -> Image.Image:
    with generation.thumbnail.open("rb") as file:
        image = Image.open(file)
        image.thumbnail((CELL_PX - 8, CELL_PX - 8))
        return image.convert("RGB")


# Pictures whose perceptual hashes differ in more bits than this look different to a person.
CHANGED_BITS = 10


@dataclass(frozen=True, slots=True)
class ComparedCell:
    cell: Cell
    before: Generation | None
    after: Generation | None
    distance: int | None  # differing bits of the two images' perceptual hashes (0 the same, 64 all different)

    @property
    def pair(self) -> tuple[Generation | None, Generation | None]:
        return self.before, self.after

    @property
    def changed(self) -> bool:
        """Whether the two runs made visibly different pictures here, or only one of them made one."""
        if self.distance is not None:
            return self.distance > CHANGED_BITS
        before, after = (run is not None and run.has_image for run in self.pair)
        return before != after


def batch_comparison(*, before: Batch, after: Batch) -> list[ComparedCell]:
    """Two runs of the same cells side by side, each pair with how much its images differ."""
    plan = BatchPlan.of(before)
    first, second = latest_cells(before), latest_cells(after)
    rows = []
    # Thumbnails come with the perceptual hashes: made once, for the cells that lack them.
    generations_thumbnails(
        generations=[cell for cell in (*first.values(), *second.values()) if cell.has_image]
    )
    for cell in plan.cells():
        old, new = first.get(cell.index), second.get(cell.index)
        distance = (
            dhash_distance(old.image_dhash, new.image_dhash)
            if old is not None and new is not None and old.has_image and new.has_image
            else None
        )
        rows.append(ComparedCell(cell=cell, before=old, after=new, distance=distance))
    return rows


def batch_zip(*, batch: Batch, share_url_of: Callable[[Generation], str]) -> tempfile.SpooledTemporaryFile:
    """The originals of the batch's finished cells as a ZIP, each PNG carrying its own parameters."""
    finished = [cell.pk for cell in latest_cells(batch).values() if cell.has_image]
    return generations_zip(
        generations=Generation.objects.filter(pk__in=finished).order_by("cell_index"),
        file_name_of=lambda generation: (
            f"{generation.cell_index:03d}-seed{generation.seed}-{generation.public_id}.png"
        ),
        share_url_of=share_url_of,
    )
