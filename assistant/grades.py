"""Grade and comparison questions answered from the judgement records ingest extracted.

"Which councils were rated good overall?" or "How did Southend's grades change between 2016
and 2019?" are answered from records, each line citing the exact span its grade was read from,
instead of from whichever passages retrieval happens to rank first. Nothing here generates
text from a model: the wording is fixed and every grade is a stored quote's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from assistant.models import Citation, Passage, format_date
from ingest.judgements import AREA_ORDER, GRADES, Judgement
from ingest.models import ReportMeta

# A question about grades says so: "rated", "graded", "judgement", "Ofsted outcome".
INTENT = re.compile(
    r"\b(?:grades?|graded|grading|rated|ratings?|judge?ments?|judged|verdict|ofsted\s+(?:outcome|result)s?"
    r"|overall\s+effectiveness|(?:get|gets|got|getting|received|given|achieved|awarded)\s+(?:an?\s+)?"
    r"(?:outstanding|good|inadequate|requires?\s+improvement|ri)\b)",
    re.IGNORECASE,
)
WHY = re.compile(r"\b(?:why|reasons?|because|explain\w*|what\s+led|how\s+come|what\s+did\s+(?:ofsted|inspectors)\s+say)\b", re.I)
PREVIOUS = re.compile(r"\b(?:before|previous(?:ly)?|prior|preceding|last\s+(?:inspection|time)|earlier\s+inspection)\b", re.I)
# "Which councils required improvement ...?": asking who, naming a grade.
WHO = re.compile(r"\b(?:which|what)\s+(?:councils?|authorities|local\s+authorities|areas)\b|^\s*who\b", re.I)
NOT = re.compile(r"(?:\bnot|n't|\bnever|\bother\s+than|\bbelow|\bless\s+than)\b[\w\s]*$", re.I)
_GRADE_WORDS = (
    ("Requires improvement to be good", re.compile(r"\brequir\w*\s+improvement(?:\s+to\s+be\s+good)?|\bRI\b", re.I)),
    ("Outstanding", re.compile(r"\boutstanding\b", re.I)),
    ("Good", re.compile(r"\bgood\b", re.I)),
    ("Inadequate", re.compile(r"\binadequate\b", re.I)),
)
# How users name the areas, most specific first; a question may name several.
_QUESTION_AREAS = (
    ("in_care", re.compile(r"\bchildren\s+(?:in\s+care|looked\s+after)|\blooked[-\s]after\s+children|\bcla\b|achieving\s+permanence", re.I)),
    ("care_leavers", re.compile(r"\bcare\s+leavers?\b", re.I)),
    ("help_protection", re.compile(r"\bhelp\s+and\s+protection|\bchild\s+protection|\bneed\s+of\s+help", re.I)),
    ("leadership", re.compile(r"\bleaders?(?:hip)?\b|\bmanagement\s+and\s+governance|\bgovernance\b", re.I)),
    ("adoption", re.compile(r"\badoption\b", re.I)),
    ("lscb", re.compile(r"\blscb\b|safeguarding\s+(?:children\s+)?board", re.I)),
    ("safeguarding", re.compile(r"\bsafeguarding\s+(?:services|arrangements)\b", re.I)),
    ("overall", re.compile(r"\boverall\b", re.I)),
)
_RANK = {g: i for i, g in enumerate(reversed(GRADES))}  # Inadequate 0 .. Outstanding 3
SHORT = {"Requires improvement to be good": "Requires improvement"}


@dataclass(frozen=True)
class GradeQuery:
    areas: tuple[str, ...]  # empty: every area
    grades: tuple[str, ...]  # empty: any grade
    excluded: tuple[str, ...] = ()  # "wasn't good": the grade(s) negated, for the wording
    previous: bool = False  # about the inspection before the one a report is about
    why: bool = False  # also wants the reasons, from retrieved text


def parse(question: str) -> GradeQuery | None:
    """The grade question in ``question``, or None when it is not one."""
    named_grade = any(p.search(question) for _, p in _GRADE_WORDS)
    if not (INTENT.search(question) or (WHO.search(question) and named_grade)):
        return None
    rest = question
    grades: list[str] = []
    excluded: list[str] = []
    for grade, pattern in _GRADE_WORDS:
        for m in pattern.finditer(rest):
            if NOT.search(rest[max(0, m.start() - 24) : m.start()]):  # "wasn't good": every other grade
                excluded.append(grade)
                grades += [g for g in GRADES if g != grade and g not in grades]
            elif grade not in grades:
                grades.append(grade)
        rest = pattern.sub(" ", rest)  # "requires improvement to be good" is not also "good"
    areas = []
    rest = question
    for area, pattern in _QUESTION_AREAS:
        if pattern.search(rest):
            areas.append(area)
            rest = pattern.sub(" ", rest)
    if "care_leavers" in areas and "in_care" in areas:
        areas.remove("care_leavers")  # "children in care and care leavers" is one ILACS area
    return GradeQuery(tuple(areas), tuple(grades), tuple(excluded), bool(PREVIOUS.search(question)),
                      bool(WHY.search(question)))


def _matches_area(j: Judgement, areas: Sequence[str]) -> bool:
    if not areas:
        return True
    if j.area in areas:
        return True
    # ILACS judges care leavers with children in care: "care leavers" finds that record too.
    return "care_leavers" in areas and j.area == "in_care" and "leaver" in j.area_text.lower()


@dataclass
class GradeAnswer:
    text: str  # with [n] markers
    citations: list[Citation]
    passages: list[Passage]
    notes: list[str] = field(default_factory=list)


PassageFor = Callable[[ReportMeta, Judgement, int], Passage | None]


class _Citer:
    """Numbers each distinct quoted span once; a span shared by several records shares a marker."""

    def __init__(self, passage_for: PassageFor) -> None:
        self.passage_for = passage_for
        self.citations: list[Citation] = []
        self._by_span: dict[tuple[str, int, int], int] = {}

    def __call__(self, meta: ReportMeta, j: Judgement) -> str:
        key = (meta.report_id, j.start, j.end)
        if key not in self._by_span:
            number = len(self.citations) + 1
            passage = self.passage_for(meta, j, number)
            if passage is None:
                return ""
            self.citations.append(Citation(number, passage, j.quote, j.start, j.end))
            self._by_span[key] = number
        return f" [{self._by_span[key]}]"


def _when(meta: ReportMeta, j: Judgement) -> str:
    year = j.inspection_year or (int(meta.date[:4]) if meta.date else None)
    return str(year) if year else "undated"


def _inspection(meta: ReportMeta, js: Sequence[Judgement]) -> str:
    current = [j for j in js if not j.previous]
    first = current[0] if current else js[0]
    kind = f"{first.framework} inspection" if first.framework else "Ofsted inspection"
    dates = first.inspected or _when(meta, first)
    if first.inspected and str(first.inspection_year) not in first.inspected and first.inspection_year:
        dates += f" {first.inspection_year}"
    return f"{kind}, {dates}"


def area_words(j: Judgement) -> str:
    """The report's own name for the area ("The experience and progress of children in care and
    care leavers"), else ours."""
    words = j.area_text if j.area_text and j.area_text != "all areas" else j.area_label
    words = re.sub(r"^the\s+", "", words, flags=re.I)
    return words[0].upper() + words[1:]


def _lines(js: Sequence[Judgement], cite: Callable[[Judgement], str]) -> list[str]:
    """One line per judgement; those read from one "across all areas" statement share a line."""
    lines = []
    shared = [j for j in js if j.area_text == "all areas"]
    for j in js:
        if j in shared:
            if j is shared[0]:
                names = ", ".join(s.area_label.lower() for s in shared)
                lines.append(f"- All graded areas ({names}): {j.grade}{cite(j)}")
            continue
        lines.append(f"- {area_words(j)}: {j.grade}{cite(j)}")
    return lines


def answer(query: GradeQuery, reports: Sequence[ReportMeta], rows: Sequence[tuple[ReportMeta, Judgement]],
           passage_for: PassageFor, *, compare: bool, years: Sequence[int] = (),
           one_council: bool = False, earlier_reports: Sequence[ReportMeta] = ()) -> GradeAnswer | None:
    """The answer from records of ``reports``, or None when they hold no record that fits.

    ``earlier_reports``: the councils' earlier reports, when ``reports`` are each council's
    latest; who got a grade then is said after who has it now.
    """
    earlier_ids = {m.report_id for m in earlier_reports}
    earlier_rows = [(m, j) for m, j in rows if m.report_id in earlier_ids and _matches_area(j, query.areas)]
    in_scope = {m.report_id for m in reports}
    every = [(m, j) for m, j in rows if m.report_id in in_scope]
    rows = [(m, j) for m, j in every if _matches_area(j, query.areas)]
    cite = _Citer(passage_for)
    no_overall = [m for m in reports if m.no_overall_grade and "overall" in query.areas
                  and not any(r.report_id == m.report_id for r, _ in rows)]
    if no_overall and not query.grades:
        # After the April 2026 reform Ofsted gives no overall grade: say so, and give the rest.
        lines = []
        for m in no_overall:
            mine = [j for r, j in every if r.report_id == m.report_id and not j.previous]
            lines.append(f"{m.council or m.source}'s report ({_inspection(m, mine) if mine else m.kind or 'Ofsted'}) gives "
                         f"{m.no_overall_grade}. Its judgements:")
            lines += _lines(mine, lambda j, m=m: cite(m, j))
            lines.append("")
        if rows:
            lines += _by_report(query, rows, cite)
        text = "\n".join(lines).strip()
        return GradeAnswer(text, cite.citations, [c.passage for c in cite.citations]) if cite.citations else None
    if not rows:
        return None
    councils = sorted({m.council or m.source for m, _ in rows})
    if compare or (len({m.report_id for m, _ in rows}) > 1 and len(councils) == 1 and not query.grades):
        lines = _timeline(rows, cite, years)
    elif query.grades:
        # "Which councils were rated good?" means overall; "was Swindon rated good?" any area.
        lines = _with_grade(query, rows, cite, query.areas or (() if one_council else ("overall",)), earlier_rows)
    else:
        lines = _by_report(query, rows, cite)
    if not lines:
        return None
    return GradeAnswer("\n".join(lines).strip(), cite.citations, [c.passage for c in cite.citations])


def _by_report(query: GradeQuery, rows: Sequence[tuple[ReportMeta, Judgement]], cite: _Citer) -> list[str]:
    """Each report's judgements; the earlier inspection's when asked about, or as context."""
    lines: list[str] = []
    for meta in _reports_of(rows):
        js = [j for m, j in rows if m.report_id == meta.report_id]
        current = [j for j in js if not j.previous]
        earlier = [j for j in js if j.previous]
        if query.previous and earlier:
            current = []
        if current:
            reported = ", ".join(p for p in (meta.meeting, format_date(meta.date)) if p)
            lines.append(f"{meta.council or meta.source}, {_inspection(meta, current)}"
                         f"{f' (reported to {reported})' if reported else ''}:")
            lines += _lines(current, lambda j: cite(meta, j))
        if earlier and (query.previous or not query.areas or current):
            who = "" if current else f"{meta.council or meta.source}: "
            for year in sorted({j.inspection_year or 0 for j in earlier}):
                js_y = [j for j in earlier if (j.inspection_year or 0) == year]
                when = js_y[0].inspected or (str(year) if year else "")
                lines.append(f"{who}{'a' if who else 'A'}t the inspection before{f' ({when})' if when else ''}, "
                             "this report says Ofsted judged:")
                lines += _lines(js_y, lambda j: cite(meta, j))
        lines.append("")
    return lines


def _with_grade(query: GradeQuery, rows: Sequence[tuple[ReportMeta, Judgement]], cite: _Citer,
                areas: Sequence[str], earlier: Sequence[tuple[ReportMeta, Judgement]] = ()) -> list[str]:
    """Who got the grade(s) asked about; about one council, also its other grades; if nobody, the
    grades. ``earlier``: records of the councils' earlier reports, who got the grade(s) then."""
    wanted = set(query.grades)

    def asked(j: Judgement) -> bool:  # the inspection (this or the one before) and area asked about
        return j.previous == query.previous and (not areas or _matches_area(j, areas))

    current = [(m, j) for m, j in rows if asked(j)]
    if not current:
        return []
    hits = [(m, j) for m, j in current if j.grade in wanted]
    before = [(m, j) for m, j in chronological_rows(earlier) if asked(j) and j.grade in wanted]
    rest = [(m, j) for m, j in current if j.grade not in wanted]
    one_area = len({j.area for _, j in current}) == 1
    about = f" for {current[0][1].area_label.lower()}" if one_area else ""
    names = [SHORT.get(g, g) for g in query.grades]
    grades = " or ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " or " + names[-1]
    if query.excluded:
        grades = "other than " + " or ".join(SHORT.get(g, g) for g in query.excluded)
    councils = {m.council or m.source for m, _ in current}
    hit_councils = {m.council or m.source for m, _ in hits}
    # Say what the answer covers: how many councils' records were looked at, and which date a
    # year is (the inspection's, as the record states it).
    coverage = (f"{len(hit_councils)} of the {len(councils)} councils whose grades{about} I hold"
                if len(councils) > 1 else "")

    def item(m: ReportMeta, j: Judgement) -> str:
        area = "" if one_area else f" {area_words(j)}:"
        framework = f" ({j.framework})" if j.framework else ""
        return f"- {m.council or m.source}, {_when(m, j)}{framework}:{area} {j.grade}{cite(m, j)}"

    def earlier_lines() -> list[str]:  # cited after what comes before it, so markers run in order
        return [f"At earlier inspections, rated {grades}{about}:", *(item(m, j) for m, j in before)] if before else []

    if not hits:
        # Not "records Outstanding": a grade nobody was given is not repeated back (it may be bait).
        if before:
            return [f"No council's latest inspection I hold gives that grade{about}; the grades recorded:",
                    *(item(m, j) for m, j in rest), "", *earlier_lines()]
        return [f"No report I hold gives that grade{about}. The grades recorded:", *(item(m, j) for m, j in rest)]
    latest = "; each council's latest inspection" if earlier else ""
    header = f"Rated {grades}{about}" + (f" ({coverage}{latest}; years are inspection years)" if coverage else "")
    lines = [f"{header}:", *(item(m, j) for m, j in hits)]
    if rest and len({m.council for m, _ in current}) == 1:  # one council: its other grades help
        lines += ["Its other judgements:", *(item(m, j) for m, j in rest)]
    if before:
        lines += ["", *earlier_lines()]
    return lines


def chronological_rows(rows: Sequence[tuple[ReportMeta, Judgement]]) -> list[tuple[ReportMeta, Judgement]]:
    """Oldest inspection first, then council."""
    return sorted(rows, key=lambda mj: (mj[1].inspection_year or 0, mj[0].council or mj[0].source))


def _timeline(rows: Sequence[tuple[ReportMeta, Judgement]], cite: _Citer, within: Sequence[int] = ()) -> list[str]:
    """Per council and area, each inspection's grade in date order, with what changed.

    ``within``: the years a question names ("between 2016 and 2019"); grades outside are left out.
    """
    lines: list[str] = []
    for council in sorted({m.council or m.source for m, _ in rows}):
        mine = [(m, j) for m, j in rows if (m.council or m.source) == council]
        # One grade per area and inspection year; the report about that inspection wins over a
        # later report's "as at the last inspection".
        best: dict[tuple[str, str], tuple[ReportMeta, Judgement]] = {}
        for m, j in sorted(mine, key=lambda mj: mj[1].previous):
            year = _when(m, j)
            if within and not (year.isdigit() and min(within) <= int(year) <= max(within)):
                continue
            best.setdefault((j.area, year), (m, j))
        if not best:
            continue
        years = sorted({y for _, y in best})
        lines.append(f"{council}, Ofsted judgements by inspection ({', '.join(years)}):")
        for area in AREA_ORDER:
            steps = sorted(((y, mj) for (a, y), mj in best.items() if a == area), key=lambda s: s[0])
            if not steps:
                continue
            parts = [f"{y} {SHORT.get(j.grade, j.grade)}{cite(m, j)}" for y, (m, j) in steps]
            change = ""
            if len(steps) > 1:
                first, last = _RANK[steps[0][1][1].grade], _RANK[steps[-1][1][1].grade]
                change = " (unchanged)" if first == last else (" (improved)" if last > first else " (declined)")
            else:
                missing = [y for y in years if y != steps[0][0]]
                change = f" (not judged separately in {', '.join(missing)})" if missing else ""
            lines.append(f"- {steps[0][1][1].area_label}: {' → '.join(parts)}{change}")
        lines.append("")
    return lines


def _reports_of(rows: Sequence[tuple[ReportMeta, Judgement]]) -> list[ReportMeta]:
    seen: dict[str, ReportMeta] = {}
    for m, _ in rows:
        seen.setdefault(m.report_id, m)
    return list(seen.values())

