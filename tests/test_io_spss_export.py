"""SPSS export as SPSS users expect it, checked with a real client (GNU PSPP): variable and
value labels (German / English), user-missing codes, formats, measurement levels; and the
round trip back through our reader."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kommunaltypen import i18n
from kommunaltypen.io import read_data, write_data
from kommunaltypen.io.synthetic import random_canonical
from kommunaltypen.validate import validate_file

OPTION = "datennutzung_personaleinsatz"  # a multiple-choice option column
COLUMNS = (
    "kommune_id",
    "kommunenart",
    "einwohner",
    "open_data",
    "ziele_effizienz",
    OPTION,
    "anteil_fortbildung_digital",
)


def _data() -> pl.DataFrame:
    """Canonical data with item non-response (written as -9) in ``OPTION``'s first rows."""
    df = random_canonical(30, seed=2, missing_share=0.1)
    answered = df.get_column(OPTION).is_not_null()
    first = answered.arg_true()[:3]
    return df.with_columns(df.get_column(OPTION).scatter(first, None))


def _pspp(tmp_path: Path, sav: Path, syntax: str) -> str:
    pspp = shutil.which("pspp")
    assert pspp, (
        "GNU PSPP (the 'pspp' program) is not installed; it is needed to check the SPSS "
        "export with a real client: apt-get install pspp (scripts/test.sh installs it)"
    )
    sps = tmp_path / "check.sps"
    sps.write_text(f"GET FILE='{sav}'.\n{syntax}\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    run = subprocess.run(
        [pspp, "-o", str(out), "-O", "format=txt", "-O", "width=300", str(sps)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, f"pspp failed: {run.stdout}\n{run.stderr}"
    text = out.read_text("utf-8")
    assert "error" not in text.lower(), text
    return text


def _dictionary(text: str) -> dict[str, dict[str, str]]:
    """The rows of PSPP's "Variables" table, by variable name."""
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    header = next(ln for ln in lines if ln.startswith("|Name"))
    keys = [k.strip() for k in header.strip("|").split("|")]
    rows = {}
    for ln in lines:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        if len(cells) == len(keys) and cells[0] in COLUMNS:
            rows[cells[0]] = dict(zip(keys, cells, strict=True))
    return rows


def test_pspp_shows_labels_user_missing_formats_and_levels(tmp_path):
    df = _data()
    sav = write_data(df, tmp_path / "daten.sav")
    text = _pspp(
        tmp_path,
        sav,
        f"DISPLAY DICTIONARY /VARIABLES={' '.join(COLUMNS)}.\n"
        f"FREQUENCIES VARIABLES=kommunenart {OPTION}.",
    )
    dic = _dictionary(text)
    assert set(dic) == set(COLUMNS), text
    expected = {  # column: (label, level, format, missing values)
        "kommune_id": ("Kennung der Kommune", "Nominal", "A4", ""),
        "kommunenart": ("Art der Kommune", "Nominal", "F2.0", "-9; -8; -1"),
        "einwohner": ("Einwohnerzahl", "Scale", "F7.0", "-9; -8; -1"),
        "open_data": ("Grad der Bereitstellung von offenen Daten", "Ordinal", "F2.0", None),
        "ziele_effizienz": (None, "Ordinal", "F2.0", None),
        OPTION: (None, "Nominal", "F2.0", "-9; -8; -1"),
        "anteil_fortbildung_digital": (None, "Scale", "F8.2", None),
    }
    for col, (label, level, fmt, missing) in expected.items():
        row = dic[col]
        assert row["Label"], col
        if label is not None:
            assert row["Label"] == label, row
        assert row["Measurement Level"] == level, row
        assert row["Print Format"] == row["Write Format"] == fmt, row
        if missing is not None:
            assert row["Missing Values"] == missing, row
    assert dic[OPTION]["Label"].endswith(": Personaleinsatzplanung")
    # value labels, the user-missing ones marked as such
    for label in ("Kreisfreie Stadt", "Gemeinde", "ausgewählt", "nicht ausgewählt", "Rang 1"):
        assert f"|{label} " in text, label
    assert "-9[a]" in text and "a. User-missing value" in text
    # frequencies: the -9 cells of the option column count as user-missing "keine Angabe"
    freq = text[text.index("Frequency") :]
    missing_rows = [ln for ln in freq.splitlines() if "keine Angabe" in ln]
    assert missing_rows and missing_rows[0].split("|")[2].strip() == "3", freq


def test_pspp_shows_english_labels_when_the_language_is_english(tmp_path):
    with i18n.use_lang("en"):
        sav = write_data(_data(), tmp_path / "data.sav")
    text = _pspp(tmp_path, sav, f"DISPLAY DICTIONARY /VARIABLES={' '.join(COLUMNS)}.")
    dic = _dictionary(text)
    assert dic["kommunenart"]["Label"] == "Kind of municipality"
    assert "|District (Kreis) " in text and "|no answer " in text and "|selected " in text
    assert "keine Angabe" not in text and "ausgewählt" not in text


def test_sav_metadata_through_our_reader(tmp_path):
    import pyreadstat

    sav = write_data(_data(), tmp_path / "d.sav")
    _, meta = pyreadstat.read_sav(str(sav), metadataonly=True)
    assert meta.original_variable_types["kommunenart"] == "F2.0"
    assert meta.original_variable_types["kommune_id"].startswith("A")
    assert meta.variable_measure["open_data"] == "ordinal"
    assert meta.variable_measure["einwohner"] == "scale"
    assert meta.variable_measure["name"] == "nominal"
    _, ours = read_data(sav)
    assert ours.value_labels[OPTION][1.0] == "ausgewählt"
    assert sorted(ours.user_missing[OPTION]) == [-9.0, -8.0, -1.0]


@pytest.mark.parametrize("lang", ["de", "en"])
def test_sav_round_trip_gives_the_same_canonical_data(tmp_path, lang):
    df = _data()
    with i18n.use_lang(lang):
        sav = write_data(df, tmp_path / "d.sav")
    data, report = validate_file(sav)
    assert report.errors == [] and report.rows_rejected == 0
    assert_frame_equal(data, df)


def test_example_data_as_sav_carries_the_spss_dictionary(tmp_path):
    """``kommunaltypen example-data --format sav`` (reconstruct.write_frame) writes through
    the same SPSS writer and reads back as the bundled data."""
    import pyreadstat

    from kommunaltypen.reconstruct.io import bundled_data_path, load_bundled, write_frame

    sav = write_frame(load_bundled(), tmp_path / "beispiel.sav", "sav")
    _, meta = pyreadstat.read_sav(str(sav), metadataonly=True)
    assert meta.column_names_to_labels["kommunenart"] == "Art der Kommune"
    assert meta.variable_value_labels["kommunenart"][2.0] == "Kreisfreie Stadt"
    assert meta.variable_measure["kommunenart"] == "nominal"
    assert meta.original_variable_types["kommunenart"] == "F2.0"
    _, ours = read_data(sav)
    assert sorted(ours.user_missing["ziele_effizienz"]) == [-9.0, -8.0, -1.0]
    data, report = validate_file(sav)
    expected, _ = validate_file(bundled_data_path())
    assert report.rows_rejected == 0
    assert_frame_equal(data, expected)
