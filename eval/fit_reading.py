"""Fit the reading weights (``assistant/reading_weights.json``) on a tune question set.

    .venv/bin/python -m eval.fit_reading eval/questions/readers-tune.yaml --data-dir DIR [--write]

Every question is asked once through the assistant over the store in ``DIR``; the units (and
lists) of its retrieved passages, with their features, are what reading scored. A unit is a
positive when it overlaps the question's evidence; a list when most of its items do (noise: the
share of quoted pieces that are not). Selection is replayed on those candidates and scored as the
eval scores answers (key points, abstention): the selection settings (the abstention threshold,
how close to the best another piece must be to be quoted too, how many, when a list beats single
sentences) by grid search, the feature weights by coordinate ascent from the current ones. Only a set marked ``split: tune`` is accepted:
a check set fitted on says nothing about questions nobody saw.

Prints the fitted weights, the tune figures and the abstention curve (false refusals of
answerable questions against wrong answers to unanswerable ones, per threshold).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from assistant.extractive import render
from assistant.reading import (
    LIST_FEATURES,
    UNIT_FEATURES,
    Candidate,
    Reader,
    Weights,
    default_weights,
)
from eval.metrics import _key_terms, find_spans
from eval.questionset import EvalQuestion, load_question_set
from eval.runner import _Corpus

log = logging.getLogger(__name__)
NOISE_PENALTY = 0.2  # per share of quoted pieces that are not evidence: quoting everything is not reading
CLEARLY_BETTER = 0.002  # in the objective: what a looser setting must gain over a stricter one
MAX_FALSE_REFUSALS = 0.05  # the bound on refusing answerable questions
WRONG_ANSWER_COST = 2.0  # an answer to what the reports do not say costs twice a refusal of what they do


@dataclass
class Sample:
    question: EvalQuestion
    reader: Reader
    candidates: list[Candidate]
    per_report: bool
    positive: list[bool]  # per candidate


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    return inter > 0 and (2 * inter >= a[1] - a[0] or 2 * inter >= b[1] - b[0])


def collect(assistant, questions: list[EvalQuestion]) -> list[Sample]:
    corpus = _Corpus(assistant.store)
    samples = []
    for q in questions:
        q = corpus.resolve(q)
        answer = assistant.ask(q.question, history=[t.model_dump() for t in q.history])
        trace = answer.trace
        if "candidates" not in trace:
            continue  # answered from judgement records, or refused by scope: reading played no part
        spans = {}
        for e in q.evidence:
            spans.setdefault(e.report, []).extend(find_spans(corpus.text(e.report), e.text))
        positive = []
        for c in trace.get("candidates", []):
            mine = spans.get(c.passage.report_id, [])
            hits = [any(_overlaps((p.unit.start, p.unit.end), s) for s in mine) for p in c.pieces]
            positive.append(sum(hits) * 2 >= len(hits) if c.is_list else hits[0])
        samples.append(Sample(q, trace["reader"], trace.get("candidates", []), trace.get("per_report", False), positive))
    return samples


def rescore(samples: list[Sample], weights: Weights) -> None:
    for s in samples:
        s.reader.weights = weights
        for c in s.candidates:
            c.score = weights.score(c.features, is_list=c.is_list)


def replay(samples: list[Sample], weights: Weights) -> dict[str, float]:
    """Selection replayed with ``weights``: key-point recall, noise and abstention as the eval scores them."""
    kp, noise, precise, refused_answerable, answered_unanswerable, n_answerable, n_unanswerable = [], [], [], 0, 0, 0, 0
    for s in samples:
        s.reader.weights = weights
        chosen = s.reader.select(s.candidates, per_report=s.per_report)
        if s.question.answerable:
            n_answerable += 1
            if not chosen:
                refused_answerable += 1
                kp.append(0.0)
                continue
            have = _key_terms(render(chosen))
            points = s.question.key_points
            kp.append(sum(_key_terms(k) <= have for k in points) / len(points) if points else 1.0)
            pieces = [(c, p) for c in chosen for p in c.pieces]
            pos = {id(c): flag for c, flag in zip(s.candidates, s.positive)}
            noise.append(sum(not pos.get(id(c), False) for c, _ in pieces if not c.is_list) / max(1, len(pieces)))
            # The eval's citation precision counts a quote from a report the question is not about.
            precise.append(sum(c.passage.report_id in s.question.reports for c in chosen) / len(chosen))
        else:
            n_unanswerable += 1
            answered_unanswerable += bool(chosen)
    key_point_recall = float(np.mean(kp)) if kp else 0.0
    return {
        "key_point_recall": round(key_point_recall, 4),
        "noise": round(float(np.mean(noise)) if noise else 0.0, 4),
        "false_refusals": round(refused_answerable / n_answerable, 4) if n_answerable else 0.0,
        "wrong_answers": round(answered_unanswerable / n_unanswerable, 4) if n_unanswerable else 0.0,
        # The gate's answer metrics, equally weighted: key-point recall over answerable
        # questions, their citations' report precision, abstention over all; less a little
        # for quoting what is not evidence.
        "citation_precision": round(float(np.mean(precise)) if precise else 1.0, 4),
        "objective": round(key_point_recall + (float(np.mean(precise)) if precise else 1.0) + (n_answerable - refused_answerable + n_unanswerable
                                                - WRONG_ANSWER_COST * answered_unanswerable)
                           / max(1, n_answerable + n_unanswerable)
                           - NOISE_PENALTY * (float(np.mean(noise)) if noise else 0.0), 4),
    }


def ascend(samples: list[Sample], start: Weights, rounds: int = 3) -> Weights:
    """Coordinate ascent on the replayed objective: each feature weight in turn is scaled or
    shifted while that helps. It fits what the eval scores (key points, abstention), not a proxy
    label, which the few positives per question make unreliable for a regression."""
    best, score = start, None
    rescore(samples, best)
    score = replay(samples, best)["objective"]
    for _ in range(rounds):
        improved = False
        for group, names in (("unit", UNIT_FEATURES), ("list", LIST_FEATURES)):
            for name in (*names, "bias"):
                for step in (-1.0, -0.5, 0.5, 1.0, 2.0):
                    table = dict(getattr(best, group))
                    if name == "bias":
                        trial = replace(best, **{f"{group}_bias": getattr(best, f"{group}_bias") + step})
                    else:
                        table[name] = table[name] + step
                        trial = replace(best, **{group: table})
                    rescore(samples, trial)
                    got = replay(samples, trial)["objective"]
                    if got > score + 1e-6:
                        best, score, improved = trial, got, True
        rescore(samples, best)
        if not improved:
            break
    return best


def search(samples: list[Sample], base: Weights, fixed: tuple[str, ...] = ()) -> tuple[Weights, dict[str, float]]:
    """The selection settings (but ``fixed``), one at a time over its candidate values, twice round."""
    sims = sorted(max((c.features.get("sim", 0.0) for c in s.candidates if not c.is_list), default=0.0)
                  for s in samples)
    # Each setting's values from the strictest (fewer pieces, fewer reports, more refusals) to
    # the loosest: a looser value is taken only when it scores clearly better, since a wrong
    # citation is worse than none.
    options = {
        "answer_min": sorted(thresholds(samples), reverse=True),
        "sim_min": sorted({0.0, *(round(float(q), 4) for q in np.quantile(sims, [0.02, 0.05, 0.1, 0.15, 0.2, 0.3]))},
                          reverse=True),
        "keep_ratio": [0.95, 0.9, 0.85, 0.8, 0.7, 0.6],
        "max_units": [1, 2, 3, 4],
        "list_over_units": [1.2, 1.0, 0.85, 0.7, 0.5],
        "list_keep_ratio": [1.0, 0.95, 0.9, 0.8],
        "report_keep_ratio": [0.99, 0.98, 0.97, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5],
        "earlier_margin": [1.5, 1.3, 1.2, 1.15, 1.1, 1.05, 1.0],
    }
    best, best_figures = base, replay(samples, base)
    for _ in range(2):
        for name, values in options.items():
            if name in fixed:
                continue
            scored = [(replay(samples, replace(best, **{name: v}))["objective"], v) for v in values]
            top = max(score for score, _ in scored)
            value = next(v for score, v in scored if score >= top - CLEARLY_BETTER)  # the strictest near the top
            best = replace(best, **{name: value})
            best_figures = replay(samples, best)
    return best, best_figures


def refusal_point(samples: list[Sample], weights: Weights) -> tuple[Weights, dict[str, float]]:
    """The meaning floor: the highest at which the tune half's answerable questions are refused
    no more than ``MAX_FALSE_REFUSALS`` of the time. The tune set's unanswerable questions are
    near misses (a council's budget, a name never given) that come as close in meaning as
    answerable ones, so the objective alone never refuses; a question nothing in the reports
    comes near in meaning (road repairs) is refused below this floor."""
    best = replace(weights, sim_min=0.0)
    for floor in np.arange(0.0, 0.61, 0.01):
        trial = replace(weights, sim_min=round(float(floor), 2))
        if replay(samples, trial)["false_refusals"] <= MAX_FALSE_REFUSALS:
            best = trial
    return best, replay(samples, best)


def thresholds(samples: list[Sample]) -> list[float]:
    """Abstention thresholds to try: the quantiles of the questions' best scores, so the grid
    follows wherever the fitted scores lie."""
    best = sorted(max((c.score for c in s.candidates), default=0.0) for s in samples)
    qs = np.quantile(best, np.linspace(0.0, 0.6, 25)) if best else [0.0]
    return sorted({round(float(q) - 1e-6, 6) for q in qs} | {0.0})


def curve(samples: list[Sample], weights: Weights) -> list[dict[str, float]]:
    return [{"answer_min": t, **replay(samples, replace(weights, answer_min=t))} for t in thresholds(samples)] + [
        {"sim_min": f, **replay(samples, replace(weights, sim_min=f))}
        for f in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)]


def main(argv: list[str] | None = None) -> int:
    from assistant import Assistant
    from reports_qa.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("question_set", type=Path)
    parser.add_argument("--data-dir", type=Path, required=True, help="a store holding the set's reports")
    parser.add_argument("--write", action="store_true", help="write assistant/reading_weights.json")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    qset = load_question_set(args.question_set)
    if qset.split != "tune":
        print(f"{args.question_set}: split is {qset.split!r}; weights are fitted on a tune set only", file=sys.stderr)
        return 2
    with Assistant.from_settings(Settings(data_dir=args.data_dir, backend="extractive")) as assistant:
        samples = collect(assistant, qset.questions)
    base = default_weights()
    rescore(samples, base)
    before = replay(samples, base)
    chosen, _ = search(samples, base)
    fitted = ascend(samples, chosen)
    chosen, figures = search(samples, fitted)
    chosen, figures = refusal_point(samples, chosen)
    # The rest once more at that floor; the abstention settings stay as chosen.
    chosen, figures = search(samples, chosen, fixed=("answer_min", "sim_min"))
    result = {"set": str(args.question_set), "questions": len(samples), "before": before, "after": figures,
              "weights": chosen.to_dict(), "curve": curve(samples, chosen)}
    if args.write:
        path = Path(__file__).resolve().parent.parent / "assistant" / "reading_weights.json"
        path.write_text(json.dumps(chosen.to_dict(), indent=2) + "\n", encoding="utf-8")
        result["written"] = str(path)
    print(json.dumps(result, indent=1) if args.json else _table(result))
    return 0


def _table(result: dict) -> str:
    lines = [f"{result['questions']} questions read from {result['set']}",
             f"before: {result['before']}", f"after:  {result['after']}", "weights: " + json.dumps(result["weights"]),
             "abstention curve (answer_min: false refusals of answerable / wrong answers to unanswerable, key-point recall):"]
    lines += [f"  {'answer_min' if 'answer_min' in r else 'sim_min'} {r.get('answer_min', r.get('sim_min')):.4f}: "
              f"{r['false_refusals']:.2f} / {r['wrong_answers']:.2f}, {r['key_point_recall']:.3f}" for r in result["curve"]]
    if "written" in result:
        lines.append(f"written to {result['written']}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
