"""Grades read from real Ofsted PDFs (parse only, no embedding model).

Against ``judgements.csv`` (an independent scraper's table: its five ILACS columns) for the
fixed subset in CI and for all 160 reports under ``-m slow``; SIF sub-judgements, which the CSV
lacks, against grades read by hand off each report's first page and its LSCB review.
"""

from __future__ import annotations

import pytest

from bench.bench_judgements import compare, load_expected, meta_mismatches, run, summarise
from ingest.judgements import NO_OVERALL_AFTER_REFORM
from tests.ofsted import JUDGEMENTS_CSV, SUBSET, all_paths, parsed, require_ofsted

O, G, RI, I = "Outstanding", "Good", "Requires improvement to be good", "Inadequate"
SIF_AREAS = ("overall", "help_protection", "in_care", "adoption", "care_leavers", "leadership", "lscb")

# SIF grades read by hand: (overall, help and protection, children looked after, adoption, care
# leavers, leadership, LSCB); None where the report has no LSCB review (the re-inspections).
SIF_BY_HAND = {
    "80426_barnsley/children's services inspection - 08 august 2014.pdf": (RI, RI, RI, RI, G, RI, RI),
    "80442_buckinghamshire/children's services inspection - 08 august 2014.pdf": (I, I, I, RI, RI, I, I),
    "80442_buckinghamshire/children's services inspection - 29 january 2018.pdf": (I, I, I, G, RI, I, None),
    "80444_calderdale/children's services inspection - 20 march 2015.pdf": (RI, RI, RI, I, RI, RI, RI),
    "80449_bradford/children's services inspection - 23 may 2014.pdf": (RI, RI, G, G, G, G, G),
    "80459_derby/children's services inspection - 13 june 2017.pdf": (G, RI, G, G, G, G, O),
    "80464_dudley/children's services inspection - 05 april 2016.pdf": (I, I, I, I, RI, I, I),
    "80472_hampshire/children's services inspection - 22 april 2014.pdf": (G, G, G, O, G, O, G),
    "80473_hartlepool/children's services inspection - 11 february 2014.pdf": (G, G, G, G, G, G, RI),
    "80480_lancashire/children's services inspection - 17 august 2018.pdf": (RI, RI, RI, G, RI, RI, None),
    "80480_lancashire/children's services inspection - 27 november 2015.pdf": (I, I, RI, RI, I, I, G),
    "80482_leicester/children's services inspection - 04 september 2017.pdf": (RI, RI, RI, G, RI, G, None),
    "80488_bexley/children's services inspection - 23 may 2014.pdf": (RI, RI, RI, RI, RI, RI, I),
    "80497_hammersmith and fulham/children's services inspection - 29 march 2016.pdf": (G, G, G, O, G, O, G),
    "80505_islington/children's services inspection - 14 july 2017.pdf": (G, G, G, G, G, O, G),
    "80508_lewisham/children's services inspection - 20 january 2016.pdf": (RI, RI, G, G, G, RI, RI),
    "80516_tower hamlets/children's services inspection - 07 april 2017.pdf": (I, I, RI, RI, RI, I, I),
    "80518_wandsworth/children's services inspection - 16 february 2016.pdf": (I, I, RI, RI, I, I, RI),
    "80527_north lincolnshire/children's services inspection - 04 september 2017.pdf": (O, G, O, O, O, O, O),
    "80528_north somerset/children's services inspection - 25 august 2017.pdf": (RI, RI, RI, G, G, RI, I),
    "80540_reading/children's services inspection - 05 august 2016.pdf": (I, I, I, RI, RI, I, RI),
    "80541_redcar and cleveland/children's services inspection - 07 april 2017.pdf": (RI, RI, G, G, G, RI, RI),
    "80543_rotherham/children's services inspection - 29 january 2018.pdf": (G, G, RI, G, O, G, None),
    "80553_slough/children's services inspection - 17 february 2016.pdf": (I, I, I, RI, I, I, I),
    "80557_south tyneside/children's services inspection - 24 november 2017.pdf": (G, G, G, O, G, G, G),
    "80571_thurrock/children's services inspection - 24 may 2016.pdf": (RI, RI, RI, RI, RI, RI, G),
    "80577_west berkshire/children's services inspection - 18 may 2015.pdf": (I, I, RI, RI, RI, RI, RI),
}
# Where the report and the CSV differ, the report is right (checked by reading each one).
CSV_WRONG = {
    # "The experiences and progress of children in care and care leavers Good" in the grade table.
    ("80536_oxfordshire/children's services inspection - 22 may 2018.pdf", "in_care"),
}
COMBINED_IN_REPORT = {
    # Judged with children in care ("children in care and care leavers: requires improvement to be
    # good"); the CSV copies that grade into its care leavers column.
    ("80541_redcar and cleveland/children's services inspection - 22 september 2022.pdf", "care_leavers"),
}
# The CSV's metadata differs from the report's text where the report says otherwise.
CSV_METADATA_WRONG = {
    "80557_south tyneside/children's services inspection - 10 may 2023.pdf",  # "5 to 9 December 2022 and 14 to 15 February 2023"
    "80573_trafford/children's services inspection - 08 may 2019.pdf",  # "Paula Thomson-Jones" (the CSV: "Thomson -Jones")
    "80577_west berkshire/children's services inspection - 18 may 2015.pdf",  # "Report published: 13 May 2015"
}
POST_REFORM = [
    "2637539_north northamptonshire/children's services inspection - 07 july 2026.pdf",
    "2637548_west northamptonshire/children's services inspection - 07 july 2026.pdf",
    "80573_trafford/children's services inspection - 03 august 2026.pdf",
]


def current(name):
    return {j.area: j for j in parsed(name)[1].judgements if not j.previous}


@pytest.fixture(scope="module")
def expected():
    require_ofsted()
    return load_expected(JUDGEMENTS_CSV)


@pytest.mark.parametrize("name", SUBSET)
def test_subset_grades_agree_with_the_csv_and_quote_the_report(name, expected):
    rep = parsed(name)[1]
    for outcome in compare(rep, expected[name]):
        assert outcome.status in {"agree", "no overall (reform)"}, outcome
    for j in rep.judgements:
        assert rep.text[j.start : j.end] == j.quote
    assert not meta_mismatches(rep, expected[name])


def test_bradford_2023_is_inadequate_overall_from_its_grade_table():
    grades = current("80449_bradford/children's services inspection - 31 january 2023.pdf")
    assert {a: j.grade for a, j in grades.items()} == {
        "overall": I, "leadership": I, "help_protection": I, "in_care": I}
    assert grades["overall"].quote == "Overall effectiveness Inadequate"
    assert grades["overall"].stated_as == "table" and grades["overall"].framework == "ILACS"


def test_dorset_2025_reads_all_five_grades_overall_included():
    grades = current("2532283_dorset/children's services inspection - 09 may 2025.pdf")
    assert {a: j.grade for a, j in grades.items()} == {
        "overall": O, "leadership": O, "help_protection": O, "in_care": O, "care_leavers": G}
    assert grades["leadership"].quote == ("The impact of leaders on social work \npractice with children and families \n"
                                          "Outstanding")
    assert grades["overall"].inspected == "17 March to 21 March 2025" and grades["overall"].inspection_year == 2025


@pytest.mark.parametrize("name", POST_REFORM)
def test_after_the_2026_reform_there_is_no_overall_grade_and_the_report_says_why(name):
    rep = parsed(name)[1]
    grades = current(name)
    assert set(grades) == {"leadership", "help_protection", "in_care", "care_leavers"}
    assert rep.meta.no_overall_grade == NO_OVERALL_AFTER_REFORM


def test_before_the_reform_2026_reports_keep_their_overall_grade():
    name = "80449_bradford/children's services inspection - 21 may 2026.pdf"  # inspected in January 2026
    assert current(name)["overall"].grade == RI
    assert parsed(name)[1].meta.no_overall_grade is None


def test_older_inspection_grades_only_what_it_grades_on_the_four_point_scale():
    grades = current("80522_medway/children's services inspection,  pdf - 23 august 2013.pdf")
    assert {a: j.grade for a, j in grades.items()} == {"overall": I, "leadership": I}  # "Capacity to improve Adequate": no record
    assert grades["overall"].framework is None


def _sif_cases():
    for name, grades in SIF_BY_HAND.items():
        marks = () if name in SUBSET else (pytest.mark.slow,)
        yield pytest.param(name, grades, marks=marks, id=name.split("/")[0] + name[-16:-4])


@pytest.mark.parametrize(("name", "grades"), list(_sif_cases()))
def test_sif_sub_judgements_match_the_report_read_by_hand(name, grades):
    got = current(name)
    want = {area: grade for area, grade in zip(SIF_AREAS, grades) if grade is not None}
    assert {a: j.grade for a, j in got.items()} == want
    assert all(j.framework == "SIF" for j in got.values())


def test_sif_hand_checks_cover_at_least_twenty_reports():
    assert len(SIF_BY_HAND) >= 20


@pytest.mark.slow
def test_all_160_reports_against_the_csv(expected):
    root = require_ofsted()
    outcomes, stats = run(all_paths(), root, expected, parse=lambda path: parsed(path.relative_to(root).as_posix()))
    overall = next(r for r in summarise(outcomes) if r["kind"] == "all")
    assert overall["coverage"] >= 0.99 and overall["errors"] <= 0.005, overall
    wrong = {(o.path, o.area) for o in outcomes if o.status in {"disagree", "missed", "overall read after reform"}}
    assert wrong == CSV_WRONG
    assert {(o.path, o.area) for o in outcomes if o.status == "combined in the report"} == COMBINED_IN_REPORT
    assert {o.path for o in outcomes if o.status == "no overall (reform)"} == {
        p for p, e in expected.items() if e.grades["overall"] == "not_reported_post_reform"}
    assert {s.path for s in stats if s.meta_mismatches} == CSV_METADATA_WRONG
    assert all(s.quotes_with_furniture == 0 and s.chunks_with_furniture == 0 for s in stats)
