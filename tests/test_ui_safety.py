"""The app shows report text, never renders it: a report line that is Markdown or HTML (a remote
image, an ``onerror`` handler, a ``javascript:`` link, a script, an autolink, Streamlit's own
``:red[...]`` or ``$math$``) reaches the reader as the characters it is.

What Streamlit is given is checked three ways: rendered by a real CommonMark parser
(markdown-it, raw HTML switched on, the worst case), which must produce no tag but paragraphs,
line breaks, our bold headings and bullets, and show the text as written; scanned for ASCII
punctuation left unescaped, which Streamlit's directives and math need; and its text searched
as remark-gfm's autolink-literal transform searches it (after escapes are resolved, which is why
escaping alone does not stop them: the browser test found that). Then the real app (AppTest)
over a real hostile report, uploaded through the Library page, and, where Chromium is
installed, the served app in a real browser, which must link nothing, load nothing from the
report's hosts and open no dialog.
"""

from __future__ import annotations

import html
import re
import shutil
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from tests import browser
from tests.test_app import html_with, open_app, page, select_row, visible
from ui.sources import answer_markdown, md_text

# A council report as an attacker (or a careless copy-paste) might write it. Its heading and its
# title carry a remote image, its items HTML with handlers, a script, autolinks, an email
# address and Streamlit's colour and math syntax.
TITLE = "Ofsted inspection ![t](http://evil.example/title.png) of children's services"
FINDINGS = "Findings ![h](http://evil.example/h.png) [more](javascript:alert(5))"
HOSTILE_REPORT = f"""Anytown Borough Council
Report to the Cabinet
Date of Meeting: 3 March 2021
Subject of Report: {TITLE}

## 1. Summary of Report

1.1 Ofsted inspected children's services in January 2021 and judged them to require improvement to be good.

## 2. {FINDINGS}

The inspectors found these areas for improvement:
- The timeliness of return home interviews <img src=x onerror=alert(1)> for children who go missing.
- Management oversight of private fostering arrangements, see http://evil.example/track and www.evil.example.
- Planning for care leavers <script>alert(2)</script> who live out of the borough.
- Use of :red[colour] and $x^2$ and **bold** and `code` in plans, said oversight@evil.example.

## 3. Recommendations

3.1 The Cabinet is asked to note the report.
"""
QUESTION = "What areas for improvement did the inspectors find?"
# What the reader must see, character for character, in the answer.
IN_ANSWER = (
    "<img src=x onerror=alert(1)>",
    "see http://evil.example/track and www.evil.example.",
    "<script>alert(2)</script>",
    ":red[colour] and $x^2$ and **bold** and `code` in plans, said oversight@evil.example. [1]",
    f"2. {FINDINGS}",
)

_MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
# Our own layout: paragraphs, hard breaks, bold heading lines, bullets, markdown headings.
LAYOUT_TAGS = {"p", "br", "strong", "ul", "li", "h1", "h2", "h3", "h4", "h5", "h6"}
_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")
_ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~]")


def rendered(markdown: str) -> tuple[set[str], str]:
    """The tags a CommonMark renderer makes of ``markdown``, and the text a reader sees."""
    out = _MD.render(markdown)
    return set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", out)), html.unescape(re.sub(r"<[^>]*>", "", out))


# remark-gfm (mdast-util-gfm-autolink-literal), as Streamlit's bundle has it: a URL or email in a
# text node becomes a link when what precedes it is the start, whitespace, punctuation or a symbol.
_GFM_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE)
_GFM_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)")


def _opens_link(text: str, at: int) -> bool:
    return at == 0 or text[at - 1].isspace() or unicodedata.category(text[at - 1])[0] in "PS"


def autolinks(text: str) -> list[str]:
    """What GFM would turn into links in ``text`` (the text as parsed, escapes resolved)."""
    found = [m.group(0) for m in _GFM_URL.finditer(text) if _opens_link(text, m.start()) and "." in m.group(2)]
    for start in range(len(text)):  # the email pattern has a look-behind Python's re cannot express
        m = _GFM_EMAIL.match(text, start)
        if m and _opens_link(text, start) and not re.search(r"[-\d_]$", m.group(2)):
            found.append(m.group(0))
    return found


def bare_punctuation(markdown: str) -> list[str]:
    """ASCII punctuation left unescaped, apart from our own ``- ``, ``#`` and ``**`` layout."""
    found = []
    for line in markdown.split("\n"):
        line = re.sub(r"^(- |#{1,6} )", "", line.removesuffix("  "))
        if line.startswith("**") and "**" in line[2:]:
            end = line.rindex("**")
            line = line[2:end] + line[end + 2 :]
        found += _PUNCTUATION.findall(_ESCAPE.sub("", line))
    return found


def words(text: str) -> str:
    """Text as a reader compares it: runs of whitespace alike, the invisible word joiner gone."""
    return " ".join(text.replace("\u2060", "").split())


def assert_shown_as_text(markdown: str, *literals: str) -> None:
    made, text = rendered(markdown)
    assert made <= LAYOUT_TAGS, f"rendered {made - LAYOUT_TAGS} from {markdown!r}"
    assert not bare_punctuation(markdown), (bare_punctuation(markdown), markdown)
    assert not autolinks(text), (autolinks(text), markdown)
    for literal in literals:
        assert words(literal) in words(text), (literal, text)


# --- the functions ------------------------------------------------------------------------------

_PIECES = st.one_of(
    st.sampled_from(list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r")),
    st.sampled_from(["http://", "HTTPS://", "www.", "evil.example", "a@b.example", "![", "](", "<img ", "javascript:",
                     ":red[", "&amp;", "&#60;", "    ", "**", "- ", "1. "]),
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
)
_TEXT = st.lists(_PIECES, max_size=40).map("".join)


@settings(max_examples=400, deadline=None, database=None)
@given(text=_TEXT)
def test_md_text_shows_any_text_as_itself(text: str) -> None:
    made, seen = rendered(md_text(text))
    assert made <= {"p", "br"}, (made, text)
    assert not bare_punctuation(md_text(text))
    assert not autolinks(seen), (autolinks(seen), text)
    assert words(seen) == words(text)


@pytest.mark.parametrize("text", ["see http://evil.example/track", "www.evil.example", "(https://evil.example)",
                                  "mail oversight@evil.example now", "<https://evil.example>"])
def test_autolinks_are_found_before_and_gone_after(text: str) -> None:
    """The autolink check itself: it finds the link in the raw text, and none once escaped."""
    assert autolinks(rendered(text.replace("<", "&lt;"))[1])
    assert_shown_as_text(md_text(text), text)


@settings(max_examples=400, deadline=None, database=None)
@given(text=_TEXT)
def test_answer_markdown_never_makes_anything_but_layout(text: str) -> None:
    assert_shown_as_text(answer_markdown(text))


def test_answer_markdown_keeps_our_layout_and_shows_the_quotes() -> None:
    answer = (
        f"**Unknown council, Cabinet, 3 Mar 2021 — 2. {FINDINGS}**\n"
        "- The timeliness of return home interviews <img src=x onerror=alert(1)> for children who go missing. [1]\n"
        "- Use of :red[colour] and $x^2$ and **bold** and `code` in plans, said oversight@evil.example. [1]\n"
        "\n"
        "1. Numbered items keep their own number. [2]\n"
        "7) Even this one. [2]"
    )
    md = answer_markdown(answer)
    made, text = rendered(md)
    assert {"strong", "ul", "li"} <= made  # the heading is bold, the quotes are bullets
    assert_shown_as_text(md, f"2. {FINDINGS}", "<img src=x onerror=alert(1)> for children", ":red[colour]", "[1]",
                         "1. Numbered items keep their own number. [2]\n7) Even this one. [2]")
    assert "<ol" not in _MD.render(md)


# --- the app ------------------------------------------------------------------------------------


@pytest.fixture
def hostile_app(settings, store, monkeypatch) -> AppTest:
    """The app over a store of its own, the hostile report uploaded on the Library page."""
    store.close()
    at = page(open_app(settings.data_dir, monkeypatch), "Library")
    at.file_uploader[0].set_value(("anytown-ofsted.md", HOSTILE_REPORT.encode(), "text/markdown")).run()
    next(b for b in at.button if b.label.startswith("Ingest")).click().run()
    assert not at.exception and not at.error
    assert at.dataframe[-1].value.to_dict("records")[0]["status"] == "ingested"
    return at


def test_the_app_shows_a_hostile_report_as_text(hostile_app: AppTest) -> None:
    at = select_row(hostile_app, 0)  # the Library shows a selected report's heading and tree
    [label] = [m.value for m in at.markdown if "Unknown council" in visible(m.value)]
    assert_shown_as_text(label, f"Unknown council, Cabinet, 3 Mar 2021: {TITLE}")

    at = page(at, "Ask")
    at.chat_input[0].set_value(QUESTION).run()
    assert not at.exception
    reply = at.chat_message[-1]
    answer = reply.markdown[0].value
    assert_shown_as_text(answer, *IN_ANSWER)
    assert {"strong", "li"} <= rendered(answer)[0]
    [chip] = [str(o) for o in reply.pills[0].options]
    assert_shown_as_text(chip, FINDINGS)
    assert visible(chip) == f"[1] anytown-ofsted.md 2021 · {FINDINGS}"  # no council recognised: the file

    reply.pills[0].set_value(1).run()
    assert not at.exception
    [heading] = [h.value for h in at.subheader]
    assert_shown_as_text(heading, f"[1] {FINDINGS}")
    [passage] = html_with(at, "cited-passage")
    [facts] = html_with(at, "source-facts")
    next(t for t in at.toggle if t.label == "Open full report").set_value(True).run()
    [frame] = at.get("iframe")
    for shown in (passage, facts, frame.proto.srcdoc):
        body = shown.replace('<script>document.getElementById("cited")', "")  # the one script is ours
        assert not re.search(r"<(?:img|script|a|iframe|object|embed|svg|style)\b", body, re.IGNORECASE), body
    assert "&lt;img src=x onerror=alert(1)&gt;" in passage and "&lt;script&gt;alert(2)&lt;/script&gt;" in passage
    assert html.escape(FINDINGS) in facts
    assert html.escape(TITLE) in frame.proto.srcdoc

    # A question is the reader's own, but it is shown as typed too.
    question = "What did they find ![q](http://evil.example/q.png) <img src=q onerror=alert(9)>?"
    at.chat_input[0].set_value(question).run()
    assert not at.exception
    assert_shown_as_text(at.chat_message[-2].markdown[0].value, question)


def test_an_llm_answer_is_shown_as_text(hostile_app: AppTest, settings, monkeypatch) -> None:
    """The draft streams through the same escaping as the verified answer that replaces it."""
    from tests.test_llm import StubServer

    stub = StubServer()
    stub.thread.start()
    stub.reply = ("**Findings <img src=x onerror=alert(7)>**\n"
                  "- The timeliness of return home interviews <img src=x onerror=alert(1)> for children who go missing. [1]\n"
                  "- Planning for care leavers <script>alert(2)</script> who live out of the borough. [1]")
    try:
        monkeypatch.setenv("REPORTS_QA_OPENAI_BASE_URL", stub.url)
        monkeypatch.setenv("REPORTS_QA_OPENAI_MODEL", stub.model)
        at = open_app(settings.data_dir, monkeypatch)
        at.sidebar.selectbox[0].set_value("openai").run()
        at.chat_input[0].set_value(QUESTION).run()
        assert not at.exception
        answer = at.chat_message[-1].markdown[0].value
        assert_shown_as_text(answer, "<img src=x onerror=alert(1)> for children", "<script>alert(2)</script>")
    finally:
        stub.server.shutdown()
        stub.server.server_close()


# --- a real browser -----------------------------------------------------------------------------


@pytest.mark.skipif(bool(browser.missing()), reason=str(browser.missing()))
def test_in_a_real_browser_nothing_from_a_report_loads_runs_or_links(hostile_app: AppTest, settings, tmp_path) -> None:
    from playwright.sync_api import expect

    data_dir = tmp_path / "served"
    shutil.copytree(settings.data_dir, data_dir)
    requests: list[str] = []
    dialogs: list[str] = []
    with browser.served_app(data_dir) as url, browser.chromium(height=1000) as pg:
        pg.on("request", lambda r: requests.append(r.url))
        pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        pg.goto(url)
        pg.get_by_test_id("stChatInputTextArea").wait_for(timeout=120_000)
        browser.ask(pg, QUESTION)
        answer = pg.locator("[data-testid=stChatMessage]").last
        expect(answer).to_contain_text(IN_ANSWER[0], timeout=60_000)
        for literal in IN_ANSWER:
            assert words(literal) in words(answer.inner_text()), literal
        answer.get_by_role("radio").first.click()
        expect(pg.locator(".cited-passage")).to_contain_text("<img src=x onerror=alert(1)>", timeout=30_000)
        pg.get_by_text("Open full report").click()
        expect(pg.frame_locator("iframe").locator("#cited")).to_contain_text("<script>alert(2)</script>", timeout=30_000)
        pg.wait_for_timeout(1000)  # time for any image or script to have loaded
        assert f"2. {FINDINGS}" in pg.locator("body").inner_text()
        for frame in pg.frames:
            assert frame.locator("img[src='x'], img[src*='evil'], a[href*='evil'], a[href^='javascript']").count() == 0
    assert not [r for r in requests if "evil.example" in r or r.endswith("/x")], requests
    assert not dialogs, dialogs
