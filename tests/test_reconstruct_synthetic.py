"""Synthetic samples (``example-data --n``), the writers and the ``example-data`` command."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyreadstat
import pytest

from kommunaltypen.cli import main
from kommunaltypen.errors import KommunaltypenError
from kommunaltypen.reconstruct import intended_types, load_bundled, synthetic_sample
from kommunaltypen.reconstruct.counts import candidates, matches
from kommunaltypen.validate import validate_frame


@pytest.fixture(scope="module")
def base() -> pl.DataFrame:
    return load_bundled()


@pytest.fixture(scope="module")
def groups(base: pl.DataFrame) -> np.ndarray:
    return np.array([g or "untyped" for g in intended_types(base)])


def test_counts_from_printed_decimals() -> None:
    # Table 4, Bedächtige, Verwaltung: 61,4 % of 44 = 27
    assert next(candidates(61.4, 1, 47)) == (44, 27)
    # largest base first, and only counts that print as the value
    assert all(matches(100 * k / n, 47.5, 1) for n, k in candidates(47.5, 1, 47))
    assert next(candidates(47.5, 1, 47)) == (40, 19)
    # a "Gesamt" cell completed by the untyped rows (offsets k0/n0)
    n, k = next(candidates(62.6, 1, 87, k0=200, n0=320))
    assert matches(100 * (200 + k) / (320 + n), 62.6, 1)
    assert not any(matches(100 * (200 + j) / 407, 62.6, 1) for j in range(88))  # n=87 fails
    assert n == 86
    assert not matches(2.915, 2.91, 2)  # ties are avoided


def test_intended_types_sizes(groups: np.ndarray) -> None:
    labels, counts = np.unique(groups, return_counts=True)
    assert dict(zip(labels.tolist(), counts.tolist(), strict=True)) == {
        "bedaechtige": 47,
        "community_manager": 52,
        "optimierer": 111,
        "serviceorientierte": 115,
        "untyped": 87,
    }


def test_synthetic_sample_is_valid_and_deterministic(base: pl.DataFrame, groups) -> None:
    a = synthetic_sample(base, 3000, seed=7, group=groups)
    b = synthetic_sample(base, 3000, seed=7, group=groups)
    c = synthetic_sample(base, 3000, seed=8, group=groups)
    assert a.equals(b) and not a.equals(c)
    assert a.columns == base.columns and a.height == 3000
    assert a.schema == base.schema
    assert a["kommune_id"].n_unique() == 3000 and a["name"].null_count() == 3000
    _, report = validate_frame(a)
    assert report.rows_rejected == 0
    # same per-type distributions: the type shares and e.g. the FIM share per type are close
    types = np.array([g or "untyped" for g in intended_types(a)])
    for g in ("bedaechtige", "serviceorientierte", "untyped"):
        share_base = (groups == g).mean()
        assert abs((types == g).mean() - share_base) < 0.03
        fim_base = base.filter(pl.Series(groups == g))["fim"].mean()
        fim_syn = a.filter(pl.Series(types == g))["fim"].mean()
        assert abs(fim_syn - fim_base) < 0.08


def test_synthetic_sample_rejects_bad_n(base: pl.DataFrame) -> None:
    with pytest.raises(KommunaltypenError, match="0"):
        synthetic_sample(base, 0, seed=1)


def _run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code or 0


def test_cli_writes_bundled_data_in_three_formats(tmp_path, base: pl.DataFrame) -> None:
    assert _run(["example-data", "--out", str(tmp_path / "d.csv")]) == 0
    assert pl.read_csv(tmp_path / "d.csv", schema=base.schema).equals(base)
    assert _run(["example-data", "--out", str(tmp_path / "d.xlsx")]) == 0
    import openpyxl

    sheet = openpyxl.load_workbook(tmp_path / "d.xlsx", read_only=True).active
    header = next(sheet.iter_rows(max_row=1, values_only=True))
    assert list(header) == base.columns and sheet.max_row == 413
    assert _run(["example-data", "--out", str(tmp_path / "d.dat"), "--format", "sav"]) == 0
    frame, _ = pyreadstat.read_sav(str(tmp_path / "d.dat"))
    assert frame.shape == (412, len(base.columns))
    assert frame["fim"].sum() == base["fim"].sum()


def test_cli_synthetic_sample(tmp_path) -> None:
    out = tmp_path / "big.csv"
    assert _run(["example-data", "--out", str(out), "--n", "2000", "--seed", "3"]) == 0
    assert pl.read_csv(out, infer_schema=False).height == 2000


def test_cli_errors_are_messages(tmp_path, capsys) -> None:
    assert _run(["example-data", "--out", str(tmp_path / "x.txt")]) == 2
    err = capsys.readouterr().err
    assert "txt" in err and "csv, xlsx, sav" in err and "Traceback" not in err
    assert (
        _run(["--lang", "en", "example-data", "--out", str(tmp_path / "x.csv"), "--seed", "4"]) == 2
    )
    assert "--seed" in capsys.readouterr().err
    assert _run(["example-data", "--out", str(tmp_path / "x.csv"), "--n", "0"]) == 2
