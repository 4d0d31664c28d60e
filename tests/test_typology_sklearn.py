"""scikit-learn's estimator checks on :class:`Typology` (array interface)."""

from __future__ import annotations

import warnings

import pytest
from sklearn.utils.estimator_checks import estimator_checks_generator

from kommunaltypen import i18n
from kommunaltypen.codebook import default_codebook
from kommunaltypen.typology import Typology

# Checks that conceptually cannot apply, with the reason (see docs/typology.md). None fail:
# the array interface accepts any finite real data (rank points or not).
EXPECTED_FAILED_CHECKS: dict[str, str] = {}
# Not run: the array-API check only applies to estimators that support array-API namespaces
# (tag array_api_support, False here: Typology works on NumPy float64); scikit-learn would
# only skip it.
NOT_APPLICABLE = ("check_array_api_input",)

# With the codebook, as every caller that reads survey frames: scikit-learn's checks pass
# arrays (rank points, any width) and pandas frames without goal columns (taken as arrays).
# Without a codebook a data frame is an error that asks for one (tested in test_typology.py).
ESTIMATOR = Typology(
    n_clusters=2, n_init=5, reference=None, random_state=0, codebook=default_codebook()
)
with warnings.catch_warnings():
    # Typology follows the protocol without inheriting from BaseEstimator (see
    # kommunaltypen.estimator: scikit-learn is not imported at start-up); scikit-learn warns
    # about that when collecting its checks
    warnings.filterwarnings("ignore", "Estimator Typology does not inherit", UserWarning)
    CHECKS = [
        (est, check)
        for est, check in estimator_checks_generator(
            ESTIMATOR, legacy=True, expected_failed_checks=EXPECTED_FAILED_CHECKS, mark="xfail"
        )
        if not any(name in str(check) for name in NOT_APPLICABLE)
    ]


@pytest.fixture(autouse=True)
def english_messages():
    """scikit-learn's checks match English error texts (e.g. 'weight ... zero')."""
    before = i18n.get_lang()
    i18n.set_lang("en")
    yield
    i18n.set_lang(before)


@pytest.mark.parametrize(
    ("estimator", "check"),
    CHECKS,
    ids=lambda x: getattr(x, "func", x).__name__ if callable(x) else "",
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_checks_are_collected():
    assert len(CHECKS) > 40
