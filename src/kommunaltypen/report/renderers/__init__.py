"""Table renderers: one per output format, all fed by one table model (``TableModel``).

* :mod:`.html` – the interactive HTML table (details toggled in the browser);
* :mod:`.pdf` – the print variant for WeasyPrint (details printed, headers repeated);
* :mod:`.xlsx` – one worksheet per table with numeric cells.
"""

from kommunaltypen.report.renderers.common import TableView, table_view

__all__ = ["TableView", "table_view"]
