"""Measure the coverage threshold of the citation verifier on the sample reports.

    .venv/bin/python -m bench.bench_verifier [--json] [--min-true-accept 0.99]

Every section body of the five sample reports becomes a passage; every sentence or list item
of it with at least 3 content words becomes a claim, paraphrased deterministically two ways
(numbers, negations and quotations always kept, as a fair paraphrase keeps them):

- light: every 4th content word dropped, two function words dropped, every 3rd remaining
  content word's plural flipped (what the stemmer must absorb);
- synonym: light, and every 5th remaining content word replaced by a word found nowhere (a
  synonym the stemmer cannot match).

For each claim it records (a) its coverage by its own section, which the threshold must
accept ("TA"), and (b) its best coverage by a window of another section, which the threshold
should reject ("FA"): any other section of the corpus, another report's, or one of the 5
sections most like its own (what retrieval would show beside it). Sections that say the same
thing (verbatim, or a window with the same content words both ways) are skipped: citing them
is right. All coverage is gated as ``verify`` gates it (numbers, negation, quotations).

It prints percentiles, TA and FA at thresholds 0.50..0.95, FA by claim length, and
recommends the highest threshold that still accepts ``--min-true-accept`` of synonym
paraphrases: above it TA collapses while FA barely moves.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from assistant.models import Passage
from assistant.verify import PassageIndex, Probe
from ingest.loaders import load_document
from ingest.parse import parse_document
from reports_qa.settings import SAMPLE_REPORTS_DIR

THRESHOLDS = [round(0.5 + 0.05 * k, 2) for k in range(10)]
PERCENTILES = [1, 5, 10, 25, 50, 75, 90, 95, 99]
MIN_TERMS = 3
LENGTHS = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 14), (15, 1000)]
_DROPPABLE = {"the", "a", "an", "of", "that", "which"}


def load_passages() -> list[Passage]:
    """One passage per non-empty section body of the sample reports, numbered across them."""
    passages: list[Passage] = []
    for path in sorted(Path(SAMPLE_REPORTS_DIR).glob("*.txt")):
        report = parse_document(
            load_document(path),
            count_tokens=lambda t: len(t.split()),
            max_tokens=200,
            model_max_tokens=256,
            overlap_tokens=40,
        )
        for section in report.sections:
            text = report.text[section.body_start : section.body_end]
            if not text.strip():
                continue
            passages.append(
                Passage(
                    number=len(passages) + 1,
                    report_id=report.meta.report_id,
                    source=report.meta.source,
                    council=report.meta.council,
                    meeting=report.meta.meeting,
                    date=report.meta.date,
                    section_id=section.id,
                    section=section.label,
                    section_title=section.title,
                    section_path=section.path,
                    text=text,
                    start=section.body_start,
                    end=section.body_end,
                )
            )
    return passages


def _is_content(word: str) -> bool:
    """A word the paraphrase may drop or replace: a content word, not a number or negation."""
    terms = Probe.of(word).terms
    return bool(terms) and all(t.isalpha() for t in terms)


def _inflect(word: str) -> str:
    """Singular to plural and back, as a rewording does: "family" <-> "families"."""
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word if word.endswith(("s", "x", "z", "ch", "sh")) else word + "s"


def paraphrase(sentence: str, *, synonyms: bool) -> str:
    """A deterministic rewording that keeps every number, negation and quotation, as a fair
    paraphrase must."""
    out: list[str] = []
    content = kept = dropped = 0
    quoting = False
    for word in sentence.split():
        opens = word[:1] in "'\"‘“" and not quoting
        quoting = (quoting or opens) and not (word.rstrip(".,;:!?)")[-1:] in "'\"’”" and len(word) > 1)
        if opens or quoting or word.rstrip(".,;:!?)")[-1:] in "'\"’”":
            out.append(word)
            continue
        if word.casefold() in _DROPPABLE and dropped < 2:
            dropped += 1
            continue
        if not _is_content(word):
            out.append(word)
            continue
        content += 1
        if content % 4 == 0:
            continue
        kept += 1
        core = re.sub(r"\W+$", "", word)
        tail = word[len(core) :]
        if synonyms and kept % 5 == 0:
            core = "qzxsynonym"
        elif kept % 3 == 0 and core.isalpha() and core.islower():
            core = _inflect(core)
        out.append(core + tail)
    return " ".join(out)


def neighbours(indexes: list[PassageIndex], k: int) -> dict[int, set[int]]:
    """The ``k`` sections whose words are most like each section's: what retrieval would show
    beside it for a question it answers."""
    vocab = {ix.passage.number: set().union(*(w.terms for w in ix.windows)) for ix in indexes}
    near = {}
    for n, words in vocab.items():
        ranked = sorted(
            (len(words & other) / max(1, len(words | other)), m) for m, other in vocab.items() if m != n
        )
        near[n] = {m for _, m in ranked[-k:]}
    return near


def measure(passages: list[Passage], k: int = 5) -> list[dict]:
    """Per claim: its own coverage, and its best coverage by another section of the corpus,
    of another report, and of the ``k`` sections nearest its own."""
    indexes = [PassageIndex(p) for p in passages]
    report_of = {p.number: p.report_id for p in passages}
    near = neighbours(indexes, k)
    rows = []
    for own in indexes:
        n = own.passage.number
        for a, b in own.units:
            sentence = own.passage.text[a:b]
            original = Probe.of(sentence)
            others = [ix for ix in indexes if ix is not own and not _says_same(ix, original)]
            row = {"passage": n, "terms": len(original.terms), "sentence": sentence,
                   "duplicated": len(others) < len(indexes) - 1}
            for kind in ("light", "synonym"):
                probe = Probe.of(paraphrase(sentence, synonyms=kind == "synonym"))
                row[f"{kind}_own"] = own.coverage(probe)[1]
                scores = [(ix.coverage(probe)[1], ix.passage.number) for ix in others]
                row[f"{kind}_other"], row[f"{kind}_other_passage"] = max(scores)
                row[f"{kind}_other_report"] = max(s for s, m in scores if report_of[m] != report_of[n])
                row[f"{kind}_near"] = max((s for s, m in scores if m in near[n]), default=0.0)
            rows.append(row)
    return rows


def _says_same(index: PassageIndex, original: Probe) -> bool:
    """The other section holds this sentence too: verbatim, or a window whose content words and
    the sentence's match both ways (the same list item in two reports, a repeated summary)."""
    if index.verbatim(original):
        return True
    return any(original.terms <= w.terms and len(original.terms) >= 0.8 * len(w.terms) for w in index.windows)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def _rate(rows: list[dict], key: str, t: float) -> float:
    return round(sum(r[key] >= t for r in rows) / max(1, len(rows)), 4)


COLUMNS = {  # printed name -> row key
    "light TA": "light_own",
    "syn TA": "synonym_own",
    "FA any": "light_other",
    "syn FA any": "synonym_other",
    "FA other rpt": "light_other_report",
    "FA near5": "light_near",
    "syn FA near5": "synonym_near",
}


def summarise(rows: list[dict], min_true_accept: float) -> dict:
    main = [r for r in rows if r["terms"] >= MIN_TERMS]
    out: dict = {
        "passages": len({r["passage"] for r in rows}),
        "claims": len(main),
        "short_claims_excluded": len(rows) - len(main),
        "duplicated_elsewhere": sum(r["duplicated"] for r in main),
        "percentiles": {
            name: {f"p{q}": round(percentile([r[key] for r in main], q), 3) for q in PERCENTILES}
            for name, key in COLUMNS.items()
        },
        "rates": {str(t): {name: _rate(main, key, t) for name, key in COLUMNS.items()} for t in THRESHOLDS},
        "false_accept_by_length": {
            (f"{lo}-{hi}" if hi < 1000 else f"{lo}+"): {
                "n": len(bucket := [r for r in rows if lo <= r["terms"] <= hi]),
                **{str(t): _rate(bucket, "light_other", t) for t in THRESHOLDS},
            }
            for lo, hi in LENGTHS
        },
    }
    ok = [t for t in THRESHOLDS if out["rates"][str(t)]["syn TA"] >= min_true_accept]
    out["recommended_threshold"] = max(ok) if ok else None
    out["min_true_accept"] = min_true_accept
    out["worst_false_accepts"] = [
        {"coverage": r["light_other"], "claim_passage": r["passage"], "accepted_by": r["light_other_passage"],
         "sentence": r["sentence"][:120]}
        for r in sorted(main, key=lambda r: (-r["light_other"], -r["terms"]))[:5]
    ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--min-true-accept", type=float, default=0.99,
                        help="share of synonym paraphrases the threshold must still accept")
    args = parser.parse_args()
    summary = summarise(measure(load_passages()), args.min_true_accept)
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{summary['passages']} passages, {summary['claims']} claims of {MIN_TERMS}+ content words "
          f"({summary['short_claims_excluded']} shorter left out; {summary['duplicated_elsewhere']} also said "
          f"by another section, which is skipped for them)\n")
    print(f"{'coverage':<13}" + "".join(f"{'p' + str(q):>6}" for q in PERCENTILES))
    for name, pct in summary["percentiles"].items():
        print(f"{name:<13}" + "".join(f"{v:>6.2f}" for v in pct.values()))
    print(f"\n{'threshold':>9}" + "".join(f"{name:>13}" for name in COLUMNS))
    for t, rates in summary["rates"].items():
        print(f"{float(t):>9.2f}" + "".join(f"{v:>13.1%}" for v in rates.values()))
    print("\nFA any (light) by content words in the claim")
    print(f"{'words':>6} {'n':>5}" + "".join(f"{t:>7.2f}" for t in THRESHOLDS))
    for name, row in summary["false_accept_by_length"].items():
        print(f"{name:>6} {row['n']:>5}" + "".join(f"{row[str(t)]:>7.1%}" for t in THRESHOLDS))
    print("\nlongest claims another section accepts at the highest coverage (light)")
    for w in summary["worst_false_accepts"]:
        print(f"  {w['coverage']:.2f}  [{w['claim_passage']}] accepted by [{w['accepted_by']}]: {w['sentence']}")
    print(f"\nrecommended threshold (highest accepting >= {summary['min_true_accept']:.0%} of synonym "
          f"paraphrases): {summary['recommended_threshold']}")


if __name__ == "__main__":
    main()
