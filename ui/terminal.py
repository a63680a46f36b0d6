"""Text for the terminal: answers (the answer, the assistant's notes, then each source and its
quote), and report text made safe to print."""

from __future__ import annotations

import re
import textwrap
from typing import TYPE_CHECKING

from assistant.models import Answer

if TYPE_CHECKING:
    from rich.text import Text

# Escape sequences (CSI "ESC [ ... m", OSC "ESC ] ... BEL", two-byte ESC x) and every other C0/C1
# control character but newline and tab. A report, a file name or a model's answer carrying them
# could recolour, retitle or rewrite the user's terminal.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -~]?|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def plain(text: str) -> str:
    """``text`` without terminal control sequences or control characters (newline and tab kept)."""
    return _CONTROL.sub("", text)


def rich_text(value: object, style: str = "") -> Text:
    """``value`` as a rich ``Text``: printed as it is, never read as "[bold]" markup, and
    without control sequences (rich passes ESC through)."""
    from rich.text import Text

    return Text(plain(str(value)), style=style)


def format_answer(answer: Answer, *, width: int = 100) -> str:
    """The answer as plain text, control characters removed."""
    return plain(_format(answer, width))


def _format(answer: Answer, width: int) -> str:
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
