"""Kubernetes resource quantities: parsing to exact Decimals and to model integers.

The grammar follows Kubernetes' `resource.Quantity`: an optional sign, a decimal
number, then either a binary SI suffix (Ki..Ei), a decimal SI suffix (n, u, m,
k, M, G, T, P, E) or a decimal exponent (e3, E-2). No whitespace anywhere.
Floats are never used: they would turn 0.1 cpu into 99 millicores.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_PATTERN = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)
# Byte sizes as people write them elsewhere (512MB, 1GiB, 100B): a hint, not a quantity.
_BYTE_UNITS = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*(?P<prefix>[kKmMgGtTpPeE])?"
    r"(?P<binary>i)?(?:[bB]|[bB]ytes?)"
)
_POWERS = {"k": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
# Largest amount accepted, so that sums of many requests stay well inside int64.
MAX_QUANTITY = Decimal(2) ** 62

# Resources measured in bytes; everything else is a count (cpu in millicores,
# other resources in thousandths so that fractional GPU shares stay exact).
BYTE_RESOURCES_PREFIXES = ("memory", "ephemeral-storage", "hugepages-", "storage")


class QuantityError(ValueError):
    """A string or number that is not a valid Kubernetes quantity."""


def parse_quantity(value: object) -> Decimal:
    """Parse a Kubernetes quantity (string or number) into an exact Decimal."""
    if isinstance(value, bool):
        raise QuantityError("a quantity must be a number or a string such as '250m' or '1Gi'")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise QuantityError("NaN and Infinity are not quantities")
        amount = Decimal(repr(value))
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        amount = _parse_string(value)
    else:
        raise QuantityError("a quantity must be a number or a string such as '250m' or '1Gi'")
    if not amount.is_finite():
        raise QuantityError("NaN and Infinity are not quantities")
    if abs(amount) > MAX_QUANTITY:
        raise QuantityError(f"quantity {value!r} is too large (at most 2^62)")
    return amount


def _parse_string(text: str) -> Decimal:
    match = _PATTERN.fullmatch(text)
    if match is None:
        bytes_hint = _byte_units_hint(text)
        if bytes_hint:
            raise QuantityError(f"{text!r} is not a Kubernetes quantity: {bytes_hint}")
        raise QuantityError(
            f"{text!r} is not a Kubernetes quantity (expected e.g. '250m', '0.5', '1.5Gi', '2e3')"
        )
    try:
        number = Decimal(match["number"])
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
        raise QuantityError(f"{text!r} is not a number") from exc
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    exponent = int(suffix[1:])
    if abs(exponent) > 30:
        raise QuantityError(f"exponent in {text!r} is out of range")
    return number.scaleb(exponent)


def _byte_units_hint(text: str) -> str:
    """What to write for a size with a B suffix (`512MB`): Kubernetes has none."""
    match = _BYTE_UNITS.fullmatch(text.strip())
    if match is None:
        return ""
    number, prefix = match["number"], match["prefix"]
    if prefix is None:
        return f"quantities have no B suffix: bytes are the plain number, write '{number}'"
    decimal = "k" if prefix in "kK" else prefix.upper()
    power = _POWERS[decimal]
    binary = f"'{number}{decimal.upper()}i' ({number} x 2^{10 * power} bytes)"
    if match["binary"]:
        return f"quantities have no B suffix: write {binary}"
    return (f"quantities have no B suffix: write '{number}{decimal}' ({number} x 10^{3 * power} "
            f"bytes) or {binary}")


def is_byte_resource(resource: str) -> bool:
    return resource.startswith(BYTE_RESOURCES_PREFIXES)


def unit_scale(resource: str) -> int:
    """Model units per one unit of the quantity: bytes for memory-like, 1 for pods, else 1/1000."""
    if is_byte_resource(resource) or resource == "pods":
        return 1
    return 1000


def to_units(resource: str, amount: Decimal, *, round_up: bool) -> int:
    """Integer model units: requests round up, capacities round down."""
    scaled = amount * unit_scale(resource)
    rounding = ROUND_CEILING if round_up else ROUND_FLOOR
    return int(scaled.to_integral_value(rounding=rounding))


def format_quantity(resource: str, amount: Decimal) -> str:
    """A short quantity string for an amount: exact suffixes (64Mi, 250m) where they fit,
    else the plain decimal (never rounded)."""
    units = to_units(resource, amount, round_up=True)
    if Decimal(units) == amount * unit_scale(resource):
        return format_units(resource, units)
    return format(amount.normalize(), "f")


def format_units(resource: str, units: int) -> str:
    """Render model units back as a short Kubernetes quantity string."""
    if is_byte_resource(resource):
        # Exact only: the largest binary suffix that divides, else decimal, else bytes.
        for suffix, factor in sorted(_BINARY.items(), key=lambda kv: -kv[1]):
            if units and units % factor == 0:
                return f"{units // factor}{suffix}"
        for suffix in ("E", "P", "T", "G", "M", "k"):
            factor = int(_DECIMAL[suffix])
            if units and units % factor == 0:
                return f"{units // factor}{suffix}"
        return str(units)
    if resource == "pods":
        return str(units)
    if units % 1000 == 0:
        return str(units // 1000)
    return f"{units}m"
