"""The scikit-learn estimator protocol without importing scikit-learn.

Importing ``sklearn.base`` takes about 0.6 s (it pulls in scipy.stats, scipy.sparse and
pandas), which every kommunaltypen command paid at start-up although the typology only needs
the protocol: parameters from ``__init__`` (``get_params``/``set_params``, so that
``sklearn.clone`` and grid searches work), ``fit_predict``/``fit_transform``, a fitted check
and the estimator tags. :class:`EstimatorBase` provides these; scikit-learn is imported only
where it is really used: for the tags (asked for by scikit-learn's own tools, e.g.
``check_estimator``), for validating plain arrays (:func:`validate_array`) and for its
``NotFittedError``, which scikit-learn's checks expect.
"""

from __future__ import annotations

import inspect
from functools import cache
from typing import Any

import numpy as np


class EstimatorBase:
    """Parameters, repr, fit shortcuts and tags of a scikit-learn clusterer and transformer.

    As in scikit-learn, ``__init__`` of a subclass only stores its keyword arguments under
    their own names; the fitted state lives in attributes ending in ``_``."""

    @classmethod
    def _param_names(cls) -> list[str]:
        if cls.__init__ is object.__init__:
            return []
        parameters = inspect.signature(cls.__init__).parameters.values()
        names = []
        for p in parameters:
            if p.name == "self" or p.kind == p.VAR_KEYWORD:
                continue
            if p.kind == p.VAR_POSITIONAL:
                raise RuntimeError(f"{cls.__name__}.__init__ must not take *args")
            names.append(p.name)
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters and their values (``deep``: also those of parameters
        that are estimators themselves, as ``name__param``)."""
        params: dict[str, Any] = {}
        for name in self._param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                params.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            params[name] = value
        return params

    def set_params(self, **params: Any) -> EstimatorBase:
        """Set constructor parameters (``name`` or ``name__param`` of a nested estimator)."""
        valid = self._param_names()
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}; "
                    f"expected one of: {', '.join(valid)}"
                )
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.default is not p.empty
        }
        changed = [
            f"{k}={_short_repr(v)}"
            for k, v in self.get_params(deep=False).items()
            if k not in defaults or not _same(v, defaults[k])
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        return self.fit(X, y, **fit_params).transform(X)  # type: ignore[attr-defined]

    def __sklearn_tags__(self) -> Any:
        """The tags a scikit-learn clusterer and transformer has (imports scikit-learn)."""
        return _sklearn_protocol()().__sklearn_tags__()


def _short_repr(value: Any, limit: int = 60) -> str:
    """``repr`` of a parameter, shortened for objects with a long one (a codebook is shown as
    ``<Codebook 'id'>``)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    ident = getattr(value, "id", None)
    name = type(value).__name__
    return f"<{name} {ident!r}>" if isinstance(ident, str) else f"<{name}>"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a is b or a == b)
    except (TypeError, ValueError):  # e.g. arrays
        return False


@cache
def _sklearn_protocol() -> type:
    """scikit-learn's own base classes, combined as a clusterer and transformer (the source
    of the tags)."""
    from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin

    class _Protocol(ClusterMixin, TransformerMixin, BaseEstimator):
        pass

    return _Protocol


def check_is_fitted(estimator: Any) -> None:
    """Raise scikit-learn's ``NotFittedError`` unless ``estimator`` is fitted: as
    scikit-learn, its ``__sklearn_is_fitted__()`` if it has one, else whether it has fitted
    attributes (names ending in ``_``)."""
    is_fitted = getattr(estimator, "__sklearn_is_fitted__", None)
    if is_fitted is not None:
        if is_fitted():
            return
    elif any(k.endswith("_") and not k.startswith("__") for k in vars(estimator)):
        return
    from sklearn.exceptions import NotFittedError

    raise NotFittedError(
        f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
        "appropriate arguments before using this estimator."
    )


def validate_array(
    estimator: Any, X: Any, *, reset: bool, dtype: Any = np.float64, ensure_min_samples: int = 1
) -> Any:
    """scikit-learn's input validation of a plain array (``validate_data``: finite numbers,
    2-D, ``n_features_in_`` recorded or checked). An array that already is what that would
    return (finite float64, 2-D, the expected number of columns, no feature names) is taken
    as it is without importing scikit-learn; everything else, including every error, goes
    through scikit-learn."""
    if (
        isinstance(X, np.ndarray)
        and X.ndim == 2
        and X.dtype == dtype
        and X.shape[0] >= ensure_min_samples
        and X.shape[1] >= 1
        and not hasattr(estimator, "feature_names_in_")
        and (reset or getattr(estimator, "n_features_in_", None) == X.shape[1])
        and np.isfinite(X).all()
    ):
        if reset:
            estimator.n_features_in_ = X.shape[1]
        return X
    from sklearn.utils.validation import validate_data

    return validate_data(
        estimator, X, reset=reset, dtype=dtype, ensure_min_samples=ensure_min_samples
    )
