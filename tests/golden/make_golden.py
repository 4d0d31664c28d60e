"""Generate the golden sample files and the bundled example file from one expected data set.

Run from the repository root: ``python tests/golden/make_golden.py``. The generated files are
committed; ``tests/test_io_golden.py`` checks that every format reads back to ``expected.json``.

* ``expected.json``            the expected canonical data (16 made-up municipalities)
* ``golden_utf8.csv``          UTF-8, ``,``
* ``golden_bom_semicolon.csv`` UTF-8 with BOM, ``;``, decimal commas
* ``golden_cp1252.csv``        Windows-1252, ``;``, decimal commas
* ``golden.xlsx``              Excel, header in row 1
* ``golden.sav``               SPSS with variable/value labels; empty answers stored as the
                               user-missing codes -8 (filter) / -9 (no answer), and
                               ``innovationsfreude`` with an extra user-missing code 99
* ``golden_limesurvey.csv`` + ``golden_limesurvey_mapping.yaml``
                               LimeSurvey response export (question codes such as
                               ``anknuepfung[SQ001]``, rankings by position ``ziele[1]``,
                               answer codes ``A1``…, ``Y``/empty for ticks)
* ``src/kommunaltypen/data/sample/beispiel_klein.csv``
                               30 made-up municipalities K001…K030, five of them invalid
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyreadstat
import yaml

from kommunaltypen.codebook import default_codebook
from kommunaltypen.io import write_data
from kommunaltypen.io.synthetic import random_canonical
from kommunaltypen.io.writers import sav_metadata, to_pandas

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SAMPLE = ROOT / "src" / "kommunaltypen" / "data" / "sample" / "beispiel_klein.csv"
CB = default_codebook()


def expected() -> pl.DataFrame:
    return random_canonical(16, seed=2019, missing_share=0.1)


def _semicolon(df: pl.DataFrame) -> str:
    return df.write_csv(separator=";", decimal_comma=True, null_value="")


def write_sav(df: pl.DataFrame, path: Path) -> None:
    meta = sav_metadata(df, CB)
    filled = []
    for q in CB:
        for c in q.columns:
            if q.kind == "text":
                filled.append(pl.col(c).fill_null(""))
            elif q.filter is not None:
                filled.append(pl.col(c).fill_null(-8))
            elif c == "innovationsfreude":
                filled.append(pl.col(c).fill_null(99))
            elif q.kind in ("single", "ordinal", "percentage"):
                filled.append(pl.col(c).fill_null(-9))
            else:
                filled.append(pl.col(c))
    pdf = to_pandas(df.with_columns(filled))
    missing = dict(meta["missing_ranges"])  # type: ignore[arg-type]
    missing["innovationsfreude"] = [-9.0, 99.0]
    labels = dict(meta["variable_value_labels"])  # type: ignore[arg-type]
    labels["innovationsfreude"] = {**labels["innovationsfreude"], 99.0: "nicht erhoben"}
    column_labels = meta["column_labels"]
    pyreadstat.write_sav(
        pdf,
        str(path),
        column_labels=[column_labels.get(c, "") for c in df.columns],  # type: ignore[union-attr]
        variable_value_labels=labels,
        missing_ranges=missing,
    )


def limesurvey(df: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """The expected data as a LimeSurvey export, and the mapping that reads it back."""
    out: dict[str, pl.Series] = {
        "id": pl.Series(range(101, 101 + df.height)),
        "submitdate": pl.Series(["2019-03-01 10:00:00"] * df.height),
        "lastpage": pl.Series([9] * df.height),
        "startlanguage": pl.Series(["de"] * df.height),
        "seed": pl.Series(range(5000, 5000 + df.height)),
    }
    columns: dict[str, str] = {}
    values: dict[str, dict] = {}
    rankings: dict[str, list[str]] = {}
    for q in CB:
        code = q.id.replace("_", "")
        if q.kind == "ranking":
            positions = [f"{code}[{r}]" for r in range(1, (q.max_rank or 1) + 1)]
            rankings[q.id] = positions
            values[q.id] = {f"A{o.code}": o.code for o in q.options}
            for r, name in enumerate(positions, start=1):
                expr = pl.coalesce(
                    [
                        pl.when(pl.col(q.column_for(o.id)) == r).then(pl.lit(f"A{o.code}"))
                        for o in q.options
                    ]
                )
                out[name] = df.select(expr.alias(name)).to_series()
        elif q.kind == "multiple":
            for j, o in enumerate(q.options, start=1):
                name = f"{code}[SQ{j:03d}]"
                columns[name] = q.column_for(o.id)
                col = df.get_column(q.column_for(o.id))
                out[name] = col.replace_strict(
                    {1: "Y", 0: None}, default=None, return_dtype=pl.String
                )
        elif q.id == "kommune_id":
            columns["kommune"] = q.id
            out["kommune"] = df.get_column(q.id)
        elif q.id == "kommunenart":
            columns["art"] = q.id
            values[q.id] = {f"A{o.code}": o.code for o in q.options}
            out["art"] = df.get_column(q.id).map_elements(lambda v: f"A{v}", return_dtype=pl.String)
        elif q.id in ("ozg", "fim"):
            columns[code] = q.id
            out[code] = df.get_column(q.id).replace_strict({1: "Y", 0: "N"}, return_dtype=pl.String)
        else:
            if code != q.id:
                columns[code] = q.id
            out[code] = df.get_column(q.id)
    mapping = {"format": "limesurvey", "columns": columns, "values": values, "rankings": rankings}
    return pl.DataFrame(out), mapping


def sample() -> pl.DataFrame:
    """The bundled example: 30 valid rows, then five of them made invalid on purpose."""
    df = random_canonical(30, seed=7, missing_share=0.05).with_columns(
        pl.col("einwohner").cast(pl.String)
    )
    idx = {k: i for i, k in enumerate(df.get_column("kommune_id").to_list())}

    def put(kid: str, column: str, value: object) -> None:
        nonlocal df
        s = df.get_column(column)
        df = df.with_columns(s.scatter(idx[kid], value))

    put("K007", "kommunenart", 7)  # unknown code
    for option in CB.question("ziele").options:  # rank 1 given twice
        put("K012", f"ziele_{option.id}", 0)
    put("K012", "ziele_effizienz", 1)
    put("K012", "ziele_innovation", 1)
    put("K012", "ziele_wirtschaft", 2)
    put("K018", "einwohner", "ca. 5000")  # text in a number field
    put("K023", "glasfaser_kein", 1)  # "none" together with others
    put("K023", "glasfaser_eigenregie", 1)
    put("K027", "kommune_id", "K026")  # duplicate id
    return df


def main() -> None:
    exp = expected()
    (HERE / "expected.json").write_text(
        json.dumps(exp.to_dicts(), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    write_data(exp, HERE / "golden_utf8.csv")
    text = _semicolon(exp)
    (HERE / "golden_bom_semicolon.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (HERE / "golden_cp1252.csv").write_bytes(text.encode("cp1252"))
    write_data(exp, HERE / "golden.xlsx")
    write_sav(exp, HERE / "golden.sav")
    ls, mapping = limesurvey(exp)
    ls.write_csv(HERE / "golden_limesurvey.csv", quote_style="always", null_value="")
    (HERE / "golden_limesurvey_mapping.yaml").write_text(
        "# Mapping of the LimeSurvey golden export onto the codebook (see docs/import.md).\n"
        + yaml.safe_dump(mapping, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    SAMPLE.parent.mkdir(parents=True, exist_ok=True)
    sample().write_csv(SAMPLE, null_value="")
    print(f"wrote golden files to {HERE} and {SAMPLE}")


if __name__ == "__main__":
    main()
