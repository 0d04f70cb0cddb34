"""The images a round shows, as judges see them: every one the same size on its long side (so the file's pixel
count says nothing about the size it was made at), re-encoded as WebP without any metadata (the original may
carry its prompt), made the first time it is asked for and kept under a name derived from the original's bytes.
"""

from __future__ import annotations

import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from judging.models import RoundImage

DISPLAY_LONG_SIDE = 1536


def round_image_file(*, image: RoundImage) -> str:
    """The storage name of the image as a round shows it."""
    generation = image.generation
    name = f"judging/{generation.image_sha256[:2]}/{generation.image_sha256}-{DISPLAY_LONG_SIDE}.webp"
    if default_storage.exists(name):
        return name
    with generation.image.open("rb") as file, Image.open(file) as original:
        picture = original.convert("RGB")
    scale = DISPLAY_LONG_SIDE / max(picture.size)
    picture = picture.resize(
        (round(picture.width * scale), round(picture.height * scale)), Image.Resampling.LANCZOS
    )
    buffer = io.BytesIO()
    picture.save(buffer, format="WEBP", quality=88, method=2)
    return default_storage.save(name, ContentFile(buffer.getvalue()))
