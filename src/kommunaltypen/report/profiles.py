"""Type profiles (Steckbriefe) and the "D-Team" page, filled with figures of the current data.

The texts are data (``data/profiles.yaml``, German and English, in the project's own words,
citing the study); figures come from the current tables through placeholders (see
:mod:`kommunaltypen.report.figures`), so the profiles update with every new survey wave.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from kommunaltypen import yamlio
from kommunaltypen.i18n import t
from kommunaltypen.report.figures import Resolver
from kommunaltypen.report.model import TYPE_IDS, ReportData, ReportError
from kommunaltypen.vocabulary import type_label


class _Text(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    de: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.de


class _Section(_Text):
    id: str


class _DTeam(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    title: _Text
    intro: _Text
    roles: dict[str, _Text]


class ProfilesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: _Text
    sections: list[_Section]
    types: dict[str, dict[str, _Text]]
    dteam: _DTeam


@dataclass
class Profile:
    type_id: str
    label: str
    motto: str
    sections: list[tuple[str, str]]  # (heading, text)


@dataclass
class DTeam:
    title: str
    intro: str
    roles: list[tuple[str, str, str]]  # (type id, type label, text)


def load_profiles(path: str | Path | None = None) -> ProfilesFile:
    """The profile declarations (shipped ``data/profiles.yaml`` by default)."""
    if path is None:
        return _shipped()
    return _parse(Path(path).read_text(encoding="utf-8"), str(path))


@cache
def _shipped() -> ProfilesFile:
    file = resources.files("kommunaltypen") / "data" / "profiles.yaml"
    return _parse(file.read_text(encoding="utf-8"), "profiles.yaml")


def _parse(text: str, origin: str) -> ProfilesFile:
    try:
        parsed = ProfilesFile.model_validate(yamlio.safe_load(text))
    except (yamlio.YAMLError, ValidationError) as exc:
        raise ReportError(t("report.err.declaration", file=origin, error=exc)) from exc
    section_ids = [s.id for s in parsed.sections]
    for type_id in TYPE_IDS:
        entry = parsed.types.get(type_id)
        if entry is None:
            raise ReportError(f"{origin}: Typ {type_id!r} fehlt; erwartet: {', '.join(TYPE_IDS)}")
        missing = [s for s in ["motto", *section_ids] if s not in entry]
        if missing:
            raise ReportError(f"{origin}: Typ {type_id!r}: Abschnitte {missing} fehlen")
    return parsed


def build_profiles(
    data: ReportData,
    lang: str,
    publication: bool = False,
    min_n: int = 5,
    declarations: ProfilesFile | None = None,
) -> tuple[list[Profile], DTeam, Resolver]:
    """Profiles and the D-Team page in ``lang``; the resolver lists unresolved placeholders."""
    decl = declarations or load_profiles()
    resolver = Resolver(data.tables, lang, publication, min_n)
    profiles = []
    for type_id in TYPE_IDS:
        entry = decl.types[type_id]
        profiles.append(
            Profile(
                type_id=type_id,
                label=type_label(type_id, lang),
                motto=resolver.fill(entry["motto"].get(lang)),
                sections=[
                    (s.get(lang), resolver.fill(entry[s.id].get(lang))) for s in decl.sections
                ],
            )
        )
    dteam = DTeam(
        title=decl.dteam.title.get(lang),
        intro=resolver.fill(decl.dteam.intro.get(lang)),
        roles=[
            (tid, type_label(tid, lang), resolver.fill(text.get(lang)))
            for tid, text in decl.dteam.roles.items()
        ],
    )
    return profiles, dteam, resolver


def source_note(lang: str) -> str:
    return load_profiles().source.get(lang)
