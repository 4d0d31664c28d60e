"""The default Typology, fitted blind on the bundled reconstruction, finds the study's types
for any seed (not only the one `analyze` uses)."""

import numpy as np
import pytest

from kommunaltypen.codebook import default_codebook
from kommunaltypen.reconstruct import intended_types, load_bundled
from kommunaltypen.typology import Typology

STUDY_ORDER = ["bedaechtige", "optimierer", "serviceorientierte", "community_manager"]


@pytest.fixture(scope="module")
def bundled():
    df = load_bundled()
    return df, np.asarray(intended_types(df), dtype=object)


@pytest.mark.parametrize("seed", range(100, 120))
def test_default_fit_recovers_the_intended_types(bundled, seed):
    df, intended = bundled
    model = Typology(random_state=seed, n_bootstrap=0, codebook=default_codebook()).fit(df)
    assert list(model.type_ids_) == STUDY_ORDER
    got = np.array([model.type_ids_[k] if k >= 0 else None for k in model.labels_], dtype=object)
    assert (got == intended).all()


def test_shipped_model_is_the_default_fit_on_the_bundled_data(bundled):
    from importlib import resources

    from kommunaltypen.reconstruct.__main__ import bundled_model

    shipped = (resources.files("kommunaltypen") / "data" / "model.json").read_text("utf-8")
    assert shipped == bundled_model(bundled[0]).to_json() + "\n", (
        "data/model.json is stale: regenerate with "
        "python -m kommunaltypen.reconstruct --out … --model src/kommunaltypen/data/model.json"
    )
