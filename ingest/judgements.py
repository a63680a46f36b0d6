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

Ofsted's own reports state their grades on lines of their own: the ILACS grade table as PDF
text ("The impact of leaders on social work / practice with children and families /
Outstanding"), judgement headings ("The experiences and progress of children in care: good"),
SIF's judgement list ("2.1 Adoption performance Good"). Those (``stated_as`` "table" or
"heading") decide an area's grade; an Ofsted report's sentences count only where they open
with their subject, since its running text discusses parts of services. An ILACS table with
no overall row (the April 2026 reform) is reported by ``no_overall_grade``, never filled in.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from ingest.ofsted import read_cover

EXTRACTOR_VERSION = 2  # bump when extraction changes, so stored reports are read again

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
    "overall": (
        r"overall\s+effectiveness(?:\s+of\s+children['’]s\s+(?:social\s+care\s+)?services)?"
        r"|(?<=The\s)overall\s+judge?ment"  # SIF: "The overall judgement is requires improvement"
    ),
    "leadership": (
        r"(?:the\s+)?impact\s+of\s+leaders(?:\s+on\s+(?:social\s+work\s+)?practice"  # "on practice": 2026
        r"(?:\s+(?:with|for|within)\s+children(?:\s+and\s+families)?)?)?"
        r"|(?:the\s+)?leadership,?\s+management\s+(?:and|&)\s+governance"
        r"|(?<![\w,]\s)(?<!\w)leadership\s+and\s+management(?=[ \t]+(?:outstanding|good|inadequate)\b)"  # older tables
    ),
    "help_protection": _EXPERIENCE + r"children\s+(?:who\s+need|in\s+need\s+of)\s+help\s+and\s+protection",
    "in_care": (
        _EXPERIENCE + r"children\s+(?:in\s+care|looked\s+after)"
        r"(?:\s+(?:and|&)\s+(?:care\s+leavers|achieving\s+permanence))?"
    ),
    "adoption": r"adoption\s+performance",
    "care_leavers": _EXPERIENCE + r"care\s+leavers",
    "lscb": (
        r"(?:the\s+)?local\s+safeguarding\s+children['’]?s?\s+board(?:\s+\(LSCB\))?"
        r"|(?<=effectiveness\sof\s)the\s+LSCB"
    ),
}
AREA_RE = re.compile("|".join(f"(?P<{key}>{p})" for key, p in _AREA_PATTERNS.items()), re.IGNORECASE | re.MULTILINE)

# A grade, with the verb forms reports use ("require improvement", "required improvement").
GRADE_WORDS = r"(?:outstanding|good|inadequate|requires?\s+improvement(?:\s+to\s+be\s+good)?)"  # any grade, as a pattern
_GRADE = (
    r"(?P<grade>outstanding|good|inadequate"
    r"|(?:requires?|required|requiring)\s+improvement(?:\s+to\s+be\s+good)?)"
)
# What may follow a grade: the end of the phrase, never "good-quality" or "good or better".
_GRADE_END = r"[*'\"’”]*(?=(?:\s*$|\s*[.,;:)(\t]|\s+(?:and|but|as|across|overall|in\s+all)\b|[ \t]+Grade[ \t]+\d))"
_OPEN = r"[*'\"‘“]*"

# Between an area and its grade: a table gap, a dash, a colon or a judging phrase.
_LINK = (
    r"(?:\s*\t[\t ]*|\s+[-–—:]\s+|\s*:\s*"
    r"|\s*\n?\s*graded\s+as\s*:?\s*"
    r"|\s+(?:is|are|was|were|has\s+been|have\s+been)\s+(?:judged|rated|graded|found)\s+(?:to\s+be\s+|as\s+)?"
    r"|(?:[ \t]+\n?|[ \t]*\n)[ \t]*(?=" + GRADE_WORDS + r"[ \t]*(?:Grade[ \t]+\d[ \t]*)?$)"  # a table row: the grade ends the line
    r"|\s+(?:is|are)(?:\s*:\s*|\s+)(?:that\s+(?:it\s+is\s+|children['’]s\s+services\s+(?:are\s+|is\s+|(?=requir))))?"
    r"|(?:(?!\b(?:who|which|whose|where|that|schools?|homes?|providers?|nationally|national)\b)[^.\n]){0,60}?"
    r"\b(?:deemed|judged|rated|graded)\s+(?:to\s+(?:be\s+)?|as\s+)?"
    r"|\s+(?=requir))"  # "... Board requires improvement"
)
AREA_GRADE_RE = re.compile(rf"(?:{AREA_RE.pattern}){_LINK}{_OPEN}{_GRADE}{_GRADE_END}", re.IGNORECASE | re.MULTILINE)

# The services as a whole: "Children's services in Southend-on-Sea require improvement to be
# good", "Southwark Council's services for children and families are good".
_PLACE = (
    r"(?-i:(?:\s+in\s+(?:the\s+)?[A-Z][\w'’-]*(?:[\s-]+(?:[A-Z][\w'’-]*|on|upon|under|of|the|and|le)(?=[\s-]|$))*"
    r"(?:\s+area)?)?)"  # "in the Borough of Redcar and Cleveland area"
)
_SERVICES = (
    r"(?:children['’]s\s+(?:social\s+care\s+)?services|services\s+for\s+children(?:\s+and\s+(?:families|young\s+people))?)"
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
    r"The\s+last\s+inspection\s+of\s+the\s+local\s+authority['’]s\s+"
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
_BULLETS = "-*•#◼▪●■\uf000-\uf0ff"  # PDFs carry bullets as squares and private-use glyphs
LIST_MARK_RE = re.compile(rf"[{_BULLETS}\s]*(?:\d+(?:\.\d+)*\.?\s+)?")
ALL_AREAS_RE = re.compile(r"\bacross\s+all\s+(?:areas|judgements|judgments)\b", re.IGNORECASE | re.MULTILINE)

FRAMEWORK_AREAS = {  # the graded sub-judgements "across all areas" stands for
    "ILACS": ("leadership", "help_protection", "in_care"),
}
_FRAMEWORKS = (
    ("ILACS", re.compile(r"\bILACS\b|inspection\s+of\s+local\s+authority\s+children['’]s\s+(?:social\s+care\s+)?services", re.I)),
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
    # How the report states it: "table" (a row of its grade table or judgement list), "heading"
    # (a judgement heading, "... children in care: good"), "sentence" (in running text). Where
    # a report states an area in its table or headings, its sentences do not count for it.
    stated_as: str = "sentence"

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


_LIST_ITEM = re.compile(rf"^[ \t]*[{_BULLETS}]")


def _list_lead_in(text: str, start: int) -> tuple[int, int] | None:
    """For a list item at ``start``, the span of the lines introducing its list (up to the line
    ending in ":" above the items), where a list such as "The judgements for the local
    authority were:" says which inspection its grades are from. None for anything else."""
    line_start = text.rfind("\n", 0, start) + 1
    if not _LIST_ITEM.match(text, line_start):
        return None
    pos = line_start
    for _ in range(20):
        if pos == 0:
            return None
        prev_start = text.rfind("\n", 0, pos - 1) + 1
        line = text[prev_start : pos - 1]
        pos = prev_start
        if not line.strip() or _LIST_ITEM.match(line):
            continue
        if line.rstrip().endswith(":"):
            lead_start = prev_start
            for _ in range(2):  # the lead-in sentence may start a line or two higher
                if lead_start == 0:
                    break
                lead_start = text.rfind("\n", 0, lead_start - 1) + 1
            return lead_start, prev_start + len(line)
        return None
    return None


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


def _stated_as(text: str, m: re.Match[str]) -> str:
    """"table" or "heading" where the statement is a line (or lines) of its own: it opens its
    line (after a list mark) and its grade closes it; "sentence" otherwise."""
    line_start = text.rfind("\n", 0, m.start()) + 1
    if not _STATEMENT_LEAD.fullmatch(text, line_start, m.start()):
        return "sentence"
    line_end = text.find("\n", m.end())
    if not _STATEMENT_TAIL.fullmatch(text, m.end(), len(text) if line_end == -1 else line_end):
        return "sentence"
    between = text[m.end(_area_group(m)) : m.start("grade")] if _area_group(m) else ":"
    return "heading" if re.search(r"[:A-Za-z]", between) else "table"


def _area_group(m: re.Match[str]) -> str | None:
    return next((key for key in _AREA_PATTERNS if key in m.re.groupindex and m.group(key)), None)


# What may open a judgement's own line before its area ("2.1 ", "The graded judgment for the ")
# and close it after its grade (a full stop, "Grade 4").
def _lead(space: str, overall: str = "") -> re.Pattern[str]:
    """What may open a grade's statement before its area ("2.1 ", "The graded judgment for the ")."""
    return re.compile(
        rf"{space}*(?:[{_BULLETS}]\s*)?(?:\d+(?:\.\d+)*\.?{space}+)?{overall}(?:The{space}+)?"
        rf"(?:(?:graded{space}+)?judge?ment{space}+for{space}+(?:the{space}+)?)?(?:effectiveness{space}+of{space}+(?:the{space}+)?)?",
        re.IGNORECASE,
    )


# On its own line, after a list mark at most.
_STATEMENT_LEAD = _lead(r"[ \t]")
# A sentence an Ofsted report states a grade in opens with its subject: "Children's services in
# Lewisham require improvement to be good. ...", "The judgement for overall effectiveness is
# inadequate." Not "Health outcomes for looked after children and care leavers are inadequate".
_SENTENCE_LEAD = _lead(r"\s", r"(?:Overall,?\s+)?")
# "... to ensure that all services for children are good": what is wanted, not what was found.
_PURPOSE = re.compile(r"\b(?:ensur(?:e|es|ing)|make\s+sure|so)\s+that\b", re.I)
_STATEMENT_TAIL = re.compile(r"[ \t*.'\"’”]*(?:Grade[ \t]+\d[ \t]*)?")

def stated_grades(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the grades ``text[start:end]`` states on lines of their own (table rows, judgement
    headings, the lines of a judgement list), in order: where the section parser finds a
    report's grade table and its judgement headings."""
    end = len(text) if end is None else end
    spans = []
    for pattern in (AREA_GRADE_RE, OVERALL_RE):
        for m in pattern.finditer(text, start, end):
            if _stated_as(text, m) != "sentence":
                spans.append((m.start(), m.end()))
    return sorted(spans)


REFORM_START = "2026-04-01"  # ILACS inspections from April 2026 give no overall effectiveness grade
NO_OVERALL_AFTER_REFORM = "no overall effectiveness grade after the April 2026 reform"
NO_OVERALL_STATED = "no overall effectiveness grade stated"


def no_overall_grade(judgements: list[Judgement], inspection_start: str | None = None) -> str | None:
    """Why an ILACS report that grades its judgements in a table gives no overall effectiveness
    grade, or None where it gives one (or grades nothing, or is not ILACS). The table itself
    is the evidence: three or more sub-judgements graded in it (or in headings) and no overall row."""
    current = [j for j in judgements if not j.previous]
    if any(j.area == "overall" for j in current):
        return None
    tabled = {j.area for j in current if j.stated_as != "sentence" and j.framework == "ILACS"}
    if len(tabled) < 3:
        return None
    return NO_OVERALL_AFTER_REFORM if (inspection_start or "") >= REFORM_START else NO_OVERALL_STATED


def extract_judgements(text: str, meeting_date: str | None = None) -> list[Judgement]:
    """Every judgement ``text`` states, current inspection first, one record per area and grade.

    An Ofsted report's own cover (``ingest.ofsted``) gives the framework and the inspection's
    dates; a committee report's are read from its text.
    """
    fallback = int(meeting_date[:4]) if meeting_date and meeting_date[:4].isdigit() else None
    cover = read_cover(text)
    if cover is not None:
        framework = cover.framework
        inspected = cover.inspected.words if cover.inspected else None
        year = int(cover.inspected.start[:4]) if cover.inspected else fallback
        published = cover.published
    else:
        framework = framework_of(text)
        inspected, year = inspection_dates(text, fallback)
        published = published_date(text)
    found: list[Judgement] = []
    asides: set[int] = set()  # sentences about part of a service: an Ofsted report's own grades open their sentence

    def add(area: str, grade_text: str, area_text: str, start: int, end: int, *, previous_year: int | None = None,
            previous: bool = False, previous_when: str | None = None, stated_as: str = "sentence") -> None:
        if stated_as == "sentence":
            opening = _sentence_start(text, start)
            if _PURPOSE.search(text, opening, start):
                return
            if not _SENTENCE_LEAD.fullmatch(text, opening, start):
                asides.add(len(found))
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
                stated_as=stated_as,
            )
        )

    def previous_cue(start: int, end: int) -> tuple[bool, int | None]:
        left, _ = _sentence(text, start, end)
        cue = PREVIOUS_CUE_RE.search(text, left, start)
        if cue is not None:
            return True, int(cue.group("year")) if cue.group("year") else None
        lead = _list_lead_in(text, start)
        if lead is None or (cue := PREVIOUS_CUE_RE.search(text, *lead)) is None:
            return False, None
        # "The last inspection report ... was published in September 2015. The judgements ... were:"
        year = cue.group("year") or next(iter(re.findall(r"\b(?:19|20)\d\d\b", text[lead[0] : lead[1]])), None)
        return True, int(year) if year else None

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
        add(area, m.group("grade"), m.group(area), m.start(), m.end(), previous=is_prev, previous_year=prev_year,
            stated_as=_stated_as(text, m))

    for pattern in (OVERALL_RE, OVERALL_THEY_RE):
        for m in pattern.finditer(text):
            if any(s <= m.start() < e for s, e in taken):
                continue
            is_prev, prev_year = previous_cue(m.start(), m.end())
            add("overall", m.group("grade"), "", m.start(), m.end(), previous=is_prev, previous_year=prev_year,
                stated_as=_stated_as(text, m))
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
    if cover is not None:  # an Ofsted report: its running text discusses parts of its services
        found = [j for i, j in enumerate(found) if j.previous or i not in asides]
    return _dedupe(found)


def _sentence_start(text: str, pos: int) -> int:
    """Where the sentence holding ``pos`` begins, across the line breaks of wrapped text."""
    stop = max(text.rfind(". ", 0, pos), text.rfind(".\n", 0, pos), text.rfind(":\n", 0, pos),
               text.rfind("\n\n", 0, pos), text.rfind("\n \n", 0, pos))
    return 0 if stop < 0 else stop + 1


def _dedupe(found: list[Judgement]) -> list[Judgement]:
    """One record per (area, grade, current or previous): the first stated, which is the most direct.

    Where the report states an area's current grade in its table or headings, that is the
    grade: the first such statement wins, and sentences (which may be about part of a service,
    or quote another inspection) add nothing for the area.
    """
    structured: dict[str, Judgement] = {}
    for j in sorted(found, key=lambda j: j.start):
        if not j.previous and j.stated_as != "sentence":
            structured.setdefault(j.area, j)
    out: dict[tuple, Judgement] = {}
    for j in sorted(found, key=lambda j: j.start):
        if not j.previous and j.area in structured and j.grade != structured[j.area].grade:
            continue
        key = (j.area, j.grade, j.previous, j.inspection_year if j.previous else None)
        if key not in out:
            out[key] = j
    return sorted(out.values(), key=lambda j: (j.previous, AREA_ORDER.index(j.area), j.start))
