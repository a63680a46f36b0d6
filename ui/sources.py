"""How report text reaches the page: as literal text, never as markup.

A citation opens its passage, or the whole report, with the cited quote marked: plain
functions returning HTML, so they can be tested without a browser. The quote is cut from the
text by its stored offsets, never searched for, so the mark is exactly what was verified.

Everything else Streamlit shows is Markdown (answers, captions, chips, expander and progress
labels), and report text reaches all of it: answers quote reports, chips and headings carry
section titles and council names. ``md_text`` and ``answer_markdown`` make such text Markdown
that shows exactly its own characters, so a line like ``![x](http://evil.example/t.png)``,
``<img src=x onerror=...>`` or ``[click](javascript:...)`` is read, not rendered.
A report is data, never markup.
"""

from __future__ import annotations

import html
import re

from assistant.models import Citation, format_date
from ingest.models import ReportMeta

MARK_STYLE = "background: #ffe066; padding: 0 2px; border-radius: 2px"
SECTION_STYLE = "background: #f1f3f6"
TEXT_STYLE = "white-space: pre-wrap; font-family: 'Source Sans Pro', sans-serif; font-size: 0.92rem; line-height: 1.5"


# Every ASCII punctuation character. CommonMark lets any of them be escaped with a backslash and
# then always shows it as itself, so escaping them all leaves no emphasis, code, link, image,
# HTML, entity, list, heading, table, math (``\$``), nor Streamlit's ``:red[...]``,
# ``:material/...:`` and ``:emoji:`` directives.
_MD_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# GFM's autolink literals are found in the text after escapes are resolved, so escaping cannot
# stop them. They need a URL to follow the start, a space or punctuation, and an email's domain
# to follow its "@" directly: an invisible WORD JOINER in front of "http://"/"www." and after "@"
# leaves nothing to link (measured in Chromium: tests/test_ui_safety.py).
_AUTOLINK = re.compile(r"(?=https?://|www\.)|(?<=@)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def md_text(text: str) -> str:
    """``text`` as Markdown that shows these very characters, its line breaks kept. Leading
    spaces go: four of them would start a code block, which shows the escapes."""
    return "  \n".join(
        _MD_PUNCTUATION.sub(r"\\\1", _AUTOLINK.sub(WORD_JOINER, line.strip())) for line in text.splitlines()
    )


_BOLD_LINE = re.compile(r"\s*(\*\*|__)(.+?)\1(:?)\s*")
_HEADING = re.compile(r"\s*(#{1,6})\s+")
_BULLET = re.compile(r"\s*[-*+\u2022]\s+")


def answer_markdown(answer: str) -> str:
    """An answer (report quotes under our headings, or an LLM's lines) as Markdown: its layout
    kept (heading lines, bold heading lines, bullets, line breaks), every word of it shown as
    written. Numbered items keep their own numbers as text; a Markdown list would renumber them."""
    lines = []
    for line in answer.splitlines():
        if bold := _BOLD_LINE.fullmatch(line):
            lines.append(f"**{md_text(bold.group(2))}**{md_text(bold.group(3))}")
        elif heading := _HEADING.match(line):
            lines.append(f"{heading.group(1)} {md_text(line[heading.end() :])}")
        elif bullet := _BULLET.match(line):
            lines.append(f"- {md_text(line[bullet.end() :])}")
        else:
            lines.append(md_text(line))
    return "  \n".join(lines)


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
