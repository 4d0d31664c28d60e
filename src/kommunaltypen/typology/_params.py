"""Declared parameter constraints (as scikit-learn's ``_parameter_constraints``).

An estimator declares, for each constructor parameter, the list of constraints of which one
must hold; :func:`validate_params` checks them all in one place and raises one message that
names the parameter, the value received and what was expected (German/English from the
message catalogue, keys ``typology.expect.*``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kommunaltypen.estimator import _short_repr
from kommunaltypen.i18n import t
from kommunaltypen.typology._errors import TypologyDataError


class Constraint(Protocol):
    def accepts(self, value: Any) -> bool: ...

    def describe(self, lang: str | None = None) -> str: ...


@dataclass(frozen=True)
class Interval:
    """A number of ``kind`` ``"int"`` (whole numbers, not bool) or ``"real"`` (any real
    number, not bool, not NaN) in ``low..high`` (None: unbounded; both ends included)."""

    kind: str
    low: float | None = None
    high: float | None = None

    def accepts(self, value: Any) -> bool:
        wanted = numbers.Integral if self.kind == "int" else numbers.Real
        if isinstance(value, bool) or not isinstance(value, wanted):
            return False
        if self.kind == "real" and math.isnan(float(value)):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self, lang: str | None = None) -> str:
        bounds = "between" if self.high is not None else "at_least"
        return t(f"typology.expect.{self.kind}_{bounds}", lang=lang, low=self.low, high=self.high)


@dataclass(frozen=True)
class OneOf:
    """One of the given strings."""

    values: tuple[str, ...]

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values

    def describe(self, lang: str | None = None) -> str:
        return t("typology.expect.one_of", lang=lang, values=", ".join(map(repr, self.values)))


@dataclass(frozen=True)
class InstanceOf:
    """An instance of one of ``types``, described by the message ``key``."""

    types: tuple[type, ...]
    key: str

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def describe(self, lang: str | None = None) -> str:
        return t(self.key, lang=lang)


@dataclass(frozen=True)
class IsNone:
    def accepts(self, value: Any) -> bool:
        return value is None

    def describe(self, lang: str | None = None) -> str:
        return "None"


def validate_params(
    params: Mapping[str, Any], constraints: Mapping[str, Sequence[Constraint]]
) -> None:
    """Raise :class:`TypologyDataError` for the first parameter that meets none of its
    constraints: "Invalid parameter name=value; expected: … or …"."""
    for name, allowed in constraints.items():
        value = params[name]
        if any(c.accepts(value) for c in allowed):
            continue
        expected = t("typology.expect.or").join(c.describe() for c in allowed)
        raise TypologyDataError(
            t("typology.bad_param", name=name, received=_short_repr(value), expected=expected)
        )
