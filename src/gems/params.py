"""Parameters: every tunable number of gems is a field of a frozen dataclass that declares its default and, in
one table beside it, its allowed values (as scikit-learn's ``_parameter_constraints``).

A parameter class subclasses :class:`Params` and lists ``constraints``: field name -> :class:`Interval`,
:class:`Choice` or :data:`BOOLEAN`. Construction checks every listed field, so a bad value is one
:class:`~gems.errors.ParameterError` naming the field, what it must be and what it got, wherever the value came
from (a pipeline file, a command-line flag, a query string, a model's manifest). :meth:`Params.from_section`
reads a TOML/JSON section into the class: unknown keys and wrong types are named together with ``where``.

Standard library only: every component (cf, neighbours, popularity, index, rank) declares its own class here
without importing the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from gems.errors import ParameterError


@dataclass(frozen=True)
class Interval:
    """A whole number (``kind=int``) or a finite real (``kind=float``) in [low, high]; a bound may name another
    field of the same class (``Interval(float, "keep_low", 0.99)``)."""

    kind: type
    low: float | str
    high: float | str

    def check(self, name: str, value: Any, owner: Params) -> None:
        low, high = (getattr(owner, b) if isinstance(b, str) else b for b in (self.low, self.high))
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ParameterError(f"{name} must be a whole number between {low:g} and {high:g}, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ParameterError(f"{name} must be a finite number between {low:g} and {high:g}, got {value!r}")
        if not low <= value <= high:
            raise ParameterError(f"{name} must be between {low:g} and {high:g}, got {value:g}")


@dataclass(frozen=True)
class Choice:
    """One of a few words."""

    options: tuple[str, ...]

    def check(self, name: str, value: Any, owner: Params) -> None:
        if value not in self.options:
            words = ", ".join(f"'{o}'" for o in self.options)
            raise ParameterError(f"{name} must be one of {words}, got {value!r}")


@dataclass(frozen=True)
class Boolean:
    """true or false (not 0 or 1)."""

    def check(self, name: str, value: Any, owner: Params) -> None:
        if not isinstance(value, bool):
            raise ParameterError(f"{name} must be true or false, got {value!r}")


BOOLEAN = Boolean()


class Params:
    """Base of the parameter dataclasses: checks every field named in ``constraints`` on construction."""

    constraints: ClassVar[dict[str, Interval | Choice | Boolean]] = {}

    def __post_init__(self) -> None:
        for name, constraint in self.constraints.items():
            constraint.check(name, getattr(self, name), self)

    @classmethod
    def from_section(cls, section: dict | None, where: str):
        """The class from a pipeline section or a manifest entry (missing keys take the defaults); an unknown
        key, a value of the wrong type or out of range is a ParameterError naming ``where``."""
        section = dict(section or {})
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(section) - set(known))
        if unknown:
            raise ParameterError(f"{where}: unknown key(s) {', '.join(unknown)}; known keys are {', '.join(known)}")
        try:
            return cls(**{key: coerce(cls, key, value) for key, value in section.items()})
        except ParameterError as exc:
            raise ParameterError(f"{where}: {exc}") from None


def coerce(cls, key: str, value: Any) -> Any:
    """``value`` for field ``key`` of ``cls``: an int where a float is expected becomes a float; any other type
    than the default's is a ParameterError (ranges are the class's to check)."""
    default = getattr(cls(), key)
    expected = type(default)
    if default is None or isinstance(default, tuple):
        return value
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
        article = "an" if expected.__name__[0] in "aeiou" else "a"
        raise ParameterError(f"{key} must be {article} {expected.__name__}, found {value!r}")
    return value
