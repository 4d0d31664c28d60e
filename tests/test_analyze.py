"""The analysis pipeline (run_analysis) and the ``analyze`` command on synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from kommunaltypen.analysis import AnalysisResult, run_analysis
from kommunaltypen.cli import main
from kommunaltypen.tables.engine import OUTPUT_COLUMNS
from kommunaltypen.tables.synthetic import synthetic_frame, write_synthetic_csv

DECLARATION = """
tables:
  - number: 2
    caption_de: "Typen nach Art der Kommune"
    columns: kommunengruppe_all
    rows:
      - {label_de: "Bedächtige", measure: type_share, type: bedaechtige}
      - {label_de: "Optimierer", measure: type_share, type: optimierer}
  - number: 3
    caption_de: "Einwohner"
    columns: kreis_vs_rest
    rows:
      - {label_de: "Alle Typen", measure: grouped_median, column: einwohner, precision: 0}
  - number: 12
    caption_de: "Fortbildung"
    columns: types_total
    rows:
      - {label_de: "Trends – angeboten", measure: share, column: fortbildung_trends,
         values: [1], study_label: "Trends", part: angeboten}
      - {label_de: "Trends – geplant", measure: share, column: fortbildung_trends,
         values: [2], study_label: "Trends", part: geplant}
      - {label_de: "Civic Tech (mit Strategie)", measure: share, column: beteiligung_civic_tech,
         values: [1], where: [{column: strategie, in: [1, 2]}]}
  - number: 20
    caption_de: "Nur zwei Typen"
    columns: types
    rows:
      - {label_de: "Beteiligung", measure: mean, column: mitarbeitendenbeteiligung, precision: 2}
"""
N_ROWS = 300


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("analyze")
    write_synthetic_csv(root / "daten.csv", N_ROWS, seed=4)
    (root / "tabellen.yaml").write_text(DECLARATION, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def result(workdir: Path) -> AnalysisResult:
    return run_analysis(
        workdir / "daten.csv",
        out_dir=workdir / "out",
        tables=workdir / "tabellen.yaml",
        n_bootstrap=30,
        seed=3,
        k_choice=False,
    )


def test_result_object(result: AnalysisResult) -> None:
    assert [tb.number for tb in result.tables] == [2, 3, 12, 20]
    assert result.validation.rows_accepted == N_ROWS
    assert result.n_typed == sum(result.type_counts.values())
    assert 0 < result.n_typed < N_ROWS  # untyped municipalities exist
    frame = result.tables_frame()
    assert set(OUTPUT_COLUMNS) <= set(frame.columns)
    # the Gesamt column of a share row counts untyped municipalities too
    t12 = result.table(12)
    row = t12.rows[0]
    typed_n = sum(c.n for c in row.cells if not c.column.total)
    assert row.cell("Gesamt").n > typed_n


def test_output_directory(result: AnalysisResult, workdir: Path) -> None:
    out = workdir / "out"
    for name in (
        "assignments.csv",
        "centers.csv",
        "model.json",
        "diagnostics.json",
        "manifest.json",
        "rejected.csv",
    ):
        assert (out / name).is_file(), name
    files = sorted(p.name for p in (out / "tables").iterdir())
    assert files == ["table_02.csv", "table_03.csv", "table_12.csv", "table_20.csv"]
    t12 = pl.read_csv(out / "tables" / "table_12.csv")
    assert list(t12.columns[:5]) == ["table", "row_label", "column_label", "value", "n"]
    assert {
        "ci_low",
        "ci_high",
        "p_value",
        "test",
        "effect_size",
        "effect_name",
        "bold",
        "suppressed",
        "value2",
    } <= set(t12.columns)
    assert set(t12["row_label"]) == {
        "Trends – angeboten",
        "Trends – geplant",
        "Civic Tech (mit Strategie)",
    }
    assert t12["column_label"].unique(maintain_order=True).to_list() == [
        "Bedächtige",
        "Optimierer",
        "Serviceorientierte",
        "Community Manager",
        "Gesamt",
    ]
    assignments = pl.read_csv(out / "assignments.csv")
    assert assignments.height == N_ROWS
    assert assignments.columns[:2] == ["kommune_id", "type"]
    assert {
        "p_bedaechtige",
        "p_optimierer",
        "p_serviceorientierte",
        "p_community_manager",
        "mischform",
        "reason",
    } <= set(assignments.columns)
    untyped = assignments.filter(pl.col("type").is_null())
    assert untyped.height == N_ROWS - result.n_typed
    assert untyped["reason"].null_count() == 0
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    by_kind = manifest["rows"].pop("by_kommunenart")
    assert manifest["rows"] == {
        "in": N_ROWS,
        "accepted": N_ROWS,
        "rejected": 0,
        "typed": result.n_typed,
    }
    kinds = result.data["kommunenart"].to_list()
    for code, counts in by_kind.items():
        rows = [i for i, k in enumerate(kinds) if str(k) == code]
        assert counts["accepted"] == len(rows)
        assert counts["typed"] == sum(result.types[i] is not None for i in rows)
    assert manifest["seed"] == 3 and manifest["parameters"]["n_bootstrap"] == 30
    assert len(manifest["input"]["sha256"]) == 64
    assert "created_at" in manifest and "polars" in manifest["versions"]
    diagnostics = json.loads((out / "diagnostics.json").read_text("utf-8"))
    assert diagnostics["stability"]["n_bootstrap"] == 30
    centers = pl.read_csv(out / "centers.csv")
    assert centers["type"].to_list() == list(result.model.type_ids_)


def test_outputs_are_reproducible(result: AnalysisResult, workdir: Path) -> None:
    again = run_analysis(
        workdir / "daten.csv",
        out_dir=workdir / "out2",
        tables=workdir / "tabellen.yaml",
        n_bootstrap=30,
        seed=3,
        k_choice=False,
    )
    first = json.loads((workdir / "out" / "manifest.json").read_text("utf-8"))
    second = json.loads((workdir / "out2" / "manifest.json").read_text("utf-8"))
    assert first["outputs"] == second["outputs"]
    assert again.tables_frame().equals(result.tables_frame())


def test_publication_mode_in_files(workdir: Path) -> None:
    res = run_analysis(
        workdir / "daten.csv",
        out_dir=workdir / "pub",
        tables=workdir / "tabellen.yaml",
        publication=True,
        min_n=60,
        n_bootstrap=0,
        seed=3,
        k_choice=False,
    )
    frame = pl.read_csv(workdir / "pub" / "tables" / "table_12.csv", infer_schema=False)
    hidden = frame.filter(pl.col("suppressed") == "true")
    assert hidden.height > 0  # some type columns have fewer than 60 cases
    assert set(hidden["value"]) == {"<60"}
    assert hidden["n"].null_count() == hidden.height
    assert hidden["ci_low"].null_count() == hidden.height
    shown = frame.filter(pl.col("suppressed") == "false")
    assert shown.height > 0 and all(int(n) >= 60 for n in shown["n"])
    assert res.manifest["parameters"]["publication"] is True


def test_user_table_file_on_cli(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = workdir / "cli"
    with pytest.raises(SystemExit) as info:
        main(
            [
                "analyze",
                str(workdir / "daten.csv"),
                "--out",
                str(out),
                "--table-spec",
                str(workdir / "tabellen.yaml"),
                "--tables",
                "--bootstrap",
                "10",
                "--no-report",
                "--no-k-choice",
                "--seed",
                "1",
            ]
        )
    assert info.value.code in (0, None)
    text = capsys.readouterr().out
    assert "Tabelle 12: Fortbildung" in text and "Kommunentypen" in text
    assert (out / "tables" / "table_20.csv").is_file()


def test_written_files_include_the_report(tmp_path: Path) -> None:
    """Every file in the output directory is one the analysis reports as written."""
    out = tmp_path / "mit_bericht"
    result = run_analysis(out_dir=out, n_bootstrap=10, k_choice=False, report=True)
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert set(result.files) == on_disk
    assert {"report.html", "report.pdf", "report.xlsx", "charts/zielprofil.svg"} <= on_disk


def test_cli_errors_are_messages(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = workdir / "kaputt.yaml"
    bad.write_text(
        "tables:\n  - number: 1\n    caption_de: x\n    columns: types\n"
        "    rows:\n      - {label_de: a, measure: share, column: nix, values: [1]}\n",
        encoding="utf-8",
    )
    with pytest.raises(SystemExit) as info:
        main(
            [
                "analyze",
                str(workdir / "daten.csv"),
                "--out",
                str(workdir / "x"),
                "--table-spec",
                str(bad),
                "--no-report",
            ]
        )
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "kaputt.yaml" in err and "'nix'" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as info:
        main(["analyze", str(workdir / "fehlt.csv"), "--out", str(workdir / "x"), "--no-report"])
    assert info.value.code == 2
    assert "fehlt.csv" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(
            [
                "analyze",
                str(workdir / "daten.csv"),
                "--out",
                str(workdir / "x"),
                "--min-n",
                "0",
                "--no-report",
            ]
        )
    assert info.value.code == 2


def test_synthetic_frame_validates() -> None:
    from kommunaltypen.validate import validate_frame

    data, report = validate_frame(synthetic_frame(200, seed=9))
    assert report.rows_rejected == 0 and data.height == 200


def test_report_is_called_when_available(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kommunaltypen.report as report_pkg

    calls = []

    def fake_render(out_dir, result, lang="de", publication=False, min_n=5):
        calls.append((Path(out_dir), result.n_typed, lang, publication, min_n))
        return {}

    monkeypatch.setattr(report_pkg, "render_report", fake_render, raising=False)
    res = run_analysis(
        workdir / "daten.csv",
        out_dir=workdir / "rep",
        tables=workdir / "tabellen.yaml",
        n_bootstrap=0,
        k_choice=False,
        publication=True,
        min_n=7,
        lang="en",
        report=True,
    )
    assert calls == [(workdir / "rep", res.n_typed, "en", True, 7)]
    run_analysis(
        workdir / "daten.csv",
        out_dir=workdir / "rep2",
        tables=workdir / "tabellen.yaml",
        n_bootstrap=0,
        k_choice=False,
        report=False,
    )
    assert len(calls) == 1


def test_assignments_match_typology_api(result: AnalysisResult) -> None:
    """The vectorised assignments equal Typology.assignments on the same data."""
    ours = result.assignments
    theirs = result.model.assignments(result.data)
    assert ours["type"].to_list() == theirs["type"].to_list()
    assert ours["reason"].to_list() == theirs["reason"].to_list()
    assert ours["mischform"].to_list() == theirs["mischform"].to_list()
    for tid in result.model.type_ids_:
        a = ours[f"p_{tid}"].fill_null(-1.0).to_numpy()
        b = theirs[f"p_{tid}"].fill_null(-1.0).to_numpy()
        assert np.allclose(a, b)


def test_manifest_hashes_are_the_written_files(result: AnalysisResult, workdir: Path) -> None:
    """Every output hash in the manifest is the sha256 of the file as it lies in the
    directory (the assignments are written and hashed by a background thread), and no
    temporary file is left."""
    import hashlib

    out = workdir / "out"
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    for name, digest in manifest["outputs"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    assert "assignments.csv" in manifest["outputs"]
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    written = pl.read_csv(out / "assignments.csv")
    assert written.equals(pl.read_csv(result.assignments.write_csv().encode()))


def test_a_failed_analysis_leaves_no_partial_output(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The assignments are written in the background from the fit on; when a later step
    fails, neither their temporary file nor the output directory made for it is left."""
    from kommunaltypen import analysis

    def broken(*args, **kwargs):
        raise RuntimeError("Tabellen kaputt")

    monkeypatch.setattr(analysis, "compute_tables", broken)
    out = workdir / "failed" / "out"
    with pytest.raises(RuntimeError, match="Tabellen kaputt"):
        run_analysis(workdir / "daten.csv", out_dir=out, n_bootstrap=0, k_choice=False)
    assert not out.exists()


def test_a_failing_background_write_is_reported(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk error while the assignments are written in the background reaches the caller
    as the output directory's error, naming the directory."""
    from kommunaltypen.errors import InputFileError

    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_csv", full)
    out = workdir / "full"
    with pytest.raises(InputFileError, match="full") as caught:
        run_analysis(workdir / "daten.csv", out_dir=out, n_bootstrap=0, k_choice=False)
    assert "No space left" in str(caught.value)
    assert not list(out.rglob(".*.tmp"))  # (rglob of a missing directory: nothing)
