"""Which reports a question is about: councils and years read from the question, explicit
filters, refusals for places we hold nothing on, and follow-ups resolved against history."""

from __future__ import annotations

import pytest

from assistant.followup import resolve
from assistant.scope import Filters, ScopeError, infer_scope
from ingest.models import ReportMeta


def meta(report_id: str, council: str, date: str, meeting: str = "Cabinet") -> ReportMeta:
    return ReportMeta(report_id=report_id, source=f"{report_id}.txt", council=council, meeting=meeting,
                      title="Ofsted", date=date, content_hash=report_id)


CATALOGUE = [
    meta("ns-2020", "North Somerset Council", "2020-10-21", "Executive"),
    meta("southend-2016", "Southend-on-Sea Borough Council", "2016-07-12", "People Scrutiny Committee"),
    meta("southend-2019", "Southend-on-Sea Borough Council", "2019-09-17"),
    meta("southwark-2017", "London Borough of Southwark", "2017-11-06"),
    meta("swindon-2019", "Swindon Borough Council", "2019-09-04"),
]


def ids(question: str, filters: dict | None = None) -> list[str]:
    return infer_scope(question, CATALOGUE, Filters.from_dict(filters) if filters else None).report_ids


def test_a_named_council_narrows_to_its_report():
    assert ids("What needs to improve in North Somerset?") == ["ns-2020"]
    assert ids("what needs to improve in north somerset") == ["ns-2020"], "typed in lower case"
    assert ids("What did Ofsted say about the London Borough of Southwark?") == ["southwark-2017"]


def test_no_council_means_every_report():
    assert sorted(ids("Which councils were judged good?")) == sorted(m.report_id for m in CATALOGUE)


def test_alias_and_latest_report_with_a_note_about_the_earlier_one():
    scope = infer_scope("What needs to improve in Southend?", CATALOGUE)
    assert scope.report_ids == ["southend-2019"]
    assert any("earlier report" in n and "12 Jul 2016" in n for n in scope.notes)


def test_a_year_picks_that_report():
    assert ids("What did Ofsted find in Southend in 2016?") == ["southend-2016"]
    assert ids("Southend's areas for improvement in 2019") == ["southend-2019"]


def test_a_change_question_keeps_every_report_of_the_council():
    for question in ("How did Southend's grades change between 2016 and 2019?",
                     "Is Southend better than last time?", "How has Southend changed?"):
        scope = infer_scope(question, CATALOGUE)
        assert scope.compare, question
        assert scope.report_ids == ["southend-2016", "southend-2019"], question
    assert not infer_scope("What did North Somerset say about climate change?", CATALOGUE).compare


def test_a_place_we_hold_nothing_on_is_refused_and_the_holdings_listed():
    scope = infer_scope("What did Ofsted say about Essex?", CATALOGUE)
    assert scope.report_ids == []
    assert scope.refusal.startswith("I hold no report on Essex County Council.")
    assert "Southend-on-Sea Borough Council (12 Jul 2016, 17 Sep 2019)" in scope.refusal


def test_one_unknown_place_beside_a_known_one_is_noted_not_refused():
    scope = infer_scope("Compare Swindon and Essex", CATALOGUE)
    assert scope.report_ids == ["swindon-2019"]
    assert any("Essex" in n for n in scope.notes)


def test_a_year_we_hold_nothing_from():
    scope = infer_scope("What needs to improve in Swindon in 2012?", CATALOGUE)
    assert scope.refusal and "2012" in scope.refusal and scope.report_ids == []
    near = infer_scope("What needs to improve in Swindon in 2018?", CATALOGUE)
    assert near.report_ids == ["swindon-2019"] and "nearest" in near.notes[0]


def test_everyday_words_are_not_places():
    assert len(ids("reading the report, what needs to improve?")) == 5


def test_explicit_filters():
    assert ids("What needs to improve?", {"council": "Southend"}) == ["southend-2019"]
    assert ids("What needs to improve?", {"councils": ["Southend"], "year": 2016}) == ["southend-2016"]
    assert ids("anything", {"report_id": "ns-2020"}) == ["ns-2020"]
    assert ids("anything", {"date_from": "2019-01-01", "date_to": "2019-12-31"}) == ["swindon-2019", "southend-2019"]
    with pytest.raises(ScopeError, match="I hold no report on Essex County Council"):
        ids("x", {"council": "Essex"})
    with pytest.raises(ScopeError, match="unknown filter"):
        Filters.from_dict({"county": "Essex"})
    with pytest.raises(ScopeError, match="no report"):
        ids("x", {"report_id": "nope"})


HISTORY = [
    {"role": "user", "content": "What needs to improve in North Somerset?"},
    {"role": "assistant", "content": "- The quality of analysis in assessments [1]"},
]


def test_follow_up_swaps_the_council_and_keeps_the_topic():
    standalone = resolve("and what about Swindon?", HISTORY)
    assert "Swindon Borough Council" in standalone and "improve" in standalone
    assert "North Somerset" not in standalone


def test_follow_up_without_a_place_keeps_the_council():
    standalone = resolve("were there any weak spots in it?", HISTORY)
    assert standalone.startswith("were there any weak spots") and "North Somerset Council" in standalone


def test_follow_up_chains_through_earlier_follow_ups():
    history = HISTORY + [{"role": "user", "content": "and what about Swindon?"},
                         {"role": "assistant", "content": "..."}]
    assert "Swindon Borough Council" in resolve("were there any strengths there?", history)


def test_comparison_follow_up_drops_the_year_so_both_reports_count():
    history = [{"role": "user", "content": "How did Southend do in 2019?"}, {"role": "assistant", "content": "..."}]
    standalone = resolve("is that better than last time?", history)
    assert "Southend" in standalone and "2019" not in standalone
    scope = infer_scope(standalone, CATALOGUE)
    assert scope.compare and scope.report_ids == ["southend-2016", "southend-2019"]


def test_no_history_leaves_the_question_alone():
    assert resolve("What needs to improve in Swindon?", []) == "What needs to improve in Swindon?"
    assert resolve("What about it?", [{"role": "assistant", "content": "hello"}]) == "What about it?"
