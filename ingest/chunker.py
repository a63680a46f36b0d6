"""Cut each section's own text into passages that fit the embedding model's window.

Rules, in order of importance:
- a chunk is a verbatim slice of the report inside one section's own text, so a citation to
  it names exactly one section and its offsets open exactly its words;
- a chunk never includes page furniture, so a running header splitting a paragraph across a
  page break yields two chunks, not one polluted one;
- a line ending in ":" stays with what follows it, so a list keeps its introducing sentence;
- long sections split on block, then line, then sentence boundaries, and the next chunk
  repeats a short last piece of the previous one as overlap;
- the context line (council, report, section path) plus the chunk fits the model's window
  (MiniLM silently truncates past 256 word pieces): counted with the real tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ingest.models import Chunk, ReportMeta, Section
from ingest.sections import Layout

TokenCounter = Callable[[str], int]
_SPECIAL_TOKENS = 2  # [CLS] and [SEP], counted by the tokenizer on every call
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(])")


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int
    after_break: bool  # page furniture lies between this unit and the one before


def context_line(meta: ReportMeta, section: Section, *, short: bool = False) -> str:
    """What the chunk's own words lack: whose report, when, and where in it.

    ``short`` drops the report title and keeps only the last two section labels, for deep
    sections whose full path would eat the chunk's share of the model's window.
    """
    path = section.path[-2:] if short else section.path
    labels = [p if len(p) <= 80 or not short else p[:77] + "..." for p in path]
    parts = [meta.council, meta.date, None if short else meta.title, " › ".join(labels)]
    return " | ".join(p for p in parts if p)


def _blocks(layout: Layout, text: str, start: int, end: int) -> list[tuple[int, int, bool]]:
    """Runs of non-blank, non-furniture lines within ``start..end``: (start, end, after_break).

    A footnote mark inside a line ("... children board1 and ...") ends a run there and the next
    begins after it, as furniture would: a passage is one slice of the text, and the mark is
    not the report's words.
    """
    blocks: list[tuple[int, int, bool]] = []
    run: tuple[int, int] | None = None
    broken = False
    marks = [m for m in layout.marks if start <= m[0] < end]
    for ln in layout.lines_in(start, end):
        is_furniture = ln.index in layout.furniture
        if is_furniture or ln.blank:
            if run is not None:
                blocks.append((*run, broken))
                broken, run = False, None
            broken = broken or is_furniture
            continue
        line_start = ln.start + len(ln.text) - len(ln.text.lstrip())
        line_end = min(end, ln.start + len(ln.text.rstrip()))
        for m_start, m_end in (m for m in marks if line_start <= m[0] < line_end):
            before = text[line_start:m_start].rstrip()
            if before:
                blocks.append((run[0] if run else line_start, line_start + len(before), broken))
            elif run is not None:
                blocks.append((*run, broken))
            run, broken = None, True
            line_start = m_end + len(text[m_end:line_end]) - len(text[m_end:line_end].lstrip())
        if line_start >= line_end:
            continue
        run = (run[0] if run else line_start, line_end)
    if run is not None:
        blocks.append((*run, broken))
    return blocks


def _split(text: str, start: int, end: int, budget: int, count: TokenCounter) -> list[tuple[int, int, int]]:
    """Pieces of ``start..end`` of at most ``budget`` tokens: lines, then sentences, then words."""
    tokens = count(text[start:end]) - _SPECIAL_TOKENS
    if tokens <= budget:
        return [(start, end, tokens)]
    for pattern in (re.compile(r"\n"), _SENTENCE_END, re.compile(r"\s+")):
        cuts = [m.end() for m in pattern.finditer(text, start, end)]
        if cuts:
            break
    else:
        # One unbroken run longer than the window: cut by characters, a last resort.
        mid = start + (end - start) // 2
        return _split(text, start, mid, budget, count) + _split(text, mid, end, budget, count)
    pieces, piece_start = [], start
    for cut in [*cuts, end]:
        if cut <= piece_start:
            continue
        seg_start, seg_end = piece_start, cut
        piece = text[seg_start:seg_end]
        seg_start += len(piece) - len(piece.lstrip())
        seg_end -= len(piece) - len(piece.rstrip())
        if seg_end > seg_start:
            pieces.extend(_split(text, seg_start, seg_end, budget, count))
        piece_start = cut
    return pieces


def chunk_report(
    meta: ReportMeta,
    text: str,
    sections: list[Section],
    count_tokens: TokenCounter,
    *,
    max_tokens: int = 200,
    model_max_tokens: int = 256,
    overlap_tokens: int = 40,
    page_at: Callable[[int], int | None] | None = None,
    layout: Layout | None = None,
) -> list[Chunk]:
    layout = layout or Layout.of(text)
    chunks: list[Chunk] = []

    for section in sections:
        context = context_line(meta, section)
        context_tokens = count_tokens(context) - _SPECIAL_TOKENS
        if context_tokens > model_max_tokens // 3:
            context = context_line(meta, section, short=True)
            context_tokens = count_tokens(context) - _SPECIAL_TOKENS
        # +1 for the newline joining context and text, +2 for the special tokens.
        budget = max(16, min(max_tokens, model_max_tokens - context_tokens - 1 - _SPECIAL_TOKENS))

        start, end = section.body_start, section.body_end
        if not text[start:end].strip() and not section.children and section.kind != "cover":
            start, end = section.start, section.body_start  # a leaf heading is its own text
        units: list[_Unit] = []
        for b_start, b_end, broken in _blocks(layout, text, start, end):
            for i, (p_start, p_end, p_tokens) in enumerate(_split(text, b_start, b_end, budget, count_tokens)):
                units.append(_Unit(p_start, p_end, p_tokens, broken and i == 0))
        for c_start, c_end in _pack(units, text, budget, overlap_tokens):
            chunk_text = text[c_start:c_end]
            index = len(chunks)
            chunks.append(
                Chunk(
                    chunk_id=f"{meta.report_id}:{meta.content_hash[:12]}:{index:04d}",
                    report_id=meta.report_id,
                    section_id=section.id,
                    index=index,
                    text=chunk_text,
                    start=c_start,
                    end=c_end,
                    context=context,
                    token_count=count_tokens(f"{context}\n{chunk_text}"),
                    page=page_at(c_start) if page_at else None,
                )
            )
    return chunks


def _pack(units: list[_Unit], text: str, budget: int, overlap_tokens: int) -> list[tuple[int, int]]:
    """Greedy packing of units into spans; an intro ending in ":" moves on with its list."""
    spans: list[tuple[int, int]] = []
    current: list[_Unit] = []

    def size(group: list[_Unit]) -> int:
        # Joining whitespace costs no word pieces; one per join is a margin for tokenizer edges.
        return sum(u.tokens for u in group) + max(0, len(group) - 1)

    for unit in units:
        if current and (unit.after_break or size([*current, unit]) > budget):
            carry: list[_Unit] = []
            last = current[-1]
            if not unit.after_break and len(current) > 1 and size([last, unit]) <= budget:
                if text[last.start : last.end].rstrip().endswith(":"):
                    carry = [current.pop()]  # the intro goes with its list, not twice
                elif last.tokens <= overlap_tokens:
                    carry = [last]  # overlap: the next chunk repeats a short last piece
            spans.append((current[0].start, current[-1].end))
            current = carry
        current.append(unit)
    if current:
        spans.append((current[0].start, current[-1].end))
    return spans
