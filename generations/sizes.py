"""Image sizes: the provider's recommended presets and the pixel bound every size must respect."""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_PIXELS = 512 * 512
MAX_PIXELS = 2048 * 2048
DEFAULT_SIZE = "1024x1536"
_SIZE_PATTERN = re.compile(r"^\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*$")


@dataclass(frozen=True, slots=True)
class SizePreset:
    width: int
    height: int
    ratio: str
    name: str

    @property
    def value(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def label(self) -> str:
        return f"{self.name} · {self.width}×{self.height}"


PRESETS = (
    SizePreset(1024, 1024, "1:1", "Square"),
    SizePreset(1280, 1280, "1:1", "Large square"),
    SizePreset(1536, 1536, "1:1", "Extra-large square"),
    SizePreset(1024, 1536, "2:3", "Portrait (default)"),
    SizePreset(1104, 1472, "3:4", "Portrait"),
    SizePreset(896, 1184, "3:4", "Small portrait"),
    SizePreset(1328, 1760, "3:4", "Large portrait"),
    SizePreset(768, 1360, "9:16", "Vertical screen"),
    SizePreset(960, 1704, "9:16", "Large vertical screen"),
    SizePreset(1152, 2048, "9:16", "Extra-large vertical"),
    SizePreset(1360, 768, "16:9", "Horizontal screen"),
    SizePreset(1704, 960, "16:9", "Large horizontal screen"),
    SizePreset(2048, 1152, "16:9", "Extra-wide screen"),
    SizePreset(1184, 896, "4:3", "Landscape"),
    SizePreset(1472, 1104, "4:3", "Large landscape"),
    SizePreset(1760, 1328, "4:3", "Extra-large landscape"),
)


RATIOS = tuple(dict.fromkeys(preset.ratio for preset in PRESETS))
OTHER_RATIO = "other"


def aspect_ratio(width: int, height: int) -> str:
    """The preset ratio a size is closest to ("3:4" for 896x1184), or "other" when none is within 2 %."""
    shape = width / height
    for ratio in RATIOS:
        across, down = (int(side) for side in ratio.split(":"))
        if abs(shape / (across / down) - 1) <= 0.02:
            return ratio
    return OTHER_RATIO


def preset_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Presets grouped by aspect ratio, in the shape Django's ChoiceField takes for <optgroup>s."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for preset in PRESETS:
        groups.setdefault(preset.ratio, []).append((preset.value, preset.label))
    return list(groups.items())


def parse_size(value: str) -> tuple[int, int]:
    """Parse "WxH" and check the provider's pixel bound; raise ValueError with a sentence for people."""
    match = _SIZE_PATTERN.match(value or "")
    if not match:
        raise ValueError("Write the size as width x height, for example 1024x1536.")
    width, height = int(match[1]), int(match[2])
    pixels = width * height
    if not MIN_PIXELS <= pixels <= MAX_PIXELS:
        raise ValueError(
            f"{width}×{height} is {pixels:,} pixels; the model accepts {MIN_PIXELS:,} to {MAX_PIXELS:,} "
            "(512×512 to 2048×2048)."
        )
    return width, height
