"""The pieces an answer is made of: each section's heading, list items and sentences.

Chunks are what retrieval finds; units are what an answer quotes. Each unit is a span of the
report text (so it can be cited by offsets), knows its section, and, for a list item, which list
it is in and the unit that introduces that list (the section's heading, or a sentence ending in
":"). They are cut once at ingest and embedded there, so answering a question costs one
embedding (the question's) however many sentences the retrieved passages hold.

Lines are read as the report lays them out: a blank line or page furniture ends a block; inside a
block a line starting with a bullet or a paragraph number starts a new piece, and a line that does
not end a sentence runs on into the next (PDF text breaks sentences at the layout's line ends).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from ingest.models import Section, Unit
from ingest.sections import Layout

# A list item's opening: a bullet, or a letter/roman numeral in brackets ("(a)", "b)", "iv.").
BULLET = re.compile(
    r"^\s*(?:[-*–\u2022\u2023\u2043\u25a0-\u25ff\u27a2\u25ba\uf0a7\uf0b7]|\(?(?:[a-hj-z]|i{1,3}|iv|vi{0,3}|ix|x)\))\s+",
    re.IGNORECASE,
)
# A paragraph's own number: "3.11 The inspection…", "4. Children's assessments…".
PARA_NUMBER = re.compile(r"^\s*(?:\d{1,3}(?:\.\d{1,3}){1,3}\.?|\d{1,3}\.)\s+(?=\S)")
# A full stop (closing quotes kept with it) before a space and something that starts a sentence.
SENTENCE_END = re.compile(r"[.!?]+[\"'’”)]*(?=\s+[\"'‘“(]*[A-Z0-9£$€])")
ABBREVIATIONS = frozenset(
    "e.g. eg. i.e. ie. cf. vs. mr. mrs. ms. dr. prof. no. nos. st. cllr. approx. para. paras. "
    "fig. ref. p. pp. vol. inc. ltd. co. al.".split()
)
INITIALS = re.compile(r"(?:[A-Z]\.)+$")
_ENDS_PIECE = ".!?:;"
MAX_UNIT_CHARS = 1200  # a run-on "sentence" past this (a table flattened by a PDF) is cut at line ends


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences of ``text[start:end]`` as stripped spans; never split after "e.g.", initials
    or a number's full stop at the start ("3.")."""
    return split_sentences(text, start, end, SENTENCE_END, _joins)


def split_sentences(text: str, start: int, end: int, ends: re.Pattern[str],
                    joins: Callable[[str], bool]) -> list[tuple[int, int]]:
    """``text[start:end]`` cut at each match of ``ends`` unless ``joins`` says the text before
    it (from the sentence's start) does not end there; stripped, empty spans left out. The
    verifier cuts claims with its own ``ends`` and ``joins``."""
    spans, begin = [], start
    for m in ends.finditer(text, start, end):
        if joins(text[begin : m.start() + 1]):
            continue
        spans.append((begin, m.end()))
        begin = m.end()
    spans.append((begin, end))
    return [s for s in (strip_span(text, a, b) for a, b in spans) if s[0] < s[1]]


def last_word(before: str) -> str:
    """The word a full stop ends, opening brackets and quotes left off."""
    words = before.split()
    return words[-1].lstrip("([\"'") if words else ""


def _joins(before: str) -> bool:
    word = last_word(before)
    return (word.casefold() in ABBREVIATIONS or bool(INITIALS.fullmatch(word))
            or (len(before.split()) == 1 and word[:-1].isdigit()))


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@dataclass
class _Piece:
    start: int
    end: int
    item: bool  # began with a bullet


def _pieces(text: str, layout: Layout, start: int, end: int, own_number: bool) -> list[_Piece]:
    """Paragraphs and list items of ``text[start:end]``, page furniture, bullets and numbers
    left out. A numbered line is a list item ("1. That Executive note…"), except a numbered
    paragraph's own number at its start (``own_number``)."""
    pieces: list[_Piece] = []
    open_piece: _Piece | None = None
    for line in layout.lines_in(start, end):
        if line.blank or line.index in layout.furniture:
            open_piece = None
            continue
        a, b = strip_span(text, line.start, min(line.end, end))
        if a >= b:
            continue
        bullet = BULLET.match(text[a:b])
        number = PARA_NUMBER.match(text[a + (bullet.end() if bullet else 0) : b])
        if number and own_number and not pieces:  # the paragraph's own number ("- 3.11 The…" too)
            pieces.append(open_piece := _Piece(a + (bullet.end() if bullet else 0) + number.end(), b, False))
            continue
        if number and bullet:
            number = None  # "- 2.1 Adoption performance – Good" is a bullet item
        runs_on = (
            open_piece is not None
            and not bullet
            and not number
            and text[open_piece.end - 1] not in _ENDS_PIECE
            and "\t" not in text[open_piece.start : open_piece.end]
            and b - open_piece.start <= MAX_UNIT_CHARS
        )
        if runs_on:
            open_piece.end = b
            continue
        if open_piece is not None and open_piece.item and not bullet and not number and text[a].islower():
            open_piece.end = b  # an item's wrapped line after a full stop in mid-item
            continue
        skip = (bullet or number).end() if (bullet or number) else 0
        open_piece = _Piece(a + skip, b, bool(bullet or number))
        pieces.append(open_piece)
    return pieces


def _heading_span(text: str, section: Section) -> tuple[int, int] | None:
    """The heading line(s) of a section, as a span (None for the cover and paragraphs)."""
    if section.kind in ("cover", "paragraph") or not section.title:
        return None
    a, b = strip_span(text, section.start, section.body_start)
    match = PARA_NUMBER.match(text[a:b])
    if match:
        a += match.end()
    return (a, b) if a < b else None


def cut_units(text: str, sections: list[Section], layout: Layout | None = None) -> list[Unit]:
    """Every section's heading, list items and sentences, in report order."""
    layout = layout or Layout.of(text)
    units: list[Unit] = []
    list_id = 0
    for section in sections:
        heading_index: int | None = None
        heading = _heading_span(text, section)
        if heading is not None:
            heading_index = len(units)
            units.append(Unit(len(units), section.id, "heading", *heading))
        label = heading_index
        in_list = False
        own_number = section.kind == "paragraph"
        for piece in _pieces(text, layout, section.body_start, section.body_end, own_number):
            if piece.item:
                if not in_list:
                    list_id += 1
                    in_list = True
                units.append(Unit(len(units), section.id, "item", piece.start, piece.end, list_id, label))
                continue
            in_list = False
            for a, b in sentence_spans(text, piece.start, piece.end):
                units.append(Unit(len(units), section.id, "sentence", a, b))
            if text[piece.end - 1] == ":":
                label = len(units) - 1  # "The areas for improvement are:" introduces what follows
    return _numbered_lists(units, sections, list_id)


LIST_PARAGRAPH_CHARS = 400  # a one-sentence numbered paragraph this short, among siblings like it, is a list item


def _numbered_lists(units: list[Unit], sections: list[Section], list_id: int) -> list[Unit]:
    """One-sentence numbered paragraphs one after another under one heading ("Recommendations",
    then "1. Improve the quality of management oversight…", "2. Ensure that…") are the items of
    a list the heading introduces, as a bulleted list would be."""
    by_section: dict[str, list[int]] = {}
    for u in units:
        by_section.setdefault(u.section_id, []).append(u.index)
    heading = {u.section_id: u.index for u in units if u.kind == "heading"}
    by_id = {s.id: s for s in sections}
    out = list(units)
    for parent in sections:
        run: list[int] = []  # the one sentence of each short numbered paragraph in a row
        for child_id in [*parent.children, None]:
            child = by_id.get(child_id) if child_id else None
            own = by_section.get(child_id, []) if child else []
            if (child is not None and child.kind == "paragraph" and len(own) == 1
                    and out[own[0]].kind == "sentence" and out[own[0]].end - out[own[0]].start <= LIST_PARAGRAPH_CHARS):
                run.append(own[0])
                continue
            if len(run) >= 2:
                list_id += 1
                for i in run:
                    out[i] = replace(out[i], kind="item", list_id=list_id, label=heading.get(parent.id))
            run = []
    return out
