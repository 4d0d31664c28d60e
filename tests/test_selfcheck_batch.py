"""``service.evaluate_many``: the Typ-Check evaluates the result pages of concurrent requests in
one polars pass (``web/typcheck.py``); each result must equal ``service.evaluate`` of its row."""

from __future__ import annotations

import pytest

from kommunaltypen import service


@pytest.fixture(scope="module")
def basis() -> service.ComparisonBasis:
    return service.comparison_basis(service.analyse(None, n_bootstrap=0, k_choice=False))


def test_evaluate_many_equals_evaluate_of_each_row(basis: service.ComparisonBasis) -> None:
    data = basis.result.data
    rows = [data.row(i, named=True) for i in range(0, data.height, 23)]
    no_goals = {k: (None if k.startswith("ziele_") else v) for k, v in rows[0].items()}
    rows = [*rows, {**no_goals, "kommune_id": "ohne-ziele"}]
    assert len(rows) >= 10
    model = service.default_model()
    many = service.evaluate_many(rows, basis, model)
    single = [service.evaluate(r, basis, model=model, validated=True) for r in rows]
    assert many == single
    assert many[-1].classification is None and many[-1].not_typed_reason
    types = {e.classification.type_id for e in many if e.classification is not None}
    assert len(types) >= 2  # rows of different types in one pass: each placed under its own
    assert service.evaluate_many([], basis, model) == []
