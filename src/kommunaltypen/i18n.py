"""User-facing texts in German (default) and English.

Texts live as data in ``data/messages/*.yaml`` (one file per area, merged on load)::

    validate.unknown_code:
      de: "Unbekannter Code {value!r}; erwartet: {expected}"
      en: "Unknown code {value!r}; expected: {expected}"

``t(key, **kwargs)`` formats the text in the current language. The language is set once per
process (CLI ``--lang``, or the ``KOMMUNALTYPEN_LANG`` environment variable) or passed
explicitly with ``lang=``.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources

from kommunaltypen import yamlio

LANGUAGES = ("de", "en")
DEFAULT_LANG = "de"

_current = os.environ.get("KOMMUNALTYPEN_LANG", DEFAULT_LANG)
if _current not in LANGUAGES:
    _current = DEFAULT_LANG


def set_lang(lang: str) -> None:
    """Set the process-wide language for user-facing texts."""
    global _current
    if lang not in LANGUAGES:
        from kommunaltypen.errors import KommunaltypenError

        raise KommunaltypenError(
            f"Unbekannte Sprache {lang!r}; erwartet: {', '.join(LANGUAGES)} / "
            f"unknown language {lang!r}; expected: {', '.join(LANGUAGES)}"
        )
    _current = lang


def get_lang() -> str:
    return _current


@cache
def catalog() -> dict[str, dict[str, str]]:
    """All messages, merged from every ``data/messages/*.yaml`` file."""
    merged: dict[str, dict[str, str]] = {}
    folder = resources.files("kommunaltypen") / "data" / "messages"
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        data = yamlio.safe_load(entry.read_text(encoding="utf-8")) or {}
        for key, texts in data.items():
            if key in merged:
                raise RuntimeError(f"message key {key!r} defined twice ({entry.name})")
            merged[key] = texts
    return merged


def t(key: str, lang: str | None = None, **kwargs: object) -> str:
    """The message ``key`` in ``lang`` (default: current language), formatted with kwargs."""
    texts = catalog().get(key)
    if texts is None:
        raise KeyError(f"no message {key!r}")
    text = texts.get(lang or _current) or texts[DEFAULT_LANG]
    return text.format(**kwargs) if kwargs else text


def label(obj: object, lang: str | None = None) -> str:
    """The label of a codebook object (anything with ``label_de``/``label_en``)."""
    lang = lang or _current
    return getattr(obj, f"label_{lang}", None) or obj.label_de  # type: ignore[attr-defined]
