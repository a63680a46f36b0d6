"""Loaders against real files: every bad input a user might drop in is built here, on disk."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfWriter

from ingest import loaders
from ingest.loaders import (
    SUPPORTED_TYPES,
    IngestError,
    UnreadableFile,
    UnsupportedFileType,
    iter_report_files,
    load_bytes,
    load_document,
)

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "reports"
SAMPLES = sorted(SAMPLE_DIR.glob("*.txt"))


def _error(path: Path, **kwargs: int) -> IngestError:
    with pytest.raises(IngestError) as info:
        load_document(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message, "messages must fit one table cell"
    assert message.startswith(path.name), message
    return info.value


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _text_pdf(pages: list[str]) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


def _encrypted(pdf: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer.encrypt(user_password, "owner-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- plain text --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_reports_round_trip_exactly(path: Path) -> None:
    doc = load_document(path)
    assert doc.text == path.read_text("utf-8")
    assert doc.source == path.name
    assert doc.file_type == "txt"
    assert doc.encoding == "utf-8"
    assert doc.page_starts == ()


def test_there_are_five_sample_reports() -> None:
    assert len(SAMPLES) == 5


def test_empty_file(tmp_path: Path) -> None:
    err = _error(_write(tmp_path / "minutes.txt", b""))
    assert isinstance(err, UnreadableFile)
    assert str(err) == "minutes.txt is empty (0 bytes)"


def test_whitespace_only_file(tmp_path: Path) -> None:
    err = _error(_write(tmp_path / "blank.md", b" \r\n\t\n   \n"))
    assert isinstance(err, UnreadableFile)
    assert "is empty" in str(err)


def test_bom_only_file_is_empty(tmp_path: Path) -> None:
    assert "is empty" in str(_error(_write(tmp_path / "bom.txt", b"\xef\xbb\xbf\n")))


def test_binary_content_with_txt_name(tmp_path: Path) -> None:
    png_like = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40
    err = _error(_write(tmp_path / "report.txt", png_like))
    assert isinstance(err, UnreadableFile)
    assert str(err) == "report.txt looks like a binary file, not text: it is a PNG image"
    unknown = _error(_write(tmp_path / "data.txt", b"\x01\x02\x00\x00" + bytes(range(256)) * 4))
    assert str(unknown) == "data.txt looks like a binary file, not text"


@pytest.mark.parametrize(
    ("head", "hint"),
    [(b"%PDF-1.7\n", "it is a PDF; rename it to .pdf"), (b"PK\x03\x04", "rename it to .docx")],
    ids=["pdf", "zip"],
)
def test_binary_with_known_format_says_what_it_is(tmp_path: Path, head: bytes, hint: str) -> None:
    err = _error(_write(tmp_path / "agenda.txt", head + b"\x00\x01binary"))
    assert str(err).startswith("agenda.txt looks like a binary file, not text: ")
    assert str(err).endswith(hint)


def test_binary_content_without_nul_bytes(tmp_path: Path) -> None:
    noise = bytes(b for b in range(1, 32) if b not in (9, 10, 11, 12, 13)) * 300
    assert "looks like a binary file" in str(_error(_write(tmp_path / "noise.txt", noise)))


def test_cp1252_text_is_decoded(tmp_path: Path) -> None:
    text = "The Cabinet approved \u00a34.5m for the \u201cHighways Plan\u201d \u2013 the officer\u2019s view.\n"
    path = _write(tmp_path / "legacy.txt", text.encode("cp1252"))
    doc = load_document(path)
    assert doc.text == text
    assert doc.encoding == "cp1252"


def test_latin1_text_is_decoded(tmp_path: Path) -> None:
    text = "Caf\u00e9 r\u00e9sum\u00e9 costs \u00a312 in Nantes \u00e0 la carte.\n" * 5
    doc = load_document(_write(tmp_path / "latin.txt", text.encode("latin-1")))
    assert doc.text == text


def test_utf8_bom_is_stripped(tmp_path: Path) -> None:
    path = _write(tmp_path / "bom.md", "\ufeff# Agenda\n\n\u00a3100 \u2013 ok\n".encode())
    doc = load_document(path)
    assert doc.text == "# Agenda\n\n\u00a3100 \u2013 ok\n"
    assert doc.encoding == "utf-8-sig"
    assert doc.file_type == "md"


def test_utf16_with_bom_is_text(tmp_path: Path) -> None:
    path = _write(tmp_path / "notepad.txt", "Report of the Director\r\n\u00a35\r\n".encode("utf-16"))
    doc = load_document(path)
    assert doc.text == "Report of the Director\n\u00a35\n"
    assert doc.encoding == "utf-16"


def test_crlf_and_cr_become_lf_and_nothing_else_changes(tmp_path: Path) -> None:
    raw = b"  Title\r\n\r\n1.1 First\tpoint \rsecond line\r\n\x0cpage two\n"
    doc = load_document(_write(tmp_path / "dos.txt", raw))
    assert doc.text == "  Title\n\n1.1 First\tpoint \nsecond line\n\x0cpage two\n"


def test_fifty_megabyte_text_file(tmp_path: Path) -> None:
    line = "3.1 The committee noted the \u00a34.5m highways budget \u2013 see appendix B.\r\n"
    count = 50 * 1024 * 1024 // len(line.encode())
    path = tmp_path / "huge.txt"
    with path.open("w", encoding="utf-8", newline="") as fh:
        for _ in range(count // 1000):
            fh.write(line * 1000)
    started = time.perf_counter()
    doc = load_document(path, max_text_chars=60_000_000)  # over the default text limit on purpose
    elapsed = time.perf_counter() - started
    expected_line = line.replace("\r\n", "\n")
    assert len(doc.text) == len(expected_line) * (count // 1000) * 1000
    assert doc.text.startswith(expected_line + expected_line)
    assert doc.text.endswith("appendix B.\n")
    assert "\r" not in doc.text
    assert elapsed < 10, f"50 MB took {elapsed:.1f}s"


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = _write(tmp_path / "big.txt", b"word " * 600)
    err = _error(path, max_bytes=1024)
    assert isinstance(err, UnreadableFile)
    assert str(err) == "big.txt is 2.9 KB, over the 1 KB limit; split it or raise the limit"


def test_upload_over_the_size_limit() -> None:
    with pytest.raises(UnreadableFile, match=r"^up\.pdf is 3 MB, over the 2 MB limit"):
        load_bytes(b"x" * (3 * 1024 * 1024), "up.pdf", max_bytes=2 * 1024 * 1024)


def test_missing_file_and_folder_given_as_file(tmp_path: Path) -> None:
    assert "does not exist" in str(_error(tmp_path / "gone.txt"))
    folder = tmp_path / "looks-like.txt"
    folder.mkdir()
    assert str(_error(folder)) == "looks-like.txt is a folder, not a file"


def _skip_unless_chmod_blocks(tmp_path: Path) -> None:
    """Root (or CAP_DAC_OVERRIDE) reads chmod 000 files anyway; probe rather than guess."""
    probe = _write(tmp_path / "probe", b"x")
    probe.chmod(0)
    try:
        probe.read_bytes()
    except PermissionError:
        return
    finally:
        probe.chmod(0o644)
        probe.unlink()
    pytest.skip("this user can read chmod 000 files (root?)")


def test_permission_denied_file(tmp_path: Path) -> None:
    _skip_unless_chmod_blocks(tmp_path)
    path = _write(tmp_path / "locked.txt", b"secret")
    path.chmod(0)
    try:
        assert str(_error(path)) == "locked.txt cannot be read (permission denied)"
    finally:
        path.chmod(0o644)


# --- unsupported types -------------------------------------------------------------------------


def test_unsupported_suffix_names_supported_types(tmp_path: Path) -> None:
    err = _error(_write(tmp_path / "report.xlsx", b"PK\x03\x04"))
    assert isinstance(err, UnsupportedFileType)
    assert str(err) == (
        "report.xlsx: unsupported file type '.xlsx'; supported: "
        ".docx, .htm, .html, .md, .markdown, .pdf, .txt"
    )


def test_no_extension_and_upper_case_suffix(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFileType, match=r"^README: unsupported file type \(no extension\)"):
        load_bytes(b"hello", "README")
    assert load_bytes(b"hello", "NOTES.TXT").file_type == "txt"
    assert set(SUPPORTED_TYPES.values()) == {"txt", "md", "pdf", "docx", "html"}


def test_upload_source_is_the_base_name() -> None:
    doc = load_bytes(b"Agenda item 1", "C:\\fakepath\\uploads/cabinet-2019.txt")
    assert doc.source == "cabinet-2019.txt"


# --- PDF ---------------------------------------------------------------------------------------


def test_text_pdf_pages_and_offsets(tmp_path: Path) -> None:
    pages = ["1. Introduction\nThe council set a budget.", "2. Finance\nCosts rose by 4 per cent.", "3. Risks"]
    doc = load_document(_write(tmp_path / "cabinet.pdf", _text_pdf(pages)))
    assert doc.file_type == "pdf"
    assert len(doc.page_starts) == 3
    assert doc.page_starts[0] == 0
    assert doc.text.startswith("1. Introduction")
    assert doc.text[doc.page_starts[1] :].startswith("2. Finance")
    assert doc.text[doc.page_starts[2] :].startswith("3. Risks")
    assert doc.text[doc.page_starts[1] - 2 : doc.page_starts[1]] == "\n\n"
    assert "Costs rose by 4 per cent." in doc.text
    assert doc.page_at(doc.text.index("Costs rose")) == 2


def test_pdf_with_user_password(tmp_path: Path) -> None:
    path = _write(tmp_path / "locked.pdf", _encrypted(_text_pdf(["Confidential"]), "hunter2"))
    err = _error(path)
    assert isinstance(err, UnreadableFile)
    assert str(err) == "locked.pdf is password-protected; save an unprotected copy"


def test_pdf_encrypted_with_empty_password_loads(tmp_path: Path) -> None:
    path = _write(tmp_path / "permissions.pdf", _encrypted(_text_pdf(["Open to all", "Second page"]), ""))
    doc = load_document(path)
    assert doc.text.startswith("Open to all")
    assert doc.text[doc.page_starts[1] :].startswith("Second page")


@pytest.mark.parametrize("keep", [0.5, 0.1])
def test_truncated_pdf(tmp_path: Path, keep: float) -> None:
    data = _text_pdf(["Page one text", "Page two text"])
    err = _error(_write(tmp_path / "cut.pdf", data[: int(len(data) * keep)]))
    assert isinstance(err, UnreadableFile)
    assert str(err).startswith("cut.pdf is not a readable PDF (")
    assert "try downloading it again" in str(err)


def test_pdf_that_is_not_a_pdf(tmp_path: Path) -> None:
    err = _error(_write(tmp_path / "data.pdf", b"Error 404: not found"))
    assert str(err).startswith("data.pdf is not a readable PDF (no PDF header)")


@pytest.mark.parametrize("page", [
    b"<html><body>Error 404</body></html>",
    b"\xef\xbb\xbf\n  <!-- saved from url=(0042)https://example.org -->\n<!DOCTYPE html>\n<html lang='en'>",
    b"<HEAD><TITLE>Sign in</TITLE></HEAD>",
])
def test_a_web_page_saved_as_pdf_says_so(tmp_path: Path, page: bytes) -> None:
    err = _error(_write(tmp_path / "page.pdf", page))
    assert str(err) == ("page.pdf is a saved web page (HTML), not a PDF: download the PDF again "
                        "(or rename it to .html to ingest the page itself)")


def test_the_real_saved_web_page_in_the_ofsted_corpus_says_so() -> None:
    from tests.ofsted import HTML_AS_PDF, require_ofsted

    err = _error(require_ofsted() / HTML_AS_PDF)
    assert str(err).startswith("children's services inspection - 10 august 2012.pdf is a saved web page (HTML)")


def test_pdf_garbage_after_header(tmp_path: Path) -> None:
    err = _error(_write(tmp_path / "junk.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 20))
    assert str(err).startswith("junk.pdf is not a readable PDF")


def test_blank_page_pdf_has_no_text_layer(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_blank_page(595, 842)
    out = io.BytesIO()
    writer.write(out)
    err = _error(_write(tmp_path / "scan.pdf", out.getvalue()))
    assert str(err) == "scan.pdf has no text layer (scanned images?); OCR is not supported"


def test_pdf_with_too_many_pages(tmp_path: Path) -> None:
    writer = PdfWriter()
    for _ in range(loaders.MAX_PDF_PAGES + 1):
        writer.add_blank_page(72, 72)
    out = io.BytesIO()
    writer.write(out)
    err = _error(_write(tmp_path / "bomb.pdf", out.getvalue()))
    assert str(err) == "bomb.pdf has 5,001 pages, more than the 5,000 this tool reads; split it"


# --- Word --------------------------------------------------------------------------------------


def _docx_bytes() -> bytes:
    document = docx.Document()
    document.add_heading("Report to Cabinet", level=0)
    document.add_heading("1. Purpose of Report", level=1)
    document.add_paragraph("The council is asked to approve \u00a35m of spending.")
    document.add_heading("1.1 Background", level=2)
    document.add_heading("Detail", level=3)
    document.add_paragraph("First option", style="List Bullet")
    document.add_paragraph("Second option", style="List Number")
    document.add_paragraph("")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([["Scheme", "Cost", "Year"], ["Roads", "\u00a31m", "2020"], ["Parks", "\u00a32m", "2021"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("Recommendation follows the table.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_structure_becomes_markdownish_text(tmp_path: Path) -> None:
    doc = load_document(_write(tmp_path / "cabinet.docx", _docx_bytes()))
    assert doc.file_type == "docx"
    assert doc.text == (
        "# Report to Cabinet\n\n"
        "# 1. Purpose of Report\n\n"
        "The council is asked to approve \u00a35m of spending.\n\n"
        "## 1.1 Background\n\n"
        "### Detail\n\n"
        "- First option\n"
        "- Second option\n\n"
        "Scheme\tCost\tYear\n"
        "Roads\t\u00a31m\t2020\n"
        "Parks\t\u00a32m\t2021\n\n"
        "Recommendation follows the table."
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"This is not a zip at all", "not a valid zip"),
        (b"PK\x03\x04" + b"\x00" * 64, "not a valid zip"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, "an old .doc or a password-protected document?"),
    ],
    ids=["text", "broken-zip", "ole-doc"],
)
def test_corrupt_docx(tmp_path: Path, data: bytes, expected: str) -> None:
    err = _error(_write(tmp_path / "minutes.docx", data))
    assert isinstance(err, UnreadableFile)
    assert expected in str(err)


def test_truncated_docx(tmp_path: Path) -> None:
    data = _docx_bytes()
    err = _error(_write(tmp_path / "cut.docx", data[: len(data) // 2]))
    assert str(err).startswith("cut.docx is not a readable Word document")


def test_zip_that_is_not_a_word_document(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("notes.txt", "hello")
    err = _error(_write(tmp_path / "archive.docx", buffer.getvalue()))
    assert str(err).startswith("archive.docx is not a readable Word document (")


def _zip_bomb(size_mb: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w") as member:
            block = b" " * (1024 * 1024)
            for _ in range(size_mb):
                member.write(block)
    return buffer.getvalue()


def test_zip_bomb_docx_by_ratio(tmp_path: Path) -> None:
    err = _error(_write(tmp_path / "bomb.docx", _zip_bomb(20)))
    assert isinstance(err, UnreadableFile)
    assert "expands to more than 200x its size" in str(err)
    assert str(err).endswith("zip bomb?)")


def test_zip_bomb_docx_by_total_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 200 MB; lowering it keeps the test fast while exercising the same check.
    monkeypatch.setattr(loaders, "DOCX_MAX_UNCOMPRESSED", 2 * 1024 * 1024)
    monkeypatch.setattr(loaders, "DOCX_MAX_RATIO", 10**9)
    err = _error(_write(tmp_path / "huge.docx", _zip_bomb(3)))
    assert str(err) == "huge.docx expands to more than 2 MB (3 MB) when unzipped (zip bomb?)"


# --- HTML --------------------------------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Site title</title>
<style>body { color: red; }</style><script>var secretToken = "abc";</script></head>
<body>
<header>Council website</header>
<nav><a href="/">Home</a> | <a href="/meetings">Meetings</a></nav>
<main>
<h1>Cabinet  report</h1>
<!-- internal comment -->
<p>The budget is
   &pound;4.5m, <b>agreed</b>.</p>
<h2>Options</h2>
<ul>
  <li>Option A</li>
  <li>Option B</li>
</ul>
<table>
  <tr><th>Item</th><th>Cost</th></tr>
  <tr><td>Roads</td><td>&pound;1m</td></tr>
</table>
<div>Line one<br>Line two</div>
<noscript>Enable JavaScript</noscript>
<template><p>hidden template</p></template>
</main>
<footer>Copyright council</footer>
<script>document.write("late script")</script>
</body></html>
"""


def test_html_drops_scripts_and_chrome_and_keeps_structure(tmp_path: Path) -> None:
    doc = load_document(_write(tmp_path / "cabinet.html", _PAGE.encode()))
    assert doc.file_type == "html"
    assert doc.text == (
        "# Cabinet report\n\n"
        "The budget is \u00a34.5m, agreed.\n\n"
        "## Options\n\n"
        "- Option A\n"
        "- Option B\n\n"
        "Item\tCost\n"
        "Roads\t\u00a31m\n\n"
        "Line one\n"
        "Line two"
    )
    for hidden in ("secretToken", "late script", "color: red", "Council website", "Home", "Copyright",
                   "internal comment", "Enable JavaScript", "hidden template"):
        assert hidden not in doc.text


def test_html_lists_and_tables_with_nested_blocks(tmp_path: Path) -> None:
    # Word's "Save as web page" wraps list items and table cells in <p> elements.
    page = (
        "<p>Intro</p><ul><li><p>First</p></li><li>Second<ul><li>Nested</li></ul></li><li></li></ul>"
        "<table><tr><td><p>Cell one</p><p>more</p></td><td>Two<br>lines</td></tr></table>"
    )
    doc = load_document(_write(tmp_path / "export.htm", page.encode()))
    assert doc.text == "Intro\n\n- First\n- Second\n- Nested\n\nCell one more\tTwo lines"


def test_html_header_inside_article_is_content(tmp_path: Path) -> None:
    page = (
        "<header>Council logo</header><article><header><h1>Cabinet report</h1></header>"
        "<p>Body</p><footer>Published 2019</footer></article><footer>Site map</footer>"
    )
    doc = load_document(_write(tmp_path / "article.html", page.encode()))
    assert doc.text == "# Cabinet report\n\nBody\n\nPublished 2019"


def test_html_meta_charset_is_honoured(tmp_path: Path) -> None:
    page = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"></head>'
    page += "<body><p>Fees rise to \u00a340 \u2013 \u201cfinal\u201d.</p></body></html>"
    doc = load_document(_write(tmp_path / "fees.htm", page.encode("cp1252")))
    assert doc.text == "Fees rise to \u00a340 \u2013 \u201cfinal\u201d."
    assert doc.encoding == "cp1252"


def test_deeply_nested_html_does_not_crash(tmp_path: Path) -> None:
    depth = 100_000
    page = "<html><body>" + "<div>" * depth + "Deep content here" + "</div>" * depth + "</body></html>"
    doc = load_document(_write(tmp_path / "deep.html", page.encode()))
    assert doc.text == "Deep content here"


def test_flat_fallback_extracts_text() -> None:
    # The tree walk is iterative, so the regex fallback is only reached on a RecursionError;
    # check directly that it gives sensible text.
    flat = loaders._html_text_flat("<div><script>x()</script><p>One &amp; two</p><br>three</div>")
    assert flat == "One & two\n\nthree"


def test_html_without_text(tmp_path: Path) -> None:
    page = b"<html><head><script>var a = 1;</script></head><body><nav>Menu</nav><img src=x></body></html>"
    err = _error(_write(tmp_path / "empty.html", page))
    assert isinstance(err, UnreadableFile)
    assert str(err).startswith("empty.html has no text")


def test_binary_with_html_name(tmp_path: Path) -> None:
    err = _error(_write(tmp_path / "image.html", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8))
    assert str(err) == "image.html looks like a binary file, not HTML: it is a JPEG image"


# --- folders -----------------------------------------------------------------------------------


def _tree(root: Path) -> None:
    (root / "b-sub").mkdir(parents=True)
    (root / ".hidden-dir").mkdir()
    _write(root / "a.txt", b"Report A")
    _write(root / "b-sub" / "c.pdf", b"%PDF-1.4")
    _write(root / "b-sub" / "d.docx", b"PK")
    _write(root / "notes.xlsx", b"PK")
    _write(root / ".DS_Store", b"\x00\x00")
    _write(root / ".hidden-dir" / "secret.txt", b"hidden")
    _write(root / "Z.html", b"<p>z</p>")
    _write(root / "~$a.docx", b"Office lock file")


def test_folder_is_walked_sorted_skipping_hidden_and_unsupported(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    _tree(root)
    results = list(iter_report_files([root]))
    assert [(p.relative_to(root).as_posix(), e) for p, e in results] == [
        ("Z.html", None),
        ("a.txt", None),
        ("b-sub/c.pdf", None),
        ("b-sub/d.docx", None),
    ]
    assert list(iter_report_files([root])) == results  # deterministic


def test_explicitly_named_files(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    _tree(root)
    results = list(iter_report_files([root / "notes.xlsx", root / "a.txt", root / "a.txt", tmp_path / "nope.txt"]))
    assert [p.name for p, _ in results] == ["notes.xlsx", "a.txt", "nope.txt"]
    (_, unsupported), (_, ok), (_, missing) = results
    assert isinstance(unsupported, UnsupportedFileType)
    assert str(unsupported).startswith("notes.xlsx: unsupported file type '.xlsx'; supported: .docx")
    assert ok is None
    assert isinstance(missing, UnreadableFile)
    assert str(missing) == "nope.txt: no such file or folder"


def test_unreadable_subfolder_is_reported(tmp_path: Path) -> None:
    _skip_unless_chmod_blocks(tmp_path)
    root = tmp_path / "reports"
    (root / "private").mkdir(parents=True)
    _write(root / "private" / "x.txt", b"x")
    _write(root / "ok.txt", b"ok")
    (root / "private").chmod(0)
    try:
        results = list(iter_report_files([root]))
    finally:
        (root / "private").chmod(0o755)
    assert [(p.name, None if e is None else str(e)) for p, e in results] == [
        ("ok.txt", None),
        ("private", "private: cannot open folder (permission denied)"),
    ]


def test_broken_symlinks_are_reported(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    root.mkdir()
    _write(root / "ok.txt", b"ok")
    (root / "dangling.txt").symlink_to(root / "deleted.txt")
    results = list(iter_report_files([root]))
    assert [p.name for p, _ in results] == ["dangling.txt", "ok.txt"]
    error = results[0][1]
    assert isinstance(error, UnreadableFile)
    assert str(error) == "dangling.txt is a broken symlink (its target is missing)"
    [(_, direct)] = list(iter_report_files([root / "dangling.txt"]))
    assert str(direct) == "dangling.txt is a broken symlink (its target is missing)"


def test_symlink_outside_the_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    root.mkdir()
    outside = _write(tmp_path / "passwd.txt", b"root:x:0:0")
    (root / "sneaky.txt").symlink_to(outside)
    (root / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    results = list(iter_report_files([root]))
    assert [p.name for p, _ in results] == ["elsewhere", "sneaky.txt"]
    for path, error in results:
        assert isinstance(error, UnreadableFile)
        assert str(error).startswith(f"{path.name}: symlink points outside reports (to ")


def test_symlinks_inside_the_folder_are_followed_once(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    (root / "2020").mkdir(parents=True)
    _write(root / "2020" / "cabinet.txt", b"Cabinet")
    (root / "alias.txt").symlink_to(root / "2020" / "cabinet.txt")
    (root / "2020" / "loop").symlink_to(root, target_is_directory=True)
    results = list(iter_report_files([root]))
    assert results == [(root / "2020" / "cabinet.txt", None)]


# --- robustness --------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2048), suffix=st.sampled_from(sorted(SUPPORTED_TYPES)))
def test_arbitrary_bytes_never_escape_as_other_exceptions(data: bytes, suffix: str) -> None:
    try:
        doc = load_bytes(data, "fuzz" + suffix)
    except IngestError as exc:
        message = str(exc)
        assert message.startswith("fuzz" + suffix)
        assert "\n" not in message
    else:
        assert doc.text.strip()
        assert "\r" not in doc.text


@settings(max_examples=100, deadline=None, database=None)
@given(text=st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc"), include_characters="\r\n\t")))
def test_any_utf8_text_round_trips(text: str) -> None:
    """Loading changes nothing but newlines (and one leading BOM, which is not text)."""
    expected = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not expected.strip():
        with pytest.raises(UnreadableFile, match=r"^any\.txt is empty"):
            load_bytes(text.encode("utf-8"), "any.txt")
        return
    doc = load_bytes(text.encode("utf-8"), "any.txt")
    assert doc.text == expected


_REAL_FILES = {".pdf": _text_pdf(["Page one of the report", "Page two"]), ".docx": _docx_bytes()}


@settings(max_examples=40, deadline=None, database=None)
@given(
    suffix=st.sampled_from(sorted(_REAL_FILES)),
    cut=st.floats(min_value=0.05, max_value=1.0),
    flips=st.lists(st.tuples(st.floats(min_value=0, max_value=0.999), st.integers(0, 255)), max_size=8),
)
def test_damaged_real_files_fail_cleanly(suffix: str, cut: float, flips: list[tuple[float, int]]) -> None:
    data = bytearray(_REAL_FILES[suffix])
    for where, value in flips:
        data[int(where * len(data))] = value
    data = data[: max(1, int(len(data) * cut))]
    try:
        load_bytes(bytes(data), "damaged" + suffix)
    except IngestError as exc:
        assert str(exc).startswith("damaged" + suffix)
        assert "\n" not in str(exc)
