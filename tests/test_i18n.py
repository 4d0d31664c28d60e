import string

import pytest

from kommunaltypen import i18n
from kommunaltypen.errors import KommunaltypenError


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_has_both_languages_with_the_same_placeholders():
    cat = i18n.catalog()
    assert cat, "no messages loaded"
    for key, texts in cat.items():
        assert set(texts) == {"de", "en"}, f"{key}: languages {sorted(texts)}"
        assert texts["de"].strip() and texts["en"].strip(), key
        assert _fields(texts["de"]) == _fields(texts["en"]), f"{key}: placeholders differ"


def test_t_formats_in_the_requested_language():
    de = i18n.t("cli.internal_error", lang="de", error="X")
    en = i18n.t("cli.internal_error", lang="en", error="X")
    assert "Interner Fehler: X" in de
    assert "Internal error: X" in en


def test_unknown_key_and_language():
    with pytest.raises(KeyError):
        i18n.t("does.not.exist")
    with pytest.raises(KommunaltypenError, match="fr"):
        i18n.set_lang("fr")
