"""`kommunaltypen validate`: summary, exit codes, languages, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import run_cli

GOLDEN = Path(__file__).resolve().parent / "golden"
SAMPLE = Path(__file__).resolve().parents[1] / "src/kommunaltypen/data/sample/beispiel_klein.csv"


run = run_cli


def test_validate_sample_prints_german_summary_and_exits_0(capsys):
    code, out, err = run(capsys, "validate", str(SAMPLE))
    assert code == 0, err
    assert "Zeilen gelesen" in out and "30" in out and "25" in out
    assert "unbekannter Code" in out


def test_validate_english(capsys):
    code, out, _ = run(capsys, "--lang", "en", "validate", str(SAMPLE))
    assert code == 0
    assert "Rows read" in out and "unknown code" in out


def test_strict_exits_1_when_rows_were_rejected(capsys):
    code, _, _ = run(capsys, "validate", "--strict", str(SAMPLE))
    assert code == 1
    code, _, _ = run(capsys, "validate", "--strict", str(GOLDEN / "golden_utf8.csv"))
    assert code == 0


def test_json_report_and_rejected_csv(tmp_path, capsys):
    rejected = tmp_path / "abgelehnt.csv"
    code, out, _ = run(capsys, "validate", str(SAMPLE), "--json", "--rejected", str(rejected))
    assert code == 0
    report = json.loads(out)
    assert (report["rows_in"], report["rows_accepted"], report["rows_rejected"]) == (30, 25, 5)
    assert report["rows_in"] == report["rows_accepted"] + report["rows_rejected"]
    lines = rejected.read_text("utf-8").splitlines()
    assert len(lines) == 6 and lines[0].startswith("row,reasons,kommune_id")


def test_mapping_and_format_options(capsys):
    code, out, _ = run(
        capsys,
        "validate",
        str(GOLDEN / "golden_limesurvey.csv"),
        "--mapping",
        str(GOLDEN / "golden_limesurvey_mapping.yaml"),
        "--format",
        "limesurvey",
        "--json",
    )
    assert code == 0 and json.loads(out)["rows_accepted"] == 16


@pytest.mark.parametrize(
    ("content", "name", "needle"),
    [
        (None, "fehlt.csv", "nicht gefunden"),
        (b"", "leer.csv", "leer"),
        (b"\x00\xff\x00garbage", "binaer.csv", "keine Textdatei"),
        (b"a,b\n1,2\n", "fremd.csv", "kommune_id"),
    ],
)
def test_bad_files_give_one_message_and_exit_2(tmp_path, capsys, content, name, needle):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, out, err = run(capsys, "validate", str(path))
    assert code == 2
    assert needle in err and "Traceback" not in err + out


def test_bad_mapping_gives_clean_error(tmp_path, capsys):
    mp = tmp_path / "m.yaml"
    mp.write_text("columns: {a: gibtsnicht}\n", encoding="utf-8")
    code, _, err = run(capsys, "validate", str(SAMPLE), "--mapping", str(mp))
    assert code == 2 and "gibtsnicht" in err and "Traceback" not in err


def test_unknown_format_option(capsys):
    code, _, err = run(capsys, "validate", str(SAMPLE), "--format", "parquet")
    assert code == 2 and "parquet" in err


def test_help_is_german_by_default_and_english_on_request(capsys):
    code, out, _ = run(capsys, "validate", "--help")
    assert code == 0 and "abgelehnt" in out
    code, out, _ = run(capsys, "--lang", "en", "validate", "--help")
    assert code == 0 and "rejected" in out


def test_real_process_bad_file_has_no_traceback(tmp_path):
    bad = tmp_path / "kaputt.xlsx"
    bad.write_bytes(b"PK\x03\x04 nicht wirklich")
    proc = subprocess.run(
        [sys.executable, "-m", "kommunaltypen", "validate", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "kaputt.xlsx" in proc.stderr
