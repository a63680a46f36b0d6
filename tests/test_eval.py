"""The evaluation runner: loading sets (and their errors), scoring, the baseline, the report,
``reports-qa eval``, and the quality gate on the real sample set."""

from __future__ import annotations

import json
import textwrap

import pytest

from assistant.models import Answer, Citation, Passage
from eval.baseline import split_characters
from eval.gate import GATE_FILE, Gate
from eval.metrics import score
from eval.questionset import EvalQuestion, QuestionSetError, load_question_set
from eval.runner import evaluate
from tests.samples import NORTH_SOMERSET, sample_text
from ui.cli import main

NS_ID = NORTH_SOMERSET[:-4]
NS_TEXT = sample_text(NORTH_SOMERSET)
ITEM = "Formalised matching of children with their long-term carers."


def write(tmp_path, body: str, name: str = "set.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_errors_name_the_line_and_the_field(tmp_path):
    path = write(tmp_path, """\
        name: broken
        questions:
          - id: a
            question: What needs to improve?
            type: list
            reports: [r]
            evidence: [{report: r, text: x}]
          - id: b
            question: Who?
            type: guess
          - id: a
            question: Again?
            type: unanswerable
            key_points: [oops]
        """)
    with pytest.raises(QuestionSetError) as err:
        load_question_set(path)
    message = str(err.value)
    assert f"{path}:8: question 'b': type: Input should be" in message
    assert f"{path}:11: question 'a'" in message and "unanswerable question has empty" in message
    with pytest.raises(QuestionSetError, match=r"set.yaml:3: not valid YAML"):
        load_question_set(write(tmp_path, "questions:\n  - id: [unclosed\n"))
    with pytest.raises(QuestionSetError, match="no such question set"):
        load_question_set(tmp_path / "missing.yaml")


def test_jsonl_sets_load_and_duplicate_ids_are_refused(tmp_path):
    line = json.dumps({"id": "q1", "question": "Essex?", "type": "unanswerable"})
    assert load_question_set(write(tmp_path, line + "\n", "s.jsonl")).questions[0].id == "q1"
    with pytest.raises(QuestionSetError, match="s.jsonl:2: question id 'q1' already used on line 1"):
        load_question_set(write(tmp_path, f"{line}\n{line}\n", "s.jsonl"))


def _passage(start: int, end: int, number: int = 1, section_id: str = "s") -> Passage:
    return Passage(number=number, report_id=NS_ID, source=NORTH_SOMERSET, council="North Somerset Council",
                   meeting="Executive", date="2020-10-21", section_id=section_id, section="", section_title="",
                   section_path=("x",), text=NS_TEXT[start:end], start=start, end=end)


def _answer(text: str, passages: list[Passage], citations: list[Citation], answered: bool = True) -> Answer:
    return Answer(question="q", answer=text, answered=answered, citations=citations, retrieved=passages,
                  backend="test", timings_ms={"retrieve": 1.0, "generate": 2.0, "total": 3.0})


def test_scoring_against_the_key():
    at = NS_TEXT.index(ITEM)
    question = EvalQuestion(id="q", question="Matching?", type="fact", reports=[NS_ID],
                            evidence=[{"report": NS_ID, "text": ITEM}],
                            key_points=["matching with long-term carers", "six areas"])
    other, holding = _passage(0, 300), _passage(at - 50, at + len(ITEM) + 10, number=2)
    good = Citation(1, holding, ITEM, at, at + len(ITEM))
    forged = Citation(2, holding, "Formalised matching", at + 1, at + 20)
    result = score(question, _answer(f"Formalised matching with long-term carers [1][2]", [other, holding], [good, forged]),
                   lambda rid: NS_TEXT, lambda rid, sid: (0, len(NS_TEXT)))
    assert result.recall == 1.0 and result.mrr == 0.5
    assert result.citation_support == 1.0
    assert result.citation_precision == 0.5 and result.bad_citations == [2]
    assert result.key_point_recall == 0.5 and result.missing_key_points == ["six areas"]
    assert result.abstention == 1.0 and not result.passed


def test_unanswerable_scoring_and_number_words():
    refused = EvalQuestion(id="u", question="Essex?", type="unanswerable")
    assert score(refused, _answer("I hold no report", [], [], answered=False), lambda r: "", lambda r, s: None).passed
    assert score(refused, _answer("Something", [], []), lambda r: "", lambda r, s: None).abstention == 0.0
    counted = EvalQuestion(id="n", question="How many?", type="fact", reports=[NS_ID],
                           evidence=[{"report": NS_ID, "text": ITEM}], key_points=["six inspectors", "fifteen per cent"])
    result = score(counted, _answer("by 6 inspectors; 15% of them", [], []), lambda r: NS_TEXT, lambda r, s: None)
    assert result.key_point_recall == 1.0 and result.recall == 0.0


def test_character_splitter_overlaps_and_covers_everything():
    spans = split_characters(NS_TEXT, 1000, 200)
    assert spans[0][0] == 0 and spans[-1][1] == len(NS_TEXT)
    assert all(end - start <= 1000 for start, end in spans)
    assert all(b[0] < a[1] for a, b in zip(spans, spans[1:])), "each chunk overlaps the last"


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    path = tmp_path_factory.mktemp("eval") / "small.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: small
        questions:
          - id: ns
            question: What needs to improve in North Somerset?
            type: list
            reports: [{NS_ID}]
            evidence: [{{report: {NS_ID}, text: "{ITEM}"}}]
            key_points: [matching of children with their long-term carers]
          - id: essex
            question: What did Ofsted say about Essex?
            type: unanswerable
        """), encoding="utf-8")
    return path


def test_evaluate_with_the_baseline_side_by_side(assistant, small_set):
    runs = evaluate([load_question_set(small_set)], assistant, baseline=True)
    ours, naive = runs
    assert ours.system == "reports-qa (extractive)" and naive.system == "naive baseline"
    assert ours.summary["passed"] == 2 and ours.summary["abstention"] == 1.0
    assert naive.results[1].abstention == 0.0, "the naive chain answers about Essex from whatever it finds"
    assert naive.results[0].retrieved == 4


def test_eval_command_writes_json_and_html(sample_store, small_set, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["--data-dir", str(sample_store), "eval", str(small_set), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "key-point recall" in printed and str(out / "report.html") in printed
    runs = json.loads((out / "results.json").read_text())
    assert runs[0]["summary"]["questions"] == 2
    html = (out / "report.html").read_text()
    assert "<svg" in html and "reports-qa (extractive)" in html
    assert "src=" not in html and "href=" not in html, "self-contained: nothing to fetch"


def test_eval_command_reports_a_bad_set(sample_store, tmp_path, capsys):
    bad = write(tmp_path, "name: x\nquestions: []\n")
    assert main(["--data-dir", str(sample_store), "eval", str(bad)]) == 2
    assert "no questions" in capsys.readouterr().err


@pytest.mark.parametrize("gate_file", ["gate.json", "gate_grades.json"])
def test_quality_gate_on_the_sample_set(assistant, gate_file):
    """The CI gates: the sample set and the grades set stay at or above the floors in eval/gate*.json."""
    gate = Gate.load(GATE_FILE.with_name(gate_file))
    run = evaluate([load_question_set(gate.question_set)], assistant)[0]
    summary = run.summary
    print(json.dumps({"summary": summary, "by_type": run.by_type}, indent=1))
    assert not gate.failures(summary), gate.failures(summary)


def test_quality_gate_on_the_reader_check_set(reader_assistant):
    """The held-out half of the reader sets (never tuned on), over the samples and the Ofsted
    subset, stays at or above the floors in eval/gate_readers.json."""
    gate = Gate.load(GATE_FILE.with_name("gate_readers.json"))
    run = evaluate([load_question_set(gate.question_set)], reader_assistant)[0]
    summary = run.summary
    print(json.dumps({"summary": summary, "by_type": run.by_type}, indent=1))
    assert not gate.failures(summary), gate.failures(summary)

