"""Table declarations, the table engine and its statistics (see ``docs/tables.md``)."""

from kommunaltypen.tables.engine import (
    OUTPUT_COLUMNS,
    Cell,
    ColumnDef,
    RowResult,
    TableResult,
    compute_tables,
    tables_frame,
)
from kommunaltypen.tables.spec import (
    RowSpec,
    TableSpec,
    load_tables,
    parse_tables,
    study_tables,
    study_tables_path,
)

__all__ = [
    "OUTPUT_COLUMNS",
    "Cell",
    "ColumnDef",
    "RowResult",
    "RowSpec",
    "TableResult",
    "TableSpec",
    "compute_tables",
    "load_tables",
    "parse_tables",
    "study_tables",
    "study_tables_path",
    "tables_frame",
]
