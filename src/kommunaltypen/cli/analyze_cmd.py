"""``kommunaltypen analyze [FILE] --out DIR``: validate, type, compute all tables, write."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from kommunaltypen.cli.progress import stage_progress
from kommunaltypen.i18n import get_lang, t
from kommunaltypen.vocabulary import format_number, study_type

if TYPE_CHECKING:
    from kommunaltypen.analysis import AnalysisResult
    from kommunaltypen.tables import TableResult

# share of the progress bar per stage (validate's stages first, then the pipeline's)
_SPANS = {
    "read": (0.0, 0.05),
    "parse": (0.05, 0.25),
    "check": (0.30, 0.10),
    "done": (0.40, 0.0),
    "validate": (0.40, 0.0),
    "typology": (0.40, 0.05),
    "bootstrap": (0.45, 0.30),
    "k_choice": (0.75, 0.10),
    "tables": (0.85, 0.10),
    "write": (0.95, 0.05),
}


def number(value: float | None, precision: int, lang: str) -> str:
    """A figure as the study prints it (German: decimal comma, thousands dot)."""
    return format_number(value, precision, lang)


def _cell_text(cell: Any, partner: Any, precision: int, lang: str, min_n: int | None) -> str:
    """Printed cell; ``min_n`` given (publication mode): cells with n < min_n show "<min_n"."""

    def hidden(c: Any) -> bool:
        return min_n is not None and c.suppressed(min_n)

    def one(c: Any) -> str:
        return f"<{min_n}" if hidden(c) else number(c.value, precision, lang)

    text = one(cell)
    if partner is not None:
        text = f"{text} / {one(partner)}"
    return f"[bold]{text}[/]" if cell.bold and not hidden(cell) else text


#: below this console width the table columns get short headers (with a legend)
NARROW = 110


def _header(col: Any, lang: str, narrow: bool) -> str:
    info = study_type(col.key)
    if narrow and info is not None:
        return info.short(lang)
    return col.label(lang)


def render_table(
    result: TableResult, lang: str, publication: bool, min_n: int, width: int = 200
) -> Table:
    """One computed table as a rich table (Table 12 pairs merged into "offered / planned").

    For a console narrower than ``NARROW`` the type columns get short headers and the caption
    a legend, so the figures keep their width and the row labels wrap at word boundaries
    instead of being cut ("Online-B…")."""
    spec = result.spec
    limit = min_n if publication else None
    narrow = width < NARROW
    legend = [
        f"{info.short(lang)} = {info.label(lang)}"
        for col in result.columns
        if (info := study_type(col.key)) is not None
    ]
    table = Table(
        title=f"{t('tables.table_word')} {spec.number}: {spec.caption(lang)}",
        title_justify="left",
        caption=", ".join(legend) if narrow and legend else None,
        caption_justify="left",
        pad_edge=False,
        width=min(width, 200) if narrow else None,
    )
    table.add_column("", overflow="fold", ratio=1, min_width=20)
    for col in result.columns:
        table.add_column(_header(col, lang, narrow), justify="right", no_wrap=True)
    table.add_column("p", justify="right", style="dim", no_wrap=True)
    for row in result.rows:
        rs = row.spec
        if rs.part == "geplant" and any(
            r.partner is row for r in result.rows if r.spec.part == "angeboten"
        ):
            continue  # shown together with its "angeboten" row
        label = rs.label(lang)
        if row.partner is not None and rs.study_label:
            label = rs.study_label if lang == "de" else label.rsplit(" – ", 1)[0]
        cells = [
            _cell_text(
                c,
                row.partner.cell(c.column.key) if row.partner is not None else None,
                rs.precision,
                lang,
                limit,
            )
            for c in row.cells
        ]
        p = row.test.p_value if row.test is not None else None
        table.add_row(label, *cells, number(p, 3, lang) if p is not None else "–")
    return table


def _summary(result: AnalysisResult, lang: str) -> Table:
    rows = result.manifest["rows"]
    table = Table(title=t("tables.summary_title"), show_header=False, title_justify="left")
    table.add_column()
    table.add_column(justify="right")
    table.add_row(t("tables.summary_input"), Path(result.source).name)
    table.add_row(t("tables.summary_rows_in"), str(rows["in"]))
    table.add_row(t("tables.summary_rows_accepted"), f"[green]{rows['accepted']}[/]")
    table.add_row(t("tables.summary_rows_rejected"), f"[red]{rows['rejected']}[/]")
    table.add_row(t("tables.summary_rows_typed"), str(rows["typed"]))
    return table


def _types(result: AnalysisResult, lang: str) -> Table:
    from kommunaltypen.typology import type_label

    table = Table(title=t("tables.types_title"), title_justify="left")
    table.add_column(t("tables.col_type"))
    table.add_column("n", justify="right")
    table.add_column("%", justify="right")
    table.add_column(t("tables.col_stability"), justify="right")
    counts = result.type_counts
    typed = max(result.n_typed, 1)
    jaccard = (
        dict(zip(result.stability.type_ids, result.stability.jaccard_mean, strict=True))
        if result.stability is not None
        else {}
    )
    for tid, n in counts.items():
        j = jaccard.get(tid)
        table.add_row(
            type_label(tid, lang),
            str(n),
            number(100 * n / typed, 1, lang),
            number(float(j), 2, lang) if j is not None else "–",
        )
    return table


def _print_files(console: Console, result: AnalysisResult, out: Path) -> None:
    """Where the results are: the report files, the tables folder, the output directory (one
    line each, not wrapped, so a path can be copied whole)."""
    console.print(f"[bold]{t('tables.files_title')}[/]", highlight=False)
    lines = [
        (t(name), str(out / key))
        for key, name in (
            ("report.html", "tables.file_report_html"),
            ("report.pdf", "tables.file_report_pdf"),
            ("report.xlsx", "tables.file_report_xlsx"),
        )
        if key in result.files
    ]
    lines.append((t("tables.file_tables"), str(out / "tables") + "/"))
    if "claims.csv" in result.files:
        lines.append((t("tables.file_claims"), str(out / "claims.csv")))
    for label, path in lines:
        console.print(f"  {label}: {path}", highlight=False, soft_wrap=True)
    console.print(
        "  " + t("tables.written", dir=str(out), count=len(result.files)),
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    @app.command("analyze", help=t("tables.cli_help"))
    def analyze_cmd(
        file: Path | None = typer.Argument(None, help=t("tables.cli_file"), show_default=False),
        out: Path = typer.Option(..., "--out", "-o", help=t("tables.cli_out"), show_default=False),
        mapping: Path | None = typer.Option(
            None, "--mapping", "-m", help=t("tables.cli_mapping"), show_default=False
        ),
        table_spec: Path | None = typer.Option(
            None, "--table-spec", help=t("tables.cli_table_spec"), show_default=False
        ),
        show_tables: bool = typer.Option(False, "--tables", help=t("tables.cli_show_tables")),
        publication: bool = typer.Option(False, "--publication", help=t("tables.cli_publication")),
        min_n: int = typer.Option(5, "--min-n", help=t("tables.cli_min_n")),
        bootstrap: int = typer.Option(1000, "--bootstrap", help=t("tables.cli_bootstrap")),
        seed: int = typer.Option(0, "--seed", help=t("tables.cli_seed")),
        no_report: bool = typer.Option(False, "--no-report", help=t("tables.cli_no_report")),
        no_k_choice: bool = typer.Option(False, "--no-k-choice", help=t("tables.cli_no_k_choice")),
        quiet: bool = typer.Option(False, "--quiet", "-q", help=t("tables.cli_quiet")),
        claims: Path | None = typer.Option(
            None, "--claims", help=t("tables.cli_claims"), show_default=False
        ),
        no_claims: bool = typer.Option(False, "--no-claims", help=t("tables.cli_no_claims")),
    ) -> None:
        from kommunaltypen.analysis import run_analysis

        lang = get_lang()
        out_console = Console()
        with stage_progress(_SPANS, "tables.stage_") as progress:
            result = run_analysis(
                file,
                mapping=mapping,
                out_dir=out,
                tables=table_spec,
                publication=publication,
                min_n=min_n,
                n_bootstrap=bootstrap,
                seed=seed,
                lang=lang,
                progress=progress,
                report=not no_report,
                k_choice=not no_k_choice,
                claims=False if no_claims else (claims or True),
            )
        if quiet:
            out_console.print(t("tables.written", dir=str(out), count=len(result.files)))
            return
        out_console.print(_summary(result, lang))
        out_console.print(_types(result, lang))
        notes = result.notes(lang)
        if notes:
            out_console.print(f"[bold]{t('tables.notes_title')}[/]", highlight=False)
            for note in notes:
                out_console.print(f"• {note}", highlight=False)
        if show_tables:
            for tb in result.tables:
                out_console.print(render_table(tb, lang, publication, min_n, out_console.width))
        _print_files(out_console, result, out)
        if not show_tables:
            out_console.print(t("tables.hint_show_tables"), style="dim", highlight=False)
