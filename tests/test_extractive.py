"""The extractive backend on real passages: how it cuts them up and what it picks."""

from __future__ import annotations

from assistant.extractive import ExtractiveBackend, split_units
from assistant.models import Passage
from assistant.verify import verify
from tests.samples import NORTH_SOMERSET, SOUTHEND_2016, SWINDON, sample_text


def passage(source: str, first: str, last: str, *, number: int = 1, path: tuple[str, ...] = ("X",),
            section: str = "", title: str | None = None) -> Passage:
    """A Passage over ``first``..``last`` of a sample; numbered paragraphs have no title."""
    text = sample_text(source)
    start = text.index(first)
    end = text.index(last, start) + len(last)
    return Passage(number=number, report_id=source[:-4], source=source, council="C", meeting="M",
                   date="2020-01-01", section_id=f"s{number}", section=section, section_title=path[-1] if title is None else title,
                   section_path=path, text=text[start:end], start=start, end=end, score=0.03)


NS_IMPROVE = passage(NORTH_SOMERSET, "What needs to improve\n", "quality and impact of practice for children.",
                     path=("1. Summary of Report", "What needs to improve"))
SOUTHEND_JUDGEMENTS = passage(SOUTHEND_2016, "- 3.3 To date 99", "(nationally 49% rated as requires improvement).",
                              path=("3. Background", "3.3"), section="3.3", title="")
SWINDON_31 = passage(SWINDON, "- 3.1 The overall effectiveness", "routinely available for care leavers in a timely way",
                     path=("3. Detail", "Overall Effectiveness of Children's Social Care Services graded as: Good", "3.1"),
                     section="3.1", title="")


def test_a_heading_and_its_list_become_one_heading_and_six_items():
    units = split_units(NS_IMPROVE)
    assert [u.kind for u in units] == ["heading"] + ["item"] * 6
    assert {u.list_id for u in units[1:]} == {1}
    assert all(u.label == "What needs to improve" for u in units[1:])
    for u in units:
        assert NS_IMPROVE.text[u.start : u.end] == u.text


def test_numbered_judgements_and_their_sub_items_form_one_list():
    units = split_units(SOUTHEND_JUDGEMENTS)
    items = [u for u in units if u.kind == "item"]
    assert [i.text.split(" - ")[0].split(" – ")[0] for i in items] == [
        "Children who need help and protection",
        "Children looked after & achieving permanence",
        "2.1 Adoption performance",
        "2.2 Experiences and progress of care leavers",
        "Leadership, management and governance",
    ]
    assert items[0].label.endswith("Individual judgements were:")
    sentences = [u for u in units if u.kind == "sentence"]
    assert sentences[0].text.startswith("To date 99 local authorities"), "the paragraph number is not text"


def test_a_lead_in_ending_in_a_colon_opens_a_list_of_numbered_paragraphs():
    items = [u for u in split_units(SWINDON_31) if u.kind == "item"]
    assert [i.text[:5] for i in items] == ["3.1.1", "3.1.2", "3.1.3", "3.1.4"]
    assert items[0].label.endswith("which are:")


def test_sentences_split_without_breaking_abbreviations_or_losing_quotes():
    units = split_units(passage(NORTH_SOMERSET, "Ofsted inspected significant", "Require improvement to be good.'",
                                path=("1. Summary of Report",)))
    assert units[-1].text.endswith("'Require improvement to be good.'")


def test_a_list_question_gets_the_whole_list_and_it_verifies():
    backend = ExtractiveBackend()
    other = passage(NORTH_SOMERSET, "Still work to do to improve\n", "Electively home educated children",
                    number=2, path=("3. Details", "Children in Need of Help and Protection", "Still work to do to improve"))
    draft = backend.draft("What needs to improve?", [NS_IMPROVE, other])
    lines = draft.splitlines()
    assert lines[0].startswith("**C, M, 1 Jan 2020 — 1. Summary of Report › What needs to improve**")
    assert len([line for line in lines if line.startswith("- ") and line.endswith("[1]")]) == 6
    assert "[2]" not in draft, "a partly matching list does not ride along with the exact one"
    verified = verify(draft, [NS_IMPROVE, other])
    assert verified.answered and len(verified.citations) == 1
    assert verified.citations[0].quote.startswith("The effectiveness, and management oversight")


def test_a_count_question_needs_a_number():
    backend = ExtractiveBackend()
    p = passage(SWINDON, "1.1 This report provides", "includes the Early Help Offer.", path=("1. Purpose and Reasons", "1.1"),
                section="1.1", title="")
    draft = backend.draft("How many inspectors visited?", [p])
    assert "by 6 inspectors" in draft and "<sup>" not in draft
    assert verify(draft, [p]).answered, "the displayed text without <sup> tags still verifies"


def test_nothing_relevant_means_an_empty_draft():
    assert ExtractiveBackend().draft("What is the budget for road repairs?", [NS_IMPROVE]) == ""
    assert ExtractiveBackend().draft("What needs to improve?", []) == ""
