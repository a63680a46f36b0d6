"""What an Ofsted report's own cover says about it: title, authority, kind, dates, inspector.

Every Ofsted inspection report opens with a title ("Inspection of Dorset local authority
children's services", "Inspection of services for children in need of help and protection,
children looked after and care leavers", "Inspection of looked after children services"),
usually beside the authority's name, then labelled lines: "Inspection date(s):", "Lead
inspector:", and in older layouts "Report published:". Those are read here, once, for the
metadata (``ingest.metadata``) and the judgement records (``ingest.judgements``): the product
never needs anything but the report itself.

A committee report is not an Ofsted report even when it appends one: only the first page counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

COVER_CHARS = 2500  # the title, the dates and the inspector all sit on the first page

_MONTHS = {
    name: i
    for i, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
         ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"),
         ("nov", "november"), ("dec", "december")],
        start=1,
    )
    for name in names
}
_MONTH = "(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d\d"
_DASH = r"(?:\s*(?:to|and|[-–—─])\s*)"
# "17 March to 21 March 2025", "11 to 22 May 2026", "18 Feb 2014 – 12 March 2014", "15-19 July 2013"
DATE_RANGE_RE = re.compile(
    rf"(?P<d1>{_DAY})(?:\s+(?P<m1>{_MONTH}))?(?:\s+(?P<y1>{_YEAR}))?{_DASH}"
    rf"(?P<d2>{_DAY})\s+(?P<m2>{_MONTH})\s+(?P<y2>{_YEAR})",
    re.IGNORECASE,
)
SINGLE_DATE_RE = re.compile(rf"(?P<d>{_DAY})\s+(?P<m>{_MONTH})\s+(?P<y>{_YEAR})", re.IGNORECASE)

_LABEL_DATES = re.compile(r"^\s*(?:Inspection\s+dates?|Dates?\s+of\s+inspection)\s*:?\s*(?P<v>.*\S)", re.I | re.M)
_LABEL_PUBLISHED = re.compile(r"^\s*(?:Report\s+)?published\s*:?\s*(?P<v>.*\S)", re.I | re.M)
_LABEL_INSPECTOR = re.compile(r"^\s*(?:Lead|Reporting)\s+inspector\s*:?\s*(?P<v>.*\S)", re.I | re.M)
_INSPECTOR_TITLE = re.compile(
    r"[,\s]*(?:\(?HMI\)?|(?:His|Her)\s+Majesty['’]s\s+Inspector(?:\s+\(HMI\))?|Ofsted\s+Inspector|\(?OI\)?)\s*$", re.I
)

# Where a title starts: the words Ofsted opens its report titles with.
_TITLE_START = re.compile(
    r"^\s*(?:(?:Re-)?inspection\s+of|Review\s+of|Focused\s+visit|Monitoring\s+visit|Joint\s+targeted\s+area\s+inspection)\b",
    re.I,
)
_APOS = "['’]"
# The authority inside a title: "Inspection of Dorset local authority children's services",
# "Inspection of Buckinghamshire Council children's services", "Inspection of Bradford Children
# and Families Trust", "Focused visit to Kent local authority children's services".
_PLACE_IN_TITLE = (
    re.compile(rf"^(?:Re-)?inspection\s+of\s+(?P<place>.+?)\s+local\s+authority\s+children{_APOS}s\s+services", re.I),
    re.compile(rf"^(?:Focused|Monitoring)\s+visit\s+to\s+(?P<place>.+?)\s+(?:local\s+authority\s+)?children{_APOS}s\s+services", re.I),
    re.compile(rf"^Joint\s+targeted\s+area\s+inspection\s+of\s+.*?\bin\s+(?P<place>[A-Z].+)$", re.I),
    re.compile(rf"^Inspection\s+of\s+(?P<place>(?!services\b|children|local\b|looked\b|safeguarding\b).+?)\s+children{_APOS}s\s+services", re.I),
    re.compile(r"^Inspection\s+of\s+(?P<place>.+?\bTrust)\b", re.I),
)
# "Children's services in Buckinghamshire are inadequate": the SIF headline names the place too.
_PLACE_IN_HEADLINE = re.compile(
    rf"^Children{_APOS}s\s+services\s+in\s+(?P<place>.+?)\s+(?:are|is|require)\b", re.I | re.M
)
# A committee report's cover, which may quote an inspection's dates: then it is no Ofsted report.
_COMMITTEE_COVER = re.compile(
    r"^\s*(?:Report\s+(?:of|to|from)\b|Date\s+of\s+(?:the\s+)?meeting|Meeting(?:\s+(?:name|date))?\s*:"
    r"|Agenda\s+item|Subject(?:\s+of\s+report)?\s*:|Cabinet\s+member|Wards?\s+affected)",
    re.I | re.M,
)
_FOOTNOTE_AFTER_WORD = re.compile(r"(?<=[a-z])\d{1,2}(?=\s*$)")
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?\d{1,4}\s*$", re.I)
_DATES_AND_PAGE = re.compile(rf"^.*\b{_YEAR}\s+\d{{1,3}}\s*$")

ILACS, SIF = "ILACS", "SIF"
SHORT_INSPECTION_DAYS = 7  # ILACS short inspections take one week on site, standard ones two


@dataclass(frozen=True)
class DateRange:
    start: str  # ISO
    end: str  # ISO: the last day the report names
    first_end: str  # ISO: the end of the first run of days ("5 to 9 December 2022 and 14 to 15 February 2023")
    words: str  # the report's words

    @property
    def first_days(self) -> int:
        return (date.fromisoformat(self.first_end) - date.fromisoformat(self.start)).days


@dataclass(frozen=True)
class OfstedCover:
    """The first page of an Ofsted report, as the report states it."""

    title: str  # the report's own title, on one line, without footnote marks
    place: str | None  # the authority as the cover names it ("Dorset", "City of Bradford Metropolitan District Council")
    kind: str  # "ILACS standard inspection", "SIF inspection", "looked after children inspection", ...
    framework: str | None  # "ILACS", "SIF", "focused visit", ...; None for the older inspections
    inspected: DateRange | None
    published: str | None  # ISO, where the report states it
    lead_inspector: str | None


def _iso(day: str, month: str, year: str) -> str | None:
    try:
        return date(int(year), _MONTHS[month.lower().rstrip(".")], int(re.match(r"\d+", day).group(0))).isoformat()
    except (KeyError, ValueError):
        return None


def parse_range(words: str) -> DateRange | None:
    """Inspection dates as ISO start and end; a missing month or year comes from the end date."""
    ranges = list(DATE_RANGE_RE.finditer(words))
    if not ranges:
        one = SINGLE_DATE_RE.search(words)
        day = _iso(one.group("d"), one.group("m"), one.group("y")) if one else None
        return DateRange(day, day, day, " ".join(words.split())) if day else None
    first, last = ranges[0], ranges[-1]
    end = _iso(last.group("d2"), last.group("m2"), last.group("y2"))
    first_end = _iso(first.group("d2"), first.group("m2"), first.group("y2"))
    start = _iso(first.group("d1"), first.group("m1") or first.group("m2"), first.group("y1") or first.group("y2"))
    if start and first_end and start > first_end:  # "29 December to 9 January 2015": the year before
        start = _iso(first.group("d1"), first.group("m1") or first.group("m2"), str(int(first.group("y2")) - 1))
    if not (start and end and first_end):
        return None
    return DateRange(start, end, first_end, " ".join(words[first.start() : last.end()].split()))


def parse_single_date(words: str) -> str | None:
    m = SINGLE_DATE_RE.search(words)
    return _iso(m.group("d"), m.group("m"), m.group("y")) if m else None


def _title_lines(cover: str, label_at: int) -> tuple[list[str], list[str], list[str]]:
    """The cover lines before the dates label: (those above the title, the title's, those after)."""
    lines = [ln.strip() for ln in cover[:label_at].split("\n")]
    lines = [ln for ln in lines if ln and not _PAGE_NUMBER.match(ln)]
    # A copy of the running header above the title ("Inspection of Plymouth City Council
    # children's services / 22 January to 2 February 2024 1") is not the title.
    header = {i for i, ln in enumerate(lines) if _DATES_AND_PAGE.match(ln)}
    lines = [ln for i, ln in enumerate(lines) if not ({i, i + 1} & header)]
    starts = [i for i, ln in enumerate(lines) if _TITLE_START.match(ln)]
    if not starts:
        return lines, [], []
    first = starts[0]
    # A title runs over several lines ("Inspection of services for children in need of help and /
    # protection, ..."); the authority may follow it ("Inspection of looked after children services /
    # Medway Council"). A line that is a running header copy ends with its page number.
    title, after = [], []
    for ln in lines[first:]:
        if after or (title and _is_place_line(ln) and not title[-1].lower().endswith(("and", "of", ","))):
            after.append(ln)
        else:
            title.append(ln)
    return lines[:first], title, after


def _is_place_line(line: str) -> bool:
    """A line naming an authority: "Medway Council", "Buckinghamshire County Council"."""
    return bool(re.search(r"\b(?:Council|Borough|City|County)\s*$", line)) and len(line.split()) <= 8


def _clean_title(lines: list[str]) -> str:
    joined = " ".join(_FOOTNOTE_AFTER_WORD.sub("", ln).strip() for ln in lines)
    return re.sub(r"\s+", " ", joined).strip(" ,")


def _kind(title: str, inspected: DateRange | None, graded_table: bool) -> tuple[str, str | None]:
    t = title.lower()
    if t.startswith("focused visit"):
        return "focused visit", "focused visit"
    if t.startswith("monitoring visit"):
        return "monitoring visit", "monitoring visit"
    if t.startswith("joint targeted area inspection"):
        return "joint targeted area inspection", "JTAI"
    if "children in need of help and protection" in t:
        return ("SIF re-inspection" if t.startswith("re-inspection") else "SIF inspection"), SIF
    if "safeguarding" in t and "looked after" in t:
        return "safeguarding and looked after children inspection", None
    if "looked after" in t:
        return "looked after children inspection", None
    if "safeguarding" in t:
        return "safeguarding inspection", None
    if re.search(rf"children{_APOS}s\s+(?:social\s+care\s+)?services|\btrust\b", t) or graded_table:
        if inspected is None:
            return "ILACS inspection", ILACS
        short = inspected.first_days <= SHORT_INSPECTION_DAYS
        return ("ILACS short inspection" if short else "ILACS standard inspection"), ILACS
    return "Ofsted inspection", None


def read_cover(text: str) -> OfstedCover | None:
    """The cover of ``text`` if it is an Ofsted report's: a title and an inspection-dates label
    on its first page. None for anything else (committee reports included)."""
    cover = text[:COVER_CHARS]
    label = _LABEL_DATES.search(cover)
    if label is None or _COMMITTEE_COVER.search(cover, 0, label.start()):
        return None
    above, title_lines, after = _title_lines(cover, label.start())
    if not title_lines:
        return None
    title = _clean_title(title_lines)
    place = None
    for pattern in _PLACE_IN_TITLE:
        m = pattern.match(title)
        if m:
            place = m.group("place").strip()
            break
    if place is None:
        place = _clean_title(above) or _clean_title(after) or None
    if place is None:
        headline = _PLACE_IN_HEADLINE.search(cover)
        place = headline.group("place") if headline else None
    inspected = parse_range(label.group("v"))
    published = _LABEL_PUBLISHED.search(cover)
    inspector = _LABEL_INSPECTOR.search(text)  # SIF names the lead inspector near its end
    graded_table = bool(re.search(r"^\s*Judgement\s+Grade\s*$", cover, re.M))
    kind, framework = _kind(title, inspected, graded_table)
    return OfstedCover(
        title=title,
        place=place,
        kind=kind,
        framework=framework,
        inspected=inspected,
        published=parse_single_date(published.group("v")) if published else None,
        lead_inspector=_inspector(inspector.group("v")) if inspector else None,
    )


def _inspector(value: str) -> str | None:
    name = _INSPECTOR_TITLE.sub("", value.strip())
    name = re.sub(r"\s+", " ", name).strip(" ,;")
    return name or None


def plausible_publication(file_date: str | None, inspected: DateRange | None) -> str | None:
    """A date from the file's name read as the publication date: Ofsted names its downloads by
    publication date ("children's services inspection - 09 may 2025.pdf"), weeks after the
    inspection. Only a date within a year after the inspection's end is taken."""
    if not file_date or inspected is None:
        return None
    end = date.fromisoformat(inspected.end)
    when = date.fromisoformat(file_date)
    return file_date if end <= when <= end + timedelta(days=365) else None
