"""The study's findings as checkable claims: the Thesen-Check (see ``docs/claims.md``).

* :func:`load_claims` – the claims file (``data/claims.yaml`` or an analyst's own), checked
  against the codebook and the table declarations;
* :func:`evaluate_claims` – checks every claim on one wave → :class:`ClaimsResult`;
  :func:`check_analysis` the same for an ``AnalysisResult`` (the hook for ``analyze``);
* :func:`write_claims_csv`, :func:`claims_section`, :func:`claims_rich_table` – the result as
  ``claims.csv``, as view data for the report's "Thesen-Check" section, and in the terminal.
"""

from kommunaltypen.claims.evaluate import (
    CSV_COLUMNS,
    CSV_SCHEMA,
    VERDICTS,
    ClaimResult,
    ClaimsResult,
    check_analysis,
    evaluate_claims,
    measure_expression,
)
from kommunaltypen.claims.spec import (
    AssociationClaim,
    Claims,
    ClaimsError,
    Measure,
    TypeClaim,
    default_claims_path,
    load_claims,
    parse_claims,
)
from kommunaltypen.claims.view import (
    claims_rich_table,
    claims_section,
    is_bundled_input,
    read_claims_csv,
    render_claims_html,
    sheet_rows,
    write_claims_csv,
    write_claims_sheet,
)

__all__ = [
    "CSV_COLUMNS",
    "CSV_SCHEMA",
    "VERDICTS",
    "AssociationClaim",
    "ClaimResult",
    "Claims",
    "ClaimsError",
    "ClaimsResult",
    "Measure",
    "TypeClaim",
    "check_analysis",
    "claims_rich_table",
    "claims_section",
    "default_claims_path",
    "evaluate_claims",
    "is_bundled_input",
    "load_claims",
    "measure_expression",
    "parse_claims",
    "read_claims_csv",
    "render_claims_html",
    "sheet_rows",
    "write_claims_csv",
    "write_claims_sheet",
]
