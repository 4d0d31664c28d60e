"""Readers, format detection and writers (round trips)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kommunaltypen.errors import InputFileError
from kommunaltypen.io import READERS, detect_format, read_data, write_data
from kommunaltypen.io.csv_reader import sniff_delimiter
from kommunaltypen.io.synthetic import random_canonical
from kommunaltypen.validate import canonical_schema, validate_file

#: SPSS files written by real SPSS, from the test data of open-source readers (see README.md)
SPSS = Path(__file__).resolve().parent / "spss_samples"


def test_shared_spss_samples_exist():
    # fail loudly instead of skipping when the samples are missing
    assert SPSS.is_dir(), f"missing {SPSS}"
    assert len(list(SPSS.glob("*.sav"))) >= 10


def test_registry_names():
    assert set(READERS) == {"csv", "xlsx", "sav", "limesurvey"}


@pytest.mark.parametrize(
    ("header", "sep"),
    [("a;b;c", ";"), ("a,b,c", ","), ("a\tb\tc", "\t"), ("a", ","), ("a;b,c;d", ";")],
)
def test_delimiter_sniffing(header, sep):
    assert sniff_delimiter(header) == sep


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize(
    ("data", "encoding", "sep"),
    [
        ("kommune_id,name\nK1,Müllheim\n".encode(), "utf-8", ","),
        ("\ufeffkommune_id;name\nK1;Müllheim\n".encode(), "utf-8", ";"),
        ("kommune_id;name\nK1;Müllheim\n".encode("cp1252"), "cp1252", ";"),
        # non-ASCII only far beyond the sniffed head: polars reports invalid UTF-8
        (
            ("kommune_id;name\n" + "K0;x\n" * 20000 + "K1;Müllheim\n").encode("cp1252"),
            "cp1252",
            ";",
        ),
    ],
)
def test_csv_encodings(tmp_path, data, encoding, sep):
    df, meta = read_data(_write(tmp_path, "d.csv", data))
    assert (meta.encoding, meta.delimiter, meta.format) == (encoding, sep, "csv")
    assert df.columns == ["kommune_id", "name"]
    assert df.get_column("name")[-1] == "Müllheim"


def test_csv_decimal_comma_in_typed_fast_path(tmp_path):
    p = _write(tmp_path, "d.csv", b"kommune_id;anteil\nK1;12,5\nK2;3\n")
    df, meta = read_data(p, dtypes={"anteil": pl.Float64})
    assert meta.decimal_comma
    assert df.get_column("anteil").to_list() == [12.5, 3.0]


def test_csv_typed_fast_path_falls_back_to_text_for_bad_columns(tmp_path):
    p = _write(tmp_path, "d.csv", b"kommune_id,n\nK1,1\nK2,zwei\n")
    df, _ = read_data(p, dtypes={"n": pl.Int64})
    assert df.schema["n"] == pl.String
    assert df.get_column("n").to_list() == ["1", "zwei"]


@pytest.mark.parametrize(
    ("name", "data", "match"),
    [
        ("leer.csv", b"", "leer"),
        ("nur_leerzeilen.csv", b"\n\n  \n", "leer"),
        ("binaer.csv", b"\x00\x01\x02kommune_id", "keine Textdatei"),
        ("falsch.xlsx", b"kommune_id\nK1\n", "xlsx"),
        ("falsch.sav", b"kommune_id\nK1\n", "sav"),
        ("daten.pdf", b"%PDF-1.4", "Format"),
        ("kaputt.xlsx", b"PK\x03\x04garbage", "Excel"),
        ("kaputt.sav", b"$FL2garbage", "SPSS"),
    ],
)
def test_fatal_file_problems(tmp_path, name, data, match):
    with pytest.raises(InputFileError, match=match):
        validate_file(_write(tmp_path, name, data))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputFileError, match="nicht gefunden"):
        read_data(tmp_path / "fehlt.csv")
    with pytest.raises(InputFileError, match="Ordner"):
        read_data(tmp_path)


def test_unknown_reader_name(tmp_path):
    p = _write(tmp_path, "d.csv", b"kommune_id\nK1\n")
    with pytest.raises(InputFileError, match="parquet"):
        read_data(p, "parquet")


def test_detect_format(tmp_path):
    csv = _write(tmp_path, "a.csv", b"kommune_id\nK1\n")
    assert detect_format(csv) == "csv"
    ls = _write(tmp_path, "b.csv", b'"id","submitdate","lastpage","kommune"\n"1","","2","K1"\n')
    assert detect_format(ls) == "limesurvey"
    noext = _write(tmp_path, "daten", b"kommune_id\nK1\n")
    assert detect_format(noext) == "csv"


def test_duplicate_header_names_are_fatal(tmp_path):
    p = _write(tmp_path, "d.csv", b"kommune_id,a,a\nK1,1,2\n")
    with pytest.raises(InputFileError, match="doppelte Spaltennamen"):
        read_data(p)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "sav"])
def test_write_then_read_round_trip(tmp_path, fmt):
    df = random_canonical(25, seed=11, missing_share=0.1)
    path = write_data(df, tmp_path / f"daten.{fmt}")
    data, report = validate_file(path)
    assert report.rows_rejected == 0 and report.errors == []
    assert_frame_equal(data, df)
    assert dict(data.schema) == canonical_schema()


def _with_item_nonresponse() -> pl.DataFrame:
    """Canonical data with item non-response: single option cells null in answered rows."""
    from kommunaltypen.codebook import default_codebook

    cb = default_codebook()
    df = random_canonical(8, seed=4, missing_share=0.0)
    dn, zi = cb.question("datennutzung").columns, cb.question("ziele").columns
    nulls = {c: [3] for c in dn}  # row 3 did not answer at all: stays empty
    nulls |= {dn[0]: [0, 1, 3], dn[1]: [1, 3], zi[0]: [2], zi[1]: [2]}
    return df.with_columns(df.get_column(c).scatter(rows, None) for c, rows in nulls.items())


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "sav"])
def test_round_trip_keeps_item_nonresponse(tmp_path, fmt):
    df = _with_item_nonresponse()
    path = write_data(df, tmp_path / f"daten.{fmt}")
    data, report = validate_file(path)
    assert report.rows_rejected == 0 and report.errors == []
    assert_frame_equal(data, df)
    col = "datennutzung_personaleinsatz"
    kept = df.get_column(col)[2]
    assert kept is not None
    assert data.get_column(col).to_list()[:4] == [None, None, kept, None]
    # on disk: -9 (no answer) in the answered rows, empty where the question was not answered
    raw, _ = read_data(path)
    assert raw.get_column(col).cast(pl.Float64).to_list()[:4] == [-9, -9, kept, None]


def test_sav_reader_keeps_codebook_missing_codes_other_user_missing_become_null(tmp_path):
    df = _with_item_nonresponse().with_columns(pl.lit(None, pl.Int64).alias("kommunenart"))
    path = write_data(df, tmp_path / "d.sav")
    raw, meta = read_data(path)
    assert sorted(meta.user_missing["datennutzung_personaleinsatz"]) == [-9.0, -8.0, -1.0]
    assert raw.get_column("datennutzung_personaleinsatz").to_list()[:2] == [-9.0, -9.0]
    assert raw.get_column("kommunenart").null_count() == df.height  # system-missing
    raw, _ = read_data(path, missing_codes=[-1, -8])  # -9 is no code here: user-missing
    assert raw.get_column("datennutzung_personaleinsatz").to_list()[:2] == [None, None]


def test_write_unknown_format(tmp_path):
    with pytest.raises(InputFileError, match="json"):
        write_data(random_canonical(2), tmp_path / "x.json")


def test_sav_writer_declares_labels_and_user_missing(tmp_path):
    path = write_data(random_canonical(3, seed=1), tmp_path / "d.sav")
    _, meta = read_data(path)
    assert meta.format == "sav" and meta.first_data_row == 1
    assert meta.column_labels["kommunenart"] == "Art der Kommune"
    assert meta.value_labels["kommunenart"][1.0] == "Kreis"
    assert meta.value_labels["kommunenart"][-9.0] == "keine Angabe"
    assert sorted(meta.user_missing["kommunenart"]) == [-9.0, -8.0, -1.0]


def test_xlsx_rows_keep_spreadsheet_numbers(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["kommune_id", "kommunenart", "bundesland", "einwohner"])
    ws.append(["K1", 1, 2, 1000])
    ws.append([None, None, None, None])  # an empty line in between
    ws.append(["K2", 9, 2, 2000.0])
    wb.save(tmp_path / "d.xlsx")
    data, report = validate_file(tmp_path / "d.xlsx")
    assert report.rows_in == 2 and data.height == 1
    assert [(i.rule, i.row) for i in report.errors] == [("unknown_code", 4)]
    assert any("leere" in w.message for w in report.warnings)


# --------------------------------------------------------------------- real SPSS files
def _spss(name: str) -> Path:
    path = SPSS / name
    assert path.exists(), f"missing SPSS sample {path}"
    return path


def test_every_shared_spss_file_reads_or_fails_cleanly():
    files = sorted(SPSS.glob("*.*sav"))
    assert files
    for path in files:
        df, meta = read_data(path)
        assert meta.format == "sav" and df.height > 0, path
        # not in the codebook: a clear error about the missing id column, no crash
        with pytest.raises(InputFileError, match="kommune_id"):
            validate_file(path)


def test_spss_user_missing_values_and_ranges_are_honoured():
    df, meta = read_data(_spss("tidyverse__tests_testthat_spss_labelled-num-na.sav"))
    assert meta.user_missing == {"VAR00002": [9.0]}
    assert df.get_column("VAR00002").to_list() == [1.0, None]
    df, meta = read_data(_spss("Roche__test_data_basic_sample_missing.sav"))
    assert (2000.0, 3000.0) in meta.user_missing["mynum"]
    raw = __import__("pyreadstat").read_sav(
        str(_spss("Roche__test_data_basic_sample_missing.sav")), user_missing=True
    )[0]
    declared = [v for v in raw["mynum"].tolist() if v == v and (2000 <= v <= 3000 or v == -1)]
    assert declared, "the sample must contain user-missing values"
    assert -1 in declared
    # declared user-missing values become null — except the codebook's missing codes (-1 here),
    # which keep their value for the validator (item non-response in option columns)
    got = df.get_column("mynum").to_list()
    assert all(v is None or not 2000 <= v <= 3000 for v in got)
    assert got.count(-1.0) == declared.count(-1.0)
    df, _ = read_data(_spss("Roche__test_data_basic_sample_missing.sav"), missing_codes=())
    assert all(v is None or not (2000 <= v <= 3000 or v == -1) for v in df.get_column("mynum"))


def test_spss_value_labels_and_umlauts():
    _, meta = read_data(_spss("tidyverse__tests_testthat_spss_umlauts.sav"))
    assert meta.value_labels["var1"][1.0] == "the ä umlaut"
    df, _ = read_data(_spss("fomcl__savReaderWriter_test_data_greetings.sav"))
    assert "Bondjoû" in df.columns


def test_spss_compressed_zsav():
    a, _ = read_data(_spss("Roche__test_data_basic_sample.sav"))
    b, _ = read_data(_spss("Roche__test_data_basic_sample.zsav"))
    assert_frame_equal(a, b)


def test_spss_dates_out_of_range_are_kept_as_numbers():
    df, meta = read_data(_spss("tidyverse__tests_testthat_spss_datetime.sav"))
    assert df.height == 2 and meta.notes
