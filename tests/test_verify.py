"""The citation verifier on real report text: what it keeps, what it drops, and that every
quote it hands back is the report's own characters at the offsets it claims."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assistant.models import Passage
from assistant.verify import COVERAGE_THRESHOLD, PassageIndex, Probe, _normalise, verify
from tests.samples import NORTH_SOMERSET, NORTH_SOMERSET_IMPROVE, SWINDON, sample_text

NS = sample_text(NORTH_SOMERSET)
SW = sample_text(SWINDON)

NEEDS_TO_IMPROVE = NORTH_SOMERSET_IMPROVE


def passage(number: int, text: str, begin: str, end: str) -> Passage:
    """The slice of ``text`` from ``begin`` up to the next ``end``, numbered ``number``."""
    start = text.index(begin)
    stop = text.index(end, start)
    return Passage(
        number=number, report_id="r", source="r.txt", council=None, meeting=None, date=None,
        section_id=f"s{number}", section=str(number), section_title="", section_path=(str(number),),
        text=text[start:stop], start=start, end=stop,
    )


@pytest.fixture(scope="module")
def summary() -> Passage:  # North Somerset "1. Summary of Report" down to "2. Policy"
    return passage(1, NS, "Ofsted inspected significant parts", "2. Policy")


@pytest.fixture(scope="module")
def policy() -> Passage:
    return passage(2, NS, "All upper tier local authorities", "3. Details")


@pytest.fixture(scope="module")
def swindon() -> Passage:  # Swindon 1.1 with its bullets
    return passage(1, SW, "1.1 This report provides", "1.2 Cabinet members")


def assert_exact(report_text: str, result) -> None:
    for c in result.citations:
        assert report_text[c.start : c.end] == c.quote
        assert c.passage.text[c.start - c.passage.start : c.end - c.passage.start] == c.quote
        assert c.quote == c.quote.strip() and not c.quote.startswith("- ")


def test_verbatim_list_from_one_passage_is_one_citation(summary, policy):
    draft = "What needs to improve:\n\n" + "\n".join(f"- {item} [1]" for item in NEEDS_TO_IMPROVE)
    result = verify(draft, [summary, policy])
    assert result.answered
    assert len(result.citations) == 1
    quote = result.citations[0].quote
    assert quote.startswith(NEEDS_TO_IMPROVE[0]) and quote.endswith(NEEDS_TO_IMPROVE[-1])
    assert_exact(NS, result)
    lines = result.answer.splitlines()
    assert lines[0] == "What needs to improve:"
    assert [ln for ln in lines[1:] if ln] == [f"- {item} [1]" for item in NEEDS_TO_IMPROVE]
    assert result.report == {"claims": 6, "supported": 6, "removed": [], "reattributed": 0,
                             "threshold": COVERAGE_THRESHOLD}


def test_markers_before_or_after_punctuation_and_html_tags_map_back(swindon):
    draft = "The two week inspection was undertaken between 1st and 12th July 2019 [1]. It graded the impact of leaders on social work practice. [1]"
    result = verify(draft, [swindon])
    assert result.report["supported"] == 2
    assert_exact(SW, result)
    assert "1<sup>st</sup> and 12<sup>th</sup> July 2019" in result.citations[0].quote
    assert result.answer == (
        "The two week inspection was undertaken between 1st and 12th July 2019. [1] "
        "It graded the impact of leaders on social work practice. [2]"
    )


def test_paraphrase_is_accepted_and_quotes_the_window(swindon):
    draft = "Six inspectors carried out the two-week inspection between 1st and 12th July 2019, evaluating the effectiveness and impact of Children's Social Care services [1]."
    result = verify(draft, [swindon])
    assert result.answered and result.report["supported"] == 1
    (c,) = result.citations
    assert c.quote == (  # the one sentence that says it, tags and all
        "The two week inspection undertaken between 1<sup>st</sup> and 12<sup>th</sup> July 2019 by 6 inspectors "
        "evaluated the effectiveness and impact of Children's Social Care services which includes the Early Help Offer."
    )
    assert_exact(SW, result)


def test_fabricated_claim_is_removed(swindon):
    result = verify("The council will close four children's centres in 2021 to save money [1].", [swindon])
    assert not result.answered and result.answer == "" and result.citations == []
    assert result.report["removed"] == ["The council will close four children's centres in 2021 to save money."]


def test_wrong_number_is_removed(swindon):
    good = verify("The two week inspection was undertaken by 6 inspectors [1].", [swindon])
    wrong = verify("The two week inspection was undertaken by 12 inspectors [1].", [swindon])
    words = verify("The two week inspection was undertaken by six inspectors [1].", [swindon])
    assert good.answered and words.answered
    assert not wrong.answered


def test_fabricated_quotation_is_removed(summary):
    real = verify("Ofsted concluded that overall, they continue to 'require improvement to be good' [1].", [summary])
    fake = verify("Ofsted concluded that overall, they continue to 'require significant improvement' [1].", [summary])
    assert real.answered
    assert not fake.answered  # every word of it is in the passage; the quotation is not


def test_negation_must_agree(summary):
    kept = "Managers and social workers do not consistently make good decisions for all children [1]."
    flipped = "Managers and social workers consistently make good decisions for all children [1]."
    added = "Senior leaders have not been successful in stabilising the workforce [1]."
    assert verify(kept, [summary]).answered
    assert not verify(flipped, [summary]).answered
    assert not verify(added, [summary]).answered
    # a negation elsewhere in the sentence does not block the claim's own words
    assert verify("Senior leaders have developed a performance management system [1].", [summary]).answered


def test_a_negation_in_the_next_sentence_does_not_back_an_added_one():
    """Found by the long fuzz run: "It did not inspect the work of partners" followed the
    sentence a claim negated, and was taken as the passage saying it."""
    from tests.samples import SOUTHEND_2019

    text = sample_text(SOUTHEND_2019)
    line = passage(1, text, "- 3.2 The inspection focused", "\n")
    assert "It did not inspect" in line.text
    sentence = "The inspection focused all areas of statutory children's social work services and early help services delivered by the Council"
    assert verify(f"{sentence} [1].", [line]).answered
    assert not verify(f"It is not the case that - 3.2 {sentence} [1].", [line]).answered
    assert not verify(f"It is not the case that {sentence} [1].", [line]).answered
    # the passage's own negation still backs the claim that repeats it
    assert verify("It did not inspect the work of partners [1].", [line]).answered


def test_a_claim_ending_on_its_negation_is_backed_by_the_same():
    """ "..., but staff were not": the negation after the claim's words counts when the claim
    itself ends on one, and only within the same sentence."""
    text = "Leaders were ready for the change, but staff were not. Training started in March."
    p = Passage(number=1, report_id="r", source="r.txt", council=None, meeting=None, date=None, section_id="s1",
                section="1", section_title="", section_path=("1",), text=text, start=0, end=len(text))
    assert verify("Leaders were ready for the change, but staff were not [1].", [p]).answered
    later = "Leaders and staff were ready for the change. None of the plans was late."
    p2 = Passage(number=1, report_id="r", source="r.txt", council=None, meeting=None, date=None, section_id="s1",
                 section="1", section_title="", section_path=("1",), text=later, start=0, end=len(later))
    assert verify("Leaders and staff were ready for the change [1].", [p2]).answered
    assert not verify("Leaders were ready for the change, but staff were not [1].", [p2]).answered


def test_framing_words_are_not_part_of_the_claim(summary):
    result = verify("The report notes that children mostly come into care when they should [1].", [summary])
    assert result.answered
    assert result.citations[0].quote == "Children mostly come into care when they should."


def test_misattributed_claim_moves_to_the_passage_that_says_it(summary, policy):
    draft = "Senior leaders have been successful in stabilising the workforce. [2]"
    moved = verify(draft, [summary, policy])
    assert moved.answered and moved.report["reattributed"] == 1
    assert [c.passage.number for c in moved.citations] == [1]
    assert moved.answer == "Senior leaders have been successful in stabilising the workforce. [1]"
    assert_exact(NS, moved)
    kept = verify(draft, [summary, policy], reattribute=False)
    assert not kept.answered and kept.report["reattributed"] == 0


def test_claim_stitched_from_distant_sentences_is_rejected(summary):
    halves = [
        "Senior leaders have been successful in stabilising the workforce [1].",
        "The vast majority of children in care live in stable homes that meet their needs [1].",
    ]
    stitched = "Senior leaders have been successful in stabilising the workforce, so the vast majority of children in care live in stable homes that meet their needs [1]."
    for half in halves:
        assert verify(half, [summary]).answered
    assert not verify(stitched, [summary]).answered
    # every word is somewhere in the passage: it is the one-window rule that rejects it
    index = PassageIndex(summary)
    everything = set().union(*(w.terms for w in index.windows))
    assert Probe.of(stitched).terms <= everything


def test_unknown_marker_is_dropped(summary):
    result = verify("Children mostly come into care when they should [1, 9].", [summary])
    assert result.answer == "Children mostly come into care when they should. [1]"
    assert len(result.citations) == 1 and result.report["reattributed"] == 0
    only_unknown = verify("Children mostly come into care when they should [9].", [summary], reattribute=False)
    assert not only_unknown.answered


def test_uncited_sentence_is_removed(summary):
    draft = "Good news for the council. Children mostly come into care when they should [1]. This is welcome."
    result = verify(draft, [summary])
    assert result.answer == "Children mostly come into care when they should. [1]"
    assert result.report["removed"] == ["Good news for the council.", "This is welcome."]
    assert result.report["claims"] == 1


def test_heading_is_kept_only_when_a_claim_under_it_survives(summary):
    draft = (
        "## Strengths\n\n"
        "- Children mostly come into care when they should [1]\n\n"
        "Weaknesses:\n\n"
        "- The council has no social workers at all [1]\n\n"
        "**Outlook**\n"
        "The vast majority of children in care live in stable homes that meet their needs [1]."
    )
    result = verify(draft, [summary])
    assert result.answer == (
        "## Strengths\n\n"
        "- Children mostly come into care when they should [1]\n\n"
        "**Outlook**\n"
        "The vast majority of children in care live in stable homes that meet their needs. [2]"
    )
    assert result.report["removed"] == ["The council has no social workers at all"]


def test_nothing_survives(summary):
    result = verify("Summary:\n\n- The moon is made of cheese [1]\n- Nothing here is cited.", [summary])
    assert (result.answered, result.answer, result.citations) == (False, "", [])
    assert result.report["claims"] == 1 and result.report["supported"] == 0


def test_markers_are_renumbered_by_first_appearance(summary, policy):
    third = passage(3, NS, "Areas of strength\n\n- One Front Door", "Still work to do")
    draft = (
        "One Front Door (domestic abuse referrals) is an area of strength [3]. "
        "Children mostly come into care when they should [1]. "
        "Since then North Somerset had a local SEND inspection [2][3]."
    )
    result = verify(draft, [summary, policy, third])
    assert [c.marker for c in result.citations] == [1, 2, 3]
    assert [c.passage.number for c in result.citations] == [3, 1, 2]
    assert re.findall(r"\[\d\]", result.answer) == ["[1]", "[2]", "[3]"]


WIDE = passage(1, NS, "Ofsted inspected significant parts", "4. Consultation")  # sections 1 to 3


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PassageIndex(WIDE).units), st.data())
def test_any_verbatim_run_of_words_quotes_the_report_exactly(unit, data):
    sentence = WIDE.text[unit[0] : unit[1]]
    words = re.sub(r"^[-*•]\s+", "", sentence).split()
    k = data.draw(st.integers(min_value=1, max_value=len(words)))
    i = data.draw(st.integers(min_value=0, max_value=len(words) - k))
    claim = " ".join(words[i : i + k])
    assume(re.search(r"[A-Za-z0-9]", claim) and not re.match(r"[-*•]\s|\d{1,3}[.)](\s|$)", claim))  # not a list label
    result = verify(f"{claim} [1]", [WIDE])
    assert result.answered
    (c,) = result.citations
    assert NS[c.start : c.end] == c.quote
    assert _normalise(claim)[0].strip(" .,;:!?'\"()-") in _normalise(c.quote)[0]  # and it is the claim's words


@pytest.mark.parametrize(
    ("markdown", "shown"),
    [
        ("see [the plan](javascript:alert(1)) now", "see the plan now"),
        ("![chart](http://evil.example/t.png)Leaders", "chart Leaders"),
        ("a ![](http://evil.example/t.png)b", "a b"),
        ("[one](a) and [two](b(c))", "one and two"),
        ("plain (brackets) and [1] stay", "plain (brackets) and [1] stay"),
    ],
)
def test_inert_keeps_the_words_and_drops_every_target(markdown, shown):
    """Found by the long fuzz run: a target with parentheses inside left a stray ")", and an
    image's alt text ran into the next word."""
    from assistant.verify import inert

    assert inert(markdown) == shown
