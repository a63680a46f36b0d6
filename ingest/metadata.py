"""Report metadata read from the front of a report, with the file name as fallback.

An Ofsted inspection report's cover is read by ``ingest.ofsted`` (title, authority, kind of
inspection, its dates, the lead inspector); everything else is read as a committee report.

Committee reports put council, meeting, date and subject on their cover in a handful of
layouts ("Date of Meeting: 21 October 2020", "Report ... to / Cabinet / on / 17th September
2019", "Meeting Name:\tCorporate Parenting Committee"). Each field tries the specific layouts
first and looser guesses after, so a clear label always beats a date found in passing.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from datetime import date
from pathlib import PurePath

from ingest.councils import find_mentions
from ingest.models import ReportMeta, content_hash
from ingest.ofsted import OfstedCover, plausible_publication, read_cover

METADATA_VERSION = 2  # bump when metadata is read differently, so stored reports' records are read again
COVER_CHARS = 4000  # metadata lives on the cover; the rest of a report mentions other dates freely

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ORDINAL = r"(?:st|nd|rd|th|<sup>(?:st|nd|rd|th)</sup>)?"
DATE_RE = re.compile(
    rf"\b(?P<day>\d{{1,2}}){_ORDINAL}\s+(?P<month>{_MONTH_RE})\.?,?\s+(?P<year>(?:19|20)\d\d)\b"
    rf"|\b(?P<iso>(?:19|20)\d\d-\d\d-\d\d)\b"
    rf"|\b(?P<dd>\d{{1,2}})/(?P<mm>\d{{1,2}})/(?P<yyyy>(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_MEETING_WORDS = re.compile(
    r"\b(Cabinet|Executive|Council|Committee|Board|Panel|Sub-Committee|Scrutiny|Forum)\b", re.I
)


def parse_date(text: str) -> str | None:
    """The first date in ``text`` as ISO 8601 ("17th September 2019" -> "2019-09-17")."""
    for m in DATE_RE.finditer(text):
        try:
            if m.group("iso"):
                return date.fromisoformat(m.group("iso")).isoformat()
            if m.group("yyyy"):
                return date(int(m.group("yyyy")), int(m.group("mm")), int(m.group("dd"))).isoformat()
            month = _MONTHS[m.group("month").lower().rstrip(".")]
            return date(int(m.group("year")), month, int(m.group("day"))).isoformat()
        except ValueError:
            continue
    return None


def _clean(value: str) -> str:
    value = re.sub(r"<[^>]+>", "", value)
    value = value.replace("**", "").replace("__", "")
    value = re.sub(r"^#+\s*", "", value.strip())
    return re.sub(r"\s+", " ", value).strip(" \t-–:")


def _labelled(cover: str, *labels: str) -> str | None:
    """The value after ``Label:`` on the same line (tab-separated tables included)."""
    for label in labels:
        m = re.search(rf"(?:^|\t)[*\s]*{label}\s*:?[*\s]*\t*\s*(?P<v>[^\t\n]+)", cover, re.I | re.M)
        if m and _clean(m.group("v")):
            return _clean(m.group("v"))
    return None


def _to_on_block(cover: str) -> tuple[str | None, str | None]:
    """``Report of X to / MEETING / on / DATE``, the layout of many borough cover sheets."""
    m = re.search(
        r"\bto\s*\n\s*(?P<meeting>[^\n]{3,80}?)\s*\n\s*on\s*\n\s*(?P<date>[^\n]{6,40})",
        cover,
        re.I,
    )
    if not m:
        return None, None
    return _clean(m.group("meeting")), parse_date(m.group("date"))


def _council(text: str, cover: str) -> str | None:
    """The gazetteer's name of the council the report is about, however the report spells it:
    one authority is one name ("Bristol City Council", never also "Bristol city council" or
    "City of Bristol"), so listings and filters group its reports together."""
    mentions = find_mentions(text[: COVER_CHARS * 4])
    if not mentions:
        return None
    # The cover names the council; the body names partners and neighbours, so cover hits weigh more.
    scores: Counter = Counter()
    for m in mentions:
        scores[m.council] += 5 if m.start < len(cover) else 1
    return scores.most_common(1)[0][0].name


def _meeting(cover: str, to_on_meeting: str | None) -> str | None:
    value = _labelled(cover, r"Meeting\s+Name", r"Meeting", r"Committee")
    if value and not DATE_RE.search(value):
        return value
    m = re.search(r"^\s*Report\s+to\s+(?:the\s+)?(?P<m>[A-Z][^\n]{2,60})$", cover, re.M)
    if m:
        return _clean(m.group("m"))
    if to_on_meeting:
        return to_on_meeting
    # A cover line that is nothing but a meeting name: "**Cabinet**".
    for line in cover.splitlines()[:40]:
        line = _clean(line)
        if line and len(line.split()) <= 5 and _MEETING_WORDS.search(line) and not re.search(r"council$", line, re.I):
            return line
    return None


def _meeting_date(cover: str, to_on_date: str | None) -> str | None:
    for label in (r"Date\s+of\s+(?:the\s+)?Meeting", r"Meeting\s+Date"):
        value = _labelled(cover, label)
        if value and parse_date(value):
            return parse_date(value)
    if to_on_date:
        return to_on_date
    # "PEOPLE SCRUTINY COMMITTEE - TUESDAY, 12TH JULY, 2016"
    m = re.search(r"^.*\b(?:COMMITTEE|CABINET|COUNCIL|BOARD)\b.*$", cover, re.M)
    if m and parse_date(m.group(0)):
        return parse_date(m.group(0))
    value = _labelled(cover, r"Date")
    if value and parse_date(value):
        return parse_date(value)
    return parse_date(cover)


def _title(cover: str) -> str | None:
    value = _labelled(cover, r"Subject\s+of\s+Report", r"Report\s+title", r"Subject", r"Title")
    if value:
        return value
    m = re.search(r"^#\s+(?P<t>.+)$", cover, re.M)
    if m:
        return _clean(m.group("t"))
    blocks = [b for b in re.split(r"\n\s*\n", cover) if b.strip()]
    # A cover paragraph set wholly in bold is the report's subject in many layouts.
    for block in blocks:
        b = block.strip()
        if b.startswith("**") and b.endswith("**") and ":" not in b and len(_clean(b).split()) >= 4:
            return _clean(b)
    for block in blocks:
        b = _clean(block)
        if (
            4 <= len(b.split()) <= 25
            and ":" not in b
            and not b.endswith(".")
            and not DATE_RE.search(b)
            and not re.match(r"Report (?:of|to|prepared|from)\b", b)
            and re.search(r"\b(Ofsted|Inspection|Report|Plan|Review)\b", b)
        ):
            return b
    return None


def slugify(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-") or "report"


def report_id_for(source: str) -> str:
    """The id a report gets from its file name when no other report holds it already.

    Ofsted's file names repeat across councils, so the indexer decides which stored report a
    file is (by its path, or for uploads by what it states) and gives a second report of the
    same name this id with a suffix; see ``vectorstore.indexer``.

    The slug keeps ASCII letters and digits only. A name with other letters (Welsh "ŵ",
    Polish "ł", Arabic, Chinese) has them folded to ASCII where they have a base letter, plus
    a short hash of the whole name: otherwise "adroddiad-ŵyl.txt" and "adroddiad-wyl.txt", or
    any two Chinese names (both "report"), would share an id and one would replace the other.
    """
    stem = PurePath(source).stem
    if not any(c.isalnum() and not c.isascii() for c in stem):
        return slugify(stem)
    folded = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    digest = hashlib.sha256(stem.encode("utf-8")).hexdigest()[:8]
    return f"{slugify(folded)}-{digest}"


def extract_metadata(text: str, source: str, file_type: str = "txt", *, report_id: str | None = None) -> ReportMeta:
    cover = text[:COVER_CHARS]
    stem = PurePath(source).stem
    file_date = parse_date(stem.replace("_", "-"))
    common = {"report_id": report_id or report_id_for(source), "source": source,
              "content_hash": content_hash(text), "file_type": file_type}
    ofsted = read_cover(text)
    if ofsted is not None:
        return _ofsted_metadata(ofsted, text, cover, file_date, common)
    to_on_meeting, to_on_date = _to_on_block(cover)
    meeting_date = _meeting_date(cover, to_on_date) or file_date
    return ReportMeta(
        council=_council(text, cover),
        meeting=_meeting(cover, to_on_meeting),
        title=_title(cover) or stem.replace("-", " ").replace("_", " "),
        date=meeting_date,
        kind="committee report",
        date_kind="meeting" if meeting_date else None,
        **common,
    )


def _ofsted_metadata(ofsted: OfstedCover, text: str, cover: str, file_date: str | None, common: dict) -> ReportMeta:
    """An Ofsted report is dated by its publication, with the inspection's days beside it.

    The publication date is the report's own ("Report published: 8 August 2014") where it
    states one; ILACS reports do not, and then the file name's date is taken if it can be one
    (Ofsted names its downloads by publication date), else the inspection's last day, and
    ``date_kind`` says which it is.
    """
    place = find_mentions(ofsted.place, capitalised_only=False) if ofsted.place else []
    inspected = ofsted.inspected
    published = ofsted.published or plausible_publication(file_date, inspected)
    if ofsted.published:
        when, date_kind = ofsted.published, "published"
    elif published:
        when, date_kind = published, "published (file name)"
    elif inspected:
        when, date_kind = inspected.end, "inspection end"
    else:
        when, date_kind = None, None
    return ReportMeta(
        council=place[0].council.name if place else _council(text, cover),
        meeting=None,
        title=ofsted.title,
        date=when,
        kind=ofsted.kind,
        date_kind=date_kind,
        inspection_start=inspected.start if inspected else None,
        inspection_end=inspected.end if inspected else None,
        published=published,
        lead_inspector=ofsted.lead_inspector,
        **common,
    )
