"""Real Ofsted PDFs, parsed as ingest parses them: what a reader of each report sees.

The fixed subset (``tests/ofsted.py``) runs in CI, parse only (no embedding model); the whole
folder of 160 runs under ``-m slow``. Expected values were read off the reports themselves.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from bench.bench_judgements import holds_furniture, page_furniture_lines
from ingest.councils import lookup
from tests.ofsted import SUBSET, all_paths, parsed, require_ofsted

DORSET_2025 = "2532283_dorset/children's services inspection - 09 may 2025.pdf"
DORSET_2021 = "2532283_dorset/children's services inspection - 19 november 2021.pdf"
BRADFORD_2014 = "80449_bradford/children's services inspection - 23 may 2014.pdf"
BRADFORD_2023 = "80449_bradford/children's services inspection - 31 january 2023.pdf"
BRADFORD_2026 = "80449_bradford/children's services inspection - 21 may 2026.pdf"
NORTH_NORTHANTS_2026 = "2637539_north northamptonshire/children's services inspection - 07 july 2026.pdf"
HAMPSHIRE_2014 = "80472_hampshire/children's services inspection - 22 april 2014.pdf"
MEDWAY_2013 = "80522_medway/children's services inspection,  pdf - 23 august 2013.pdf"
TRAFFORD_2026 = "80573_trafford/children's services inspection - 03 august 2026.pdf"

# (council, kind, inspection start, inspection end, published, date kind, lead inspector, title), as each report states them.
METADATA = {
    DORSET_2025: ("Dorset Council", "ILACS short inspection", "2025-03-17", "2025-03-21", "2025-05-09",
                  "published (file name)", "Sarah Canto", "Inspection of Dorset local authority children’s services"),
    DORSET_2021: ("Dorset Council", "ILACS standard inspection", "2021-09-27", "2021-10-08", "2021-11-19",
                  "published (file name)", "Steve Lowe", "Inspection of Dorset local authority children’s services"),
    BRADFORD_2026: ("City of Bradford Metropolitan District Council", "ILACS standard inspection", "2026-01-12",
                    "2026-01-23", "2026-05-21", "published (file name)", "Catherine Heron",
                    "Inspection of Bradford Children and Families Trust"),
    BRADFORD_2023: ("City of Bradford Metropolitan District Council", "ILACS standard inspection", "2022-11-21",
                    "2022-12-02", "2023-01-31", "published (file name)", "Matt Reed",
                    "Inspection of City of Bradford Metropolitan Borough Council local authority children’s services"),
    BRADFORD_2014: ("City of Bradford Metropolitan District Council", "SIF inspection", "2014-02-18", "2014-03-12",
                    "2014-05-23", "published (file name)", "Lynn Radley",
                    "Inspection of services for children in need of help and protection, children looked after and "
                    "care leavers and Review of the effectiveness of the local safeguarding children board"),
    HAMPSHIRE_2014: ("Hampshire County Council", "SIF inspection", "2014-02-18", "2014-03-12", "2014-04-22",
                     "published (file name)", "Gary Lamb",
                     "Inspection of services for children in need of help and protection, children looked after and "
                     "care leavers and Review of the effectiveness of the local safeguarding children board"),
    MEDWAY_2013: ("Medway Council", "looked after children inspection", "2013-07-15", "2013-07-19", "2013-08-23",
                  "published", "Sarah Urding", "Inspection of looked after children services"),
    TRAFFORD_2026: ("Trafford Council", "ILACS standard inspection", "2026-06-08", "2026-06-19", "2026-08-03",
                    "published (file name)", "Leanne Cooper", "Inspection of Trafford local authority children’s services"),
}


def report(name):
    return parsed(name)[1]


def by_title(rep, title):
    found = [s for s in rep.sections if s.title == title]
    assert len(found) == 1, f"{title!r}: {len(found)} sections"
    return found[0]


def own_text(rep, section):
    return rep.text[section.body_start : section.body_end]


@pytest.mark.parametrize("name", list(METADATA))
def test_metadata_is_read_from_the_reports_cover(name):
    meta = report(name).meta
    got = (meta.council, meta.kind, meta.inspection_start, meta.inspection_end, meta.published, meta.date_kind,
           meta.lead_inspector, meta.title)
    assert got == METADATA[name]
    assert meta.meeting is None
    assert meta.date == meta.published  # an Ofsted report is dated by its publication


def test_one_council_name_per_authority_in_the_subset():
    names = defaultdict(set)
    for name in SUBSET:
        names[name.split("/")[0]].add(report(name).meta.council)
    for folder, councils in names.items():
        assert len(councils) == 1, (folder, councils)
        (council,) = councils
        assert lookup(council) is not None and lookup(council).name == council  # the gazetteer's own name


def test_dorset_2025_reads_as_its_reader_sees_it():
    rep = report(DORSET_2025)
    top = [s.label for s in rep.sections if s.level == 1]
    assert top == [
        "Cover", "Judgements", "Summary", "What needs to improve?",
        "The experiences and progress of children who need help and protection: outstanding",
        "The experiences and progress of children in care: outstanding",
        "The experiences and progress of care leavers: good",
        "The impact of leaders on social work practice with children and families: outstanding",
        "About Ofsted",
    ]
    # The grade table is its own section, all five rows of it, overall effectiveness included.
    table = own_text(rep, by_title(rep, "Judgements"))
    assert table.count("Outstanding") == 4 and "Overall effectiveness Outstanding" in table
    assert own_text(rep, by_title(rep, "Summary")).startswith("Children in Dorset receive exceptional services")
    # "What needs to improve?" holds its one bullet, and nothing else.
    improve = own_text(rep, by_title(rep, "What needs to improve?")).strip()
    assert improve == ("◼ The clarity and detail of the care leaver offer, including for care leavers who are \n"
                       "parents. (Outcome four, National Framework)")
    # Numbered paragraphs are paragraphs of their judgement's section, never headings.
    help_protection = rep.sections[4]
    numbers = [s.number for s in rep.sections if s.parent_id == help_protection.id]
    assert numbers == [str(n) for n in range(1, 20)]
    assert all(s.kind == "paragraph" for s in rep.sections if s.number)
    assert [int(s.number) for s in rep.sections if s.kind == "paragraph"] == list(range(1, 60))
    paragraph_4 = next(s for s in rep.sections if s.number == "4")
    assert own_text(rep, paragraph_4).startswith("4. Children’s assessments are sensitively written")


def test_sif_report_has_its_judgement_list_its_sections_and_its_lscb_review():
    rep = report(BRADFORD_2014)
    top = [s.label for s in rep.sections if s.level == 1]
    assert top == ["Cover", "Judgements", "Section 1: the local authority",
                   "Section 2: The effectiveness of the local safeguarding children board", "About Ofsted"]
    judgements = own_text(rep, by_title(rep, "Judgements"))
    assert judgements.startswith("The overall judgement is requires improvement")
    assert "2.1 Adoption performance  Good" in judgements and "(LSCB) is \ngood" in judgements
    # The contents page is neither a section nor in any chunk.
    assert not any(s.title == "Contents" for s in rep.sections)
    assert not any("Summary of key findings 3" in c.text for c in rep.chunks)
    # Each judgement is a heading in "Inspection judgements about the local authority".
    inspection = by_title(rep, "Inspection judgements about the local authority")
    assert [s.title for s in rep.sections if s.parent_id == inspection.id] == [
        "The experiences and progress of children who need help and protection require improvement",
        "The experiences and progress of children looked after and achieving permanence are good",
        "The graded judgment for adoption performance is good",
        "The graded judgment for the experiences and progress of care leavers is good",
        "Leadership, management and governance is good",
    ]
    # The LSCB review: its judgement, then its own areas for improvement (paragraphs 118 on).
    lscb = by_title(rep, "Section 2: The effectiveness of the local safeguarding children board")
    children = [s for s in rep.sections if s.parent_id == lscb.id]
    assert [s.title for s in children][:2] == ["The effectiveness of the LSCB is good", "Areas for improvement"]
    assert [s.number for s in rep.sections if s.parent_id == children[1].id][0] == "118"
    # The local authority's recommendations are numbered paragraphs under their heading.
    improve = next(s for s in rep.sections if s.title == "Areas for improvement")
    assert improve.path[0] == "Section 1: the local authority"
    assert [s.number for s in rep.sections if s.parent_id == improve.id] == [str(n) for n in range(19, 26)]


def test_older_looked_after_inspection_sections_follow_its_contents_page():
    rep = report(MEDWAY_2013)
    top = [s.label for s in rep.sections if s.level == 1]
    assert top[:6] == ["Cover", "About this inspection", "The inspection judgements and what they mean",
                       "Service information", "Overall effectiveness of services for looked after children and young people",
                       "Capacity to improve"]
    assert not any(s.title.startswith("Grade ") for s in rep.sections)  # "Grade 4 (Inadequate)" is text


def test_footnotes_and_their_marks_are_in_no_chunk():
    rep = report(NORTH_NORTHANTS_2026)
    assert any(s.title == "What needs to improve?" for s in rep.sections)  # "What needs to improve?1" in the PDF
    note = "The areas for improvement have been cross-referenced"
    assert note in rep.text and not any(note in c.text for c in rep.chunks)
    sif = report(BRADFORD_2014)
    assert not any(re.search(r"children\s+board1", c.text, re.I) for c in sif.chunks)


def _furniture_problems(name):
    doc, rep = parsed(name)
    furniture = page_furniture_lines(doc)
    problems = []
    for c in rep.chunks:
        assert rep.text[c.start : c.end] == c.text
        section = rep.section(c.section_id)
        assert section.start <= c.start < c.end <= section.end
        if holds_furniture(c.text, furniture):
            problems.append(("chunk", c.text[:80]))
    problems += [("quote", j.quote) for j in rep.judgements if holds_furniture(j.quote, furniture)]
    return furniture, problems


@pytest.mark.parametrize("name", SUBSET)
def test_no_chunk_or_quote_holds_a_running_header(name):
    furniture, problems = _furniture_problems(name)
    assert not problems
    if name == DORSET_2025:  # the header this test was written for
        rep = report(name)
        assert "Inspection of Dorset local authority children’s services" in furniture
        assert not any("17 to 21 March 2025" in c.text or "Inspection of Dorset local authority children’s services"
                       in c.text and c.section_id != rep.sections[0].id for c in rep.chunks)


@pytest.mark.slow
def test_every_real_pdf_parses_into_clean_chunks_and_one_name_per_authority():
    root = require_ofsted()
    names = defaultdict(set)
    for path in all_paths():
        name = path.relative_to(root).as_posix()
        try:
            rep = parsed(name)[1]
        except Exception as exc:  # the saved web pages named .pdf are the loader's to refuse
            assert "not a readable PDF" in str(exc), (name, exc)
            continue
        assert not _furniture_problems(name)[1], name
        assert rep.meta.kind and rep.meta.date and rep.meta.date_kind, name
        names[name.split("/")[0]].add(rep.meta.council)
    assert len(names) == 50
    assert all(len(councils) == 1 for councils in names.values()), {f: c for f, c in names.items() if len(c) != 1}
    assert len(set().union(*names.values())) == 50


def test_listings_name_the_report_and_say_which_date_it_is():
    from ingest.metadata import extract_metadata
    from tests.samples import NORTH_SOMERSET, sample_text
    from ui.cli import dated, describe, inspected

    dorset = report(DORSET_2025).meta
    assert dated(dorset) == "published (file name) 2025-05-09"
    assert inspected(dorset) == "2025-03-17 to 2025-03-21"
    assert describe(dorset) == ("Dorset Council — ILACS short inspection, published (file name) 2025-05-09, "
                                "inspected 2025-03-17 to 2025-03-21: Inspection of Dorset local authority children’s services")
    committee = extract_metadata(sample_text(NORTH_SOMERSET), NORTH_SOMERSET)
    assert (committee.kind, committee.date_kind) == ("committee report", "meeting")
    assert describe(committee) == ("North Somerset Council — Executive, meeting 2020-10-21: "
                                   "Ofsted Report and Draft Improvement Plan")
