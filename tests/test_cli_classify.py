"""``kommunaltypen classify``: type, probabilities, distances; clear errors, no traceback."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import run_cli
from kommunaltypen.codebook import default_codebook
from kommunaltypen.typology import Typology, simulate_rankings, study_centers


def run(capsys, *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, *args, fold_err=False)


def as_json(capsys, *args: str) -> dict:
    code, out, err = run(capsys, "classify", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_optimierer_example(capsys):
    result = as_json(capsys, "--goals", "effizienz,leistungsangebot,buergernaehe")
    assert result["type"] == "optimierer"
    assert result["label"] == "Optimierer"
    assert sum(result["probabilities"].values()) == pytest.approx(1)
    assert max(result["probabilities"], key=result["probabilities"].get) == "optimierer"
    assert min(result["distances"], key=result["distances"].get) == "optimierer"
    assert set(result["distances"]) == {
        "bedaechtige",
        "optimierer",
        "serviceorientierte",
        "community_manager",
    }


def test_bedaechtige_example_with_labels_and_codes(capsys):
    result = as_json(capsys, "--goals", "Rechtliche Vorgaben umsetzen, Fördermittel erhalten, 3")
    assert result["goals"] == ["rechtliche_vorgaben", "foerdermittel", "effizienz"]
    assert result["type"] == "bedaechtige"
    assert sum(result["probabilities"].values()) == pytest.approx(1)


def test_table_output_german_and_english(capsys):
    code, out, _ = run(capsys, "classify", "--goals", "effizienz,leistungsangebot,buergernaehe")
    assert code == 0
    assert "Kommunentyp: Optimierer" in out
    assert "Wahrscheinlichkeit" in out and "Abstand zum Zentrum" in out
    code, out, _ = run(
        capsys, "--lang", "en", "classify", "--goals", "daseinsvorsorge,wirtschaft,innovation"
    )
    assert code == 0
    assert "Municipality type: Community managers" in out
    assert "Probability" in out


def test_model_file(capsys, tmp_path):
    """A saved model is used instead of the default, and its names come through."""
    _, centers = study_centers()
    X = simulate_rankings(centers, [200, 300, 300, 200], np.random.default_rng(0))
    path = Typology(random_state=0, codebook=default_codebook()).fit(X).save(tmp_path / "m.json")
    result = as_json(
        capsys, "--goals", "buergernaehe,effizienz,attraktivitaet", "--model", str(path)
    )
    assert result["type"] == "serviceorientierte"
    assert result["model"] == str(path)
    assert result["data_hash"].startswith("sha256:")


@pytest.mark.parametrize(
    ("goals", "fragment"),
    [
        ("effizienz,foo,wirtschaft", "Unbekanntes Ziel 'foo'"),
        ("effizienz,effizienz,wirtschaft", "mehrfach"),
        (",", "0 Ziele erhalten"),
        ("effizienz,wirtschaft,innovation,foerdermittel", "4 Ziele erhalten"),
    ],
)
def test_errors_are_one_clear_message(capsys, goals, fragment):
    code, out, err = run(capsys, "classify", "--goals", goals)
    assert code == 2
    assert fragment in " ".join(err.split())
    assert "erwartet" in err
    assert "Traceback" not in err + out


def test_bad_model_file(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("not json", encoding="utf-8")
    code, out, err = run(capsys, "classify", "--goals", "a,b,c", "--model", str(bad))
    assert code == 2
    assert "bad.json" in " ".join(err.split())
    assert "Traceback" not in err + out


def test_mischform_is_shown(capsys):
    """A ranking between Serviceorientierte and Community Manager is flagged and explained."""
    goals = "attraktivitaet,buergernaehe,daseinsvorsorge"
    result = as_json(capsys, "--goals", goals)
    assert result["mischform"] is True
    assert max(result["probabilities"].values()) < result["mischform_threshold"]
    code, out, _ = run(capsys, "classify", "--goals", goals)
    assert code == 0
    assert "Mischform" in out and "75 %" in out
    clear = as_json(capsys, "--goals", "effizienz,leistungsangebot,buergernaehe")
    assert clear["mischform"] is False


def test_one_or_two_goals_are_classified(capsys):
    """A top-1 or top-2 ranking is typable (docs/typology.md, typability rule)."""
    two = as_json(capsys, "--goals", "effizienz,leistungsangebot")
    assert two["goals"] == ["effizienz", "leistungsangebot"]
    assert two["type"] == "optimierer"
    assert sum(two["probabilities"].values()) == pytest.approx(1.0)
    one = as_json(capsys, "--goals", "rechtliche_vorgaben")
    assert one["goals"] == ["rechtliche_vorgaben"]
    assert one["type"] == "bedaechtige"
    code, out, err = run(capsys, "classify", "--goals", "effizienz,leistungsangebot")
    assert code == 0 and "Traceback" not in out + err
