"""Readers and validation from uploads (bytes, file objects), forgiving headers, duplicate
headers, UTF-16 CSV, structured mapping errors, and the layering of the canonical schema."""

from __future__ import annotations

import ast
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kommunaltypen import i18n
from kommunaltypen.errors import InputFileError
from kommunaltypen.io import as_source, detect_format, read_data, write_data
from kommunaltypen.io.synthetic import random_canonical
from kommunaltypen.mapping import CellError, Mapping
from kommunaltypen.reconstruct.io import bundled_data_path
from kommunaltypen.validate import validate_file, validate_frame

SRC = Path(__file__).resolve().parents[1] / "src" / "kommunaltypen"


@pytest.fixture(autouse=True)
def _german():
    with i18n.use_lang("de"):
        yield


def _same_outcome(a, b) -> None:
    """Two ``validate_file`` results are identical: data, report, row fates, rejected rows."""
    (data_a, rep_a), (data_b, rep_b) = a, b
    assert_frame_equal(data_a, data_b)
    assert rep_a.to_dict() == rep_b.to_dict()
    assert_frame_equal(rep_a.row_status, rep_b.row_status)
    assert_frame_equal(rep_a.rejected_rows, rep_b.rejected_rows)


def _with_errors() -> bytes:
    """A small CSV with valid rows, rejected rows and an unknown column."""
    df = random_canonical(6, seed=5, missing_share=0.0).select(pl.all().cast(pl.String))
    df = df.with_columns(
        pl.Series("kommunenart", ["1", "9", "2", "3", "x", "4"]),
        pl.lit("?").alias("extra"),
    )
    return df.write_csv().encode()


# ------------------------------------------------------------------ 1. uploads
def test_bundled_data_from_bytes_and_file_object_equals_the_path():
    path = bundled_data_path()
    data = path.read_bytes()
    from_path = validate_file(path)
    assert from_path[1].rows_in > 400
    _same_outcome(from_path, validate_file(data, filename=str(path)))
    _same_outcome(from_path, validate_file(io.BytesIO(data), filename=str(path)))
    with path.open("rb") as fh:  # a real file object: its name is used
        _, report = validate_file(fh)
    assert report.source == path.name


def test_messages_name_the_given_file_name(tmp_path):
    raw = _with_errors()
    path = tmp_path / "antworten.csv"
    path.write_bytes(raw)
    data_p, rep_p = validate_file(path)
    data_u, rep_u = validate_file(io.BytesIO(raw), filename="Upload Kreis.csv")
    assert rep_p.rows_rejected == 2 and rep_p.warnings
    assert_frame_equal(data_p, data_u)
    assert rep_u.source == rep_u.meta.source == "Upload Kreis.csv"
    assert [i.message for i in rep_u.issues] == [
        i.message.replace(str(path), "Upload Kreis.csv") for i in rep_p.issues
    ]
    assert all(i.file == "Upload Kreis.csv" for i in rep_u.issues)
    assert sum("Upload Kreis.csv" in i.message for i in rep_u.errors) == 2


@pytest.mark.parametrize("fmt", ["xlsx", "sav"])
def test_xlsx_and_sav_from_bytes(tmp_path, fmt):
    df = random_canonical(12, seed=3, missing_share=0.1)
    path = write_data(df, tmp_path / f"d.{fmt}")
    expected = validate_file(path)
    got = validate_file(path.read_bytes(), filename=str(path))
    _same_outcome(expected, got)
    # without a name: the format is recognised from the content
    data, report = validate_file(io.BytesIO(path.read_bytes()))
    assert_frame_equal(data, df)
    assert report.source == "upload" and report.format == fmt


def _spooled(monkeypatch) -> list[str]:
    made: list[str] = []
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        fd, name = real(*args, **kwargs)
        made.append(name)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    return made


def test_sav_upload_is_spooled_to_a_temporary_file_that_is_removed(tmp_path, monkeypatch):
    path = write_data(random_canonical(5, seed=1), tmp_path / "d.sav")
    made = _spooled(monkeypatch)
    read_data(path.read_bytes(), filename="d.sav")
    assert len(made) == 1 and made[0].endswith(".sav")
    assert not os.path.exists(made[0])
    with pytest.raises(InputFileError, match="SPSS") as err:
        read_data(b"$FL2 kaputt", filename="kaputt.sav")
    assert "kaputt.sav" in str(err.value)
    assert len(made) == 2 and not os.path.exists(made[1])


def test_reading_a_path_spools_nothing(tmp_path, monkeypatch):
    path = write_data(random_canonical(5, seed=1), tmp_path / "d.sav")
    made = _spooled(monkeypatch)
    read_data(path)
    assert made == []


@pytest.mark.parametrize(
    ("source", "filename", "match"),
    [
        (b"", "leer.csv", "leer.csv ist leer"),
        (io.BytesIO(b""), None, "upload ist leer"),
        (io.StringIO("kommune_id\nK1\n"), "t.csv", "Textmodus"),
        (12345, None, "int"),
        (b"%PDF-1.4", "bericht.pdf", "bericht.pdf"),
        (b"kommune_id\nK1\n", "daten.xlsx", "daten.xlsx"),
        (b"\x00\x01\x02\x03kommune", "x.csv", "keine Textdatei"),
    ],
)
def test_bad_uploads_are_one_clear_message(source, filename, match):
    with pytest.raises(InputFileError, match=match):
        validate_file(source, filename=filename)


def test_format_detection_uses_the_file_name_of_an_upload():
    assert detect_format(b"kommune_id\nK1\n", filename="a.csv") == "csv"
    ls = b'"id","submitdate","lastpage","kommune"\n"1","","2","K1"\n'
    assert detect_format(io.BytesIO(ls), filename="export.csv") == "limesurvey"
    assert as_source(b"x", filename="a.CSV").suffix == ".csv"


# ------------------------------------------------------------------ 2. forgiving headers
def test_headers_differing_in_case_or_spaces_are_matched_with_a_warning(tmp_path):
    df = random_canonical(5, seed=8, missing_share=0.0)
    renamed = {"kommune_id": " kommune_id", "bundesland": "BUNDESLAND", "einwohner": "Einwohner "}
    text = df.rename(renamed).write_csv()
    data, report = validate_file(text.encode(), filename="d.csv")
    assert report.rows_rejected == 0 and report.errors == []
    assert_frame_equal(data, df)
    [warning] = [w for w in report.warnings if w.rule == "renamed_columns"]
    for old, new in renamed.items():
        assert f"{new!r} → {old}" in warning.message
    assert not [w for w in report.warnings if w.rule in ("unknown_columns", "missing_columns")]


def test_csv_fast_path_types_renamed_headers():
    raw = b"KOMMUNE_ID,Einwohner\nK1,1000\n"
    df, _ = read_data(raw, filename="d.csv", dtypes={"einwohner": pl.Int32})
    assert df.schema["Einwohner"] == pl.Int32


def test_header_renaming_leaves_existing_and_ambiguous_columns_alone():
    frame = pl.DataFrame(
        {"kommune_id": ["K1"], "KOMMUNE_ID": ["K2"], "Name": ["a"], "NAME ": ["b"]}
    )
    _, report = validate_frame(frame, source="f")
    assert not [w for w in report.warnings if w.rule == "renamed_columns"]
    [unknown] = [w for w in report.warnings if w.rule == "unknown_columns"]
    assert unknown.column == "KOMMUNE_ID, Name, NAME "


def test_unknown_header_close_to_a_codebook_id_gets_a_suggestion():
    frame = pl.DataFrame({"kommune_id": ["K1"], "kommunenartt": ["1"], "bundeslnd": ["2"]})
    _, report = validate_frame(frame, source="f")
    [unknown] = [w for w in report.warnings if w.rule == "unknown_columns"]
    assert "'kommunenartt': meinten Sie kommunenart?" in unknown.message
    assert "'bundeslnd': meinten Sie bundesland?" in unknown.message
    with i18n.use_lang("en"):
        _, report = validate_frame(frame, source="f")
    [unknown] = [w for w in report.warnings if w.rule == "unknown_columns"]
    assert "'kommunenartt': did you mean kommunenart?" in unknown.message


def test_mapping_names_are_not_renamed_forgivingly():
    frame = pl.DataFrame({"KOMMUNE_ID": ["K1"], "Land": ["2"]})
    mp = Mapping(columns={"KOMMUNE_ID": "kommune_id", "Land": "bundesland"})
    _, report = validate_frame(frame, source="f", mapping=mp)
    assert report.rejected_rows.get_column("bundesland").to_list() == [2]
    assert report.rejected_rows.get_column("kommune_id").to_list() == ["K1"]
    assert not [w for w in report.warnings if w.rule == "renamed_columns"]


def test_value_labels_of_a_renamed_column_still_serve_the_mapping():
    from kommunaltypen.io import Meta

    frame = pl.DataFrame(
        {"KOMMUNE_ID": ["K1"], "KOMMUNENART": [10.0], "bundesland": [1.0], "einwohner": [5.0]}
    )
    meta = Meta(source="s.sav", format="sav", value_labels={"KOMMUNENART": {10.0: "Landkreis"}})
    mp = Mapping(values={"kommunenart": {"landkreis": 1}})
    data, report = validate_frame(frame, source="s.sav", meta=meta, mapping=mp)
    assert report.errors == []
    assert data.get_column("kommunenart").to_list() == [1]


# ------------------------------------------------------------------ 3. duplicate headers
@pytest.mark.parametrize("fmt", ["csv", "xlsx", "limesurvey"])
def test_duplicate_headers_are_named(tmp_path, fmt):
    header = ["kommune_id", "a", "b", "a", "b", "b"]
    if fmt == "xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        wb.active.append(header)
        wb.active.append(["K1", 1, 2, 3, 4, 5])
        wb.save(tmp_path / "d.xlsx")
        path = tmp_path / "d.xlsx"
    else:
        extra = ",submitdate,lastpage" if fmt == "limesurvey" else ""
        path = tmp_path / "d.csv"
        path.write_text(",".join(header) + extra + "\nK1,1,2,3,4,5" + ",," * bool(extra) + "\n")
    with pytest.raises(InputFileError) as err:
        read_data(path)
    message = str(err.value)
    assert "doppelte Spaltennamen" in message
    assert "'a' in Spalten 2, 4" in message and "'b' in Spalten 3, 5, 6" in message


def test_duplicate_columns_of_a_pandas_frame_are_named():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame([["K1", "1", "2"]], columns=["kommune_id", "name", "name"])
    with pytest.raises(InputFileError, match="'name' in Spalten 2, 3"):
        validate_frame(frame, source="x")


# ------------------------------------------------------------------ 4. UTF-16 CSV
@pytest.mark.parametrize(
    ("encoding", "bom", "meta_encoding"),
    [
        ("utf-16-le", b"\xff\xfe", "utf-16-le"),  # Excel "Unicode-Text"
        ("utf-16-be", b"\xfe\xff", "utf-16-be"),
        ("utf-16-le", b"", "utf-16-le"),  # no byte order mark
        ("utf-8", b"\xef\xbb\xbf", "utf-8"),
    ],
)
def test_unicode_text_from_excel_is_read(tmp_path, encoding, bom, meta_encoding):
    df = random_canonical(7, seed=9, missing_share=0.1)
    text = df.with_columns(pl.lit("Müllheim – Süd").alias("name")).write_csv(separator="\t")
    path = tmp_path / "unicode.txt"
    path.write_bytes(bom + text.replace("\n", "\r\n").encode(encoding))
    raw, meta = read_data(path)
    assert (meta.encoding, meta.delimiter) == (meta_encoding, "\t")
    assert raw.columns == df.columns
    data, report = validate_file(path)
    assert report.errors == []
    assert_frame_equal(data, df.with_columns(pl.lit("Müllheim – Süd").alias("name")))


def test_utf16_semicolon_with_decimal_comma():
    raw = "kommune_id;anteil\r\nK1;12,5\r\n".encode("utf-16")
    df, meta = read_data(raw, filename="x.csv", dtypes={"anteil": pl.Float64})
    assert meta.delimiter == ";" and meta.decimal_comma
    assert df.get_column("anteil").to_list() == [12.5]


# ------------------------------------------------------------------ 5. structured mapping errors
def test_mapping_returns_cell_errors_as_values():
    frame = pl.DataFrame(
        {"kommune_id": ["K1", "K2", "K3"], "P1": ["3", "11", "1"], "P2": ["3", None, "x"]}
    )
    mapped = Mapping(rankings={"ziele": ["P1", "P2"]}).apply(frame)
    assert not [c for c in mapped.frame.columns if c.startswith("__")]
    assert "P1" not in mapped.frame.columns
    assert mapped.cell_errors == [
        CellError(0, "ziele", "3", "ranking_repeated", "jeden Rang höchstens einmal"),
        CellError(1, "P1", "11", "unknown_code", mapped.cell_errors[1].expected),
        CellError(2, "P2", "x", "unknown_code", mapped.cell_errors[1].expected),
    ]
    assert mapped.cell_errors[1].expected.startswith("einen der Codes 1, 2, 3")


def test_cell_errors_reach_the_report_with_row_numbers():
    frame = pl.DataFrame(
        {
            "kommune_id": ["K1", "K2", "K3"],
            "kommunenart": ["1", "1", "1"],
            "bundesland": ["1", "1", "1"],
            "einwohner": ["10", "10", "10"],
            "P1": ["1", "11", "2"],
            "P2": ["2", None, "2"],
        }
    )
    data, report = validate_frame(
        frame, source="f.csv", mapping=Mapping(rankings={"ziele": ["P1", "P2"]})
    )
    assert data.get_column("kommune_id").to_list() == ["K1"]
    assert [(i.row, i.rule, i.column, i.value) for i in report.errors] == [
        (3, "unknown_code", "P1", "11"),
        (4, "ranking_repeated", "ziele", "2"),
    ]
    assert report.errors[0].message.startswith("f.csv, Zeile 3, Spalte P1: unbekannter Code 11")
    assert report.rejected_rows.get_column("row").to_list() == [3, 4]


# ------------------------------------------------------------------ 6. layering
def test_io_does_not_import_validate():
    for path in sorted((SRC / "io").glob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            assert not any(n.startswith("kommunaltypen.validate") for n in names), path


def test_synthetic_data_without_loading_the_validator():
    code = (
        "import sys\n"
        "from kommunaltypen.io.synthetic import random_canonical\n"
        "from kommunaltypen.schema import canonical_schema\n"
        "df = random_canonical(3)\n"
        "assert dict(df.schema) == canonical_schema()\n"
        "assert 'kommunaltypen.validate' not in sys.modules, 'validate was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_validate_re_exports_the_schema():
    from kommunaltypen import schema, validate

    for name in ("canonical_schema", "dtype_of", "value_bounds", "empty_frame"):
        assert getattr(validate, name) is getattr(schema, name)
