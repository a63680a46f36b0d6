"""The command line prints report text as text: escape sequences in a report (a colour change,
a window-title change, a hyperlink, a screen clear) never reach the user's terminal, and rich
markup in it is never read as markup. The report goes through the real loader, ingest and store."""

from __future__ import annotations

import json
import re

import pytest

from tests.samples import NORTH_SOMERSET, sample_text
from ui.cli import main
from ui.terminal import plain

ESC = "\x1b"
# A title change (OSC 0), colour (CSI m), a hyperlink (OSC 8), a screen clear and a bell.
TRAPS = {
    "North Somerset Council": f"North Somerset {ESC}]0;pwned{ESC}\\Council",
    "Ofsted inspected significant parts": f"Ofsted {ESC}[31minspected{ESC}[0m significant parts",
    "1. Summary of Report": f"1. Summary {ESC}]8;;http://evil.example{ESC}\\of{ESC}]8;;{ESC}\\ Report",
    "What needs to improve": f"What needs {ESC}[2J{ESC}[Hto\x07 improve",
}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture(scope="module")
def trapped(tmp_path_factory) -> str:
    """A data dir holding the North Somerset report with escape sequences in its text."""
    text = sample_text(NORTH_SOMERSET)
    for clean, trap in TRAPS.items():
        assert clean in text
        text = text.replace(clean, trap, 1)
    folder = tmp_path_factory.mktemp("trapped")
    (folder / f"north-somerset-2020-10-21-executive{ESC}[1m.txt").write_text(text, encoding="utf-8")
    data_dir = tmp_path_factory.mktemp("data")
    assert main(["--data-dir", str(data_dir), "ingest", str(folder), "--json"]) == 0
    return str(data_dir)


def run(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    out, err = capsys.readouterr()
    assert not CONTROL.search(out) and not CONTROL.search(err), (out + err)[:2000]
    return out


def test_the_escapes_are_stored_as_the_report_has_them(trapped, capsys):
    """The store keeps the report's characters (citations are offsets into them); only printing drops them."""
    main(["--data-dir", trapped, "ask", "What needs to improve in North Somerset?", "--json"])
    answer = json.loads(capsys.readouterr().out)  # JSON escapes them: "\u001b"
    assert answer["answered"]
    assert any(ESC + "[2J" in c["section"] for c in answer["citations"]), answer["citations"]


def test_ask_prints_no_escape_from_the_report(trapped, capsys):
    out = run(capsys, "--data-dir", trapped, "ask", "What needs to improve in North Somerset?")
    assert "Formalised matching of children with their long-term carers." in out
    assert "What needs to improve" in out  # the heading's words, with the escapes gone from between them


@pytest.mark.parametrize("command", [["reports"], ["judgements"], ["sections", "north-somerset"]])
def test_tables_and_trees_print_no_escape_from_the_report(trapped, capsys, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "200")
    out = run(capsys, "--data-dir", trapped, *command)
    assert "North Somerset" in out


def test_chat_prints_no_escape_from_the_report(trapped, capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("What needs to improve in North Somerset?\n/quit\n"))
    out = run(capsys, "--data-dir", trapped, "chat")
    assert "Formalised matching of children" in out


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"a{ESC}[31mred{ESC}[0m b", "ared b"),
        (f"{ESC}]0;title\x07x", "x"),
        (f"{ESC}]8;;http://e{ESC}\\link{ESC}]8;;{ESC}\\", "link"),
        ("\x9b2Jcleared\rline\ttab\nnext", "clearedline\ttab\nnext"),
        ("plain [bold]text[/bold] and “quotes” — ok", "plain [bold]text[/bold] and “quotes” — ok"),
    ],
)
def test_plain_drops_controls_and_keeps_the_words(text, shown):
    assert plain(text) == shown
