"""Shared test fixtures."""

import pytest

from kommunaltypen import i18n


@pytest.fixture(autouse=True)
def _reset_lang():
    """Commands set the process-wide language; every test starts (and ends) in German."""
    i18n.set_lang("de")
    yield
    i18n.set_lang("de")
