"""Text drawn into images (a batch grid's labels, the offline demo's corner label) in fonts that have what prompts
contain: Latin with its accents, Greek, Cyrillic, "×", and Chinese, Japanese and Korean.

Pillow's own font has neither "×" nor CJK, and Pillow does not fall back from one font to another, so each run
of characters goes to the font that has it: CJK scripts to a Noto Sans CJK subset, the rest to a Noto Sans subset
(both vendored here, see README.md). Lines break between words, or between any two CJK characters, which have no
spaces between words.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageDraw, ImageFont

FOLDER = Path(__file__).resolve().parent
LATIN_FONT = FOLDER / "NotoSans-Regular-subset.ttf"
CJK_FONT = FOLDER / "NotoSansCJKsc-Regular-subset.otf"
ELLIPSIS = "…"
# Hangul Jamo, CJK radicals, punctuation, kana, bopomofo, compatibility jamo, enclosed and compatibility forms,
# ideographs (and extension A), Hangul syllables, compatibility ideographs, vertical and full-width forms.
_CJK = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3000-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af"
    "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
)
_CJK_RUNS = re.compile(f"([{_CJK}]+)")
# Where a line may break: around spaces, and before or after any CJK character.
_TOKENS = re.compile(f"\\s+|[{_CJK}]|[^\\s{_CJK}]+")


@functools.cache
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


@dataclass(frozen=True, slots=True)
class Lettering:
    """Text at one size, in the font for each of its scripts."""

    size: int

    @property
    def ascent(self) -> int:
        return max(_font(path, self.size).getmetrics()[0] for path in (LATIN_FONT, CJK_FONT))

    @property
    def line_height(self) -> int:
        return max(sum(_font(path, self.size).getmetrics()) for path in (LATIN_FONT, CJK_FONT))

    def width(self, text: str) -> float:
        return sum(font.getlength(run) for run, font in self._runs(text))

    def draw(
        self, draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, fill: tuple[int, ...]
    ) -> None:
        """Draw one line whose box's top left corner is `xy`; the runs of both fonts share one baseline."""
        x, baseline = xy[0], xy[1] + self.ascent
        for run, font in self._runs(text):
            draw.text((x, baseline), run, font=font, fill=fill, anchor="ls")
            x += font.getlength(run)

    def fit(self, text: str, width: float) -> str:
        """The text, or as much of it as fits in `width` followed by an ellipsis."""
        if self.width(text) <= width:
            return text
        while text and self.width(text.rstrip() + ELLIPSIS) > width:
            text = text[:-1]
        return text.rstrip() + ELLIPSIS

    def wrap(self, text: str, width: float, max_lines: int) -> list[str]:
        """The text in lines at most `width` wide, broken between words (or CJK characters); past `max_lines`
        the last line ends in an ellipsis. A word longer than a whole line is broken where it must."""
        lines: list[str] = []
        line = ""
        for token in _TOKENS.findall(" ".join(text.split())):
            if self.width((line + token).rstrip()) <= width:
                line += token
                continue
            if line.strip():
                lines.append(line.rstrip())
            line = token.lstrip()
            while self.width(line) > width and len(line) > 1:
                split = max(
                    (end for end in range(1, len(line)) if self.width(line[:end]) <= width), default=1
                )
                lines.append(line[:split])
                line = line[split:]
        if line.strip():
            lines.append(line.rstrip())
        if len(lines) <= max_lines:
            return lines
        kept = lines[:max_lines]
        kept[-1] = self.fit(kept[-1] + ELLIPSIS, width)
        return kept

    def _runs(self, text: str) -> list[tuple[str, ImageFont.FreeTypeFont]]:
        return [
            (run, _font(CJK_FONT if index % 2 else LATIN_FONT, self.size))
            for index, run in enumerate(_CJK_RUNS.split(text))
            if run
        ]
