"""Reconstruction of the study's microdata (the bundled default data set).

Public API:

* :func:`build` – run the generator (deterministic), returns a :class:`Result` with the
  frame in the canonical column layout (item non-response as -9, as written to the file),
  the intended type per row and the list of inconsistent cells;
* :func:`bundled_data_path` / :func:`load_bundled` – the shipped ``beispieldaten.csv``;
* :func:`intended_types` – the type of each row of the reconstruction (the Table 1 centre its
  goal points are nearest to; None for rows without a typable goal ranking);
* :func:`synthetic_sample` – larger synthetic samples from the same per-type distributions;
* :func:`write_frame` – write a canonical frame as csv, xlsx or sav;
* :mod:`kommunaltypen.reconstruct.table1` – the Table 1 goal-ranking program
  (``solve_counts``, ``search_cuts``, ``blind_fits``).

Regenerate the shipped files with
``python -m kommunaltypen.reconstruct --out src/kommunaltypen/data/example/beispieldaten.csv``
(add ``--search-cuts`` to recompute the stored k-means cuts of Table 1 first).
"""

from kommunaltypen.reconstruct.generator import DEFAULT_SEED, Issue, Result, build
from kommunaltypen.reconstruct.io import (
    bundled_data_path,
    intended_types,
    load_bundled,
    write_frame,
    write_issues,
)
from kommunaltypen.reconstruct.synthetic import synthetic_sample

__all__ = [
    "DEFAULT_SEED",
    "Issue",
    "Result",
    "build",
    "bundled_data_path",
    "intended_types",
    "load_bundled",
    "synthetic_sample",
    "write_frame",
    "write_issues",
]
