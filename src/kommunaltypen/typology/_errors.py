"""The typology's own error type (besides :class:`kommunaltypen.errors.TypologyError`)."""

from __future__ import annotations

from kommunaltypen.errors import TypologyError


class TypologyDataError(TypologyError, ValueError):
    """Data the typology cannot be fitted on or applied to (also a ``ValueError``, as
    scikit-learn expects from estimators)."""
