"""Answers as terminal text: the answer, the assistant's notes, then each source and its quote."""

from __future__ import annotations

import textwrap

from assistant.models import Answer


def format_answer(answer: Answer, *, width: int = 100) -> str:
    lines = [answer.answer.strip()]
    if answer.notes:
        lines.append("")
        lines.extend(f"Note: {note}" for note in answer.notes)
    if answer.citations:
        lines.append("")
        lines.append("Sources:")
        for c in answer.citations:
            p = c.passage
            page = f", p. {p.page}" if p.page else ""
            lines.append(f"[{c.marker}] {p.heading}{page}")
            lines.append(f"    {p.source}, characters {c.start}–{c.end}")
            quote = " ".join(c.quote.split())
            lines.extend(textwrap.wrap(f"“{quote}”", width=width, initial_indent="    ", subsequent_indent="    ",
                                       max_lines=4, placeholder=" …”"))
    return "\n".join(lines)
