"""Every knob a learner turns is checked at the edge, with one message shape: which knob, the value
it got, and what is allowed. All chapters; the configs and the functions a chapter calls use these.

Numbers may be any real number type (a Python int or float, a NumPy scalar); a bool or a string
is refused, with a hint when the string holds a number ("3e-3" typed with quotes).
"""

from __future__ import annotations

import math
import numbers


def _refuse(name: str, value, allowed: str):
    hint = ""
    if isinstance(value, str):
        try:
            float(value)
            hint = f" (a number, not the text {value!r}: drop the quotes)"
        except ValueError:
            pass
    raise ValueError(f"{name} must be {allowed}, got {value!r}{hint}")


def number(name: str, value, minimum: float | None = None, maximum: float | None = None,
           above: float | None = None) -> float:
    """A finite real number, optionally >= `minimum`, <= `maximum`, > `above`."""
    parts = ["a finite number"]
    if above is not None:
        parts.append(f"> {above:g}")
    if minimum is not None:
        parts.append(f">= {minimum:g}")
    if maximum is not None:
        parts.append(f"<= {maximum:g}")
    allowed = " ".join(parts[:1]) + (" " + " and ".join(parts[1:]) if parts[1:] else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        _refuse(name, value, allowed)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum) \
            or (above is not None and not value > above):
        _refuse(name, value, allowed)
    return float(value)


def whole_number(name: str, value, minimum: int = 0, maximum: int | None = None) -> int:
    """A whole number (an int, or a NumPy integer) >= `minimum` (and <= `maximum`)."""
    allowed = f"a whole number >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _refuse(name, value, allowed)
    if value < minimum or (maximum is not None and value > maximum):
        _refuse(name, value, allowed)
    return int(value)


def fraction(name: str, value) -> float:
    """A number from 0 to 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        _refuse(name, value, "a number from 0 to 1")
    return float(value)


def choice(name: str, value, allowed: tuple) -> object:
    """One of `allowed`, of the same type (1 is not True, "1" is not 1)."""
    if not any(type(value) is type(option) and value == option for option in allowed):
        _refuse(name, value, f"one of {allowed}")
    return value


def flag(name: str, value) -> bool:
    """True or False (the text "False" is neither)."""
    return choice(name, value, (True, False))


def seeds(name: str, value) -> tuple[int, ...]:
    """Distinct whole numbers, at least one: the seeds every arm of a comparison runs on."""
    if isinstance(value, (numbers.Number, str)) or not hasattr(value, "__iter__"):
        _refuse(name, value, "a list of distinct whole numbers, e.g. (0, 1, 2)")
    value = tuple(value)
    if not value or len(set(value)) != len(value) \
            or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) for s in value):
        _refuse(name, value, "a list of distinct whole numbers, at least one, e.g. (0, 1, 2)")
    return tuple(int(s) for s in value)


def text(name: str, value) -> str:
    """Some text with at least one character that is not a space."""
    if not isinstance(value, str) or not value.strip():
        _refuse(name, value, "some text in quotes, e.g. \"What is 12 + 30?\"")
    return value
