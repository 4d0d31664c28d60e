"""Property-based tests: random and corrupted input never raises anything but
KommunaltypenError, and the row counts always balance."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kommunaltypen.codebook import default_codebook
from kommunaltypen.errors import KommunaltypenError
from kommunaltypen.io.synthetic import random_canonical
from kommunaltypen.validate import validate_file, validate_frame

CB = default_codebook()
GOLDEN = Path(__file__).resolve().parent / "golden"
BASE = random_canonical(8, seed=42, missing_share=0.1).select(pl.all().cast(pl.String))
CSV_TEXT = (GOLDEN / "golden_utf8.csv").read_bytes()
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cell_values = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "-9", "-8", "-1", "0", "1", "2", "3", "99", "1,5", "2.0", "x"]),
    st.integers(-20, 5_000_000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=12),
)


def _balanced(data: pl.DataFrame, report) -> None:
    assert report.rows_in == report.rows_accepted + report.rows_rejected
    assert data.height == report.rows_accepted
    assert report.row_status.height == report.rows_in
    assert report.rejected_rows.height == report.rows_rejected
    rejected_rows = set(report.rejected_rows.get_column("row").to_list())
    error_rows = {i.row for i in report.errors}
    assert rejected_rows == error_rows  # every rejection has a reason and vice versa


def _run_file(path: Path, **kw) -> None:
    try:
        data, report = validate_file(path, **kw)
    except KommunaltypenError:
        return
    _balanced(data, report)


@SETTINGS
@given(
    edits=st.lists(
        st.tuples(st.integers(0, BASE.height - 1), st.sampled_from(CB.columns), cell_values),
        max_size=15,
    )
)
def test_random_cell_values_in_valid_columns(edits):
    frame = BASE
    for row, col, value in edits:
        frame = frame.with_columns(frame.get_column(col).scatter(row, value))
    data, report = validate_frame(frame, source="prop.csv")
    _balanced(data, report)


@SETTINGS
@given(
    edits=st.lists(
        st.tuples(st.integers(0, BASE.height - 1), st.sampled_from(CB.columns), cell_values),
        max_size=8,
    ),
    sep=st.sampled_from([",", ";"]),
)
def test_random_cell_values_through_the_csv_reader(edits, sep):
    frame = BASE
    for row, col, value in edits:
        frame = frame.with_columns(frame.get_column(col).scatter(row, value))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.csv"
        frame.write_csv(path, separator=sep)
        _run_file(path)


@SETTINGS
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".csv", ".xlsx", ".sav", ""]))
def test_random_bytes_never_crash(data, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"zufall{suffix}"
        path.write_bytes(data)
        _run_file(path)


@SETTINGS
@given(cut=st.integers(0, len(CSV_TEXT)), junk=st.binary(max_size=40))
def test_truncated_or_corrupted_csv(cut, junk):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kaputt.csv"
        path.write_bytes(CSV_TEXT[:cut] + junk)
        _run_file(path)


@SETTINGS
@given(lines=st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=60), max_size=6))
def test_random_text_files_with_an_id_header(lines):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "text.csv"
        path.write_text("kommune_id,kommunenart\n" + "\n".join(lines), encoding="utf-8")
        _run_file(path)
