"""The reader question sets (``eval/questions/readers-tune.yaml`` and ``readers-check.yaml``),
checked against the reports themselves.

Written as readers ask, over the five samples and the fixed Ofsted subset (``tests/ofsted.py``),
split once by council into a tune half (weights and thresholds may be fitted on it) and a check
half (the CI gate; never tuned on). An answer key is only as good as its quotes, so every evidence
passage must be verbatim in the text the product reads from the file (the PDFs through the
product's own loader; a line break there matches a space in the quote), every key point must be findable in its evidence, no council may be in
both halves, and at least half the questions must share at most one content word with the title
of the section that answers them, so the set does not reward matching headings word for word.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from eval.metrics import find_spans
from eval.questionset import ANSWER_KINDS, is_path_ref, load_question_set
from ingest.councils import find_mentions
from ingest.loaders import load_document
from ingest.sections import build_tree
from reports_qa.settings import PROJECT_ROOT, SAMPLE_REPORTS_DIR
from tests.ofsted import CHECK, REPORTS_DIR, SUBSET, TUNE, require_ofsted
from tests.test_eval_set import content_words

SETS = {split: Path(PROJECT_ROOT) / "eval" / "questions" / f"readers-{split}.yaml" for split in ("tune", "check")}
SAMPLE_IDS = sorted(p.stem for p in Path(SAMPLE_REPORTS_DIR).glob("*.txt"))
SAMPLE_COUNCIL = {  # the council each sample is about, by its id's first words
    "north-somerset": "north somerset", "southend-on-sea": "southend-on-sea", "southwark": "southwark",
    "swindon": "swindon",
}


@cache
def loaded(split: str):
    return load_question_set(SETS[split])


def questions(split: str | None = None):
    return [q for s in ([split] if split else list(SETS)) for q in loaded(s).questions]


def ids(q) -> str:
    return q.id


@cache
def report_text(ref: str) -> str:
    if is_path_ref(ref):
        return load_document(require_ofsted() / ref).text
    return (Path(SAMPLE_REPORTS_DIR) / f"{ref}.txt").read_text(encoding="utf-8")


def council_of(ref: str) -> str:
    if is_path_ref(ref):
        return ref.split("/")[0].split("_", 1)[1]  # "80528_north somerset/..." -> "north somerset"
    return next(c for prefix, c in SAMPLE_COUNCIL.items() if ref.startswith(prefix))


def councils_in(q) -> set[str]:
    named = {m.council.place.lower() for m in find_mentions(q.question, capitalised_only=False)}
    for turn in q.history:
        named |= {m.council.place.lower() for m in find_mentions(turn.content, capitalised_only=False)}
    return named | {council_of(r) for r in q.reports}


def test_both_halves_load_and_say_which_they_are():
    for split in SETS:
        qset = loaded(split)
        assert qset.split == split and qset.description.strip()


def test_size_types_and_kinds():
    every = questions()
    assert len(every) >= 250
    assert len({q.id for q in every}) == len(every), "ids are unique across both halves"
    types = Counter(q.type for q in every)
    assert set(types) == {"fact", "list", "why", "comparison", "follow-up", "unanswerable"}
    assert types["unanswerable"] >= 0.2 * len(every)
    for split in SETS:
        half = questions(split)
        assert sum(q.type == "unanswerable" for q in half) >= 0.15 * len(half)
    answerable = [q for q in every if q.answerable]
    assert all(q.kind for q in answerable), [q.id for q in answerable if not q.kind]
    kinds = Counter(q.kind for q in answerable)
    assert set(kinds) >= set(ANSWER_KINDS) - {"yesno", "text"}, kinds
    assert sum(bool(re.search(r"\b(?:19|20)\d\d\b", q.question)) for q in every) >= 20, "questions naming a year"
    several = [q for q in every if len({m.council for m in find_mentions(q.question, capitalised_only=False)}) > 1]
    assert len(several) >= 10, "questions naming several councils"
    assert sum(q.type == "follow-up" for q in every) >= 15


def test_split_is_sixty_forty_by_council():
    tune, check = questions("tune"), questions("check")
    assert 0.35 <= len(check) / (len(tune) + len(check)) <= 0.45
    tune_councils = set().union(*(councils_in(q) for q in tune))
    check_councils = set().union(*(councils_in(q) for q in check))
    assert not tune_councils & check_councils, tune_councils & check_councils
    for split, allowed in (("tune", TUNE), ("check", CHECK)):
        refs = {r for q in questions(split) for r in q.reports if is_path_ref(r)}
        assert refs <= set(allowed), refs - set(allowed)
        assert {council_of(r) for r in allowed} <= {council_of(r) for r in refs}, "every council of the half is asked about"
    assert set(SUBSET) == set(TUNE) | set(CHECK)


@pytest.mark.parametrize("q", [q for q in questions() if q.answerable], ids=ids)
def test_evidence_is_verbatim_and_supports_the_key_points(q):
    for ref in q.reports:
        assert is_path_ref(ref) or ref in SAMPLE_IDS, ref
    assert {e.report for e in q.evidence} == set(q.reports), "every named report is quoted"
    for e in q.evidence:
        assert find_spans(report_text(e.report), e.text), f"not verbatim in {e.report}: {e.text!r}"
    evidence = content_words(" ".join(e.text for e in q.evidence))
    assert q.key_points
    for point in q.key_points:
        words = content_words(point)
        assert words, f"key point with no content words: {point!r}"
        assert words <= evidence, f"{point!r}: {sorted(words - evidence)} not in the evidence"


@pytest.mark.parametrize("q", [q for q in questions() if q.type == "follow-up"], ids=ids)
def test_follow_ups_carry_whole_turns(q):
    assert q.history and len(q.history) % 2 == 0
    assert [t.role for t in q.history] == ["user", "assistant"] * (len(q.history) // 2)


@cache
def tree(ref: str):
    return build_tree(report_text(ref))


def answering_title(ref: str, quote: str) -> str:
    """The title of the innermost titled section holding ``quote``."""
    start = find_spans(report_text(ref), quote)[0][0]
    sections = {s.id: s for s in tree(ref)}
    holding = [s for s in sections.values() if s.start <= start < s.end]
    section = max(holding, key=lambda s: s.level, default=None)
    while section is not None and (section.kind == "paragraph" or not section.title):
        section = sections.get(section.parent_id) if section.parent_id else None
    return section.title if section else ""


def test_most_questions_are_not_worded_like_the_headings():
    shared = []
    for q in questions():
        if not q.answerable:
            continue
        title = answering_title(q.evidence[0].report, q.evidence[0].text)
        shared.append(len(content_words(q.question) & content_words(title)))
    assert sum(n <= 1 for n in shared) >= 0.5 * len(shared), Counter(shared)


def test_the_subset_is_on_disk():
    root = require_ofsted()
    assert root == REPORTS_DIR
    missing = [name for name in SUBSET if not (root / name).is_file()]
    assert not missing
