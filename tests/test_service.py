"""The service layer: data in, objects out, the same rules as the file import, and the language
of each call its own."""

from __future__ import annotations

import csv
import io
import threading
from pathlib import Path

import polars as pl
import pytest

from kommunaltypen import service
from kommunaltypen.analysis import bundled_data_path, run_analysis
from kommunaltypen.i18n import get_lang, use_lang
from kommunaltypen.validate import validate_file


@pytest.fixture(scope="module")
def bundled_rows() -> list[dict[str, str]]:
    with bundled_data_path().open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def analysis():
    return run_analysis(n_bootstrap=0, k_choice=False)


# ------------------------------------------------------------------------------ classify
def test_classify_names_the_study_types() -> None:
    assert service.classify(["effizienz", "leistungsangebot", "buergernaehe"]).type_id == (
        "optimierer"
    )
    result = service.classify(["rechtliche_vorgaben", "foerdermittel", "effizienz"])
    assert result.type_id == "bedaechtige"
    assert abs(sum(result.probabilities.values()) - 1) < 1e-9
    assert result.model_id.startswith("bundled:")
    assert result.to_dict()["label"] == "Bedächtige"


@pytest.mark.parametrize(
    ("goals", "word_de", "word_en"),
    [
        (["effizienz", "effizienz"], "mehrfach", "more than once"),
        (["foo"], "Unbekanntes Ziel", "Unknown goal"),
        (["effizienz", "innovation", "wirtschaft", "foerdermittel"], "4", "4"),
        ([], "0", "0"),
    ],
)
def test_classify_refuses_bad_rankings_with_problems(goals, word_de, word_en) -> None:
    with pytest.raises(service.InvalidInput) as info:
        service.classify(goals)
    (problem,) = info.value.problems
    assert problem.field == "goals" and word_de in problem.message
    assert "effizienz" in problem.expected  # what was expected: the goal ids
    with use_lang("en"), pytest.raises(service.InvalidInput) as info:
        service.classify(goals)
    assert word_en in info.value.problems[0].message
    assert "in order of importance" in info.value.problems[0].expected


# ------------------------------------------------------------------------------ answers
def test_check_answers_gives_the_file_import_row(bundled_rows) -> None:
    data, _ = validate_file(bundled_data_path())
    for i in (0, 1, 17, 200, 411):
        check = service.check_answers(bundled_rows[i])
        assert check.ok and not check.problems
        assert check.row == data.row(i, named=True)
        assert check.frame().equals(data.slice(i, 1))


def test_check_answers_uses_the_import_rules_and_messages(bundled_rows, tmp_path: Path) -> None:
    bad = dict(bundled_rows[0], kommunenart="77")
    check = service.check_answers(bad)
    assert not check.ok and check.row is None
    (problem,) = check.problems
    assert (problem.field, problem.value, problem.rule) == ("kommunenart", "77", "unknown_code")
    # the same value in a file gives the same rule and the same words
    path = tmp_path / "eine.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(bad))
        writer.writeheader()
        writer.writerow(bad)
    _, report = validate_file(path)
    (issue,) = report.errors
    assert issue.rule == problem.rule and issue.expected == problem.expected
    assert issue.message.endswith(problem.message)


def test_check_answers_refuses_unknown_fields(bundled_rows) -> None:
    check = service.check_answers(dict(bundled_rows[0], erfunden="1"))
    assert not check.ok
    assert [p.rule for p in check.problems] == ["unknown_columns"]
    assert "erfunden" in check.problems[0].message


def test_check_answers_many_equals_one_by_one(bundled_rows) -> None:
    batch = [
        bundled_rows[0],
        dict(bundled_rows[1], kommunenart="77"),
        dict(bundled_rows[2], erfunden="x"),
        bundled_rows[3],
        dict(bundled_rows[4], einwohner="-3", bundesland="99"),
        dict(bundled_rows[5], kommune_id=bundled_rows[0]["kommune_id"]),  # same municipality
    ]
    together = service.check_answers_many(batch)
    alone = [service.check_answers(answers) for answers in batch]
    assert together == alone
    assert [c.ok for c in together] == [True, False, False, True, False, True]
    assert len(together[4].problems) == 2


def _as_numbers(answers: dict[str, str]) -> dict[str, object]:
    """The answers as a JSON client sends them: whole numbers as numbers, empty cells absent."""
    out: dict[str, object] = {}
    for column, text in answers.items():
        if text == "":
            continue
        out[column] = int(text) if text.lstrip("-").isdigit() else text
    return out


def test_numbers_and_their_text_get_the_same_check(bundled_rows) -> None:
    """An answer set sent as numbers is checked with fewer polars expressions (typed columns,
    service._answers_frame) but must get exactly the check of the same values as text —
    rows, problems and words — for valid and invalid values alike."""
    cases = [
        bundled_rows[0],
        bundled_rows[17],
        dict(bundled_rows[1], kommunenart="77"),  # unknown code
        dict(bundled_rows[2], einwohner="-3", bundesland="99"),  # out of range, unknown code
        dict(bundled_rows[3], bundesland="-9"),  # a missing code
        dict(bundled_rows[4], ziele_effizienz="1", ziele_buergernaehe="1"),  # repeated rank
        dict(bundled_rows[5], einwohner="99999999999999999999999"),  # beyond Int64
        dict(bundled_rows[6], einwohner="300"),
    ]
    for answers in cases:
        numbers = _as_numbers(answers)
        assert any(isinstance(v, int) for v in numbers.values())
        as_text = {k: v for k, v in answers.items() if v != ""}
        for lang in ("de", "en"):
            with use_lang(lang):
                assert service.check_answers(numbers) == service.check_answers(as_text), answers
    # numbers and text mixed in one column of one pass, and values of other Python types
    batch = [
        _as_numbers(bundled_rows[0]),
        dict(_as_numbers(bundled_rows[1]), kommunenart="2"),
        dict(_as_numbers(bundled_rows[2]), kommunenart=2.0, einwohner=1500.5),
        dict(_as_numbers(bundled_rows[3]), kommunenart=True),  # a ticked box: code 1
    ]
    together = service.check_answers_many(batch)
    assert together == [service.check_answers(answers) for answers in batch]
    as_text = [
        {k: service._cell_text(v) for k, v in answers.items() if v is not None} for answers in batch
    ]
    assert together == [service.check_answers(answers) for answers in as_text]
    assert [c.ok for c in together] == [True, True, False, True]


def test_the_validation_plan_belongs_to_its_codebook(bundled_rows) -> None:
    """The compiled rule expressions are kept per codebook object: a changed copy gets its
    own plan (never a stale one), and a plan leaves with its codebook."""
    import gc

    from kommunaltypen import validate
    from kommunaltypen.codebook import default_codebook

    cb = default_codebook()
    assert validate._plan(cb) is validate._plan(cb)
    question = cb.question("einwohner")
    copy = cb.model_copy(
        update={
            "questions": tuple(
                q.model_copy(update={"max": 1000.0}) if q is question else q for q in cb.questions
            )
        }
    )
    assert validate._plan(copy) is not validate._plan(cb)
    answers = dict(_as_numbers(bundled_rows[0]), einwohner=5000)
    assert service.check_answers(answers).ok
    refused = service.check_answers(answers, codebook=copy)
    assert [p.rule for p in refused.problems] == ["out_of_range"]
    with use_lang("en"):  # the expectations are in the call's language, plan or not
        assert (
            "from 1 to 1000" in service.check_answers(answers, codebook=copy).problems[0].expected
        )
    key = id(copy)
    del copy, refused
    gc.collect()
    assert key not in validate._PLANS


# ------------------------------------------------------------------------------ analyse
def test_analyse_from_bytes_and_upload_equals_the_path() -> None:
    path = bundled_data_path()
    kwargs = {"n_bootstrap": 0, "k_choice": False}
    by_path = service.analyse(path, **kwargs)
    raw = path.read_bytes()
    by_bytes = service.analyse(raw, filename="beispieldaten.csv", **kwargs)
    by_upload = service.analyse(io.BytesIO(raw), filename="beispieldaten.csv", **kwargs)
    for other in (by_bytes, by_upload):
        assert other.data.equals(by_path.data)
        assert other.types.equals(by_path.types)
        assert other.manifest["input"]["sha256"] == by_path.manifest["input"]["sha256"]
        assert other.manifest["input"]["file"] == "beispieldaten.csv"
        assert other.tables_frame().equals(by_path.tables_frame())


def test_analyse_a_frame_in_memory() -> None:
    raw = pl.read_csv(bundled_data_path(), infer_schema=False)
    result = service.analyse(raw, filename="speicher", n_bootstrap=0, k_choice=False)
    assert result.validation.rows_accepted == 412 and result.n_typed == 325


# ------------------------------------------------------------------------------ evaluate
def test_evaluate_places_a_municipality_in_the_tables(bundled_rows, analysis) -> None:
    basis = service.comparison_basis(analysis)
    i = next(k for k, t in enumerate(analysis.types.to_list()) if t == "optimierer")
    evaluation = service.evaluate(bundled_rows[i], basis)
    assert evaluation.classification is not None
    assert evaluation.classification.type_id == "optimierer"
    places = {(p.table, p.row_id): p for p in evaluation.places}
    assert {p.table for p in evaluation.places} >= {1, 4, 5, 16}
    # Table 1: its own points per goal are the ranking it gave
    goal_rank = analysis.data.row(i, named=True)["ziele_effizienz"]
    own = next(p for p in evaluation.places_of(1) if "Effizienz" in p.label_de).own
    assert own == (4 - goal_rank if goal_rank else 0)
    for place in places.values():
        assert place.position is None or 0 <= place.position <= 1
        if place.own is not None and place.measure == "share":
            assert place.own in (0.0, 1.0)
        if place.type_n is not None:
            cell = next(
                c
                for r in analysis.table(place.table).rows
                if r.spec.label_de == place.label_de
                for c in r.cells
                if c.column.key == "optimierer"
            )
            assert place.type_value == cell.value


def test_evaluate_a_validated_row_equals_evaluating_the_answers(bundled_rows, analysis) -> None:
    basis = service.comparison_basis(analysis)
    checked = service.evaluate(bundled_rows[7], basis)
    trusted = service.evaluate(service.check_answers(bundled_rows[7]).row, basis, validated=True)
    assert trusted == checked


def test_evaluate_gives_the_rules_that_apply(bundled_rows, analysis) -> None:
    from kommunaltypen.report.recommendations import load_rules

    basis = service.comparison_basis(analysis)
    rules = {rule.id: rule for rule in load_rules().rules}
    hits = 0
    for i in range(0, 412, 41):
        evaluation = service.evaluate(bundled_rows[i], basis)
        answers = evaluation.answers
        expected = {rid for rid, rule in rules.items() if all(c.holds(answers) for c in rule.when)}
        got = {rec.rule_id for rec in evaluation.recommendations}
        assert got == expected
        hits += len(got)
        for rec in evaluation.recommendations:
            assert rec.type_id in analysis.model.type_ids_ and rec.value_text != "–"
    assert hits > 0


def test_evaluate_without_goals_has_no_type(bundled_rows, analysis) -> None:
    untyped = next(r for r in bundled_rows if not any(r[f"ziele_{g}"] for g in ("effizienz",)))
    answers = {k: ("" if k.startswith("ziele_") else v) for k, v in untyped.items()}
    evaluation = service.evaluate(answers, analysis)
    assert evaluation.classification is None and evaluation.not_typed_reason
    assert all(p.type_value is None for p in evaluation.places)


def test_evaluate_refuses_invalid_answers(bundled_rows, analysis) -> None:
    with pytest.raises(service.InvalidInput) as info:
        service.evaluate(dict(bundled_rows[0], einwohner="-5"), analysis)
    assert info.value.problems[0].field == "einwohner"


# ------------------------------------------------------------------------------ language
def test_two_threads_two_languages(bundled_rows) -> None:
    """Concurrent calls in one process each get the texts of their own language."""
    bad = dict(bundled_rows[0], kommunenart="77")
    barrier = threading.Barrier(2)
    seen: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def work(lang: str) -> None:
        try:
            with use_lang(lang):
                texts = []
                for _ in range(20):
                    barrier.wait(timeout=30)
                    assert get_lang() == lang
                    texts.append(service.check_answers(bad).problems[0].message)
                    texts.append(service.classify(["effizienz"]).label())
                seen[lang] = texts
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(lang,)) for lang in ("de", "en")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert all("unbekannter Code" in m for m in seen["de"][::2])
    assert all("unknown code" in m for m in seen["en"][::2])
    assert set(seen["de"][1::2]) == {"Optimierer"} and set(seen["en"][1::2]) == {"Optimisers"}
    assert get_lang() == "de"  # nothing leaked into the calling context
