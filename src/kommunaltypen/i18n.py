"""User-facing texts in German (default) and English.

Texts live as data in ``data/messages/*.yaml`` (one file per area, merged on load)::

    validate.unknown_code:
      de: "Unbekannter Code {value!r}; erwartet: {expected}"
      en: "Unknown code {value!r}; expected: {expected}"

``t(key, **kwargs)`` formats the text in the current language. The current language is a
per-call context value (:mod:`contextvars`), not a process global: a front end sets it for the
duration of one call with ``with use_lang("en"): ...`` (the web application per request, the CLI
per command), and every thread or asyncio task sees its own value. The default for a call that
sets none is ``KOMMUNALTYPEN_LANG`` from the environment, else German. ``lang=`` passes a
language explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from importlib import resources

from kommunaltypen import yamlio

LANGUAGES = ("de", "en")
DEFAULT_LANG = "de"


def _environment_lang() -> str:
    lang = os.environ.get("KOMMUNALTYPEN_LANG", DEFAULT_LANG)
    return lang if lang in LANGUAGES else DEFAULT_LANG


#: the language of the current call (thread / asyncio task); unset = environment default
_lang: ContextVar[str | None] = ContextVar("kommunaltypen_lang", default=None)


def check_lang(lang: str) -> str:
    """``lang`` if it is a supported language, else a :class:`KommunaltypenError`."""
    if lang not in LANGUAGES:
        from kommunaltypen.errors import KommunaltypenError

        raise KommunaltypenError(
            f"Unbekannte Sprache {lang!r}; erwartet: {', '.join(LANGUAGES)} / "
            f"unknown language {lang!r}; expected: {', '.join(LANGUAGES)}"
        )
    return lang


@contextmanager
def use_lang(lang: str | None) -> Iterator[str]:
    """Use ``lang`` for user-facing texts inside the ``with`` block (this thread / task only).
    ``None`` keeps the current language."""
    if lang is None:
        yield get_lang()
        return
    token = _lang.set(check_lang(lang))
    try:
        yield lang
    finally:
        _lang.reset(token)


def set_lang(lang: str) -> None:
    """Set the language for the rest of the current context (the CLI does this once per
    command, in its own process). Servers use :func:`use_lang` per request instead."""
    _lang.set(check_lang(lang))


def get_lang() -> str:
    """The language of the current call."""
    return _lang.get() or _environment_lang()


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
    text = texts.get(lang or get_lang()) or texts[DEFAULT_LANG]
    return text.format(**kwargs) if kwargs else text


def label(obj: object, lang: str | None = None) -> str:
    """The label of a codebook object (anything with ``label_de``/``label_en``)."""
    lang = lang or get_lang()
    return getattr(obj, f"label_{lang}", None) or obj.label_de  # type: ignore[attr-defined]
