"""Checking the provider's bytes are a real image, and keeping it (plus WebP thumbnails) in our own storage."""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, UnidentifiedImageError

from generations.domain import ErrorCode

# The longest side of the two thumbnails: the first is as many pixels as a gallery row (200 to 260 CSS pixels
# high, a 16:9 tile up to 460 wide) or a grid cell shows on an ordinary screen, the second twice as many for a
# high-density one. Pages offer both, and the original, in `srcset` (Generation.srcset); the browser takes the
# smallest that is sharp where it is shown.
THUMBNAIL_SIDES = (512, 1024)
_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
Image.MAX_IMAGE_PIXELS = 4096 * 4096


class InvalidImageError(Exception):
    """Bytes that are not a whole, supported image: what the provider sent, or a stored file that will not decode."""

    code = ErrorCode.NOT_AN_IMAGE
    user_message = "The provider sent something that is not a usable image."

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class StoredImage:
    name: str
    width: int
    height: int
    byte_size: int
    sha256: str


def image_store(data: bytes) -> StoredImage:
    """Check `data` is a whole PNG, JPEG or WebP image and save it under a content-derived name.

    Pillow reads the header and walks the file (for PNG, every chunk's checksum) without decoding the pixels:
    that is the expensive part, left to the thumbnail, which is made when first asked for. Content-derived names
    make a save idempotent and mean a file is either complete or absent.
    """
    with _unreadable_as_invalid(), Image.open(io.BytesIO(data)) as image:
        image_format, width, height = image.format, image.width, image.height
        image.verify()
    if image_format not in _EXTENSIONS:
        raise InvalidImageError(f"unsupported image format {image_format}")
    sha256 = hashlib.sha256(data).hexdigest()
    name = _save_once(f"images/{sha256[:2]}/{sha256}.{_EXTENSIONS[image_format]}", data)
    return StoredImage(name=name, width=width, height=height, byte_size=len(data), sha256=sha256)


@dataclass(frozen=True, slots=True)
class StoredThumbnail:
    name: str  # the smaller one; the larger is named alike (thumbnail_name)
    dhash: str


def thumbnail_name(sha256: str, side: int) -> str:
    """Where the thumbnail with this longest side of the image whose checksum is `sha256` is kept."""
    return f"thumbnails/{sha256[:2]}/{sha256}-{side}.webp"


def thumbnail_store(data: bytes, *, sha256: str) -> StoredThumbnail:
    """Save the WebP thumbnails of the image `data` (whose checksum is `sha256`), both from one decode; the
    smaller one's name and the image's perceptual hash."""
    with _unreadable_as_invalid():
        image = Image.open(io.BytesIO(data))
        image.load()
    thumbnails = [_thumbnail(image, side) for side in THUMBNAIL_SIDES]
    names = [
        _save_once(thumbnail_name(sha256, side), _webp(thumbnail))
        for side, thumbnail in zip(THUMBNAIL_SIDES, thumbnails, strict=True)
    ]
    return StoredThumbnail(name=names[0], dhash=dhash(thumbnails[0]))


def dhash(image: Image.Image) -> str:
    """A 64-bit difference hash (dHash): how brightness changes between neighbours on a 9×8 grey image.

    Nearly the same picture gives nearly the same bits, so the number of differing bits (0-64) tells how far two
    images are apart, whatever their file sizes or encodings.
    """
    small = image.convert("L").resize((9, 8), Image.Resampling.BOX)
    pixels = small.tobytes()
    bits = 0
    for row in range(8):
        for column in range(8):
            bits = bits << 1 | (pixels[row * 9 + column] > pixels[row * 9 + column + 1])
    return f"{bits:016x}"


def dhash_distance(first: str, second: str) -> int:
    return (int(first, 16) ^ int(second, 16)).bit_count()


@contextmanager
def _unreadable_as_invalid() -> Iterator[None]:
    """What Pillow raises for bytes that are not a whole, supported image becomes an InvalidImageError."""
    try:
        yield
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise InvalidImageError(f"{type(err).__name__}: {err}") from err


def _thumbnail(image: Image.Image, side: int) -> Image.Image:
    thumbnail = image.convert("RGB")
    # reducing_gap=1.0 box-reduces close to the target before the bicubic pass: a third of the time, same look.
    thumbnail.thumbnail((side, side), reducing_gap=1.0)
    return thumbnail


def _webp(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # method=2 encodes in about half the time of the default 4, for files a few per cent larger.
    image.save(buffer, format="WEBP", quality=80, method=2)
    return buffer.getvalue()


def _save_once(name: str, data: bytes) -> str:
    if default_storage.exists(name):
        return name
    return default_storage.save(name, ContentFile(data))


def png_with_text(data: bytes, texts: dict[str, str]) -> bytes:
    """The image as a PNG carrying `texts` as iTXt chunks (UTF-8), which image tools show as metadata.

    A stored PNG gets the chunks spliced in after its header, so its pixels are not re-encoded; any other
    format is converted.
    """
    if not data.startswith(_PNG_SIGNATURE):
        buffer = io.BytesIO()
        Image.open(io.BytesIO(data)).save(buffer, format="PNG")
        data = buffer.getvalue()
    end_of_header = len(_PNG_SIGNATURE) + 8 + int.from_bytes(data[8:12]) + 4
    chunks = b"".join(_itxt_chunk(keyword, text) for keyword, text in texts.items())
    return data[:end_of_header] + chunks + data[end_of_header:]


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _itxt_chunk(keyword: str, text: str) -> bytes:
    # keyword, NUL, compression flag and method, empty language tag and translated keyword, UTF-8 text
    body = keyword.encode("latin-1") + b"\0\0\0\0\0" + text.encode()
    return len(body).to_bytes(4) + b"iTXt" + body + zlib.crc32(b"iTXt" + body).to_bytes(4)
