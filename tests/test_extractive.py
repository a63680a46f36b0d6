"""Reading and the extractive backend on real passages: what the question asks for, how units
are scored by meaning, what is chosen, and how the answer reads. Real model, real units."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from assistant.extractive import framing, render
from assistant.models import Passage
from assistant.reading import Reader, ReportUnits, Weights, ask_kind, default_weights
from assistant.verify import verify
from ingest.sections import Layout, build_tree
from ingest.units import cut_units
from tests.samples import NORTH_SOMERSET, NORTH_SOMERSET_IMPROVE, SWINDON, sample_text


@pytest.mark.parametrize("question, kind", [
    ("How many inspectors came to Swindon?", "number"),
    ("How long did the inspection last?", "date"),
    ("When was Dorset last inspected?", "date"),
    ("Who led the inspection?", "person"),
    ("Why did Bradford stay inadequate?", "reason"),
    ("Is Sefton any better now?", "yesno"),
    ("Where is North Somerset falling short?", "open"),
    ("What needs to improve?", "open"),
])
def test_the_form_of_a_question_says_what_shape_of_answer_it_wants(question, kind):
    assert ask_kind(question) == kind


@pytest.fixture(scope="module")
def north_somerset(embedder):
    text = sample_text(NORTH_SOMERSET)
    layout = Layout.of(text)
    sections = build_tree(text, layout=layout)
    units = cut_units(text, sections, layout)
    vectors = embedder.embed([u.text_in(text) for u in units])
    return ReportUnits.of(text, {s.id: s for s in sections}, units, vectors)


def section_passage(report: ReportUnits, title: str, number: int = 1) -> Passage:
    section = next(s for s in report.sections.values() if s.title == title)
    return Passage(number=number, report_id=NORTH_SOMERSET[:-4], source=NORTH_SOMERSET, council="North Somerset Council",
                   meeting="Executive", date="2020-10-21", section_id=section.id, section=section.label,
                   section_title=section.title, section_path=section.path, text=report.text[section.start:section.end],
                   start=section.start, end=section.end, score=0.03)


def reader(embedder, question: str, weights: Weights | None = None) -> Reader:
    return Reader(question, embedder.embed_query(question), lambda term: 1.0, weights)


def test_items_are_scored_with_the_heading_above_them(embedder, north_somerset):
    question = "What does North Somerset need to get better at?"
    r = reader(embedder, question)
    candidates = r.candidates(section_passage(north_somerset, "What needs to improve"), north_somerset)
    items = [c for c in candidates if c.kind == "unit"]
    assert [c.pieces[0].text for c in items] == NORTH_SOMERSET_IMPROVE
    heading = next(u for u in north_somerset.units if u.kind == "heading" and u.text_in(north_somerset.text) == "What needs to improve")
    expected = float(north_somerset.vectors[heading.index] @ np.asarray(embedder.embed_query(question), dtype=np.float32))
    assert all(abs(c.features["head"] - expected) < 1e-5 for c in items), "the heading's meaning, not its words"
    whole, = [c for c in candidates if c.is_list]
    assert [p.text for p in whole.pieces] == NORTH_SOMERSET_IMPROVE


def test_a_list_question_gets_the_whole_list_from_one_report_and_it_verifies(embedder, north_somerset):
    improve = section_passage(north_somerset, "What needs to improve")
    r = reader(embedder, "What does North Somerset need to get better at?",
               replace(default_weights(), answer_min=0.0, sim_min=0.0, list_over_units=0.0))
    chosen = r.select(r.candidates(improve, north_somerset))
    assert chosen[0].is_list and [p.text for p in chosen[0].pieces] == NORTH_SOMERSET_IMPROVE
    draft = render(chosen[:1])
    lines = draft.splitlines()
    assert lines[0] == "**From North Somerset Council, Executive, 21 Oct 2020, “What needs to improve”:**"
    assert [line.rsplit(" [", 1)[0] for line in lines[1:]] == [f"- {item}" for item in NORTH_SOMERSET_IMPROVE]
    verified = verify(draft, [improve])
    assert verified.answered and len(verified.citations) == 1
    assert verified.answer.splitlines()[0] == lines[0], "the framing line is kept"


def test_below_the_threshold_nothing_is_chosen(embedder, north_somerset):
    improve = section_passage(north_somerset, "What needs to improve")
    r = reader(embedder, "What is the budget for road repairs?", replace(default_weights(), answer_min=0.999))
    assert r.select(r.candidates(improve, north_somerset)) == []


def test_a_count_question_prefers_the_sentence_with_a_number(embedder):
    text = sample_text(SWINDON)
    layout = Layout.of(text)
    sections = build_tree(text, layout=layout)
    units = cut_units(text, sections, layout)
    report = ReportUnits.of(text, {s.id: s for s in sections}, units, embedder.embed([u.text_in(text) for u in units]))
    r = reader(embedder, "How many inspectors visited?")
    by_text = {c.pieces[0].text: c for s in sections if s.number == "1.1"
               for c in r.candidates(Passage(1, "sw", SWINDON, "Swindon Borough Council", "Cabinet", "2019-09-04", s.id,
                                             "1.1", "", s.path, text[s.start:s.end], s.start, s.end, 0.03), report)}
    counted = next(c for t, c in by_text.items() if "6 inspectors" in t)
    assert counted.features["shape"] == 1.0


def test_the_framing_line_is_metadata_and_short():
    p = Passage(1, "r", "r.txt", "Dorset Council", None, "2025-05-09", "s1", "", "", ("x",), "t", 0, 1)
    line = framing(p, "The experiences and progress of children who need help and protection: outstanding")
    assert line.startswith("**From Dorset Council, 9 May 2025, “The experiences and progress of children who need…”")
    assert len(line.split()) <= 20
