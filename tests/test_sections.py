"""The section tree of each sample report, checked against what a reader of the report sees."""

import re

import pytest

from ingest.sections import build_tree, find_furniture, split_lines
from tests.samples import ALL, NORTH_SOMERSET, SOUTHEND_2016, SOUTHEND_2019, SOUTHWARK, SWINDON, sample_text


def tree(name):
    text = sample_text(name)
    return text, build_tree(text)


def by_path(sections, *path):
    found = [s for s in sections if s.path[-len(path):] == path]
    assert len(found) == 1, f"{path}: {len(found)} matches"
    return found[0]


def own_text(text, section):
    return text[section.body_start : section.body_end]


def bullets(block):
    return [ln.strip()[2:] for ln in block.splitlines() if re.match(r"^\s*- \S", ln)]


def test_north_somerset_what_needs_to_improve_has_its_six_bullets():
    text, sections = tree(NORTH_SOMERSET)
    section = by_path(sections, "1. Summary of Report", "What needs to improve")
    items = bullets(own_text(text, section))
    assert len(items) == 6
    assert items[3] == "Formalised matching of children with their long-term carers."
    assert section.kind == "heading" and section.level == 2


def test_north_somerset_plain_headings_nest_in_groups():
    text, sections = tree(NORTH_SOMERSET)
    for area in ("Children in Need of Help and Protection", "Children Looked after and Care leavers",
                 "Leadership and Management"):
        group = by_path(sections, "3. Details", area)
        labels = [s.label for s in sections if s.parent_id == group.id]
        assert labels == ["Areas of strength", "Still work to do to improve"]
    assert [s.label for s in sections if s.level == 1][:3] == ["Cover", "Recommendations", "1. Summary of Report"]
    # "Author:" is a label; the name after it is not a heading.
    assert not any("Sheila Smith" in s.title for s in sections)


def test_southend_2019_paragraph_3_11_holds_the_four_areas_for_improvement():
    text, sections = tree(SOUTHEND_2019)
    section = by_path(sections, "3. Background", "3.11")
    assert section.kind == "paragraph" and section.number == "3.11"
    body = own_text(text, section)
    assert body.lstrip("- ").startswith("3.11 The inspection report details main areas for improvement")
    items = [b for b in bullets(body) if not b.startswith("3.11")]
    assert len(items) == 4
    assert items[1] == "The quality of planning for children in need of protection."
    numbers = [s.number for s in sections if s.parent_id == by_path(sections, "3. Background").id]
    assert numbers == [f"3.{i}" for i in range(1, 14)]


def test_southend_2019_short_numbered_lines_are_headings_and_none_is_text():
    text, sections = tree(SOUTHEND_2019)
    implications = by_path(sections, "6. Corporate Implications")
    children = [s for s in sections if s.parent_id == implications.id]
    assert [s.number for s in children] == [f"6.{i}" for i in range(1, 12)]
    assert children[1].title == "Financial Implications"
    assert own_text(text, children[1]).strip() == "None identified at present"
    assert not any(s.title in {"None", "Not required"} for s in sections)


def test_southend_2016_appended_ofsted_report_is_its_own_part():
    text, sections = tree(SOUTHEND_2016)
    parts = [s for s in sections if s.kind == "part"]
    assert len(parts) == 1
    part = parts[0]
    assert part.title.startswith("Ofsted report: Inspection of services for children in need of help")
    assert part.level == 1
    # The covering report's own sections come before the part, outside it.
    background = by_path(sections, "3. Background")
    assert background.end <= part.start and background.parent_id is None
    # The Ofsted report's judgement table is the part's own text.
    assert "Leadership, management and governance\t\tRequires improvement" in own_text(text, part)

    # The LSCB review repeats "Recommendations"; the inspection's own come first.
    recommendations = next(s for s in sections if s.path == (part.label, "Recommendations"))
    items = [s for s in sections if s.parent_id == recommendations.id]
    assert [s.number for s in items] == [str(i) for i in range(1, 13)]
    assert own_text(text, items[2]).startswith("3. Ensure that visits to children are undertaken in line with their plans")

    help_and_protection = by_path(sections, part.label, "The experiences and progress of children who need help and protection")
    findings = by_path(sections, help_and_protection.label, "Inspection findings")
    numbers = [int(s.number) for s in sections if s.parent_id == findings.id]
    assert numbers == list(range(13, 49))


def test_southend_2016_every_ofsted_paragraph_is_found_once():
    _, sections = tree(SOUTHEND_2016)
    part = next(s for s in sections if s.kind == "part")
    numbers = [int(s.number) for s in sections if s.kind == "paragraph" and s.start > part.start]
    assert numbers == list(range(1, 159))
    # The "1. Children who need help..." list inside paragraph 3.3 is not mistaken for paragraphs.
    cover_numbers = [s.number for s in sections if s.kind == "paragraph" and s.start < part.start]
    assert cover_numbers == ["2.1", "2.2", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7"]


def test_southwark_caps_headings_numbered_paragraphs_and_tables():
    text, sections = tree(SOUTHWARK)
    top = [s.label for s in sections if s.level == 1]
    assert top == ["Cover", "RECOMMENDATIONS", "BACKGROUND INFORMATION", "KEY ISSUES FOR CONSIDERATION",
                   "BACKGROUND DOCUMENTS", "APPENDICES", "AUDIT TRAIL"]
    policy = by_path(sections, "KEY ISSUES FOR CONSIDERATION", "Policy implications")
    assert [s.number for s in sections if s.parent_id == policy.id] == ["14"]
    para12 = by_path(sections, "KEY ISSUES FOR CONSIDERATION", "12")
    assert len(bullets(own_text(text, para12))) == 3
    assert not any("\t" in s.title for s in sections)  # table rows are never headings


def test_swindon_markdown_headings_and_judgement_headings():
    text, sections = tree(SWINDON)
    assert [s.label for s in sections if s.level == 1][:4] == [
        "Cover", "1. Purpose and Reasons", "2. Recommendations", "3. Detail"]
    judgements = [s.title for s in sections if "graded as" in s.title]
    assert judgements == [
        "Overall Effectiveness of Children's Social Care Services graded as: Good",
        "The Experiences of children who need help and protection graded as: Good",
        "The experience and progress of Children in Care and Care Leavers graded as: Requires Improvement to be Good",
        "The impact of leaders on social work practice within Children and Families graded as: Good",
    ]
    leaders = next(s for s in sections if s.title.startswith("The impact of leaders"))
    care = next(s for s in sections if s.title.startswith("The experience and progress of Children in Care"))
    assert leaders.parent_id == care.parent_id  # siblings, as the report means them
    sub = by_path(sections, "3.1", "3.1.2")
    assert own_text(text, sub).strip().startswith("- 3.1.2 The Sufficiency of local placements")


def test_swindon_running_header_is_furniture():
    text = sample_text(SWINDON)
    lines = split_lines(text)
    furniture = find_furniture(lines)
    header_lines = [ln.index for ln in lines if "4<sup>th</sup> September 2019" in ln.text]
    assert len(header_lines) == 6 and set(header_lines) <= furniture
    # A heading that recurs with different text after it ("Areas of strength") is not furniture.
    ns_lines = split_lines(sample_text(NORTH_SOMERSET))
    ns_furniture = find_furniture(ns_lines)
    assert not any(ln.text == "Areas of strength" and ln.index in ns_furniture for ln in ns_lines)


@pytest.mark.parametrize("name", ALL)
def test_tree_offsets_are_consistent(name):
    text, sections = tree(name)
    by_id = {s.id: s for s in sections}
    assert len(by_id) == len(sections)
    previous_start = -1
    for s in sections:
        assert 0 <= s.start <= s.body_start <= s.body_end <= s.end <= len(text), s
        assert s.start > previous_start or s.kind == "cover"
        previous_start = s.start
        if s.parent_id:
            parent = by_id[s.parent_id]
            assert parent.start <= s.start and s.end <= parent.end
            assert s.level == parent.level + 1
            assert s.path[:-1] == parent.path
        else:
            assert s.level == 1 and len(s.path) == 1
        if s.kind == "heading":
            # The heading line at ``start`` carries the section's title words.
            heading = re.sub(r"[*#<>/]|sup|\s+", " ", text[s.start : s.body_start]).split()
            assert s.title.split()[0].strip("*") in heading, (s.title, heading)
    # Siblings do not overlap.
    for s in sections:
        kids = [by_id[c] for c in s.children]
        for a, b in zip(kids, kids[1:]):
            assert a.end <= b.start


@pytest.mark.parametrize("name", ALL)
def test_no_page_furniture_in_titles(name):
    _, sections = tree(name)
    for s in sections:
        assert "intentionally left blank" not in s.title.lower()
        assert not re.fullmatch(r"(page )?\d+", s.title.lower())
