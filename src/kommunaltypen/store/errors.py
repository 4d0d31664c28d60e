"""Errors of the storage layer."""

from __future__ import annotations

from kommunaltypen.errors import KommunaltypenError


class StoreError(KommunaltypenError):
    """The database cannot be used as it is (unreachable, from a newer version, bad URL …).

    The message says what was found and what was expected, in the current language."""
