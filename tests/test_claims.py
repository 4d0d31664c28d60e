"""The Thesen-Check: the shipped claims file, its schema's messages, the evaluation on planted
data and on the bundled reconstruction, serialisation, views and the ``claims`` command."""

import json
import math
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from scipy import stats as st

from cli_helpers import run_cli
from kommunaltypen import yamlio
from kommunaltypen.analysis import bundled_data_path, run_analysis
from kommunaltypen.claims import (
    CSV_COLUMNS,
    ClaimsError,
    ClaimsResult,
    check_analysis,
    claims_section,
    default_claims_path,
    evaluate_claims,
    is_bundled_input,
    load_claims,
    parse_claims,
    read_claims_csv,
    render_claims_html,
    write_claims_csv,
)
from kommunaltypen.claims.spec import AssociationClaim, TypeClaim, find_row, row_keys
from kommunaltypen.codebook import default_codebook
from kommunaltypen.i18n import use_lang
from kommunaltypen.tables import compute_tables, study_tables


@pytest.fixture(scope="module")
def bundled():
    return run_analysis(n_bootstrap=0, k_choice=False)


@pytest.fixture(scope="module")
def bundled_check(bundled):
    return evaluate_claims(
        bundled.data, bundled.types, bundled.tables, bundled=is_bundled_input(bundled.manifest)
    )


# ----------------------------------------------------------------------------- shipped file
def test_shipped_claims_cover_theses_and_tables():
    claims = load_claims()
    assoc = [c for c in claims if isinstance(c, AssociationClaim)]
    types = [c for c in claims if isinstance(c, TypeClaim)]
    assert len(types) >= 25
    assert {c.table for c in types} == set(range(4, 17))  # every table of 4–16
    chapters = {p.chapter.split(".")[0] for c in assoc for p in c.places}
    assert {"1", "5", "6"} <= chapters
    for c in claims:
        assert c.text_de.strip() and c.text_en.strip() and c.text_de != c.text_en
        assert all(p.pages for p in c.places)
    for c in types:
        assert any(p.table == c.table for p in c.places), c.id
    # derived measures are declared with the claims, from codebook columns
    assert {"basiskomponenten_anzahl", "fortbildung_angebot_anzahl", "beteiligung_anzahl"} <= set(
        claims.measures
    )
    # the staff-qualification question A08 needs is a codebook question (added for it)
    a08 = next(c for c in assoc if c.id == "A08")
    assert a08.y == "qualifizierung_mitarbeitende" and a08.y not in claims.measures
    assert default_codebook().question(a08.y).kind == "ordinal"


def test_rows_by_label_are_accepted_too():
    claims = parse_claims(_file(BASE_TYPE, dict(BASE_TYPE, id="Y2", rows=["FIM known"])), "f")
    assert [c.rows for c in claims] == [("Bekanntheit FIM",), ("FIM known",)]


def test_row_lookup_accepts_id_and_labels():
    table = SimpleNamespace(
        rows=[
            SimpleNamespace(id="fim_bekannt", label_de="Bekanntheit FIM", label_en="FIM known"),
            SimpleNamespace(id=None, label_de="Andere", label_en=None),
        ]
    )
    for key in ("fim_bekannt", "Bekanntheit FIM", "FIM known"):
        assert find_row(table, key) is table.rows[0]
    assert find_row(table, "Andere") is table.rows[1]
    assert find_row(table, "nichts") is None


# ----------------------------------------------------------------------------- bad files
BASE_ASSOC = {
    "id": "X1",
    "kind": "association",
    "places": [{"chapter": "1", "pages": "3"}],
    "text_de": "a",
    "text_en": "b",
    "x": "innovationsfreude",
    "y": "mitarbeitendenbeteiligung",
    "direction": "positive",
}
BASE_TYPE = {
    "id": "Y1",
    "kind": "type",
    "places": [{"chapter": "5.2", "pages": "13", "table": 10}],
    "text_de": "a",
    "text_en": "b",
    "table": 10,
    "rows": ["Bekanntheit FIM"],
    "highest": "serviceorientierte",
}


def _file(*claims, measures=()):
    return {"version": 1, "measures": list(measures), "claims": list(claims)}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            _file(dict(BASE_ASSOC, x="innovationsfroide")),
            ["'innovationsfroide'", "Maß", "Codebuch"],
        ),
        (
            _file(
                BASE_ASSOC,
                measures=[
                    {
                        "id": "m1",
                        "kind": "count",
                        "label_de": "m",
                        "label_en": "m",
                        "columns": ["basiskomponenten_dms", "basiskomponenten_xyz"],
                    }
                ],
            ),
            ["'basiskomponenten_xyz'", "measure 'm1'", "Codebuch"],
        ),
        (_file(dict(BASE_TYPE, highest="pioniere")), ["'pioniere'", "bedaechtige"]),
        (_file(dict(BASE_TYPE, table=17)), ["17", "4", "16"]),
        (_file(dict(BASE_TYPE, table=2)), ["Tabelle 2", "Typen"]),
        (_file(dict(BASE_TYPE, rows=["FIM bekannt?"])), ["'FIM bekannt?'", "'bekanntheit_fim'"]),
        (_file(BASE_ASSOC, dict(BASE_ASSOC)), ["'X1'", "mehrfach"]),
        (_file(dict(BASE_ASSOC, kind="korrelation")), ["korrelation", "association"]),
        (_file(dict(BASE_TYPE, highest=None, order=[["optimierer"], ["optimierer"]])), ["twice"]),
        (_file(dict(BASE_ASSOC, x="fim", method="spearman")), ["'spearman'", "binary"]),
        (_file(dict(BASE_ASSOC, x="kommunenart")), ["'kommunenart'", "values"]),
        (_file(dict(BASE_ASSOC, direction="up")), ["direction", "'up'"]),
        ({"tables": []}, ["'claims'", "dict"]),
    ],
)
def test_bad_claim_files_get_clear_messages(doc, expected):
    with pytest.raises(ClaimsError) as info:
        parse_claims(doc, "meine.yaml")
    message = str(info.value)
    assert "meine.yaml" in message
    for part in expected:
        assert part in message, (part, message)


def test_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(ClaimsError, match="nicht lesbar"):
        load_claims(tmp_path / "fehlt.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("claims: [unclosed", encoding="utf-8")
    with pytest.raises(ClaimsError, match="kein gültiges YAML"):
        load_claims(bad)


def test_messages_in_english():
    with use_lang("en"), pytest.raises(ClaimsError, match="unknown type 'pioniere'; expected"):
        parse_claims(_file(dict(BASE_TYPE, highest="pioniere")), "mine.yaml")


# ----------------------------------------------------------------------------- planted data
def _planted(n: int, seed: int) -> dict[str, np.ndarray]:
    """Columns with built-in associations of known strength (and one without)."""
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], size=n)
    innovation = 1 + np.digitize(z[:, 0], [-1.0, -0.3, 0.4, 1.2])  # 1..5
    inventory = np.digitize(z[:, 1], [-0.6, 0.3, 1.1])  # 0..3
    participation = rng.integers(0, 5, n)  # independent of everything
    fim = (rng.random(n) < 0.35).astype(int)
    share = 100 * st.norm.cdf(rng.normal(size=n) + 0.8 * fim)  # higher where FIM is known
    bund_land = (rng.random(n) < np.where(fim == 1, 0.1, 0.6)).astype(int)  # opposite way
    return {
        "innovationsfreude": innovation,
        "datenbestandsaufnahme": inventory,
        "mitarbeitendenbeteiligung": participation,
        "fim": fim,
        "anteil_fortbildung_digital": share,
        "anknuepfung_strategie_bund_land": bund_land,
    }


PLANTED_CLAIMS = _file(
    dict(BASE_ASSOC, id="P_strong", x="innovationsfreude", y="datenbestandsaufnahme"),
    dict(BASE_ASSOC, id="P_none", x="innovationsfreude", y="mitarbeitendenbeteiligung"),
    dict(BASE_ASSOC, id="P_binary", x="fim", y="anteil_fortbildung_digital"),
    dict(BASE_ASSOC, id="P_reversed", x="fim", y="anknuepfung_strategie_bund_land"),
)


def _with_columns(data: pl.DataFrame, columns: dict[str, np.ndarray]) -> pl.DataFrame:
    return data.with_columns(
        pl.Series(name, values).cast(data.schema[name]) for name, values in columns.items()
    )


def test_planted_associations_get_the_right_verdicts_and_intervals(bundled):
    data = _with_columns(bundled.data, _planted(bundled.data.height, seed=3))
    claims = parse_claims(PLANTED_CLAIMS, "planted.yaml")
    result = evaluate_claims(data, bundled.types, bundled.tables, claims, bundled=False)
    by_id = {r.id: r for r in result}
    assert by_id["P_strong"].verdict == "supported"
    assert by_id["P_strong"].method == "kendall_tau_b"
    assert by_id["P_none"].verdict == "not_supported"
    assert by_id["P_binary"].verdict == "supported"
    assert by_id["P_binary"].method == "rank_biserial"
    assert by_id["P_reversed"].verdict == "contradicted"
    assert by_id["P_reversed"].method == "phi"
    assert by_id["P_reversed"].odds_ratio < 1
    # the intervals cover the planted values (computed on a very large sample of the same
    # process) and the interval of the absent association covers 0
    big = _planted(200_000, seed=99)
    true_tau = st.kendalltau(
        big["innovationsfreude"], big["datenbestandsaufnahme"], variant="b"
    ).statistic
    true_rb = 2 * st.norm.cdf(0.8 / math.sqrt(2)) - 1
    g1 = big["fim"] == 1
    p1 = big["anknuepfung_strategie_bund_land"][g1].mean()
    p0 = big["anknuepfung_strategie_bund_land"][~g1].mean()
    true_phi = st.pearsonr(big["fim"], big["anknuepfung_strategie_bund_land"]).statistic
    assert p1 < p0
    for cid, truth in (
        ("P_strong", true_tau),
        ("P_none", 0.0),
        ("P_binary", true_rb),
        ("P_reversed", true_phi),
    ):
        r = by_id[cid]
        assert r.ci_low <= truth <= r.ci_high, (cid, truth, r.ci_low, r.ci_high)
    assert result.correction == "holm" and result.meta["tests"]["association"] == 4
    assert by_id["P_none"].p_adjusted >= by_id["P_none"].p_value


def test_association_statistics_are_scipys_on_the_same_cases(bundled):
    data = _with_columns(bundled.data, _planted(bundled.data.height, seed=3))
    claims = parse_claims(PLANTED_CLAIMS, "planted.yaml")
    result = evaluate_claims(data, bundled.types, bundled.tables, claims, bundled=False)
    x = data["innovationsfreude"].cast(pl.Float64).to_numpy()
    y = data["datenbestandsaufnahme"].cast(pl.Float64).to_numpy()
    keep = ~(np.isnan(x) | np.isnan(y))
    ref = st.kendalltau(x[keep], y[keep], variant="b")
    r = result.result("P_strong")
    assert r.n == keep.sum()
    assert r.effect == pytest.approx(ref.statistic)
    assert r.p_value == pytest.approx(ref.pvalue)
    # Holm over the family of the four association tests
    raw = np.array([q.p_value for q in result])
    order = np.argsort(raw)
    holm = np.maximum.accumulate((4 - np.arange(4)) * raw[order])
    expected = np.empty(4)
    expected[order] = np.minimum(holm, 1.0)
    assert [q.p_adjusted for q in result] == pytest.approx(list(expected))


def test_benjamini_hochberg_on_request(bundled):
    data = _with_columns(bundled.data, _planted(bundled.data.height, seed=3))
    doc = dict(PLANTED_CLAIMS, settings={"correction": "bh", "alpha": 0.01})
    result = evaluate_claims(
        data, bundled.types, bundled.tables, parse_claims(doc, "p.yaml"), bundled=False
    )
    raw = [r.p_value for r in result]
    assert [r.p_adjusted for r in result] == pytest.approx(
        list(st.false_discovery_control(raw, method="bh"))
    )
    assert result.correction == "bh" and result.alpha == 0.01
    assert "Benjamini" in result.correction_text("de")
    with pytest.raises(ClaimsError, match="bonferroni"):
        evaluate_claims(data, bundled.types, bundled.tables, correction="bonferroni")


# ----------------------------------------------------------------------------- bundled data
def test_bundled_reconstruction_associations_not_testable(bundled, bundled_check):
    assert is_bundled_input(bundled.manifest)
    assoc = [r for r in bundled_check if r.kind == "association"]
    assert assoc
    for r in assoc:
        if r.id == "A08":  # the 2019 survey did not ask it: the reconstruction has no answers
            assert (r.verdict, r.reason) == ("no_data", "no_answers")
            assert r.p_value is None and r.effect is None and r.n is None
            assert "keine gültige Antwort" in r.reading_de and "no valid answer" in r.reading_en
            assert "Qualifizierung der Mitarbeitenden" in r.reading_de
            assert "qualification of staff" in r.reading_en
        else:
            assert (r.verdict, r.reason) == ("not_testable", "bundled"), r.id
            assert r.p_value is None and r.effect is None
            assert "Tabellen je Typ" in r.reading_de and "per-type tables" in r.reading_en
    # the same file passed as a path is recognised by its hash
    manifest = {"input": {"bundled": False, "sha256": bundled.manifest["input"]["sha256"]}}
    assert is_bundled_input(manifest)
    assert not is_bundled_input({"input": {"bundled": False, "sha256": "0" * 64}})


def test_all_type_claims_hold_on_the_bundled_reconstruction(bundled_check):
    types = [r for r in bundled_check if r.kind == "type"]
    assert len(types) >= 25
    for r in types:
        assert r.holds is True, (r.id, r.reading_de)
        assert r.verdict in ("supported", "holds_not_significant")
        assert r.value_higher > r.value_lower
        assert r.p_value is not None and r.p_adjusted >= r.p_value


def test_type_claim_test_is_fishers_on_the_table_cells(bundled, bundled_check):
    r = bundled_check.result("T05")  # Community Manager highest on health and care
    table = bundled.table(4)
    row = next(x for x in table.rows if r.row in row_keys(x.spec))
    a, b = row.cell(r.higher), row.cell(r.lower)
    ref = st.fisher_exact([[a.successes, a.n - a.successes], [b.successes, b.n - b.successes]])
    assert r.p_value == pytest.approx(ref.pvalue)
    assert r.effect == pytest.approx(a.value - b.value)
    assert r.n == a.n + b.n
    # a mean row: Mann–Whitney U on the municipalities of the two cells
    r = bundled_check.result("T38")  # staff participation: Community Manager lowest
    assert r.method == "mann_whitney"
    data = bundled.data.with_columns(bundled.types.alias("t"))
    xa = data.filter(pl.col("t") == r.higher)["mitarbeitendenbeteiligung"].drop_nulls()
    xb = data.filter(pl.col("t") == r.lower)["mitarbeitendenbeteiligung"].drop_nulls()
    ref = st.mannwhitneyu(xa.to_numpy(), xb.to_numpy(), alternative="two-sided")
    assert r.p_value == pytest.approx(ref.pvalue)


def test_flipping_a_planted_difference_makes_the_claim_fail(bundled, bundled_check):
    """Bedächtige most often report no systematic data use (T32). Give every Bedächtige that
    reports none another use instead: the claim must fail, the others stay as they were."""
    is_bed = (bundled.types == "bedaechtige").fill_null(False)
    none = (bundled.data["datennutzung_keine"] == 1).fill_null(False)
    flip = is_bed & none
    assert flip.sum() > 10
    data = bundled.data.with_columns(
        pl.when(flip).then(0).otherwise(pl.col("datennutzung_keine")).alias("datennutzung_keine"),
        pl.when(flip)
        .then(1)
        .otherwise(pl.col("datennutzung_sonstige"))
        .alias("datennutzung_sonstige"),
    ).cast(bundled.data.schema)
    tables = compute_tables(data, bundled.types, study_tables())
    result = evaluate_claims(data, bundled.types, tables, bundled=True)
    r = result.result("T32")
    assert r.holds is False
    assert r.verdict == "contradicted"
    assert r.higher == "bedaechtige" and r.effect < 0
    assert "umgekehrt" in r.reading_de
    assert result.result("T30").verdict == bundled_check.result("T30").verdict


def test_new_types_and_missing_tables_give_no_data(bundled):
    mapping = {
        "bedaechtige": "neu_1",
        "optimierer": "neu_2",
        "serviceorientierte": "neu_3",
        "community_manager": "neu_4",
    }
    types = bundled.types.replace_strict(mapping, default=None, return_dtype=pl.String)
    ids = list(mapping.values())
    tables = compute_tables(bundled.data, types, study_tables(), type_ids=ids)
    result = evaluate_claims(bundled.data, types, tables[:5], bundled=True)
    reasons = {r.reason for r in result if r.kind == "type"}
    assert reasons == {"type_missing", "table_missing"}
    assert all(r.verdict == "no_data" for r in result if r.kind == "type")
    assert result.n_tests == 0


def test_no_answers_gives_no_data(bundled):
    data = bundled.data.with_columns(pl.lit(None, dtype=pl.Int8).alias("innovationsfreude"))
    claims = parse_claims(PLANTED_CLAIMS, "planted.yaml")
    result = evaluate_claims(data, bundled.types, bundled.tables, claims, bundled=False)
    r = result.result("P_strong")
    assert (r.verdict, r.reason) == ("no_data", "no_answers")
    assert "Innovationsfreude" in r.reading_de


# ----------------------------------------------------------------------------- outputs
def test_check_analysis_is_the_same_check(bundled, bundled_check):
    assert check_analysis(bundled).to_frame().equals(bundled_check.to_frame())


def test_frame_csv_and_dict_round_trip(bundled_check, tmp_path):
    frame = bundled_check.to_frame()
    assert tuple(frame.columns) == CSV_COLUMNS
    assert frame.height == len(bundled_check)
    path = write_claims_csv(bundled_check, tmp_path / "out" / "claims.csv")
    back = read_claims_csv(path)
    assert back.to_frame().equals(frame)
    assert back.correction == "holm" and back.bundled and back.alpha == 0.05
    assert back.meta == bundled_check.meta and back.n_tests == bundled_check.n_tests
    assert claims_section(back, "de") == claims_section(bundled_check, "de")
    with pytest.raises(ClaimsError, match="verdict"):
        ClaimsResult.from_frame(frame.drop("verdict"))
    data = json.loads(json.dumps(bundled_check.to_dict()))
    restored = ClaimsResult.from_dict(data)
    assert restored.to_frame().equals(frame)
    assert restored.correction_text("en") == bundled_check.correction_text("en")


def test_readings_in_both_languages(bundled_check):
    r = next(x for x in bundled_check if x.kind == "type" and x.unit == "pp")
    assert r.reading("de") != r.reading("en")
    assert "Pp." in r.reading_de and "pp" in r.reading_en
    assert "," in r.reading_de.split("vs.")[0]  # decimal comma in German
    assert r.verdict_label("de") != r.verdict_label("en")
    assert "Holm" in bundled_check.correction_text("de")


def test_report_section_view_and_partial(bundled_check):
    view = claims_section(bundled_check, "en")
    assert view["title"] == "Claims check"
    assert view["bundled"] and "bundled reconstruction" in view["bundled_note"]
    rows = [row for g in view["groups"] for row in g["rows"]]
    assert len(rows) == len(bundled_check)
    assert {"id", "claim", "verdict", "verdict_label", "effect", "n", "reading"} <= set(rows[0])
    html = render_claims_html(bundled_check, "de")
    for r in bundled_check:
        assert f'data-claim="{r.id}"' in html
    assert "Thesen-Check" in html and "verdict-holds_not_significant" in html
    assert "<script" not in html


# ----------------------------------------------------------------------------- command
def test_claims_command_on_bundled_data(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    csv = tmp_path / "claims.csv"
    code, out, err = run_cli(capsys, "claims", "--csv", str(csv))
    assert code == 0, err
    assert "Thesen-Check" in out and "nicht prüfbar" in out
    assert "Holm" in out
    assert csv.is_file()
    assert pl.read_csv(csv).height == len(load_claims())
    assert max(len(line) for line in out.splitlines()) <= 80


def test_claims_command_in_english_with_details(capsys):
    code, out, _ = run_cli(capsys, "--lang", "en", "claims", "--details")
    assert code == 0
    assert "Claims check" in out and "not testable" in out
    assert "order holds" in out and "difference" in out  # the readings


def test_claims_command_with_another_correction(capsys):
    code, out, _ = run_cli(capsys, "claims", "--correction", "bh")
    assert code == 0 and "Benjamini" in out
    code, _, err = run_cli(capsys, "claims", "--correction", "bonferroni")
    assert code == 2 and "bonferroni" in err and "holm" in err


def test_claims_command_with_a_bad_claims_file(capsys, tmp_path):
    bad = tmp_path / "meine.yaml"
    bad.write_text(
        yamlio_dump(_file(dict(BASE_TYPE, highest="pioniere"))),
        encoding="utf-8",
    )
    code, _, err = run_cli(capsys, "claims", "--claims", str(bad))
    assert code == 2
    assert "pioniere" in err and "Traceback" not in err


def yamlio_dump(doc) -> str:
    text = json.dumps(doc, ensure_ascii=False)  # JSON is valid YAML
    assert yamlio.safe_load(text) == doc
    return text


def test_shipped_file_is_where_the_loader_looks():
    assert default_claims_path().is_file()
    assert bundled_data_path().is_file()


def _offered(data: pl.DataFrame) -> np.ndarray:
    """Number of training topics offered per municipality (A08's x, from its declaration)."""
    columns = load_claims().measures["fortbildung_angebot_anzahl"].columns
    counts = data.select(pl.sum_horizontal((pl.col(c) == 1).fill_null(False) for c in columns))
    return counts.to_series().to_numpy().astype(np.int64)


def _qualification(offered: np.ndarray, slope: int, seed: int) -> np.ndarray:
    """Self-assessed qualification 1..5 that rises (slope 1), falls (-1) or does not depend
    (0) on the training offer, with noise; about 5 % left unanswered (null)."""
    rng = np.random.default_rng(seed)
    centre = 3 + slope * (offered - 2) if slope else rng.integers(1, 6, len(offered))
    values = np.clip(centre + rng.integers(-1, 2, len(offered)), 1, 5).astype(float)
    values[rng.random(len(offered)) < 0.05] = np.nan
    return values


def _with_qualification(data: pl.DataFrame, values: np.ndarray) -> pl.DataFrame:
    dtype = data.schema["qualifizierung_mitarbeitende"]
    return data.with_columns(
        pl.Series("qualifizierung_mitarbeitende", values, nan_to_null=True).cast(dtype)
    )


@pytest.mark.parametrize(
    ("slope", "verdict"), [(1, "supported"), (0, "not_supported"), (-1, "contradicted")]
)
def test_a08_is_checked_on_data_with_answers_to_the_qualification_question(bundled, slope, verdict):
    """The shipped claim A08 on a wave that asked the new question: τ_b as for every ordinal
    pair, equal to scipy's on the cases with both answers, and the verdict the planted
    direction implies."""
    offered = _offered(bundled.data)
    values = _qualification(offered, slope, seed=4)
    data = _with_qualification(bundled.data, values)
    result = evaluate_claims(data, bundled.types, bundled.tables, bundled=False)
    r = result.result("A08")
    assert r.reason is None and r.verdict == verdict, r.reading_de
    assert r.method == "kendall_tau_b" and r.effect_name == "tau_b"
    keep = ~np.isnan(values)
    ref = st.kendalltau(offered[keep], values[keep], variant="b")
    assert r.n == keep.sum() < data.height
    assert r.effect == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)
    assert r.ci_low <= r.effect <= r.ci_high
    if slope == 0:
        assert r.ci_low < 0 < r.ci_high
    else:
        assert np.sign(r.effect) == slope and abs(r.effect) > 0.3
    # one family with the other association claims (which now have data too: A01 etc.)
    assert r.p_adjusted >= r.p_value and r.correction == "holm"


def test_nan_in_a_float_column_counts_as_no_answer(bundled):
    """A wave whose qualification column is float with NaN for "no answer" (as a pandas
    frame would bring it) gives the same A08 as the same answers with nulls: NaN is no
    value, never a value of its own."""
    offered = _offered(bundled.data)
    values = _qualification(offered, 1, seed=4)
    with_nulls = _with_qualification(bundled.data, values)
    with_nan = bundled.data.with_columns(pl.Series("qualifizierung_mitarbeitende", values))
    assert with_nan["qualifizierung_mitarbeitende"].is_nan().sum() > 0
    one = evaluate_claims(with_nulls, bundled.types, bundled.tables, bundled=False).result("A08")
    two = evaluate_claims(with_nan, bundled.types, bundled.tables, bundled=False).result("A08")
    assert one.n == two.n == (~np.isnan(values)).sum()
    assert (one.effect, one.p_value, one.verdict) == (two.effect, two.p_value, two.verdict)


def test_a08_with_spearman_when_the_claims_file_declares_it(bundled):
    doc = yamlio.safe_load(default_claims_path().read_text("utf-8"))
    a08 = next(c for c in doc["claims"] if c["id"] == "A08")
    doc["claims"] = [dict(a08, method="spearman")]
    claims = parse_claims(doc, "a08.yaml")
    offered = _offered(bundled.data)
    values = _qualification(offered, 1, seed=5)
    data = _with_qualification(bundled.data, values)
    r = evaluate_claims(data, bundled.types, bundled.tables, claims, bundled=False).result("A08")
    keep = ~np.isnan(values)
    ref = st.spearmanr(offered[keep], values[keep])
    assert (r.method, r.effect_name, r.verdict) == ("spearman_rho", "rho", "supported")
    assert r.effect == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)


def test_a08_without_answers_says_why(bundled, tmp_path):
    """A file in the 2019 layout (no qualification column) is read with a warning that the
    column stays empty; A08 then has no data and the reason says there are no answers."""
    from kommunaltypen.reconstruct import load_bundled
    from kommunaltypen.validate import validate_file

    old = tmp_path / "welle_2019.csv"
    load_bundled().drop("qualifizierung_mitarbeitende").write_csv(old)
    data, report = validate_file(old)
    assert report.rows_rejected == 0
    absent = [w for w in report.warnings if w.rule == "missing_columns"]
    assert absent and "qualifizierung_mitarbeitende" in absent[0].message
    assert data["qualifizierung_mitarbeitende"].null_count() == data.height
    assert data.drop("qualifizierung_mitarbeitende").equals(
        bundled.data.drop("qualifizierung_mitarbeitende")
    )
    check = evaluate_claims(data, bundled.types, bundled.tables, bundled=False)
    r = check.result("A08")
    assert (r.verdict, r.reason) == ("no_data", "no_answers")
    assert "Selbsteinschätzung der Qualifizierung" in r.reason_de
    assert "Self-assessed qualification" in r.reason_en


def test_a_planned_question_the_codebook_lacks_gives_no_data(bundled):
    """A claims file may still name a column the codebook lacks (planned_question: true)."""
    measure = {
        "id": "fuehrungskultur",
        "kind": "column",
        "column": "fuehrungskultur",
        "scale": "ordinal",
        "planned_question": True,
        "label_de": "Selbsteinschätzung der Führungskultur",
        "label_en": "Self-assessed leadership culture",
    }
    doc = _file(dict(BASE_ASSOC, y="fuehrungskultur"), measures=[measure])
    result = evaluate_claims(
        bundled.data, bundled.types, bundled.tables, parse_claims(doc, "f.yaml"), bundled=False
    )
    r = result.result("X1")
    assert (r.verdict, r.reason) == ("no_data", "planned_question")
    assert "Führungskultur" in r.reading_de and "leadership culture" in r.reading_en


def test_a_measure_may_not_take_another_columns_name():
    measure = {
        "id": "fim",
        "kind": "any",
        "label_de": "m",
        "label_en": "m",
        "columns": ["basiskomponenten_dms"],
    }
    with pytest.raises(ClaimsError, match="'fim'"):
        parse_claims(_file(BASE_ASSOC, measures=[measure]), "f.yaml")


def test_a_measure_declared_binary_must_be_zero_or_one(bundled):
    measure = {
        "id": "innovation_binary",
        "kind": "column",
        "column": "innovationsfreude",
        "scale": "binary",
        "label_de": "m",
        "label_en": "m",
    }
    doc = _file(dict(BASE_ASSOC, x="innovation_binary"), measures=[measure])
    with pytest.raises(ClaimsError, match=r"innovation_binary.*0 und 1"):
        evaluate_claims(
            bundled.data, bundled.types, bundled.tables, parse_claims(doc, "f"), bundled=False
        )


def test_xlsx_sheet_keeps_numbers_as_numbers(bundled_check, tmp_path):
    import openpyxl
    import xlsxwriter

    from kommunaltypen.claims import write_claims_sheet

    path = tmp_path / "claims.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    write_claims_sheet(workbook, bundled_check, "de")
    workbook.close()
    ws = openpyxl.load_workbook(path)["Thesen-Check"]
    rows = list(ws.iter_rows(min_row=6, values_only=True))
    assert len(rows) == len(bundled_check)
    by_id = {row[0]: row for row in rows}
    t05 = bundled_check.result("T05")
    row = by_id["T05"]
    assert row[3] == "gilt, nicht signifikant"
    assert row[5] == pytest.approx(t05.effect) and isinstance(row[10], int)
    assert by_id["A01"][5] is None  # not testable: no effect


def test_views_follow_the_calls_language_and_escape_texts(bundled):
    doc = _file(dict(BASE_TYPE, text_de="<script>alert(1)</script>", text_en="=1+1"))
    result = evaluate_claims(
        bundled.data, bundled.types, bundled.tables, parse_claims(doc, "f"), bundled=True
    )
    with use_lang("en"):
        assert claims_section(result)["title"] == "Claims check"
        html = render_claims_html(result)
    assert "Claims check" in html
    html = render_claims_html(result, "de")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_claims_command_checks_a08_on_a_file_with_answers(capsys, tmp_path):
    """From a data file through the reader, validation and the command: a wave that asked the
    qualification question gets A08 tested."""
    from kommunaltypen.reconstruct import load_bundled

    frame = load_bundled()
    offered = _offered(frame)  # item non-response (-9) counts as "not offered", as in the data
    values = _qualification(offered, 1, seed=6)
    path = tmp_path / "welle_neu.csv"
    _with_qualification(frame, values).write_csv(path)
    out_csv = tmp_path / "claims.csv"
    code, _, err = run_cli(capsys, "claims", str(path), "--csv", str(out_csv))
    assert code == 0, err
    row = pl.read_csv(out_csv).filter(pl.col("id") == "A08").row(0, named=True)
    assert (row["verdict"], row["method"], row["reason"]) == ("supported", "kendall_tau_b", None)
    assert row["n"] == int((~np.isnan(values)).sum())
