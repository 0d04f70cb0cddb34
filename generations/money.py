"""Money: amounts as people read them, in PRICE_CURRENCY ("$0.015", "$0.81", "12.00 CHF"), and the budgets'
calendar periods (UTC)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "¥", "JPY": "¥"}
CENT = Decimal("0.01")
SMALLEST_SHOWN = Decimal("0.0001")


def money(amount: Decimal | int | float | None) -> str:
    """Cents as usual; smaller fractions when they matter (a price of $0.015 an image), up to four places."""
    value = Decimal(str(amount or 0))
    cents = value.quantize(CENT, rounding=ROUND_HALF_UP)
    if cents != value:
        cents = value.quantize(SMALLEST_SHOWN, rounding=ROUND_HALF_UP).normalize()
        if cents.as_tuple().exponent > -2:  # type: ignore[operator]
            cents = cents.quantize(CENT)
    text = f"{cents:,f}"
    currency = settings.PRICE_CURRENCY
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


@dataclass(frozen=True, slots=True)
class BudgetPeriods:
    """The budgets' calendar periods (UTC) around a moment."""

    now: datetime

    @property
    def today_since(self) -> datetime:
        return self.now.replace(hour=0, minute=0, second=0, microsecond=0)

    @property
    def month_since(self) -> datetime:
        return self.today_since.replace(day=1)

    @property
    def tomorrow(self) -> datetime:
        return self.today_since + timedelta(days=1)

    @property
    def next_month(self) -> datetime:
        days = calendar.monthrange(self.now.year, self.now.month)[1]
        return self.month_since + timedelta(days=days)


def own_or_default(own: Decimal | None, default: Decimal) -> Decimal:
    """A person's own budget, set by staff, or the setting's (0 is none)."""
    return own if own is not None else default
