"""The project's own error types.

Every problem a user can cause ends as a :class:`KommunaltypenError` (or a subclass) whose
message says what was received and what was expected. The CLI turns these into one clear
message and a non-zero exit code; anything else is an internal error.
"""

from __future__ import annotations


class KommunaltypenError(Exception):
    """Base class for all errors the user can cause and fix."""

    exit_code = 2


class InputFileError(KommunaltypenError):
    """A file cannot be read at all (missing, empty, wrong format, unreadable)."""


class MappingError(KommunaltypenError):
    """A mapping file is malformed or refers to unknown codebook ids."""


class CodebookError(KommunaltypenError):
    """The codebook (shipped or user-supplied) is inconsistent."""


class TypologyError(KommunaltypenError):
    """The typology cannot be fitted or applied to the given data."""


class TableSpecError(KommunaltypenError):
    """A table declaration is malformed."""
