"""One reading of "a number" for every validator: a real number as a float, or NaN."""

from __future__ import annotations

import math

__all__ = ["as_float"]


def as_float(value: object) -> float:
    """``value`` as a float if it is an int or a float (not a bool); NaN otherwise.

    An int too large for any float becomes an infinity of its sign, so a check for a finite
    number rejects it and a check against ``inf`` accepts it. Every comparison with NaN is
    false, so a non-number fails any range check without a case of its own.

    Example::

        >>> as_float(3), as_float(True), as_float(10**400)
        (3.0, nan, inf)
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    try:
        return float(value)
    except OverflowError:  # an int no float can hold
        return math.inf if value > 0 else -math.inf
