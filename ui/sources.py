"""What a citation opens: its passage, or the whole report, with the cited quote marked.

Plain functions returning HTML so they can be tested without a browser. The quote is cut from
the text by its stored offsets, never searched for, so the mark is exactly what was verified.
Everything from a report is escaped: a report is data, never markup.
"""

from __future__ import annotations

import html

from assistant.models import Citation, format_date
from ingest.models import ReportMeta

MARK_STYLE = "background: #ffe066; padding: 0 2px; border-radius: 2px"
SECTION_STYLE = "background: #f1f3f6"
TEXT_STYLE = "white-space: pre-wrap; font-family: 'Source Sans Pro', sans-serif; font-size: 0.92rem; line-height: 1.5"


def _marked(text: str, start: int, end: int, mark_id: str = "") -> str:
    """``text`` escaped, with ``text[start:end]`` in a <mark>."""
    ident = f' id="{mark_id}"' if mark_id else ""
    return (
        html.escape(text[:start])
        + f'<mark{ident} style="{MARK_STYLE}">{html.escape(text[start:end])}</mark>'
        + html.escape(text[end:])
    )


def passage_html(citation: Citation) -> str:
    """The cited section's text with the quote marked."""
    p = citation.passage
    body = _marked(p.text, citation.start - p.start, citation.end - p.start)
    return f'<div class="cited-passage" style="{TEXT_STYLE}">{body}</div>'


def report_html(report_text: str, citation: Citation) -> str:
    """A whole report for an iframe: the cited section shaded, its quote marked, scrolled there."""
    p = citation.passage
    section = _marked(report_text[p.start : p.end], citation.start - p.start, citation.end - p.start, "cited")
    body = (
        html.escape(report_text[: p.start])
        + f'<span id="section" style="{SECTION_STYLE}">{section}</span>'
        + html.escape(report_text[p.end :])
    )
    return (
        f'<div style="{TEXT_STYLE}; margin: 0 8px">{body}</div>'
        '<script>document.getElementById("cited").scrollIntoView({block: "center"});</script>'
    )


def facts(citation: Citation, meta: ReportMeta | None) -> list[tuple[str, str]]:
    """The rows a reader checks a source by: which report, which meeting, which section."""
    p = citation.passage
    rows = [
        ("Report", (meta.title if meta and meta.title else p.source)),
        ("Council", p.council or "not stated"),
        ("Meeting", p.meeting or "not stated"),
        ("Date", format_date(p.date) if p.date else "not stated"),
        ("Section", " › ".join(p.section_path)),
        ("File", p.source + (f", page {p.page}" if p.page else "") + f", characters {citation.start}–{citation.end}"),
    ]
    return rows
