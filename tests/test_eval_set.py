"""The evaluation question set over the five sample reports, checked against the reports themselves.

An eval set is only as good as its answer key: a misquoted passage or a key point the evidence
cannot support would mark a correct answer wrong. So every evidence passage must be verbatim in
its report, and every key point must be findable in its question's evidence.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
import yaml

from reports_qa.settings import PROJECT_ROOT, SAMPLE_REPORTS_DIR

QUESTIONS_FILE = Path(PROJECT_ROOT) / "eval" / "questions" / "sample.yaml"
TYPES = {"fact", "list", "why", "comparison", "follow-up", "unanswerable"}
REPORT_IDS = sorted(p.stem for p in Path(SAMPLE_REPORTS_DIR).glob("*.txt"))

# Four-letter-plus words that carry no content; a key point is not expected to echo these.
STOPWORDS = {
    "about", "also", "been", "both", "does", "each", "from", "have", "into", "more", "only",
    "some", "such", "than", "that", "their", "them", "then", "there", "these", "they", "this",
    "were", "what", "when", "which", "while", "will", "with", "would",
}


def load() -> dict:
    with QUESTIONS_FILE.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


QUESTIONS = load()["questions"]


@cache
def report_text(report_id: str) -> str:
    return (Path(SAMPLE_REPORTS_DIR) / f"{report_id}.txt").read_text(encoding="utf-8")


def content_words(text: str) -> set[str]:
    """Inflection-tolerant stems: lower-cased words of 4+ letters cut to 5 letters, plus numbers."""
    text = text.lower()
    words = {w[:5] for w in re.findall(r"[a-z]+", text) if len(w) >= 4 and w not in STOPWORDS}
    numbers = set(re.findall(r"\d+(?:[.,]\d+)*", text))
    return words | numbers


def by_id(question: dict) -> str:
    return question["id"]


def test_set_has_a_name_and_description():
    data = load()
    assert data["name"] == "sample"
    assert data["description"].strip()


def test_size_and_unique_ids():
    assert len(QUESTIONS) >= 70
    ids = [q["id"] for q in QUESTIONS]
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_types_allowed_and_all_present():
    types = Counter(q["type"] for q in QUESTIONS)
    assert set(types) <= TYPES, set(types) - TYPES
    assert set(types) == TYPES
    assert types["unanswerable"] >= 10
    assert types["follow-up"] >= 6


@pytest.mark.parametrize("report_id", REPORT_IDS)
def test_each_report_has_at_least_ten_questions(report_id):
    assert sum(report_id in q["reports"] for q in QUESTIONS) >= 10


@pytest.mark.parametrize("q", QUESTIONS, ids=by_id)
def test_question_shape(q):
    assert isinstance(q["question"], str) and q["question"].strip()
    assert isinstance(q["reference"], str) and q["reference"].strip()
    assert all(isinstance(k, str) for k in q["key_points"]), "quote key points YAML would read as numbers"
    assert set(q["reports"]) <= set(REPORT_IDS), set(q["reports"]) - set(REPORT_IDS)
    if q["type"] == "follow-up":
        history = q["history"]
        assert history and len(history) % 2 == 0, "history is whole turns: user then assistant"
        assert [t["role"] for t in history] == ["user", "assistant"] * (len(history) // 2)
        assert all(t["content"].strip() for t in history)
    else:
        assert "history" not in q, "only follow-ups carry history"


@pytest.mark.parametrize("q", [q for q in QUESTIONS if q["type"] == "unanswerable"], ids=by_id)
def test_unanswerable_expects_nothing(q):
    assert q["reports"] == [] and q["evidence"] == [] and q["key_points"] == []


ANSWERABLE = [q for q in QUESTIONS if q["type"] != "unanswerable"]


@pytest.mark.parametrize("q", ANSWERABLE, ids=by_id)
def test_evidence_is_verbatim_from_the_named_reports(q):
    assert q["reports"] and q["evidence"] and q["key_points"]
    for e in q["evidence"]:
        assert e["report"] in q["reports"]
        assert e["text"] in report_text(e["report"]), f"not verbatim in {e['report']}: {e['text']!r}"
    assert {e["report"] for e in q["evidence"]} == set(q["reports"]), "every named report is quoted"


@pytest.mark.parametrize("q", ANSWERABLE, ids=by_id)
def test_key_points_are_supported_by_the_evidence(q):
    evidence = content_words(" ".join(e["text"] for e in q["evidence"]))
    for point in q["key_points"]:
        words = content_words(point)
        assert words, f"key point with no content words: {point!r}"
        assert words <= evidence, f"{point!r}: {sorted(words - evidence)} not in the evidence"


@pytest.mark.parametrize("q", [q for q in QUESTIONS if q["type"] == "list"], ids=by_id)
def test_list_questions_quote_one_passage_per_item(q):
    assert len(q["key_points"]) >= 2
    assert len(q["evidence"]) == len(q["key_points"])


@pytest.mark.parametrize("q", [q for q in QUESTIONS if q["type"] == "comparison"], ids=by_id)
def test_comparisons_draw_on_more_than_one_report(q):
    assert len(q["reports"]) >= 2
