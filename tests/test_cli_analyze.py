"""What ``kommunaltypen analyze`` prints in a terminal: a summary by default, the tables with
``--tables``, readable at 80 columns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kommunaltypen.cli import main
from kommunaltypen.tables import study_tables


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code in (0, None)
    return capsys.readouterr().out


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def test_default_output_is_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], narrow: None
) -> None:
    out = _run(
        [
            "analyze",
            "--out",
            str(tmp_path / "a"),
            "--bootstrap",
            "5",
            "--no-report",
            "--no-k-choice",
        ],
        capsys,
    )
    assert "Zeilen gelesen" in out and "Kommunentypen" in out
    assert "Bedächtige" in out and "Community Manager" in out
    assert str(tmp_path / "a" / "tables") in out  # where the files are
    assert "Tabelle 1:" not in out and "Tabelle 16:" not in out
    assert "--tables" in out  # the hint how to see them
    # the notes are sentences, not ids
    assert "Hinweise" in out and "Bootstrap-Stichproben" in out
    assert "unstable:" not in out and "k_choice:" not in out


def test_tables_are_readable_at_80_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], narrow: None
) -> None:
    out = _run(
        [
            "analyze",
            "--out",
            str(tmp_path / "b"),
            "--bootstrap",
            "5",
            "--no-report",
            "--no-k-choice",
            "--tables",
        ],
        capsys,
    )
    lines = out.splitlines()
    boxed = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert boxed and max(len(line) for line in boxed) <= 80
    assert "…" not in out  # nothing cut off
    for spec in study_tables():
        assert f"Tabelle {spec.number}:" in out
    # every word of every row label is printed whole (labels wrap at word boundaries)
    cells = " ".join(m.group(1).strip() for line in lines if (m := re.match(r"^│([^│]*)│", line)))
    words = set(cells.split())
    for spec in study_tables():
        for row in spec.rows:
            if row.part == "geplant":
                continue  # printed in its "angeboten" row (offered / planned)
            label = row.study_label if row.part == "angeboten" and row.study_label else row.label_de
            for word in label.split():
                if len(word) <= 20:
                    assert word in words, (spec.number, label, word)
