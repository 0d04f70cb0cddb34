"""What an image costs, as one function, so that the leaderboard can weigh an answer against its price.

Until the playground keeps prices in its database, these are the upstream list prices (docs/provider-api.md,
"Price": $0.015 an image, $0.03 with prompt extend), estimates for any model.
"""

from __future__ import annotations

from decimal import Decimal

LIST_PRICE_USD = Decimal("0.015")
EXTENDED_PRICE_USD = Decimal("0.03")


def image_price_usd(*, model: str, prompt_extend: bool) -> Decimal:
    """The estimated price of one image made by `model` with or without prompt extend, in US dollars."""
    return EXTENDED_PRICE_USD if prompt_extend else LIST_PRICE_USD
