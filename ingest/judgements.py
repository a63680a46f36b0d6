"""Ofsted judgements stated in a report, as records with the quote each one came from.

Grades sit in table rows ("2.1 Adoption performance<TAB>Good"), headings ("... graded as:
**Good**"), list items ("... - Requires improvement to be good") and sentences ("Services for
children in Southend-on-Sea require improvement to be good, as was the case at the last
inspection in 2016"). Free-text retrieval answers "which councils were rated good?" badly, so
ingest reads them once into records.

Precision over recall: a grade is only taken when it is tied to a judgement area (or to the
services as a whole) by a judging phrase, so "nationally 57% rated as requires improvement",
"good-quality services" or another council's grade quoted in passing yield nothing. A report
with no judgements yields an empty list, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

EXTRACTOR_VERSION = 1  # bump when extraction changes, so stored reports are read again

GRADES = ("Outstanding", "Good", "Requires improvement to be good", "Inadequate")

# Judgement areas across Ofsted's frameworks, longest phrasing first within each.
AREAS: dict[str, str] = {
    "overall": "Overall effectiveness",
    "leadership": "Leaders and management",  # ILACS: impact of leaders; SIF: leadership, management and governance
    "help_protection": "Help and protection",
    "in_care": "Children in care",  # ILACS: with care leavers; SIF: looked after and achieving permanence
    "adoption": "Adoption",
    "care_leavers": "Care leavers",
    "lscb": "Local Safeguarding Children Board",
    "safeguarding": "Safeguarding (pre-2013 inspection)",
}
AREA_ORDER = tuple(AREAS)

_EXPERIENCE = r"(?:(?:the\s+)?experiences?\s+(?:and\s+progress\s+)?of\s+)?"
_AREA_PATTERNS: dict[str, str] = {
    "overall": r"overall\s+effectiveness(?:\s+of\s+children's\s+(?:social\s+care\s+)?services)?",
    "leadership": (
        r"(?:the\s+)?impact\s+of\s+leaders(?:\s+on\s+social\s+work\s+practice"
        r"(?:\s+(?:with|for|within)\s+children(?:\s+and\s+families)?)?)?"
        r"|(?:the\s+)?leadership,?\s+management\s+(?:and|&)\s+governance"
    ),
    "help_protection": _EXPERIENCE + r"children\s+(?:who\s+need|in\s+need\s+of)\s+help\s+and\s+protection",
    "in_care": (
        _EXPERIENCE + r"children\s+(?:in\s+care|looked\s+after)"
        r"(?:\s+(?:and|&)\s+(?:care\s+leavers|achieving\s+permanence))?"
    ),
    "adoption": r"adoption\s+performance",
    "care_leavers": _EXPERIENCE + r"care\s+leavers",
    "lscb": r"(?:the\s+)?local\s+safeguarding\s+children'?s?\s+board(?:\s+\(LSCB\))?",
}
AREA_RE = re.compile("|".join(f"(?P<{key}>{p})" for key, p in _AREA_PATTERNS.items()), re.IGNORECASE | re.MULTILINE)

# A grade, with the verb forms reports use ("require improvement", "required improvement").
_GRADE = (
    r"(?P<grade>outstanding|good|inadequate"
    r"|(?:requires?|required|requiring)\s+improvement(?:\s+to\s+be\s+good)?)"
)
# What may follow a grade: the end of the phrase, never "good-quality" or "good or better".
_GRADE_END = r"[*'\"’”]*(?=(?:\s*$|\s*[.,;:)(\t]|\s+(?:and|but|as|across|overall|in\s+all)\b))"
_OPEN = r"[*'\"‘“]*"

# Between an area and its grade: a table gap, a dash, a colon or a judging phrase.
_LINK = (
    r"(?:\s*\t[\t ]*|\s+[-–—:]\s+|\s*:\s*"
    r"|\s*\n?\s*graded\s+as\s*:?\s*"
    r"|\s+(?:is|are|was|were|has\s+been|have\s+been)\s+(?:judged|rated|graded|found)\s+(?:to\s+be\s+|as\s+)?"
    r"|\s+is\s+that\s+it\s+is\s+"
    r"|(?:(?!\b(?:who|which|whose|where|that|schools?|homes?|providers?|nationally|national)\b)[^.\n]){0,60}?"
    r"\b(?:deemed|judged|rated|graded)\s+(?:to\s+(?:be\s+)?|as\s+)?"
    r"|\s+(?=requir))"  # "... Board requires improvement"
)
AREA_GRADE_RE = re.compile(rf"(?:{AREA_RE.pattern}){_LINK}{_OPEN}{_GRADE}{_GRADE_END}", re.IGNORECASE | re.MULTILINE)

# The services as a whole: "Children's services in Southend-on-Sea require improvement to be
# good", "Southwark Council's services for children and families are good".
_PLACE = r"(?-i:(?:\s+in\s+[A-Z][\w'-]*(?:[\s-]+(?:[A-Z][\w'-]*|on|upon|under|of|the|and|le)(?=[\s-]|$))*)?)"
_SERVICES = (
    r"(?:children's\s+(?:social\s+care\s+)?services|services\s+for\s+children(?:\s+and\s+(?:families|young\s+people))?)"
)
OVERALL_RE = re.compile(
    rf"(?P<subject>{_SERVICES}{_PLACE})\s+"
    rf"(?:(?:are|is|were|was)\s+(?:(?:judged|rated|graded|found)\s+(?:to\s+be\s+|as\s+)?)?)?"
    rf"{_OPEN}{_GRADE}{_GRADE_END}",
    re.IGNORECASE | re.MULTILINE,
)
# "... concluded that overall, they continue to 'Require improvement to be good.'"
OVERALL_THEY_RE = re.compile(
    rf"\boverall,?\s+(?:they|services|it)\s+(?:continues?\s+to\s+|are\s+|is\s+)?{_OPEN}{_GRADE}{_GRADE_END}",
    re.IGNORECASE | re.MULTILINE,
)
# Ofsted's own "Previous Ofsted inspections" lines in SIF reports.
PREVIOUS_SIF_RE = re.compile(
    r"The\s+last\s+inspection\s+of\s+the\s+local\s+authority's\s+"
    r"(?P<what>safeguarding\s+arrangements|services\s+for\s+looked\s+after\s+children)\s+was\s+in\s+"
    r"(?P<when>(?:[A-Z][a-z]+\s+)?(?P<year>(?:19|20)\d\d))\.\s+The\s+local\s+authority\s+was\s+judged\s+to\s+be\s+"
    + _OPEN + _GRADE + _GRADE_END,
    re.IGNORECASE | re.MULTILINE,
)
AS_BEFORE_RE = re.compile(
    r"as\s+was\s+the\s+case\s+at\s+the\s+(?:last|previous)\s+inspection\s+in\s+(?P<year>(?:19|20)\d\d)", re.IGNORECASE
)
PREVIOUS_CUE_RE = re.compile(
    r"\b(?:last|previous|prior|earlier)\s+inspection(?:\s+in\s+(?:[A-Z][a-z]+\s+)?(?P<year>(?:19|20)\d\d))?",
    re.IGNORECASE | re.MULTILINE,
)
LIST_MARK_RE = re.compile(r"[-*•#\s]*(?:\d+(?:\.\d+)*\.?\s+)?")
ALL_AREAS_RE = re.compile(r"\bacross\s+all\s+(?:areas|judgements|judgments)\b", re.IGNORECASE | re.MULTILINE)

FRAMEWORK_AREAS = {  # the graded sub-judgements "across all areas" stands for
    "ILACS": ("leadership", "help_protection", "in_care"),
}
_FRAMEWORKS = (
    ("ILACS", re.compile(r"\bILACS\b|inspection\s+of\s+local\s+authority\s+children's\s+(?:social\s+care\s+)?services", re.I)),
    ("SIF", re.compile(r"\bsingle\s+inspection\s+framework\b|\bSIF\b|achieving\s+permanence|leadership,\s+management\s+and\s+governance", re.I)),
    ("ILACS", re.compile(r"impact\s+of\s+leaders\s+on\s+social\s+work\s+practice", re.I)),
    ("focused visit", re.compile(r"\bfocus+ed\s+visit\b", re.I)),
)
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_DAY = r"\d{1,2}(?:<sup>)?(?:st|nd|rd|th)?(?:</sup>)?"
INSPECTED_RE = re.compile(
    rf"(?:inspection\s+date:\s*|between\s+|from\s+|during\s+)"
    rf"(?P<when>(?:{_DAY}\s+(?:{_MONTH}\s+)?(?:and|to|-|–)\s+{_DAY}\s+{_MONTH}(?:\s+(?P<y1>(?:19|20)\d\d))?)"
    rf"|(?:{_DAY}\s+{_MONTH}(?:\s+(?:19|20)\d\d)?\s+(?:and|to|-|–)\s+{_DAY}\s+{_MONTH}\s+(?P<y2>(?:19|20)\d\d))"
    rf"|(?:{_MONTH}\s+(?P<y3>(?:19|20)\d\d)))",
    re.IGNORECASE | re.MULTILINE,
)
PUBLISHED_RE = re.compile(
    rf"(?:report\s+published:\s*|report\s+was\s+published\s+on\s+)(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<month>{_MONTH})\s+(?P<year>(?:19|20)\d\d)",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class Judgement:
    """One graded judgement, as the report states it, with the exact span it came from."""

    area: str  # a key of AREAS
    grade: str  # one of GRADES
    area_text: str  # the report's own words for the area ("" where the services as a whole)
    grade_text: str  # the report's own words for the grade
    quote: str  # == report_text[start:end]; contains the grade
    start: int
    end: int
    previous: bool = False  # the inspection before the one this report is about
    inspection_year: int | None = None
    framework: str | None = None  # "ILACS", "SIF", "focused visit"; None where not stated
    inspected: str | None = None  # the report's words for the inspection dates
    published: str | None = None  # ISO date the Ofsted report was published

    @property
    def area_label(self) -> str:
        return AREAS.get(self.area, self.area)

    @property
    def words(self) -> str:
        """The report's own words for area and grade ("Adoption performance: Good"), or the grade's alone."""
        return f"{self.area_text}: {self.grade_text}" if self.area_text else self.grade_text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Judgement:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__ if k in data})


def normalise_grade(words: str) -> str:
    w = " ".join(words.lower().split())
    if w.startswith("outstanding"):
        return "Outstanding"
    if w.startswith("good"):
        return "Good"
    if w.startswith("inadequate"):
        return "Inadequate"
    return "Requires improvement to be good"


def _area_key(match: re.Match[str]) -> str:
    return next(key for key in _AREA_PATTERNS if match.group(key))


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence around ``start``..``end``: from after the last full stop or line break."""
    left = max(text.rfind(". ", 0, start) + 2, text.rfind("\n", 0, start) + 1, 0)
    stops = [i for i in (text.find(". ", end), text.find("\n", end)) if i != -1]
    return left, (min(stops) if stops else len(text))


MAX_QUOTE = 500
_TRAILING = " \t*'\"’”"


def _whole_statement(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence, table row or heading around a match, as a reader would quote it.

    Falls back to the match itself where that would run past ``MAX_QUOTE`` characters.
    """
    left, _ = _sentence(text, start, start)
    _, right = _sentence(text, end, end)
    if right < len(text) and text[right] == ".":
        right += 1
    left += len(LIST_MARK_RE.match(text, left).group(0))
    while right > end and text[right - 1] in " \t":
        right -= 1
    if left > start or right - left > MAX_QUOTE:
        return start, end
    return left, right


def framework_of(text: str) -> str | None:
    for name, pattern in _FRAMEWORKS:
        if pattern.search(text):
            return name
    return None


def inspection_dates(text: str, fallback_year: int | None) -> tuple[str | None, int | None]:
    """The report's words for when Ofsted inspected, and the year (the meeting's if unstated)."""
    for m in INSPECTED_RE.finditer(text):
        context = text[max(0, m.start() - 160) : m.start()].lower()
        if "inspect" not in context and not m.group(0).lower().startswith("inspection"):
            continue
        when = re.sub(r"</?sup>", "", m.group("when"))
        year = m.group("y1") or m.group("y2") or m.group("y3")
        return " ".join(when.split()), int(year) if year else fallback_year
    return None, fallback_year


def published_date(text: str) -> str | None:
    m = PUBLISHED_RE.search(text)
    if not m:
        return None
    month = [x.lower() for x in _MONTH.strip("(?:)").split("|")].index(m.group("month").lower()) + 1
    return f"{m.group('year')}-{month:02d}-{int(m.group('day')):02d}"


def extract_judgements(text: str, meeting_date: str | None = None) -> list[Judgement]:
    """Every judgement ``text`` states, current inspection first, one record per area and grade."""
    fallback = int(meeting_date[:4]) if meeting_date and meeting_date[:4].isdigit() else None
    framework = framework_of(text)
    inspected, year = inspection_dates(text, fallback)
    published = published_date(text)
    found: list[Judgement] = []

    def add(area: str, grade_text: str, area_text: str, start: int, end: int, *, previous_year: int | None = None,
            previous: bool = False, previous_when: str | None = None) -> None:
        start, end = _whole_statement(text, start, end)
        found.append(
            Judgement(
                area=area,
                grade=normalise_grade(grade_text),
                area_text=" ".join(area_text.split()),
                grade_text=" ".join(grade_text.split()),
                quote=text[start:end],
                start=start,
                end=end,
                previous=previous,
                inspection_year=previous_year if previous else year,
                framework=None if previous else framework,
                inspected=previous_when if previous else inspected,
                published=None if previous else published,
            )
        )

    def previous_cue(start: int, end: int) -> tuple[bool, int | None]:
        left, _ = _sentence(text, start, end)
        cue = PREVIOUS_CUE_RE.search(text, left, start)
        if cue is None:
            return False, None
        return True, int(cue.group("year")) if cue.group("year") else None

    taken: list[tuple[int, int]] = []
    for m in PREVIOUS_SIF_RE.finditer(text):
        area = "safeguarding" if m.group("what").lower().startswith("safeguarding") else "in_care"
        add(area, m.group("grade"), m.group("what"), m.start(), m.end(), previous=True,
            previous_year=int(m.group("year")), previous_when=m.group("when"))
        taken.append((m.start(), m.end()))

    for m in AREA_GRADE_RE.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        area = _area_key(m)
        is_prev, prev_year = previous_cue(m.start(), m.end())
        add(area, m.group("grade"), m.group(area), m.start(), m.end(), previous=is_prev, previous_year=prev_year)

    for pattern in (OVERALL_RE, OVERALL_THEY_RE):
        for m in pattern.finditer(text):
            if any(s <= m.start() < e for s, e in taken):
                continue
            is_prev, prev_year = previous_cue(m.start(), m.end())
            add("overall", m.group("grade"), "", m.start(), m.end(), previous=is_prev, previous_year=prev_year)
            left, right = _sentence(text, m.start(), m.end())
            before = AS_BEFORE_RE.search(text, m.end(), right)
            if before and not is_prev:
                add("overall", m.group("grade"), "", m.start(), before.end(), previous=True,
                    previous_year=int(before.group("year")))
            if ALL_AREAS_RE.search(text, m.end(), right) and not is_prev and framework in FRAMEWORK_AREAS:
                # "... require improvement to be good across all areas": every sub-judgement, quoted
                # from the paragraph that names them.
                line_start = text.rfind("\n", 0, m.start()) + 1
                line_start += len(LIST_MARK_RE.match(text, line_start).group(0))
                span_end = ALL_AREAS_RE.search(text, m.end(), right).end()
                for area in FRAMEWORK_AREAS[framework]:
                    add(area, m.group("grade"), "all areas", line_start, span_end)
    return _dedupe(found)


def _dedupe(found: list[Judgement]) -> list[Judgement]:
    """One record per (area, grade, current or previous): the first stated, which is the most direct."""
    out: dict[tuple, Judgement] = {}
    for j in sorted(found, key=lambda j: j.start):
        key = (j.area, j.grade, j.previous, j.inspection_year if j.previous else None)
        if key not in out:
            out[key] = j
    return sorted(out.values(), key=lambda j: (j.previous, AREA_ORDER.index(j.area), j.start))
