"""The scikit-learn estimator protocol of kommunaltypen.estimator (without scikit-learn)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import validate_data

from kommunaltypen.estimator import EstimatorBase, check_is_fitted, validate_array
from kommunaltypen.typology import Typology


class Inner(EstimatorBase):
    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha


class Outer(EstimatorBase):
    def __init__(self, inner: Inner | None = None, k: int = 2) -> None:
        self.inner = inner
        self.k = k


def test_params_nested_repr_and_clone():
    est = Outer(inner=Inner(alpha=0.5), k=3)
    assert est.get_params(deep=False) == {"inner": est.inner, "k": 3}
    assert est.get_params()["inner__alpha"] == 0.5
    est.set_params(k=4, inner__alpha=2.0)
    assert (est.k, est.inner.alpha) == (4, 2.0)
    with pytest.raises(ValueError, match=r"'nope'.*expected one of: inner, k"):
        est.set_params(nope=1)
    assert repr(Outer(k=5)) == "Outer(k=5)"  # only what differs from the defaults
    copy = clone(est)
    assert copy is not est and copy.inner is not est.inner and copy.inner.alpha == 2.0


def test_fitted_check_raises_sklearns_error():
    est = Inner()
    with pytest.raises(NotFittedError, match="Inner instance is not fitted"):
        check_is_fitted(est)
    est.coef_ = 1
    check_is_fitted(est)


@pytest.mark.parametrize(
    "X",
    [
        np.arange(12, dtype=float).reshape(4, 3),  # fast path
        [[1, 2, 3], [4, 5, 6]],  # a list: through scikit-learn
        np.arange(6, dtype=np.int32).reshape(2, 3),  # another dtype: through scikit-learn
    ],
)
def test_validate_array_equals_sklearn(X):
    ours, theirs = Inner(), Inner()
    got = validate_array(ours, X, reset=True)
    expected = validate_data(theirs, X, reset=True, dtype=np.float64, ensure_min_samples=1)
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == expected.dtype and ours.n_features_in_ == theirs.n_features_in_ == 3


def test_validate_array_errors_come_from_sklearn():
    est = Inner()
    validate_array(est, np.zeros((2, 3)), reset=True)
    with pytest.raises(ValueError, match="X has 2 features, but Inner is expecting 3"):
        validate_array(est, np.zeros((2, 2)), reset=False)
    with pytest.raises(ValueError, match="NaN"):
        validate_array(Inner(), np.array([[np.nan, 1.0]]), reset=True)


def test_importing_the_engine_does_not_import_sklearn():
    """scikit-learn costs ~0.6 s of start-up; the commands must not pay it."""
    code = (
        "import sys, kommunaltypen.typology, kommunaltypen.analysis, kommunaltypen.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'pandas')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_typology_is_a_sklearn_clusterer():
    from sklearn.base import is_clusterer

    assert is_clusterer(Typology())
    assert Typology().__sklearn_tags__().input_tags.allow_nan is False
