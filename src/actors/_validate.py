"""Checks for configuration records (child specs, flags, mailboxes, backoff).

Every field is checked where the record is made, so a mistake fails at the
call with an error naming the field and the offending value, instead of
acting as something else later (a ``nan`` capacity as an unbounded mailbox,
the string ``"temporary"`` as a permanent child).

Enum fields take enum members only: a plain string equal to a member's value
is refused with a hint naming the member. The type annotations say so, mypy
says so, and one rule for every field is easier to remember than a list of
conversions. (Decoding a record with ``msgspec.convert`` or a decoder still
turns strings into members, as msgspec does for every enum.)
"""

from __future__ import annotations

import math
from numbers import Real
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import enum

__all__ = ["check_enum", "check_int", "check_real"]


def check_enum(record: str, field: str, value: object, kind: type[enum.Enum]) -> None:
    """``value`` must be a member of ``kind``."""
    if type(value) is kind:
        return
    hint = ""
    for member in kind:
        if value == member.value:
            hint = f" (use {kind.__name__}.{member.name})"
            break
    article = "an" if kind.__name__[0] in "AEIOU" else "a"
    raise TypeError(f"{record}.{field} must be {article} {kind.__name__}, got {value!r}{hint}")


def check_int(record: str, field: str, value: object, *, minimum: int) -> None:
    """``value`` must be an ``int`` (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{record}.{field} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{record}.{field} must be >= {minimum}, got {value!r}")


def check_real(
    record: str,
    field: str,
    value: object,
    *,
    minimum: float,
    maximum: float | None = None,
    strict: bool = False,
) -> None:
    """``value`` must be a finite real number (not a bool) in range.

    ``strict``: strictly greater than ``minimum``.
    """
    kind = type(value)
    if (kind is not float and kind is not int) and (  # fast path: the usual types
        isinstance(value, bool) or not isinstance(value, Real)
    ):
        raise TypeError(f"{record}.{field} must be a number, got {value!r}")
    number = float(value)  # type: ignore[arg-type]  # a Real, checked above
    if not math.isfinite(number):
        raise ValueError(f"{record}.{field} must be finite, got {value!r}")
    if number < minimum or (strict and number == minimum):
        bound = ">" if strict else ">="
        raise ValueError(f"{record}.{field} must be {bound} {minimum:g}, got {value!r}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{record}.{field} must be <= {maximum:g}, got {value!r}")
