"""The constraint kinds of crmflow's one validation vocabulary (checked by `crmflow.config.validation`).

A declaration maps each name to a list of constraints, and a value is valid when any one of them
accepts it. Besides these classes a list may hold `None` (accepts None) and plain types (`str`,
`Mapping`; `int`/`float`/`bool` are bool-aware), which `as_constraint` turns into constraints.

Light on purpose: numpy only; pandas is imported by `Date` when it checks a value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

import numpy as np

from crmflow.errors import did_you_mean

__all__ = [
    "Boolean",
    "Constraint",
    "Date",
    "Encoding",
    "InstanceOf",
    "Interval",
    "ListOf",
    "NoneConstraint",
    "Options",
    "Text",
    "as_constraint",
]

CLOSED = ("left", "right", "both", "neither")


@dataclass(frozen=True)
class Constraint:
    """One rule a value may satisfy. `doc` replaces the generated rule text; `hint` is a fix appended to
    the message (e.g. "; set forecaster.settings.seasonal_period")."""

    doc: str | None = field(default=None, kw_only=True)
    hint: str = field(default="", kw_only=True)

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def fix(self, value: Any) -> str:
        """Advice for a rejected `value` ("; did you mean 'x'?"), or ""."""
        return self.hint

    def __str__(self) -> str:
        return self.doc or self.describe()


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _bound(value: float | None, low: bool) -> str:
    if value is None:
        return "-inf" if low else "inf"
    return str(value) if isinstance(value, Integral) else f"{value:g}"


@dataclass(frozen=True)
class Interval(Constraint):
    """A number of `type` (int/Integral or float/Real; never a bool) between `low` and `high`
    (None = unbounded); `closed` says which ends belong: "left", "right", "both" or "neither"."""

    type: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def __post_init__(self) -> None:
        for end in ("low", "high"):  # an infinite bound is no bound
            if getattr(self, end) is not None and math.isinf(getattr(self, end)):
                object.__setattr__(self, end, None)
        if self.type not in (int, float, Integral, Real):
            raise TypeError(f"Interval: type must be int or float (Integral or Real); got {self.type!r}")
        object.__setattr__(self, "type", Integral if self.type in (int, Integral) else Real)
        if self.closed not in CLOSED:
            raise TypeError(f"Interval: closed must be one of {CLOSED}; got {self.closed!r}")

    @property
    def integral(self) -> bool:
        return self.type is Integral

    def accepts(self, value: Any) -> bool:
        if _is_bool(value) or not isinstance(value, Integral if self.integral else Real):
            return False
        if isinstance(value, Real) and math.isnan(value):
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def describe(self) -> str:
        kind = "an int" if self.integral else "a float"
        if self.low is None and self.high is None:
            return kind
        left = "[" if self.low is not None and self.closed in ("left", "both") else "("
        right = "]" if self.high is not None and self.closed in ("right", "both") else ")"
        return f"{kind} in the range {left}{_bound(self.low, True)}, {_bound(self.high, False)}{right}"


@dataclass(frozen=True)
class Options(Constraint):
    """One of a few values, e.g. `Options(("maximize", "minimize"))`; a mistyped str gets a did-you-mean."""

    values: tuple

    def __post_init__(self) -> None:
        values = (self.values,) if isinstance(self.values, str) else tuple(self.values)
        object.__setattr__(self, "values", values)

    def accepts(self, value: Any) -> bool:
        for option in self.values:
            try:
                if _is_bool(value) == _is_bool(option) and bool(value == option):
                    return True
            except (TypeError, ValueError):  # e.g. an array compared with a str
                continue
        return False

    def describe(self) -> str:
        if all(isinstance(v, str) for v in self.values):
            return "a str among {" + ", ".join(repr(v) for v in sorted(self.values)) + "}"
        return "one of {" + ", ".join(repr(v) for v in self.values) + "}"

    def fix(self, value: Any) -> str:
        names = [v for v in self.values if isinstance(v, str)]
        return (did_you_mean(value, names) if isinstance(value, str) else "") or self.hint


@dataclass(frozen=True)
class Boolean(Constraint):
    """True or False (a Python or NumPy bool; 0 and 1 are not booleans here)."""

    def accepts(self, value: Any) -> bool:
        return _is_bool(value)

    def describe(self) -> str:
        return "an instance of 'bool'"


@dataclass(frozen=True)
class InstanceOf(Constraint):
    """An instance of `type`, e.g. `str` or `Mapping` (write `int`/`float`/`bool` for the bool-aware rules)."""

    type: type

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.type)

    def describe(self) -> str:
        return f"an instance of '{self.type.__name__}'"


@dataclass(frozen=True)
class Text(Constraint):
    """A str of `min_len` to `max_len` characters (None = no upper limit) that is none of `exclude`,
    e.g. `Text()` a non-empty str, `Text(1, 1)` a single character."""

    min_len: int = 1
    max_len: int | None = None
    exclude: tuple[str, ...] = ()

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, str) or value in self.exclude or len(value) < self.min_len:
            return False
        return self.max_len is None or len(value) <= self.max_len

    def describe(self) -> str:
        if self.max_len is None:
            text = "a str" if self.min_len == 0 else "a non-empty str" if self.min_len == 1 else None
            text = text or f"a str of at least {self.min_len} characters"
        elif self.min_len == self.max_len:
            text = "a single character" if self.min_len == 1 else f"a str of {self.min_len} characters"
        else:
            text = f"a str of {self.min_len} to {self.max_len} characters"
        return text + (" other than " + " or ".join(map(repr, self.exclude)) if self.exclude else "")


@dataclass(frozen=True)
class Date(Constraint):
    """A date string pandas can parse, e.g. '2023-01-01' (not empty, not NaT)."""

    def accepts(self, value: Any) -> bool:
        import pandas as pd  # only when a date is checked: keeps this module light

        if not isinstance(value, str):
            return False
        try:
            return not pd.isna(pd.Timestamp(value))
        except (TypeError, ValueError):
            return False

    def describe(self) -> str:
        return "a date string like '2023-01-01'"


@dataclass(frozen=True)
class Encoding(Constraint):
    """The name of a text encoding Python knows, e.g. 'utf-8', 'latin-1' or 'cp1252'."""

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            "".encode(value)  # LookupError for unknown names and for bytes-to-bytes codecs such as 'base64'
        except LookupError:
            return False
        return True

    def describe(self) -> str:
        return "a text encoding such as 'utf-8', 'latin-1' or 'cp1252'"


@dataclass(frozen=True)
class ListOf(Constraint):
    """A list, tuple or set (not a str) whose every item satisfies `item`: a type or a constraint, or a
    list of them of which any one may accept each item (e.g. `ListOf([str, Interval(int, 0, None)])`)."""

    item: Any

    def _items(self) -> list[Constraint]:
        return [as_constraint(i) for i in (self.item if isinstance(self.item, (list, tuple)) else [self.item])]

    def accepts(self, value: Any) -> bool:
        if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, Set)):
            return False
        items = self._items()
        return all(any(c.accepts(v) for c in items) for v in value)

    def describe(self) -> str:
        if isinstance(self.item, type):
            return f"a list of {self.item.__name__}"
        texts = [str(c) for c in self._items()]
        either = texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " or " + texts[-1]
        return f"a list whose items are each {either}"


@dataclass(frozen=True)
class NoneConstraint(Constraint):
    """None itself: what a `None` entry of a declaration stands for."""

    def accepts(self, value: Any) -> bool:
        return value is None

    def describe(self) -> str:
        return "None"


def as_constraint(declared: Any) -> Constraint:
    """The Constraint a declaration entry stands for: None, a plain type, or a Constraint itself."""
    if isinstance(declared, Constraint):
        return declared
    if declared is None:
        return NoneConstraint()
    if declared is bool:
        return Boolean()
    if declared in (int, Integral):
        return Interval(Integral)
    if declared in (float, Real):
        return Interval(Real)
    if isinstance(declared, type):
        return InstanceOf(declared)
    raise TypeError(f"not a constraint: {declared!r}")
