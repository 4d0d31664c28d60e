"""Builds a realistic analysis output directory for the report tests and the benchmark.

Preferred source: the real pipeline (``kommunaltypen.analysis.run_analysis`` on the bundled
data). While that pipeline is not available yet, the directory is computed here from a seeded
synthetic survey of the same shape (412 municipalities, goal rankings clustered with k-means,
shares with Wilson intervals and chi-square tests per row), written in the contract format of
``docs/architecture.md``. Nothing in it is typed in: every figure is computed from the data.
"""

from __future__ import annotations

import importlib
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans

from kommunaltypen.codebook import default_codebook

TYPES = ("bedaechtige", "optimierer", "serviceorientierte", "community_manager")
TYPE_LABELS = ("Bedächtige", "Optimierer", "Serviceorientierte", "Community Manager")
#: goal option ids in codebook order (the typology's feature order)
GOALS = tuple(o.id for o in default_codebook().typology_question.options)
# Study Table 1 centres (ÖFIT/KGSt 2020, transcribed figures), used to generate the synthetic
# rankings and to name the fitted clusters.
STUDY_CENTRES = np.array(
    [
        [2.91, 0.24, 0.91, 0.72, 0.54, 0.22, 0.28, 0.07, 0.00, 0.07],
        [0.35, 0.03, 2.75, 1.08, 0.90, 0.43, 0.32, 0.03, 0.01, 0.05],
        [0.35, 0.06, 1.00, 0.79, 2.74, 0.60, 0.15, 0.17, 0.04, 0.04],
        [0.21, 0.19, 0.73, 0.44, 0.63, 0.58, 2.52, 0.48, 0.10, 0.08],
    ]
)

# (table, label_de, kind, column(s), values); kinds: share, mean, count, none
_S = "share"
ROWS: list[tuple[int, str, str, object, tuple]] = [
    (4, "Verwaltung (als wichtigstes Handlungsfeld)", _S, "handlungsfelder_verwaltung", (1,)),
    (
        4,
        "Digitale Infrastruktur (unter den 2 wichtigsten Handlungsfeldern)",
        _S,
        "handlungsfelder_infrastruktur",
        (1, 2),
    ),
    (4, "Wirtschaft und Handel", _S, "handlungsfelder_wirtschaft_handel", (1, 2, 3)),
    (4, "Bildung, Kultur und Wissenschaft", _S, "handlungsfelder_bildung", (1, 2, 3)),
    (4, "Verkehr und Mobilität", _S, "handlungsfelder_verkehr", (1, 2, 3)),
    (4, "Sicherheit", _S, "handlungsfelder_sicherheit", (1, 2, 3)),
    (4, "Energie und Umwelt", _S, "handlungsfelder_energie_umwelt", (1, 2, 3)),
    (4, "Gesundheit und Pflege", _S, "handlungsfelder_gesundheit", (1, 2, 3)),
    (5, "Strategie vorhanden", _S, "strategie", (1,)),
    (5, "Strategie in Entwicklung", _S, "strategie", (2,)),
    (5, "Bedeutung Gesamtstrategie", _S, "anknuepfung_gesamtstrategie", (1,)),
    (5, "Bedeutung IT-Strategie", _S, "anknuepfung_it_strategie", (1,)),
    (
        5,
        "Bedeutung Digitalisierungsstrategie von Bund und Land",
        _S,
        "anknuepfung_strategie_bund_land",
        (1,),
    ),
    (5, "Keine Bedeutung/Anknüpfungspunkte", _S, "anknuepfung_keine", (1,)),
    (
        5,
        "Summe der Anknüpfungspunkte (aus 7)",
        "count",
        [
            f"anknuepfung_{o}"
            for o in (
                "gesamtstrategie",
                "it_strategie",
                "entwicklungskonzept",
                "schulkonzept",
                "wirtschaftskonzept",
                "strategie_kreis_gemeinden",
                "strategie_bund_land",
            )
        ],
        (1,),
    ),
    (6, "eigener Verwaltung", _S, "strategiebeteiligte_verwaltung", (1,)),
    (6, "externen Beratern", _S, "strategiebeteiligte_berater", (1,)),
    (6, "anderen Kommunen", _S, "strategiebeteiligte_kommunen", (1,)),
    (
        6,
        "allen interessierten Akteuren der örtlichen Gemeinschaft",
        _S,
        "strategiebeteiligte_alle_akteure",
        (1,),
    ),
    (6, "IT-Unternehmen", _S, "strategiebeteiligte_it_unternehmen", (1,)),
    (7, "HVB", _S, "verantwortung_verwaltung_hvb", (1,)),
    (7, "CIO", _S, "verantwortung_verwaltung_cio", (1,)),
    (7, "CDO", _S, "verantwortung_verwaltung_cdo", (1,)),
    (7, "Fachbereich IT", _S, "verantwortung_verwaltung_fb_it", (1,)),
    (
        7,
        "Zentrale Steuerungsunterstützung",
        _S,
        "verantwortung_verwaltung_steuerungsunterstuetzung",
        (1,),
    ),
    (8, "HVB", _S, "verantwortung_gemeinschaft_hvb", (1,)),
    (8, "CDO", _S, "verantwortung_gemeinschaft_cdo", (1,)),
    (8, "Fachbereich Organisation", _S, "verantwortung_gemeinschaft_fb_organisation", (1,)),
    (
        8,
        "Zentrale Steuerungsunterstützung",
        _S,
        "verantwortung_gemeinschaft_steuerungsunterstuetzung",
        (1,),
    ),
    (
        9,
        "Anzahl eingesetzter Basiskomponenten (aus 10)",
        "count",
        [
            f"basiskomponenten_{o}"
            for o in (
                "chatbots",
                "mobile_apps",
                "dms",
                "de_mail",
                "formularserver",
                "e_payment",
                "servicekonto",
                "eid",
                "verwaltungspostfach",
                "suchfunktion",
            )
        ],
        (1,),
    ),
    (9, "Mobile Apps", _S, "basiskomponenten_mobile_apps", (1,)),
    (9, "Dokumentenmanagementsystem (DMS)", _S, "basiskomponenten_dms", (1,)),
    (
        9,
        "Berücksichtigung OZG bei Verwaltungshandeln als prioritäres Handlungsfeld der "
        "Digitalstrategie",
        _S,
        "ozg",
        (1,),
    ),
    (10, "Bekanntheit FIM", _S, "fim", (1,)),
    (
        11,
        "Grad der systematischen Bestandsaufnahme von Daten (Skala: 0 bis 3)",
        "mean",
        "datenbestandsaufnahme",
        (),
    ),
    (11, "Datennutzung zur Personaleinsatzplanung", _S, "datennutzung_personaleinsatz", (1,)),
    (11, "Datennutzung zur Prozessoptimierung", _S, "datennutzung_prozessoptimierung", (1,)),
    (11, "Grad der Bereitstellung von offenen Daten (Skala: 0 bis 3)", "mean", "open_data", ()),
    (11, "Keine systematische Datennutzung", _S, "datennutzung_keine", (1,)),
    (12, "Fachverfahren und Anwendungen – angeboten", _S, "fortbildung_fachverfahren", (1,)),
    (12, "Fachverfahren und Anwendungen – geplant", _S, "fortbildung_fachverfahren", (2,)),
    (12, "Führungskräfte in der Digitalisierung – angeboten", _S, "fortbildung_fuehrung", (1,)),
    (12, "Führungskräfte in der Digitalisierung – geplant", _S, "fortbildung_fuehrung", (2,)),
    (
        12,
        "Anteil an Fortbildungen mit Digitalisierungsbezug (Schätzung)",
        "mean",
        "anteil_fortbildung_digital",
        (),
    ),
    (
        12,
        "Selbsteinschätzung Mitarbeitendenbeteiligung (Skala: 0 bis 4)",
        "mean",
        "mitarbeitendenbeteiligung",
        (),
    ),
    (13, "Eigenregie", _S, "glasfaser_eigenregie", (1,)),
    (13, "Mit anderen Gebietskörperschaften", _S, "glasfaser_gebietskoerperschaften", (1,)),
    (13, "Durch Fördermittel", _S, "glasfaser_foerdermittel", (1,)),
    (13, "Kein Glasfaserengagement", _S, "glasfaser_kein", (1,)),
    (14, "Digitalisierung der lokalen Wirtschaft", _S, "unterstuetzung_lokale_wirtschaft", (1,)),
    (14, "Start-up-Förderung", _S, "unterstuetzung_startups", (1,)),
    (14, "Freies WLAN / LoRaWAN", _S, "unterstuetzung_wlan", (1,)),
    (14, "Digitalisierung des Ehrenamtes", _S, "unterstuetzung_ehrenamt", (1,)),
    (
        15,
        "Unterstützung der Entwicklung der Digitalkompetenzen",
        _S,
        "kompetenzangebote_digitalkompetenzen",
        (1,),
    ),
    (15, "Angebote von Bibliotheken, VHS etc.", _S, "kompetenzangebote_bibliotheken_vhs", (1,)),
    (15, "Hackathons oder Cryptoparties", _S, "kompetenzangebote_hackathons", (1,)),
    (16, "Online-Bürgerhaushalte", _S, "beteiligung_buergerhaushalt", (1,)),
    (16, "Online-Befragungen", _S, "beteiligung_befragungen", (1,)),
    (16, "Online-Mängelmelder", _S, "beteiligung_maengelmelder", (1,)),
    (16, "Online-Beteiligung Planungsverfahren", _S, "beteiligung_planungsverfahren", (1,)),
    (16, "Civic Tech", _S, "beteiligung_civic_tech", (1,)),
]
KOMMUNENGRUPPE = {1: "... Kreise", 2: "... Städte", 3: "... Städte", 4: "... Gemeinden"}


def synthetic_survey(n: int = 412, seed: int = 7) -> pd.DataFrame:
    """A seeded synthetic survey in the canonical wide form (pandas, nullable ints)."""
    rng = np.random.default_rng(seed)
    cb = default_codebook()
    n_typed = round(n * 325 / 412)
    true_type = rng.choice(4, size=n, p=[0.145, 0.342, 0.354, 0.159])
    data: dict[str, object] = {"kommune_id": [f"K{i + 1:04d}" for i in range(n)]}
    data["kommunenart"] = rng.choice([1, 2, 3, 4], size=n, p=[0.2, 0.15, 0.4, 0.25])
    data["einwohner"] = np.round(np.exp(rng.normal(9.8, 1.2, size=n)))
    ranks = np.zeros((n, len(GOALS)), dtype=float)
    for i in range(n):
        weights = STUDY_CENTRES[true_type[i]] + 0.05
        top = rng.choice(len(GOALS), size=3, replace=False, p=weights / weights.sum())
        ranks[i, top] = [1, 2, 3]
    ranks[n_typed:] = np.nan  # no usable ranking
    for j, goal in enumerate(GOALS):
        data[f"ziele_{goal}"] = ranks[:, j]
    lift = np.array([0.7, 1.2, 1.1, 1.3])[true_type]
    for q in cb:
        if q.role is not None or q.id in ("kommunenart", "einwohner") or q.kind == "text":
            continue
        if q.kind == "ranking":
            order = rng.permuted(np.tile(np.arange(len(q.options)), (n, 1)), axis=1)
            for j, o in enumerate(q.options):
                pos = order[:, j]
                data[f"{q.id}_{o.id}"] = np.where(pos < 3, pos + 1, 0)
        elif q.kind == "multiple":
            base = rng.uniform(0.05, 0.6, size=len(q.options))
            ticks = rng.random((n, len(q.options))) < np.clip(np.outer(lift, base), 0, 0.95)
            exclusive = [j for j, o in enumerate(q.options) if o.exclusive]
            for j in exclusive:
                others = np.delete(ticks, j, axis=1).any(axis=1)
                ticks[:, j] = ~others
            for j, o in enumerate(q.options):
                data[f"{q.id}_{o.id}"] = ticks[:, j].astype(int)
        elif q.kind in ("single",):
            data[q.id] = rng.choice(q.codes, size=n)
        elif q.kind == "ordinal":
            data[q.id] = rng.integers(int(q.min), int(q.max) + 1, size=n)
        elif q.kind in ("number", "percentage"):
            lo, hi = q.min or 0, q.max or 100
            data[q.id] = np.round(rng.uniform(lo, min(hi, lo + 60), size=n))
    frame = pd.DataFrame(data)
    no_strategy = frame["strategie"] == 3
    for o in cb.question("strategiebeteiligte").options:
        frame[f"strategiebeteiligte_{o.id}"] = frame[f"strategiebeteiligte_{o.id}"].where(
            ~no_strategy
        )
    return frame


def _wilson(k: float, n: int) -> tuple[float, float]:
    if n == 0:
        return (np.nan, np.nan)
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * (centre - half), 100 * (centre + half)


def _cells(frame: pd.DataFrame, kind: str, cols: object, values: tuple):
    if kind == "count":
        sub = frame[list(cols)]
        base = sub.notna().any(axis=1)
        return sub[base].isin(values).sum(axis=1).astype(float), None
    series = frame[cols]
    base = series.notna()
    if kind == "mean":
        return series[base].astype(float), None
    hits = series[base].isin(values)
    return hits.astype(float) * 100, hits


def _label_en(cols: object, label: str) -> str:
    """English row label from the codebook (option or question label)."""
    cb = default_codebook()
    if not isinstance(cols, str):
        return cb.column_owner(cols[0])[0].label_en
    question, option = cb.column_owner(cols)
    text = option.label_en if option is not None else question.label_en
    for suffix in (" – angeboten", " – geplant"):
        if label.endswith(suffix):
            text += " – offered" if "angeboten" in suffix else " – planned"
    return text


def compute_tables(frame: pd.DataFrame, types: pd.Series) -> dict[int, pd.DataFrame]:
    """Long-format tables in the contract of docs/architecture.md."""
    out: dict[int, list[dict]] = {k: [] for k in range(1, 17)}
    typed = types.notna()
    points = np.nan_to_num(
        np.where(
            frame[[f"ziele_{g}" for g in GOALS]] > 0, 4 - frame[[f"ziele_{g}" for g in GOALS]], 0
        )
    )
    for j, goal in enumerate(GOALS):
        label = default_codebook().question("ziele").option(goal).label_de
        means = [points[(types == t).to_numpy(), j].mean() for t in TYPES]
        best = int(np.argmax(means))
        for k, (t, lab) in enumerate(zip(TYPES, TYPE_LABELS, strict=True)):
            out[1].append(
                {
                    "row_label": label,
                    "column_label": lab,
                    "value": means[k],
                    "n": int((types == t).sum()),
                    "bold": k == best,
                }
            )
    group = frame["kommunenart"].map(KOMMUNENGRUPPE)
    for t, lab in zip(TYPES, TYPE_LABELS, strict=True):
        for col in ("... Kreise", "... Städte", "... Gemeinden", "... Allen"):
            mask = typed & ((group == col) if col != "... Allen" else True)
            n = int(mask.sum())
            k = int((types[mask] == t).sum())
            lo, hi = _wilson(k, n)
            out[2].append(
                {
                    "row_label": lab,
                    "column_label": col,
                    "value": 100 * k / n,
                    "n": n,
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
        for col, codes in (("In Kreisen", [1]), ("In Städten und Gemeinden", [2, 3, 4])):
            mask = (types == t) & frame["kommunenart"].isin(codes)
            out[3].append(
                {
                    "row_label": lab,
                    "column_label": col,
                    "value": float(frame.loc[mask, "einwohner"].median()),
                    "n": int(mask.sum()),
                }
            )
    for number, label, kind, cols, values in ROWS:
        vals, hits = _cells(frame, kind, cols, values)
        groups = [vals[(types.loc[vals.index] == t)] for t in TYPES]
        p, test, eff, eff_name = np.nan, "", np.nan, ""
        if hits is not None:
            table = np.array(
                [
                    [int(h.sum()), int((~h).sum())]
                    for h in (hits[types.loc[hits.index] == t] for t in TYPES)
                ]
            )
            if (table.sum(axis=0) > 0).all():
                chi2, p, _, _ = stats.chi2_contingency(table)
                eff = float(np.sqrt(chi2 / table.sum()))
                test, eff_name = "chi2", "cramers_v"
        elif all(len(g) > 1 for g in groups):
            p = float(stats.f_oneway(*groups).pvalue)
            test, eff_name = "anova", "eta2"
        means = [g.mean() if len(g) else np.nan for g in groups]
        label_en = _label_en(cols, label)
        best = int(np.nanargmax(means))
        for k, (g, lab) in enumerate(zip([*groups, vals], [*TYPE_LABELS, "Gesamt"], strict=True)):
            lo = hi = np.nan
            if hits is not None:
                lo, hi = _wilson(g.sum() / 100, len(g))
            out[number].append(
                {
                    "row_label": label,
                    "row_label_en": label_en,
                    "column_label": lab,
                    "value": g.mean() if len(g) else np.nan,
                    "n": len(g),
                    "ci_low": lo,
                    "ci_high": hi,
                    "p_value": p,
                    "test": test,
                    "effect_size": eff,
                    "effect_name": eff_name,
                    "bold": k == best,
                }
            )
    # Table 12 as the engine writes it: the "angeboten" row carries the planned share (value2)
    planned = {
        (r["row_label"].rsplit(" – ", 1)[0], r["column_label"]): r["value"]
        for r in out[12]
        if r["row_label"].endswith(" – geplant")
    }
    for r in out[12]:
        base, _, part = r["row_label"].rpartition(" – ")
        if part in ("angeboten", "geplant"):
            r.update(study_label=base, part=part)
            if part == "angeboten":
                r["value2"] = planned.get((base, r["column_label"]))
    result = {}
    for number, recs in out.items():
        table = pd.DataFrame(recs)
        table.insert(0, "table", number)
        for col in (
            "value2",
            "ci_low",
            "ci_high",
            "p_value",
            "test",
            "effect_size",
            "effect_name",
            "bold",
        ):
            if col not in table:
                table[col] = np.nan if col != "bold" else False
        table["suppressed"] = False
        _add_ids(number, table)
        result[number] = table
    return result


#: column ids of the engine's layouts (docs/tables.md), by the study's column label
COLUMN_IDS = {
    **dict(zip(TYPE_LABELS, TYPES, strict=True)),
    "Gesamt": "gesamt",
    "... Kreise": "kreise",
    "... Städte": "staedte",
    "... Gemeinden": "gemeinden",
    "... Allen": "alle",
    "In Kreisen": "kreise",
    "In Städten und Gemeinden": "staedte_gemeinden",
}
COLUMN_LABELS_EN = {
    "Gesamt": "Total",
    "... Kreise": "... Districts",
    "... Städte": "... Cities and towns",
    "... Gemeinden": "... Municipalities",
    "... Allen": "... all",
    "In Kreisen": "In districts",
    "In Städten und Gemeinden": "In cities and municipalities",
}


def _add_ids(number: int, table: pd.DataFrame) -> None:
    """The declaration's columns of the engine's CSV: row and column ids, measure, precision,
    English labels (ids of rows the study declares come from ``data/tables/study.yaml``)."""
    from kommunaltypen.tables.spec import slug, study_tables
    from kommunaltypen.vocabulary import type_label

    declared = {(tb.number, r.label_de): r.id for tb in study_tables() for r in tb.rows}
    kinds = {(n, label): kind for n, label, kind, _, _ in ROWS}
    measure = {"share": "share", "mean": "mean", "count": "mean_count"}
    goals_en = {o.label_de: o.label_en for o in default_codebook().typology_question.options}
    rows = table["row_label"].astype(str)
    table["row_id"] = [declared.get((number, label), slug(label)) for label in rows]
    table["column_id"] = table["column_label"].map(COLUMN_IDS)
    if number == 1:
        table["measure"], table["precision"] = "centre", 2
        table["row_label_en"] = rows.map(goals_en)
    elif number in (2, 3):
        table["measure"] = "type_share" if number == 2 else "grouped_median"
        table["precision"] = 1 if number == 2 else 0
        table["row_id"] = rows.map(dict(zip(TYPE_LABELS, TYPES, strict=True)))
        table["row_label_en"] = table["row_id"].map(lambda tid: type_label(tid, "en"))
    else:
        kind = [kinds[(number, label)] for label in rows]
        table["measure"] = [measure[k] for k in kind]
        table["precision"] = [
            2 if k == "count" or "Skala" in label else 1
            for k, label in zip(kind, rows, strict=True)
        ]
    table["column_label_en"] = [
        type_label(cid, "en") if cid in TYPES else COLUMN_LABELS_EN.get(label, label)
        for cid, label in zip(table["column_id"], table["column_label"], strict=True)
    ]


def build_synthetic(out_dir: Path, n: int = 412, seed: int = 7) -> Path:
    """Compute the whole output directory from a synthetic survey."""
    frame = synthetic_survey(n, seed)
    goal_cols = [f"ziele_{g}" for g in GOALS]
    typable = frame[goal_cols].notna().all(axis=1).to_numpy()
    points = np.where(frame[goal_cols] > 0, 4 - frame[goal_cols], 0)[typable]
    km = KMeans(n_clusters=4, n_init=10, random_state=seed).fit(points)
    dist = ((km.cluster_centers_[:, None, :] - STUDY_CENTRES[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(dist)
    cluster_type = {int(r): TYPES[c] for r, c in zip(rows, cols, strict=True)}
    types = pd.Series([None] * len(frame), dtype=object)
    types[typable] = [cluster_type[int(c)] for c in km.labels_]
    d = km.transform(points)
    proba = np.exp(-d) / np.exp(-d).sum(axis=1, keepdims=True)
    (out_dir / "tables").mkdir(parents=True, exist_ok=True)
    for number, table in compute_tables(frame, types).items():
        table.to_csv(out_dir / "tables" / f"table_{number:02d}.csv", index=False)
    assign = pd.DataFrame({"kommune_id": frame["kommune_id"], "type": types})
    for k, t in enumerate(TYPES):
        cluster = next(c for c, tt in cluster_type.items() if tt == t)
        col = np.full(len(frame), np.nan)
        col[typable] = proba[:, cluster]
        assign[f"p_{t}"] = col
        del k
    pmax = assign[[f"p_{t}" for t in TYPES]].max(axis=1)
    assign["mischform"] = (pmax < 0.5) & typable
    assign["reason"] = np.where(typable, "", "no_ranking")
    assign.to_csv(out_dir / "assignments.csv", index=False)
    centres = pd.DataFrame(km.cluster_centers_, columns=GOALS)
    centres.insert(0, "type", [cluster_type[i] for i in range(4)])
    centres.to_csv(out_dir / "centers.csv", index=False)
    inertia = {
        k: float(KMeans(k, n_init=4, random_state=seed).fit(points).inertia_) for k in range(2, 7)
    }
    (out_dir / "diagnostics.json").write_text(
        json.dumps(
            {
                "k_choice": [{"k": k, "inertia": v} for k, v in inertia.items()],
                "recommended_k": 4,
                "stability": {t: {"jaccard_mean": 0.9 - 0.1 * i} for i, t in enumerate(TYPES)},
            }
        ),
        encoding="utf-8",
    )
    (out_dir / "model.json").write_text(json.dumps({"n_clusters": 4, "seed": seed}), "utf-8")
    (out_dir / "manifest.json").write_text(
        json.dumps(
            {
                "input": "synthetic",
                "seed": seed,
                "rows": {"in": n + 3, "accepted": n, "rejected": 3, "typed": int(typable.sum())},
                "parameters": {"n_clusters": 4, "n_bootstrap": 0},
            }
        ),
        encoding="utf-8",
    )
    pd.DataFrame(
        {
            "row": [5, 17, 40],
            "kommune_id": ["X1", "X2", "=HYPERLINK(1)"],
            "reasons": [
                "kommunenart: Code 9 unbekannt",
                "einwohner: -5 < 0",
                "ziele: Rang 1 doppelt",
            ],
        }
    ).to_csv(out_dir / "rejected.csv", index=False)
    return out_dir


def real_pipeline_available() -> bool:
    """Whether ``run_analysis``, the bundled data and the study's table declarations exist."""
    try:
        analysis = importlib.import_module("kommunaltypen.analysis")
    except ImportError:
        return False
    study = Path(str(resources.files("kommunaltypen") / "data" / "tables" / "study.yaml"))
    return (
        hasattr(analysis, "run_analysis")
        and hasattr(analysis, "bundled_data_path")
        and analysis.bundled_data_path().exists()
        and study.exists()
    )


def build_output_dir(out_dir: Path) -> tuple[Path, object | None]:
    """The real pipeline's output on the bundled data when it is there, else the synthetic
    computation."""
    if real_pipeline_available():
        analysis = importlib.import_module("kommunaltypen.analysis")
        result = analysis.run_analysis(out_dir=out_dir, n_bootstrap=50, seed=1, report=False)
        return out_dir, result
    return build_synthetic(out_dir), None
