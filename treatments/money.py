"""Money arithmetic of billing, in one place (docs/billing.md, "Rounding").

Amounts are Decimal to the cent. A line's tax is its net amount (units × unit price)
times the tax rate (a percentage), rounded once, half up, to the cent; the line's total
is the net amount plus that tax. Sums of lines, payments and refunds are then exact: no
rounding happens after the line.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_cents(amount: Decimal) -> Decimal:
    """Rounded half up to the cent: 0.005 → 0.01, 2.675 → 2.68."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineAmounts:
    net: Decimal
    tax: Decimal
    total: Decimal


def line_amounts(*, units: int, unit_price: Decimal, tax_rate: Decimal) -> LineAmounts:
    """A line's net amount, its tax (rounded half up per line) and its total."""
    net = to_cents(units * unit_price)
    tax = to_cents(net * tax_rate / 100)
    return LineAmounts(net=net, tax=tax, total=net + tax)


def money_sum(amounts: Iterable[Decimal]) -> Decimal:
    """The exact sum, ZERO for none (so an empty balance still shows 0.00)."""
    return sum(amounts, ZERO)
