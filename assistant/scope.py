"""Which reports a question is about: filters given explicitly or read from the question.

"What needs to improve in North Somerset?" is about one report; "Southend in 2016" about one of
two; "how did Southend change?" about both; "Essex" about none we hold, which is said plainly
instead of answering from another council's report.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant.models import describe_meta, format_date
from ingest.councils import Council, find_mentions, lookup
from ingest.models import ReportMeta

# Place names that are also everyday words: only taken as places when capitalised.
_AMBIGUOUS = frozenset({"reading", "bury", "bath", "hull", "slough", "barking", "sutton", "wokingham"})
YEAR = re.compile(r"\b(?:19[89]\d|20\d\d)\b")
SEARCHABLE = re.compile(r"[A-Za-z0-9]")  # what keyword search and council names are made of
COMPARE = re.compile(
    r"\b(?:changed|changes? (?:between|since|from|over)|how\b.{0,40}\bchange\b|"
    # "compared with 2016" / "compare the last two", not "compared with the national average"
    r"compar\w*(?=(?:\W+\w+){0,4}?\W+(?:(?:19|20)\d\d|last|previous|earlier|before|then|ago|past)\b)|"
    r"differen\w* between|since (?:the )?(?:last|previous|\d{4})|better than|worse than|"
    r"improved since|over time|last time|previous (?:inspection|report|one)|"
    r"earlier (?:inspection|report|one)|between \d{4} and \d{4}|trend\w*|then and now|progress since)\b",
    re.IGNORECASE,
)


class ScopeError(ValueError):
    """Explicit filters that name nothing we hold (an unknown council, an impossible date)."""


@dataclass(frozen=True)
class Filters:
    """Restrictions on what may be searched; empty fields restrict nothing."""

    councils: tuple[str, ...] = ()
    report_ids: tuple[str, ...] = ()
    date_from: str | None = None  # ISO dates, inclusive
    date_to: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Filters:
        data = dict(data or {})
        unknown = set(data) - {"council", "councils", "report_id", "report_ids", "date_from", "date_to", "year"}
        if unknown:
            raise ScopeError(f"unknown filter(s): {', '.join(sorted(unknown))}")

        def many(*keys: str) -> tuple[str, ...]:
            out: list[str] = []
            for key in keys:
                value = data.get(key)
                if value:
                    out.extend([value] if isinstance(value, str) else list(value))
            return tuple(out)

        date_from, date_to = data.get("date_from"), data.get("date_to")
        if data.get("year"):
            year = int(data["year"])
            date_from, date_to = f"{year}-01-01", f"{year}-12-31"
        return cls(many("council", "councils"), many("report_id", "report_ids"), date_from, date_to)

    def to_dict(self) -> dict[str, Any]:
        return {
            "councils": list(self.councils),
            "report_ids": list(self.report_ids),
            "date_from": self.date_from,
            "date_to": self.date_to,
        }

    def __bool__(self) -> bool:
        return bool(self.councils or self.report_ids or self.date_from or self.date_to)


@dataclass
class Scope:
    """What one question may be answered from, and what the assistant should say about it."""

    reports: list[ReportMeta]  # in scope, oldest first; empty with ``refusal`` set
    named_councils: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    compare: bool = False
    notes: list[str] = field(default_factory=list)
    refusal: str | None = None
    inferred: bool = False
    earlier: list[ReportMeta] = field(default_factory=list)  # set aside for the latest; tried if it is silent

    @property
    def report_ids(self) -> list[str]:
        return [m.report_id for m in self.reports]

    @property
    def per_report(self) -> bool:
        """Answer report by report: a comparison, or a question naming several councils."""
        return (self.compare or len(self.named_councils) > 1) and len(self.reports) > 1

    def to_dict(self, catalogue_size: int) -> dict[str, Any]:
        return {
            "councils": self.named_councils,
            "years": self.years,
            "report_ids": self.report_ids if len(self.reports) < catalogue_size else [],
            "compare": self.compare,
            "inferred": self.inferred,
        }


def _year(meta: ReportMeta) -> int | None:
    return int(meta.date[:4]) if meta.date and meta.date[:4].isdigit() else None


def chronological(reports: list[ReportMeta]) -> list[ReportMeta]:
    return sorted(reports, key=lambda m: (m.date or "", m.report_id))


HELD_LISTED = 12  # councils named in "I hold reports on: …" before "and N more"


def held_summary(catalogue: list[ReportMeta]) -> str:
    """"North Somerset Council (21 Oct 2020); Southend-on-Sea Borough Council (12 Jul 2016, 17 Sep 2019)"."""
    by_council: dict[str, list[str]] = {}
    for meta in chronological(catalogue):
        by_council.setdefault(meta.council or meta.source, []).append(format_date(meta.date) or "undated")
    items = [f"{c} ({', '.join(d)})" for c, d in sorted(by_council.items())]
    # Measured by bench_growth: at 2,000 councils an unbounded list made a 77,000-character refusal.
    if len(items) > HELD_LISTED:
        rest = len(items) - HELD_LISTED
        items = [*items[:HELD_LISTED], f"and {rest} more council{'s' if rest > 1 else ''} (see `reports-qa reports`)"]
    return "; ".join(items)


def councils_named(question: str) -> list[Council]:
    """Councils a question names, in order, each once; lower-case everyday words don't count."""
    seen: list[Council] = []
    for m in find_mentions(question, capitalised_only=False):
        text = question[m.start : m.end]
        if text.lower() in _AMBIGUOUS and not text[0].isupper():
            continue
        if m.council not in seen:
            seen.append(m.council)
    return seen


def matching_reports(filters: Filters, catalogue: list[ReportMeta]) -> list[ReportMeta]:
    reports = list(catalogue)
    if filters.councils:
        wanted = set()
        for name in filters.councils:
            council = lookup(name)
            names = {name.casefold()} | ({council.name.casefold()} if council else set())
            matched = {m.council for m in catalogue if (m.council or "").casefold() in names}
            if not matched:
                raise ScopeError(f"I hold no report on {council.name if council else name}. I hold reports on: {held_summary(catalogue)}")
            wanted |= matched
        reports = [m for m in reports if m.council in wanted]
    if filters.report_ids:
        missing = set(filters.report_ids) - {m.report_id for m in catalogue}
        if missing:
            raise ScopeError(f"no report {', '.join(sorted(missing))} in the store")
        reports = [m for m in reports if m.report_id in filters.report_ids]
    if filters.date_from:
        reports = [m for m in reports if m.date and m.date >= filters.date_from]
    if filters.date_to:
        reports = [m for m in reports if m.date and m.date[:10] <= filters.date_to]
    return reports


YearsAbout = Callable[[ReportMeta], set[int]]


def _years_about(meta: ReportMeta, more: YearsAbout | None) -> set[int]:
    """The years a report is about: its own date's (meeting or publication), and those ``more``
    knows (the inspection it reports on, read from its text)."""
    years = {_year(meta)} - {None}
    return years | (more(meta) if more else set())


def infer_scope(question: str, catalogue: list[ReportMeta], filters: Filters | None = None,
                years_about: YearsAbout | None = None) -> Scope:
    """The reports ``question`` is about, within ``filters``, with notes for the reader.

    A year named in the question picks the reports about that year (by their date and by
    ``years_about``, e.g. the inspection a committee report discusses) and ranks undated reports
    after them, rather than filtering; a year set in ``filters`` is a hard filter on the report's
    date.
    """
    catalogue = chronological(catalogue)
    pool = matching_reports(filters, catalogue) if filters else catalogue
    scope = Scope(reports=pool, compare=bool(COMPARE.search(question)))
    if filters and not pool:
        scope.refusal = f"None of the reports I hold match those filters. I hold reports on: {held_summary(catalogue)}"
        return scope
    if not SEARCHABLE.search(question):
        # Emoji, stray control characters, or a script the English keyword search cannot read:
        # searching "nothing" would answer with whatever ranks first, so say so instead.
        scope.refusal = (
            "I found no words to search for in that question. I read questions in English, "
            'e.g. "What needs to improve in North Somerset?"'
        )
        scope.reports = []
        return scope

    held = {m.council for m in pool}
    named = councils_named(question)
    missing = [c for c in named if c.name not in held]
    present = [c for c in named if c.name in held]
    if named:
        scope.inferred = True
    if missing and not present:
        names = " or ".join(c.name for c in missing)
        scope.refusal = f"I hold no report on {names}. I hold reports on: {held_summary(catalogue)}."
        scope.reports = []
        return scope
    if missing:
        scope.notes.append(f"I hold no report on {', '.join(c.name for c in missing)}.")
    if present:
        scope.named_councils = [c.name for c in present]
        pool = [m for m in pool if m.council in scope.named_councils]

    years = sorted({int(y) for y in YEAR.findall(question)})
    if years:
        scope.inferred = True
        scope.years = years
        about = {m.report_id: _years_about(m, years_about) for m in pool}
        exact = [m for m in pool if about[m.report_id] & set(years)]
        near = [m for m in pool if any(abs(a - y) <= 1 for a in about[m.report_id] for y in years)]
        undated = [m for m in pool if not about[m.report_id]]
        if exact:
            # A year is a preference: reports about it first; a report with no date may still be.
            if not scope.compare or len(years) > 1:
                pool = exact + undated
        elif scope.compare and len(years) == 1:
            pass  # "how has it changed since 2018?": every report of the council, read in date order
        elif near or undated:
            pool = near + undated
            if near:
                scope.notes.append(
                    f"I hold no report about {' or '.join(map(str, years))}; the nearest is "
                    + ", ".join(describe_meta(m) for m in near)
                    + "."
                )
        else:
            where = f" on {' and '.join(scope.named_councils)}" if scope.named_councils else ""
            scope.refusal = (
                f"I hold no report{where} about {' or '.join(map(str, years))}. "
                f"I hold reports on: {held_summary([m for m in catalogue if not scope.named_councils or m.council in scope.named_councils])}."
            )
            scope.reports = []
            return scope

    if (scope.named_councils or (filters and filters.councils)) and not scope.compare and not years:
        pool = _latest_per_council(pool, scope)
    scope.reports = pool
    return scope


def latest_per_council(reports: list[ReportMeta]) -> list[ReportMeta]:
    """Each council's latest report (by date), in the order given."""
    latest: dict[str | None, ReportMeta] = {}
    for meta in chronological(reports):
        latest[meta.council] = meta
    return [m for m in reports if latest.get(m.council) is m]


def _latest_per_council(pool: list[ReportMeta], scope: Scope) -> list[ReportMeta]:
    """One report per council: the latest, noting the earlier ones so the reader can ask."""
    newest = latest_per_council(pool)
    latest = {m.council: m for m in newest}
    for council in dict.fromkeys(m.council for m in pool):
        meta = latest[council]
        earlier = [m for m in pool if m.council == council and m is not meta]
        if earlier:
            when = "; ".join(", ".join(p for p in (m.meeting, format_date(m.date)) if p) for m in earlier)
            scope.notes.append(
                f"This answer uses the latest report on {council} ({format_date(meta.date)}). "
                f"An earlier report is also held ({when}); name its year, or ask how things changed, to include it."
            )
    scope.earlier = [m for m in pool if latest[m.council] is not m]
    return newest

