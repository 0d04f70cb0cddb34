"""Checking the provider's bytes are a real image, and keeping it (plus a WebP thumbnail) in our own storage."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, UnidentifiedImageError

from generations.services.provider import ProviderError

THUMBNAIL_MAX_SIDE = 512
_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
Image.MAX_IMAGE_PIXELS = 4096 * 4096


class InvalidImageError(ProviderError):
    code = "not_an_image"
    user_message = "The provider sent something that is not a usable image."


@dataclass(frozen=True, slots=True)
class StoredImage:
    name: str
    thumbnail_name: str
    width: int
    height: int
    byte_size: int
    sha256: str


def image_store(data: bytes) -> StoredImage:
    """Verify `data` is a PNG, JPEG or WebP image and save it under a content-derived name, with a thumbnail.

    Content-derived names make a save idempotent and mean a file is either complete or absent.
    """
    try:
        image = Image.open(io.BytesIO(data))
        image.load()  # decodes every pixel: a truncated or corrupt image raises here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise InvalidImageError(f"{type(err).__name__}: {err}") from err
    if image.format not in _EXTENSIONS:
        raise InvalidImageError(f"unsupported image format {image.format}")

    sha256 = hashlib.sha256(data).hexdigest()
    name = _save_once(f"images/{sha256[:2]}/{sha256}.{_EXTENSIONS[image.format]}", data)
    thumbnail_name = _save_once(f"thumbnails/{sha256[:2]}/{sha256}.webp", _thumbnail(image))
    return StoredImage(
        name=name,
        thumbnail_name=thumbnail_name,
        width=image.width,
        height=image.height,
        byte_size=len(data),
        sha256=sha256,
    )


def _thumbnail(image: Image.Image) -> bytes:
    thumbnail = image.convert("RGB")
    thumbnail.thumbnail((THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE))
    buffer = io.BytesIO()
    # method=2 encodes in about half the time of the default 4, for files a few per cent larger.
    thumbnail.save(buffer, format="WEBP", quality=80, method=2)
    return buffer.getvalue()


def _save_once(name: str, data: bytes) -> str:
    if default_storage.exists(name):
        return name
    return default_storage.save(name, ContentFile(data))
