"""Ofsted judgements read from the five sample reports, and grade questions answered from them.

The expected table was written by reading the reports, not by running the extractor: every
judgement each report states, with the grade it states, and nothing it does not state.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.judgements import GRADES, extract_judgements
from tests.samples import ALL, NORTH_SOMERSET, SOUTHEND_2016, SOUTHEND_2019, SOUTHWARK, SWINDON, sample_text
from tests.test_answers import check_citations

RI, GOOD = "Requires improvement to be good", "Good"

# (report, area, grade, previous inspection?, inspection year)
EXPECTED = {
    NORTH_SOMERSET: {
        ("overall", RI, False, 2020),
        ("leadership", RI, False, 2020),
        ("help_protection", RI, False, 2020),
        ("in_care", GOOD, False, 2020),
        ("overall", RI, True, 2017),  # "At the last inspection in 2017, children's services required improvement"
    },
    SOUTHEND_2016: {
        ("overall", RI, False, 2016),
        ("help_protection", RI, False, 2016),
        ("in_care", RI, False, 2016),  # children looked after and achieving permanence
        ("adoption", GOOD, False, 2016),
        ("care_leavers", GOOD, False, 2016),
        ("leadership", RI, False, 2016),  # leadership, management and governance
        ("lscb", RI, False, 2016),
        ("safeguarding", GOOD, True, 2012),  # "The last inspection of ... safeguarding arrangements was in June 2012"
        ("in_care", GOOD, True, 2012),  # "... services for looked after children was in June 2012"
    },
    SOUTHEND_2019: {
        ("overall", RI, False, 2019),
        ("leadership", RI, False, 2019),  # "require improvement to be good across all areas"
        ("help_protection", RI, False, 2019),
        ("in_care", RI, False, 2019),
        ("overall", RI, True, 2016),  # "as was the case at the last inspection in 2016"
    },
    SOUTHWARK: {
        ("overall", GOOD, False, 2017),  # "Southwark Council's services for children and families are good."
    },
    SWINDON: {
        ("overall", GOOD, False, 2019),
        ("help_protection", GOOD, False, 2019),
        ("in_care", RI, False, 2019),
        ("leadership", GOOD, False, 2019),
    },
}
FRAMEWORK = {NORTH_SOMERSET: "ILACS", SOUTHEND_2016: "SIF", SOUTHEND_2019: "ILACS", SOUTHWARK: "SIF", SWINDON: "ILACS"}
GRADE_WORDS = {
    "Outstanding": r"outstanding",
    "Good": r"\bgood\b",
    RI: r"requir\w*\s+improvement",
    "Inadequate": r"inadequate",
}


def judgements(name: str):
    date = re.search(r"\d{4}-\d\d-\d\d", name).group(0)
    return extract_judgements(sample_text(name), date)


@pytest.mark.parametrize("name", ALL)
def test_every_stated_judgement_is_extracted_with_its_grade(name):
    got = {(j.area, j.grade, j.previous, j.inspection_year) for j in judgements(name)}
    assert got == EXPECTED[name]


@pytest.mark.parametrize("name", ALL)
def test_each_record_quotes_the_text_that_states_its_grade(name):
    text = sample_text(name)
    for j in judgements(name):
        assert text[j.start : j.end] == j.quote
        assert re.search(GRADE_WORDS[j.grade], j.quote, re.I), (j.grade, j.quote)
        assert re.search(GRADE_WORDS[j.grade], j.grade_text, re.I)
        assert j.grade_text.lower() in " ".join(j.quote.lower().split())
        if not j.previous:
            assert j.framework == FRAMEWORK[name]


def test_the_reports_own_words_are_kept():
    by_area = {j.area: j for j in judgements(SOUTHEND_2016) if not j.previous}
    assert by_area["in_care"].area_text == "Children looked after & achieving permanence"
    assert by_area["in_care"].grade_text == "Requires improvement"
    swindon = {j.area: j for j in judgements(SWINDON)}
    assert swindon["in_care"].grade_text == "Requires Improvement to be Good"
    assert swindon["overall"].quote.endswith("graded as: **Good**")


def test_inspection_dates_and_publication_are_read_when_stated():
    southwark = judgements(SOUTHWARK)[0]
    assert (southwark.inspected, southwark.published) == ("6 March and 30 March 2017", "2017-06-13")
    southend = judgements(SOUTHEND_2016)[0]
    assert southend.published == "2016-07-07"


@pytest.mark.parametrize(
    "text",
    [
        # national figures, not this council's grades
        "To date 99 local authorities have been inspected and 24% have been judged as inadequate, 51% requires improvement.",
        "1. Children who need help and protection (nationally 57% rated as requires improvement).",
        # another authority's grade quoted in passing (North Somerset's report, about Birmingham)
        "such that they achieved an Ofsted outcome of 'Requires improvement' after a ten year period of being graded 'Inadequate'.",
        # grade words as ordinary adjectives
        "Good purposeful relationships with partners. Early Help - Generally good, but more work to do.",
        "The proportion of children looked after who attend a school rated by Ofsted as good or better is 69%.",
        "Children in care benefit from good-quality placements. The council's outstanding adoption best practice.",
        # a report with no inspection in it at all
        "Budget monitoring report 2019/20. The forecast position is good. Road maintenance requires improvement.",
        "",
    ],
)
def test_text_without_a_judgement_yields_none(text):
    assert extract_judgements(text, "2020-01-01") == []


_PIECES = st.sampled_from([
    "Children who need help and protection", "Overall effectiveness", "children looked after", "care leavers",
    "Local Safeguarding Children Board", "The impact of leaders", "Children's services in Southend",
    " - ", "\t", " graded as: ", " is judged to be ", "**", "'", "\n", ". ", " ", "good", "Good", "outstanding",
    "requires improvement", "Require improvement to be good", "inadequate", "at the last inspection in 2012",
    "across all areas", "ILACS", "nationally", "é", "\u00a0", "—",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES | st.text(max_size=8), max_size=30).map("".join))
def test_extraction_never_crashes_and_offsets_always_hold(text):
    for j in extract_judgements(text, "2019-01-01"):
        assert text[j.start : j.end] == j.quote
        assert j.grade in GRADES
        assert re.search(GRADE_WORDS[j.grade], j.quote, re.I)


# -- the assistant answers grade questions from the records ------------------------------------


def _council_years(answer) -> set[tuple[str, str]]:
    return {(c.passage.council, c.passage.date[:4]) for c in answer.citations}


def test_which_councils_were_rated_good_overall(assistant):
    answer = assistant.ask("Which councils were rated good overall?")
    check_citations(answer)
    assert answer.answered
    assert "Southwark" in answer.answer and "Swindon" in answer.answer
    assert "North Somerset" not in answer.answer and "Southend" not in answer.answer
    assert {c.passage.council for c in answer.citations} == {"London Borough of Southwark", "Swindon Borough Council"}
    assert all(re.search(r"\bgood\b", c.quote, re.I) for c in answer.citations)


def test_how_southends_grades_changed_between_2016_and_2019(assistant):
    answer = assistant.ask("How did Southend's grades change between 2016 and 2019?")
    check_citations(answer)
    lines = {line.split(":")[0][2:]: line for line in answer.answer.splitlines() if line.startswith("- ")}
    assert re.search(r"2016 Requires improvement \[\d+\] → 2019 Requires improvement \[\d+\] \(unchanged\)",
                     lines["Overall effectiveness"])
    assert "2016 Good" in lines["Adoption"] and "not judged separately in 2019" in lines["Adoption"]
    assert "2012" not in answer.answer, "only the years asked about"
    assert {y for _, y in _council_years(answer)} == {"2016", "2019"}


def test_who_got_requires_improvement_for_help_and_protection(assistant):
    """Across councils, each council's latest inspection (issue 16: unless the question names
    years), with what the answer covers."""
    answer = assistant.ask("Who got Requires improvement for help and protection?")
    check_citations(answer)
    now, _, then = answer.answer.partition("At earlier inspections")

    def cited_in(part: str) -> set[tuple[str, str]]:
        markers = {int(m) for m in re.findall(r"\[(\d+)\]", part)}
        return _council_years(replace(answer, citations=[c for c in answer.citations if c.marker in markers]))

    assert cited_in(now) == {("North Somerset Council", "2020"), ("Southend-on-Sea Borough Council", "2019")}
    # Who got it before is said after, and cited: Southend's 2016 inspection.
    assert cited_in(then) == {("Southend-on-Sea Borough Council", "2016")}
    assert "Swindon" not in answer.answer
    assert "2 of the 3 councils whose grades for help and protection I hold" in answer.answer
    assert "inspection years" in answer.answer
    named = assistant.ask("Who got Requires improvement for help and protection in 2016?")
    assert ("Southend-on-Sea Borough Council", "2016") in _council_years(named)


def test_a_councils_grades_cite_each_judgement(assistant):
    answer = assistant.ask("What grades did North Somerset get from Ofsted?")
    check_citations(answer)
    # each area in the report's own words
    assert "- Experience and progress of children in care and care leavers: Good [" in answer.answer
    assert "- Experiences and progress of children who need help and protection: Requires improvement to be good [" in answer.answer
    assert "At the inspection before (2017)" in answer.answer


def test_a_negated_grade_finds_the_other_judgements(assistant):
    answer = assistant.ask("Which of Swindon's judgements wasn't good?")
    check_citations(answer)
    first = answer.answer.split("Its other judgements:")[0]
    assert "children in care and care leavers: requires improvement to be good" in first.lower()
    assert "overall effectiveness" not in first.lower()


def test_the_grade_before_an_inspection_comes_from_what_the_report_says_of_it(assistant):
    answer = assistant.ask("How was Southend rated at its inspection before 2016?")
    check_citations(answer)
    assert "(June 2012)" in answer.answer
    assert all("June 2012" in c.quote for c in answer.citations)


def test_why_a_grade_was_given_adds_the_reports_reasons(assistant):
    answer = assistant.ask("Why were Swindon's children in care rated requires improvement?")
    check_citations(answer)
    grade, _, reasons = answer.answer.partition("Why, in the reports' words:")
    assert "Requires improvement to be good [1]" in grade
    assert reasons.strip() and re.search(r"\[\d+\]", reasons)
    assert all(c.passage.report_id.startswith("swindon") for c in answer.citations)


def test_no_grade_stated_falls_back_to_searching_the_text(assistant):
    # Southwark's report states no grade for adoption; the question is answered (or refused) from text.
    answer = assistant.ask("What grade did Southwark get for adoption?")
    check_citations(answer)
    assert answer.verification.get("method") != "judgement records"


def test_a_store_written_before_judgements_gets_them_at_the_next_ingest(settings, store, embedder, tmp_path):
    import shutil

    from tests.samples import SAMPLE_REPORTS_DIR
    from vectorstore.indexer import Indexer

    folder = tmp_path / "reports"
    folder.mkdir()
    shutil.copy(f"{SAMPLE_REPORTS_DIR}/{SWINDON}", folder / SWINDON)
    indexer = Indexer(store, embedder, settings)
    [first] = indexer.ingest_paths([folder])
    assert {j.area for _, j in store.judgements()} == {"overall", "help_protection", "in_care", "leadership"}

    # As a release without judgements left it: no records, extractor version 0.
    rid = first.report_id
    meta = store._reports.get(ids=[rid], include=["metadatas"])["metadatas"][0]
    store._reports.update(ids=[rid], metadatas=[{**meta, "judgements_json": "[]", "judgements_version": 0}])
    store._bump()
    assert store.judgements() == [] and store.get_report(rid).judgements_stale

    [again] = indexer.ingest_paths([folder])
    assert again.status == "unchanged" and "judgements read again" in again.message
    assert again.embedded == 0, "nothing is embedded again"
    assert {(j.area, j.grade, j.previous, j.inspection_year) for _, j in store.judgements()} == EXPECTED[SWINDON]


def test_the_grades_eval_set_quotes_the_reports_verbatim():
    from eval.questionset import load_question_set
    from reports_qa.settings import PROJECT_ROOT

    questions = load_question_set(f"{PROJECT_ROOT}/eval/questions/grades.yaml").questions
    assert len(questions) >= 15
    for q in questions:
        for e in q.evidence:
            assert e.text in sample_text(f"{e.report}.txt"), (q.id, e.text)
