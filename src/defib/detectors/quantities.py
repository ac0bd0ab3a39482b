"""Pure: when two stated quantities are the same, for grounding.

`90 minutes` is `1.5 hours`, `1.2 million` is a rounding of `1,234,567`, and `about 30` is
not contradicted by `32`. A quantity is a value with a unit folded to its dimension's base
(seconds, metres, grams, bytes) and the tolerance its wording implies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# unit -> (dimension, factor to the dimension's base unit)
_UNITS: dict[str, tuple[str, float]] = {}
for _dim, _table in {
    "time": {
        "millisecond": 1e-3,
        "ms": 1e-3,
        "second": 1,
        "minute": 60,
        "hour": 3600,
        "day": 86400,
        "week": 604800,
        "month": 2629800,  # a twelfth of a Julian year; months are compared loosely anyway
        "year": 31557600,
    },
    "length": {
        "mm": 1e-3,
        "millimetre": 1e-3,
        "millimeter": 1e-3,
        "cm": 1e-2,
        "centimetre": 1e-2,
        "centimeter": 1e-2,
        "m": 1,
        "metre": 1,
        "meter": 1,
        "km": 1e3,
        "kilometre": 1e3,
        "kilometer": 1e3,
        "mile": 1609.344,
        "mi": 1609.344,
        "ft": 0.3048,
        "foot": 0.3048,
        "feet": 0.3048,
        "inch": 0.0254,
    },
    "mass": {
        "mg": 1e-3,
        "g": 1,
        "gram": 1,
        "kg": 1e3,
        "kilogram": 1e3,
        "lb": 453.59237,
        "tonne": 1e6,
        "ton": 1e6,
    },
    "data": {
        "byte": 1,
        "kb": 1e3,
        "kilobyte": 1e3,
        "mb": 1e6,
        "megabyte": 1e6,
        "gb": 1e9,
        "gigabyte": 1e9,
        "tb": 1e12,
        "terabyte": 1e12,
    },
}.items():
    for _name, _factor in _table.items():
        _UNITS[_name] = (_dim, float(_factor))

# Words before a number that make it an estimate.
HEDGES = re.compile(
    r"(?:about|around|approximately|approx\.?|roughly|nearly|almost|some|close\s+to|"
    r"over|more\s+than|less\s+than|under|up\s+to|at\s+least|at\s+most|~)\s*$",
    re.IGNORECASE,
)
_HEDGE_TOLERANCE = 0.1  # "about 30" holds for 27..33
_SCALE_WORDS = frozenset({"k", "thousand", "m", "million", "mn", "b", "bn", "billion"})


@dataclass(frozen=True, slots=True)
class Quantity:
    """A value in its dimension's base unit and how far off it may be and still hold."""

    dimension: str  # "time", "length", ..., or the unit itself ("%", "$", "request", "")
    value: float
    tolerance: float  # absolute


def quantity(value: float, unit: str, raw_number: str, scale: str, hedged: bool) -> Quantity:
    """The quantity a number says; `raw_number` is its digits as written ("1.2", "1,000")."""
    dimension, factor = _UNITS.get(unit, (unit, 1.0))
    base = value * factor
    tolerance = 1e-9 * max(1.0, abs(base))
    digits = raw_number.replace(",", "").split(".")[0].lstrip("0")
    if hedged and ("." in raw_number or len(digits.rstrip("0")) <= 2):
        # "about 30" or "around 1.5 million" is a round figure; "approximately 386" is
        # precise, and 375 does not support it.
        tolerance = max(tolerance, _HEDGE_TOLERANCE * abs(base))
    elif scale.lower() in _SCALE_WORDS or "." in raw_number:
        # "1.2 million" or "4.5 hours" is rounded to its last written digit.
        decimals = len(raw_number.split(".", 1)[1]) if "." in raw_number else 0
        scale_factor = value / float(raw_number.replace(",", "")) if raw_number else 1.0
        tolerance = max(tolerance, 0.5 * 10.0**-decimals * scale_factor * factor)
    return Quantity(dimension, base, tolerance)


def same(claimed: Quantity, stated: Quantity) -> bool:
    """The context's `stated` quantity supports the response's `claimed` one."""
    return claimed.dimension == stated.dimension and abs(claimed.value - stated.value) <= (
        claimed.tolerance
    )
