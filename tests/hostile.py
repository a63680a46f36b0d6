"""Hostile files, built on disk: every way a file dropped into the tool can be wrong or
malicious, each with what ingest must do about it.

``write_hostile_folder(folder, outside)`` fills ``folder`` (and puts targets for escaping
symlinks in ``outside``) and returns one :class:`Hostile` per entry: whether it must fail (and
the words its one-line reason must hold) or be ingested (and text its report must hold or must
not hold). ``UPLOAD_NAMES`` are file names an upload may claim. Everything is generated, cheaply:
the "gigabyte" zip bomb and the 20,000-page PDF are a few kilobytes to a few megabytes.

Run ``python -m tests.hostile DIR`` to write the set somewhere to look at.
"""

from __future__ import annotations

import codecs
import io
import os
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reports_qa.settings import SAMPLE_REPORTS_DIR, Settings

GOOD_REPORT = "north-somerset-2020-10-21-executive.txt"
GOOD_TEXT = "Formalised matching of children with their long-term carers."

# Words no hostile file's ingested text may contain: they only ever appear in scripts, styles,
# event handlers or URLs of the HTML files.
SCRIPT_WORDS = ("alert(", "javascript:", "onerror", "onclick", "onload", "stealCookies", "evilStyle",
                "document.cookie", "fetch(", "<script", "color: red")


@dataclass(frozen=True)
class Hostile:
    name: str  # path relative to the folder
    what: str
    expect: str  # "failed" | "ingested"
    reason: tuple[str, ...] = ()  # each must occur (case-insensitively) in the failure message
    text: tuple[str, ...] = ()  # each must occur in the ingested report's text
    absent: tuple[str, ...] = ()  # none may occur in the ingested report's text


# --- PDF, written by hand so that pathological structures cost nothing to build ---------------


def raw_pdf(objects: list[bytes], *, root: int = 1) -> bytes:
    """A PDF whose object ``i`` (1-based) is ``objects[i-1]``, with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref))
    return out.getvalue()


def _stream(data: bytes, extra: bytes = b"", *, compress: bool = True) -> bytes:
    if compress:
        data = zlib.compress(data, 9)
        extra += b" /Filter /FlateDecode"
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
_TEXT_OPS = b"BT /F1 10 Tf 72 700 Td (The committee noted the report.) Tj ET\n"


def _pages_pdf(n_pages: int, contents: bytes | None, *, xobject: bytes | None = None) -> bytes:
    """``n_pages`` pages sharing one content stream (and optionally one form XObject /X0)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", _FONT]  # 1 catalog, 2 pages, 3 font
    content_ref = b""
    if contents is not None:
        objects.append(_stream(contents))
        content_ref = b" /Contents %d 0 R" % len(objects)
    xobject_ref = b""
    if xobject is not None:
        objects.append(_stream(xobject, b" /Type /XObject /Subtype /Form /BBox [0 0 612 792]"
                                        b" /Resources << /Font << /F1 3 0 R >> >>"))
        xobject_ref = b" /XObject << /X0 %d 0 R >>" % len(objects)
    first = len(objects) + 1
    page = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >>"
            + xobject_ref + b" >>" + content_ref + b" >>")
    objects += [page] * n_pages
    kids = b" ".join(b"%d 0 R" % (first + i) for i in range(n_pages))
    objects[1] = b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n_pages
    return raw_pdf(objects)


def pdf_many_blank_pages(n_pages: int = 20_000) -> bytes:
    """A page-count bomb: 20,000 blank pages in about 1.5 MB."""
    return _pages_pdf(n_pages, None)


def pdf_page_tree_dag(depth: int = 40) -> bytes:
    """Each page-tree node lists the next one twice: 2**40 pages from 42 objects."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for d in range(depth):
        parent = b" /Parent %d 0 R" % (d + 1) if d else b""
        objects.append(b"<< /Type /Pages%s /Kids [%d 0 R %d 0 R] /Count %d >>" % (parent, d + 3, d + 3, 2 ** (depth - d)))
    objects.append(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 72 72] >>" % (depth + 1))
    return raw_pdf(objects)


def pdf_page_tree_cycle() -> bytes:
    """A page tree whose root lists itself as its own kid."""
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] >>",
    ])


def pdf_content_bomb(mb: int = 120) -> bytes:
    """One page whose 120 KB content stream inflates to 120 MB."""
    filler = b"0 0 m 1 1 l S\n" * (1024 * 1024 // 14)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(filler) for _ in range(mb)) + compressor.flush()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", _FONT,
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
               b" /Contents 5 0 R >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + body + b"\nendstream"]
    return raw_pdf(objects)


def pdf_text_time_bomb(n_pages: int = 5_000, mb: float = 1.0) -> bytes:
    """A CPU bomb under the page limit: every page draws the same ~1 MB of text operators
    (a 3 KB stream), so reading its text would take hours."""
    return _pages_pdf(n_pages, _TEXT_OPS * int(mb * 1024 * 1024 / len(_TEXT_OPS)))


def pdf_xobject_bomb(n_pages: int = 50, invocations: int = 5_000, kb: int = 200) -> bytes:
    """A CPU bomb hidden in a form XObject: each page paints one 200 KB text form 5,000 times."""
    return _pages_pdf(n_pages, b"/X0 Do\n" * invocations,
                      xobject=_TEXT_OPS * (kb * 1024 // len(_TEXT_OPS)))


def pdf_text(pages: list[str], *, owner: str | None = None, user: str | None = None, aes: bool = False) -> bytes:
    """A real text PDF from fpdf2, optionally encrypted by fpdf2 itself."""
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod

    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    if owner is not None:
        pdf.set_encryption(owner_password=owner, user_password=user,
                           encryption_method=EncryptionMethod.AES_256 if aes else EncryptionMethod.RC4)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


# --- Word (.docx) -----------------------------------------------------------------------------

_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    b"</Types>"
)
_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'officeDocument" Target="word/document.xml"/></Relationships>'
)
_W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def docx_from_xml(document_xml: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal .docx package around ``document_xml`` (plus any ``extra`` members)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("word/document.xml", document_xml)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buffer.getvalue()


def docx_paragraphs(paragraphs: list[str]) -> bytes:
    body = b"".join(b"<w:p><w:r><w:t>%s</w:t></w:r></w:p>" % p.encode() for p in paragraphs)
    return docx_from_xml(b'<?xml version="1.0" encoding="UTF-8"?><w:document %s><w:body>%s</w:body></w:document>' % (_W, body))


def docx_zip_bomb(gigabytes: int = 2) -> bytes:
    """A .docx whose word/document.xml inflates to ``gigabytes`` GB, in about 2 MB.

    One megabyte of spaces is deflated once with a full flush, which makes the compressed
    piece self-contained, and that piece is repeated: a valid deflate stream (CRC included)
    built without compressing gigabytes.
    """
    block = b" " * (1024 * 1024)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    count = gigabytes * 1024
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # an empty final block
    deflated = piece * count + final
    size = count * len(block)
    assert size < 2**32, "stay clear of zip64"

    def local(name: bytes, data: bytes, method: int, crc: int, size: int) -> bytes:
        return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(data), size, len(name), 0) + name + data

    def central(name: bytes, data_len: int, method: int, crc: int, size: int, offset: int) -> bytes:
        return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc, data_len, size,
                           len(name), 0, 0, 0, 0, 0, offset) + name

    members = [
        (b"[Content_Types].xml", _CONTENT_TYPES, 0, zlib.crc32(_CONTENT_TYPES), len(_CONTENT_TYPES)),
        (b"_rels/.rels", _RELS, 0, zlib.crc32(_RELS), len(_RELS)),
        (b"word/document.xml", deflated, 8, crc, size),
    ]
    out = io.BytesIO()
    directory = io.BytesIO()
    for name, data, method, member_crc, member_size in members:
        directory.write(central(name, len(data), method, member_crc, member_size, out.tell()))
        out.write(local(name, data, method, member_crc, member_size))
    start = out.tell()
    out.write(directory.getvalue())
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory.getvalue()), start, 0))
    return out.getvalue()


def docx_billion_laughs() -> bytes:
    """XML entity expansion in word/document.xml: 10**9 'lol's if entities were expanded."""
    entities = b'<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)
    )
    xml = (b'<?xml version="1.0"?><!DOCTYPE w:document [' + entities + b"]><w:document " + _W
           + b"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>")
    return docx_from_xml(xml)


def docx_deep_xml(depth: int = 100_000) -> bytes:
    """A document.xml nested 100,000 elements deep; random ids keep it from compressing so
    well that the zip-bomb check refuses it first, so the XML parser meets the depth."""
    opening = b"".join(b'<w:sdt w:tag="%s"><w:sdtContent>' % os.urandom(6).hex().encode() for _ in range(depth))
    xml = (b'<?xml version="1.0"?><w:document ' + _W + b"><w:body>" + opening
           + b"<w:p><w:r><w:t>deep</w:t></w:r></w:p>" + b"</w:sdtContent></w:sdt>" * depth + b"</w:body></w:document>")
    return docx_from_xml(xml)


def docx_traversal_members() -> bytes:
    """A real Word file whose zip also holds members named ../../ and /etc/...: nothing may be
    extracted anywhere."""
    return docx_from_xml(
        b'<?xml version="1.0"?><w:document ' + _W + b"><w:body><w:p><w:r><w:t>Traversal test paragraph"
        b"</w:t></w:r></w:p></w:body></w:document>",
        {"../../../../tmp/reports-qa-zip-slip.txt": b"escaped", "/etc/reports-qa-zip-slip": b"escaped"},
    )


# --- HTML -------------------------------------------------------------------------------------

SCRIPT_PAGE = """<!DOCTYPE html>
<html><head><title>Cabinet</title>
<script>stealCookies(document.cookie)</script>
<style>body { color: red } .evilStyle { background: url(javascript:alert(1)) }</style>
<meta http-equiv="refresh" content="0; url=javascript:alert(1)">
</head>
<body onload="alert(1)">
<h1 onclick="alert(1)">Highways report</h1>
<p>The council agreed to resurface 40 roads this year.<img src=x onerror="alert(1)"></p>
<p><a href="javascript:alert(1)">Read the appendix</a> and <a href="JaVaScRiPt:fetch('//evil')">the annex</a>.</p>
<SCRIPT type="module">alert(1)</SCRIPT>
<svg><script>alert(1)</script><text>svg text</text></svg>
<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>
<noscript><p>Enable scripts alert(1)</p></noscript>
<!-- <script>alert(1)</script> -->
<template><script>alert(1)</script></template>
<object data="javascript:alert(1)"></object>
<p style="color: red">Costs rose by 4 per cent.</p>
<div>Unclosed script follows<script>alert(1); stealCookies()
</body></html>
"""


def html_deep(depth: int, opening: str, closing: str, inner: str) -> bytes:
    """``inner`` wrapped ``depth`` times in ``opening``...``closing``."""
    return ("<html><body>" + opening * depth + inner + closing * depth + "</body></html>").encode()


# --- text -------------------------------------------------------------------------------------

POUND_TEXT = "Cyngor Sir \u2013 the council\u2019s \u201cHighways Plan\u201d costs \u00a34.5m; caf\u00e9 r\u00e9sum\u00e9.\n"
LATIN1_TEXT = "Caf\u00e9 r\u00e9sum\u00e9 costs \u00a312 \u00e0 la carte; \u00bd of the \u00a3 budget.\n"


def numbered(line: str, n: int = 20) -> str:
    """``line`` n times, numbered: identical lines would be taken for running page headers."""
    return "".join(f"{i}. {line}" for i in range(1, n + 1))


def big_text(megabytes: float = 50) -> bytes:
    """About ``megabytes`` MB of numbered sections of distinct paragraphs (identical lines would
    all be taken for running page headers and leave nothing to index)."""
    target = int(megabytes * 1024 * 1024)
    out = io.BytesIO()
    section = 0
    while out.tell() < target:
        section += 1
        out.write(f"\n{section}. Highways programme part {section}\n\n".encode())
        for item in range(1, 21):
            out.write((f"{section}.{item} The committee noted item {item} of part {section}: the \u00a3{section * 7 + item}k "
                       f"budget for road {section * 31 + item} \u2013 see appendix {item} for the officer\u2019s detail.\n").encode())
    return out.getvalue()


# --- the folder -------------------------------------------------------------------------------


@dataclass
class HostileSet:
    folder: Path
    outside: Path
    files: list[Hostile] = field(default_factory=list)

    def add(self, name: str, data: bytes | Callable[[Path], None], what: str, expect: str, **kw: tuple[str, ...]) -> None:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(data):
            data(path)
        else:
            path.write_bytes(data)
        self.files.append(Hostile(name, what, expect, **kw))


def write_hostile_folder(
    folder: Path, outside: Path, *, big_mb: int = 50, max_file_mb: float = 200, max_text_chars: int | None = None
) -> HostileSet:
    """Write every hostile file (and the good report) under ``folder``; symlink targets go in
    ``outside``, which must not be inside ``folder``. The ``big_mb`` text file (none if 0) is
    expected to be refused when over ``max_file_mb`` or ``max_text_chars``, the limits ingest
    will run with (``max_text_chars`` None: the setting's default)."""
    folder.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.txt").write_text("Outside secret: the root password is hunter2.\n")
    (outside / "dir").mkdir(exist_ok=True)
    (outside / "dir" / "also-secret.txt").write_text("Another secret outside the folder.\n")
    s = HostileSet(folder, outside)
    good = (Path(SAMPLE_REPORTS_DIR) / GOOD_REPORT).read_bytes()
    s.add(GOOD_REPORT, good, "a real report", "ingested", text=(GOOD_TEXT,))

    # empty, binary and misnamed
    s.add("empty.txt", b"", "0 bytes", "failed", reason=("empty",))
    s.add("whitespace.md", b" \r\n\t\n\xef\xbb\xbf  \n", "only whitespace", "failed", reason=("empty",))
    s.add("random.txt", os.urandom(64 * 1024), "random bytes", "failed", reason=("binary",))
    s.add("high-bytes.txt", bytes(b for b in os.urandom(64 * 1024) if b >= 0x80),
          "random bytes 0x80-0xff without NUL or controls", "failed", reason=("binary",))
    s.add("controls.md", bytes(range(1, 9)) * 4000 + b"some text", "control characters", "failed", reason=("binary",))
    s.add("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(4096), "a PNG named .txt", "failed",
          reason=("binary", "PNG"))
    s.add("elf.html", b"\x7fELF\x02\x01\x01\x00" + os.urandom(8192), "an executable named .html", "failed", reason=("binary",))
    s.add("zip.pdf", b"PK\x03\x04" + os.urandom(2048), "a zip named .pdf", "failed", reason=("PDF",))

    # encodings: text must come out right
    s.add("utf8-bom.txt", codecs.BOM_UTF8 + numbered(POUND_TEXT).encode(), "UTF-8 with BOM", "ingested",
          text=(POUND_TEXT.strip(),), absent=("\ufeff",))
    s.add("utf16-le.txt", codecs.BOM_UTF16_LE + (POUND_TEXT + numbered("Second line \u00a35\n")).replace("\n", "\r\n").encode("utf-16-le"),
          "UTF-16 LE with BOM, CRLF", "ingested", text=(POUND_TEXT.strip(), "Second line \u00a35"), absent=("\r",))
    s.add("utf16-be.txt", codecs.BOM_UTF16_BE + numbered(POUND_TEXT.replace("Cyngor", "Senedd")).encode("utf-16-be"),
          "UTF-16 BE with BOM", "ingested", text=(POUND_TEXT.replace("Cyngor", "Senedd").strip(),))
    s.add("utf16-nobom.txt", numbered(POUND_TEXT.replace("Cyngor", "Adroddiad")).encode("utf-16-le"), "UTF-16 LE without BOM",
          "ingested", text=(POUND_TEXT.replace("Cyngor", "Adroddiad").strip(),))
    s.add("utf32.txt", numbered(POUND_TEXT.replace("Cyngor", "Pwyllgor")).encode("utf-32"), "UTF-32 with BOM", "ingested",
          text=(POUND_TEXT.replace("Cyngor", "Pwyllgor").strip(),))
    s.add("cp1252.txt", numbered(POUND_TEXT.replace("Cyngor", "Cabinet")).encode("cp1252"), "Windows-1252 smart quotes and \u00a3",
          "ingested", text=(POUND_TEXT.replace("Cyngor", "Cabinet").strip(),))
    s.add("latin1.txt", numbered(LATIN1_TEXT).encode("latin-1"), "ISO-8859-1 with \u00a3 and \u00e9", "ingested",
          text=(LATIN1_TEXT.strip(),))
    mixed = numbered("Scrutiny committee \u2013 \u00a33m agreed.\n").encode() + "The officer\u2019s view.\n".encode("cp1252")
    s.add("mixed-utf8-cp1252.txt", mixed, "UTF-8 with one stray Windows-1252 byte", "ingested",
          text=("Scrutiny committee \u2013 \u00a33m agreed.", "The officer\u2019s view."), absent=("\u00e2\u20ac", "\u00c2\u00a3"))
    s.add("lying-charset.html", ('<meta charset="utf-8">' + "".join(f"<p>{i}. Fees rise to \u00a340 \u2013 \u201cfinal\u201d.</p>" for i in range(5))).encode("cp1252"),
          "declares UTF-8, is Windows-1252", "ingested", text=("Fees rise to \u00a340 \u2013 \u201cfinal\u201d.",))
    s.add("nul-in-text.txt", b"Agenda item one\x00\x00 " * 500, "text with NUL bytes", "failed", reason=("binary",))

    # PDF
    real = pdf_text(["1. Summary\nThe council agreed a budget of 4 million pounds.", "2. Risks\nThere are none."])
    s.add("truncated.pdf", real[: len(real) // 2], "half a PDF", "failed", reason=("not a readable PDF",))
    s.add("header-only.pdf", b"%PDF-1.7\n", "just a header", "failed", reason=("not a readable PDF",))
    s.add("not-a-pdf.pdf", b"<html><body>404 Not Found</body></html>", "an error page named .pdf", "failed",
          reason=("saved web page (HTML), not a PDF",))
    s.add("locked-rc4.pdf", pdf_text(["Confidential minutes"], owner="owner-secret", user="hunter2"),
          "fpdf2 RC4 encryption with a user password", "failed", reason=("password-protected",))
    s.add("locked-aes.pdf", pdf_text(["Confidential minutes"], owner="owner-secret", user="hunter2", aes=True),
          "fpdf2 AES-256 encryption with a user password", "failed", reason=("password-protected",))
    s.add("permissions-only.pdf", pdf_text(["Open minutes of the Executive committee meeting."], owner="owner-secret", aes=True),
          "AES-256 with an empty user password (permissions only)", "ingested",
          text=("Open minutes of the Executive committee meeting.",))
    s.add("blank-pages.pdf", pdf_many_blank_pages(20_000), "20,000 blank pages", "failed", reason=("20,000 pages",))
    s.add("page-tree-dag.pdf", pdf_page_tree_dag(), "2**40 pages from a shared page-tree node", "failed",
          reason=("too large or complex",))
    s.add("page-tree-cycle.pdf", pdf_page_tree_cycle(), "a page tree that contains itself", "failed",
          reason=("page-tree-cycle.pdf",))
    s.add("content-bomb.pdf", pdf_content_bomb(), "a content stream inflating to 120 MB", "failed",
          reason=("content-bomb.pdf",))
    s.add("text-time-bomb.pdf", pdf_text_time_bomb(), "5,000 pages of 1 MB of text operators each", "failed",
          reason=("took more than",))
    s.add("xobject-bomb.pdf", pdf_xobject_bomb(), "a text form painted 5,000 times per page", "failed",
          reason=("took more than",))

    # Word
    s.add("zip-bomb.docx", docx_zip_bomb(2), "document.xml inflating to 2 GB", "failed", reason=("zip bomb",))
    s.add("billion-laughs.docx", docx_billion_laughs(), "XML entity expansion", "failed", reason=("billion-laughs.docx",))
    s.add("deep-xml.docx", docx_deep_xml(), "document.xml nested 100,000 deep", "failed", reason=("deep-xml.docx",))
    s.add("zip-slip.docx", docx_traversal_members(), "zip members named ../../ and /etc/", "ingested",
          text=("Traversal test paragraph",))
    s.add("ole.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "an old .doc / encrypted container", "failed",
          reason=(".docx",))
    s.add("truncated.docx", docx_paragraphs(["Half a Word file"] * 50)[:300], "half a .docx", "failed",
          reason=("not a readable Word document",))

    # HTML
    s.add("scripts.html", SCRIPT_PAGE.encode(), "scripts, styles, on* handlers, javascript: URLs", "ingested",
          text=("Highways report", "resurface 40 roads", "Read the appendix", "Costs rose by 4 per cent."),
          absent=SCRIPT_WORDS)
    s.add("deep-div.html", html_deep(100_000, "<div>", "</div>", "Deep content here"), "100,000 nested <div>s",
          "ingested", text=("Deep content here",))
    s.add("deep-span.html", html_deep(100_000, "<span>", "</span>", "Span content here"), "100,000 nested <span>s",
          "ingested", text=("Span content here",))
    s.add("deep-list.html", html_deep(50_000, "<ul><li>", "</li></ul>", "List content here"), "50,000 nested lists",
          "ingested", text=("List content here",))
    s.add("deep-table.html", html_deep(30_000, "<table><tr><td>", "</td></tr></table>", "Table content here"),
          "30,000 nested tables", "ingested", text=("Table content here",))
    s.add("unclosed.html", b"<p>Unclosed paragraph content" + b"<div><b><i>" * 30_000, "30,000 unclosed tags",
          "ingested", text=("Unclosed paragraph content",))
    s.add("only-script.html", b"<html><head><script>alert(1)</script></head><body><nav>Menu</nav></body></html>",
          "nothing but a script and navigation", "failed", reason=("no text",))

    # big
    big = big_text(big_mb) if big_mb else b""
    max_text_chars = max_text_chars or Settings.model_fields["max_text_chars"].default
    chars = len(big.decode())
    if big_mb > max_file_mb:
        s.add(f"big-{big_mb}mb.txt", big, f"{big_mb} MB of text, over the size limit", "failed",
              reason=(f"over the {max_file_mb:g} MB limit",))
    elif chars > max_text_chars:
        s.add(f"big-{big_mb}mb.txt", big, f"{big_mb} MB of text, over the text limit", "failed",
              reason=(f"has {chars:,} characters of text", f"over the {max_text_chars:,}-character limit",
                      "REPORTS_QA_MAX_TEXT_CHARS"))
    elif big_mb:
        s.add(f"big-{big_mb}mb.txt", big, f"{big_mb} MB of text", "ingested",
              text=("1.1 The committee noted item 1 of part 1: the \u00a38k budget",))

    # names that would break a one-line message or mislead a reader
    s.add("new\nline report.txt", b"Minutes of the meeting\n\nThe committee agreed the budget for 2024.\n",
          "a newline in the file name", "ingested", text=("The committee agreed the budget for 2024.",))
    s.add("tab\tand\x1b[31mansi.txt", b"", "a tab and an ANSI escape in the name", "failed", reason=("empty",))
    s.add("invoice-\u202etxt.exe.txt", os.urandom(2048), "a right-to-left override in the name", "failed",
          reason=("binary",))

    # links and special files: none may be followed out of the folder
    def link(target: Path, directory: bool = False) -> Callable[[Path], None]:
        return lambda path: path.symlink_to(target, target_is_directory=directory)

    s.add("link-out.txt", link(outside / "secret.txt"), "symlink to a file outside", "failed", reason=("outside",))
    s.add("link-out-relative.txt", link(Path("..") / outside.name / "secret.txt"), "relative ../ symlink outside",
          "failed", reason=("outside",))
    s.add("link-out-dir", link(outside / "dir", True), "symlink to a folder outside", "failed", reason=("outside",))
    s.add("link-etc-passwd.txt", link(Path("/etc/passwd")), "symlink to /etc/passwd", "failed", reason=("outside",))
    s.add("link-chain.txt", link(folder / "link-out.txt"), "in-folder symlink to a symlink that leaves", "failed",
          reason=("outside",))
    s.add("link-dangling.txt", link(folder / "deleted.txt"), "dangling symlink", "failed", reason=("broken symlink",))
    s.add("link-loop.txt", link(folder / "link-loop.txt"), "symlink to itself", "failed", reason=("link-loop.txt",))
    s.add("fifo.txt", lambda path: os.mkfifo(path), "a named pipe (reading would block forever)", "failed",
          reason=("not a regular file",))
    return s


# --- upload names -------------------------------------------------------------------------------

# (file name as an upload claims it, the base name it must be stored under)
UPLOAD_NAMES: list[tuple[str, str]] = [
    ("../../../../tmp/reports-qa-escape.txt", "reports-qa-escape.txt"),
    ("..\\..\\..\\windows\\escape-win.txt", "escape-win.txt"),
    ("/etc/cron.d/absolute.txt", "absolute.txt"),
    ("C:\\fakepath\\fake-path.txt", "fake-path.txt"),
    ("a/b/../../../dots-inside.txt", "dots-inside.txt"),
    ("trailing-slash.txt/", "trailing-slash.txt"),
    ("./dot-slash.md", "dot-slash.md"),
]


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "hostile-files")
    built = write_hostile_folder(root / "reports", root / "outside")
    for h in built.files:
        print(f"{h.expect:9} {h.name:28} {h.what}")
    print(f"{len(built.files)} files in {root / 'reports'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
