"""The usage page's bar chart as geometry for an inline SVG: one bar a day (days without spend included), a
y axis of round amounts, dates along the x axis. No JavaScript, no library: the template draws what this says."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 28, 16, 40  # room for the axes' labels
TICKS = 4  # about this many steps up the y axis
LABELLED_DAYS = 6  # about this many dates along the x axis


@dataclass(frozen=True, slots=True)
class Bar:
    day: date
    amount: Decimal
    images: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Tick:
    value: Decimal
    at: float  # y for the value axis, x for the dates


@dataclass(frozen=True, slots=True)
class DayLabel:
    day: date
    at: float


@dataclass(frozen=True, slots=True)
class Chart:
    bars: list[Bar]
    y_ticks: list[Tick]
    x_labels: list[DayLabel]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM

    @property
    def is_empty(self) -> bool:
        return not any(bar.amount for bar in self.bars)

    @property
    def middle_x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def middle_y(self) -> float:
        return (self.top + self.bottom) / 2


def spend_chart(*, per_day: dict[date, tuple[Decimal, int]], first: date, last: date) -> Chart:
    """Bars of the money spent each day from `first` to `last` (`per_day`: amount and images of a day)."""
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    top_value = _round_up(max((amount for amount, _ in per_day.values()), default=Decimal(0)))
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - RIGHT - LEFT) / len(days)

    def y_of(value: Decimal) -> float:
        return HEIGHT - BOTTOM - float(value / top_value) * plot_height

    bars = []
    for index, day in enumerate(days):
        amount, images = per_day.get(day, (Decimal(0), 0))
        y = y_of(amount)
        bars.append(
            Bar(day, amount, images, LEFT + index * slot + slot * 0.15, y, slot * 0.7, HEIGHT - BOTTOM - y)
        )
    step = top_value / TICKS
    y_ticks = [Tick(step * index, y_of(step * index)) for index in range(TICKS + 1)]
    every = max(math.ceil(len(days) / LABELLED_DAYS), 1)
    x_labels = [
        DayLabel(day, LEFT + index * slot + slot / 2)
        for index, day in enumerate(days)
        if (len(days) - 1 - index) % every == 0  # the last day is always labelled
    ]
    return Chart(bars, y_ticks, x_labels)


def _round_up(amount: Decimal) -> Decimal:
    """The top of the y axis: the amount rounded up to 1, 2, 2.5 or 5 times a power of ten for each of its
    TICKS steps, so that every tick is a round amount (and an axis of 1 when nothing was spent)."""
    if amount <= 0:
        return Decimal(1)
    raw_step = amount / TICKS
    power = Decimal(10) ** math.floor(math.log10(raw_step))
    for factor in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        if factor * power >= raw_step:
            return factor * power * TICKS
    raise AssertionError("unreachable: 10 times the power of ten is always enough")
