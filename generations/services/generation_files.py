"""A generation's image files beyond the stored original: the PNG download that carries its parameters, and
its two thumbnails (with the perceptual hash a batch comparison uses), made when first asked for.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from generations.images import (
    THUMBNAIL_SIDES,
    StoredThumbnail,
    png_with_text,
    thumbnail_name,
    thumbnail_store,
)
from generations.models import Generation


def generation_download_png(*, generation: Generation, share_url: str) -> bytes:
    """The stored image as a PNG that carries its prompt, seed and settings as text chunks."""
    parameters = {
        "prompt": generation.prompt,
        "revised_prompt": generation.revised_prompt,
        "size": generation.size,
        "seed": generation.seed,
        "prompt_extend": generation.prompt_extend,
        "model": generation.model,
        "share_url": share_url,
    }
    with generation.image.open("rb") as file:
        data = file.read()
    texts = {
        "parameters": json.dumps(parameters, ensure_ascii=False),
        "Description": generation.prompt,
        "Software": "Z-Image Playground",
    }
    return png_with_text(data, texts)


def generations_zip(
    *,
    generations: Iterable[Generation],
    file_name_of: Callable[[Generation], str],
    share_url_of: Callable[[Generation], str],
) -> tempfile.SpooledTemporaryFile:
    """The originals of these finished generations as a ZIP (a batch's, a board's), each PNG carrying its own
    parameters, rewound for the caller to stream and close."""
    archive_file = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)  # noqa: SIM115 (the caller streams and closes it)
    with zipfile.ZipFile(archive_file, "w", compression=zipfile.ZIP_STORED) as archive:
        for generation in generations:
            data = generation_download_png(generation=generation, share_url=share_url_of(generation))
            archive.writestr(file_name_of(generation), data)
    archive_file.seek(0)
    return archive_file


def generations_thumbnails(*, generations: list[Generation]) -> None:
    """Make the missing thumbnails (and perceptual hashes) of several finished generations at once, in
    parallel: a batch's grid or comparison needs a hundred, and decoding their images is most of the work."""
    missing = [generation for generation in generations if _lacks_thumbnails(generation)]
    if not missing:
        return
    with ThreadPoolExecutor(max_workers=THUMBNAIL_THREADS) as pool:
        made = list(pool.map(_thumbnail_of, missing))
    for generation, stored in zip(missing, made, strict=True):
        generation.thumbnail.name, generation.image_dhash = stored.name, stored.dhash
    Generation.objects.bulk_update(missing, ["thumbnail", "image_dhash"])


THUMBNAIL_THREADS = 4


def _thumbnail_of(generation: Generation) -> StoredThumbnail:
    with generation.image.open("rb") as file:
        return thumbnail_store(file.read(), sha256=generation.image_sha256)


def generation_thumbnail(*, generation: Generation, side: int = THUMBNAIL_SIDES[0]) -> str:
    """The name of the generation's WebP thumbnail whose longest side is `side` (one of THUMBNAIL_SIDES), both
    made from the stored image the first time either is asked for (with the image's perceptual hash, which the
    comparison of two batch runs uses)."""
    if _lacks_thumbnails(generation):
        stored = _thumbnail_of(generation)
        Generation.objects.filter(pk=generation.pk).update(thumbnail=stored.name, image_dhash=stored.dhash)
        generation.thumbnail.name, generation.image_dhash = stored.name, stored.dhash
    return thumbnail_name(generation.image_sha256, side)


def _lacks_thumbnails(generation: Generation) -> bool:
    """Whether the thumbnails are still to make (or were made at an earlier size: the name records the size)."""
    current = thumbnail_name(generation.image_sha256, THUMBNAIL_SIDES[0])
    return generation.thumbnail.name != current or not generation.image_dhash
