"""Turn report files (text, Markdown, PDF, Word, HTML) into a :class:`LoadedDocument`.

Everything a user might drop into the tool ends here, so every failure becomes an
:class:`IngestError` whose one-line message starts with the file's name and can be shown as-is
in a summary table; no parser exception is allowed to escape. Text files keep their exact text
(only newlines are normalised) because citations point into it by character offset.
"""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import html
import io
import logging
import os
import re
import stat
import time
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.models import LoadedDocument

if TYPE_CHECKING:  # the parsers are imported when first needed, keeping start-up quick
    from bs4 import BeautifulSoup
    from docx.table import Table
    from docx.text.paragraph import Paragraph

logger = logging.getLogger(__name__)

# pypdf logs (even at ERROR) every defect it works around; council PDFs are full of them and
# none is actionable by a user. Real failures reach us as exceptions instead.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)

SUPPORTED_TYPES: dict[str, str] = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
}

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
MAX_PDF_PAGES = 5_000
MAX_PDF_SECONDS = 120.0  # reading a PDF's text stops, and the file is refused, after this long
# A .docx is a zip: refuse ones whose members would expand past these before parsing any XML.
DOCX_MAX_UNCOMPRESSED = 200 * 1024 * 1024
DOCX_MAX_RATIO = 200  # real Word XML compresses ~5-30x; only members over 1 MB are judged
_DOCX_RATIO_MIN_SIZE = 1024 * 1024

# Sniff encodings on a prefix so a 50 MB file is not decoded by every candidate codec.
_DETECT_SAMPLE_BYTES = 1024 * 1024
_CONTROL_SAMPLE_CHARS = 64 * 1024
_UTF16_SAMPLE_BYTES = 64 * 1024
# A file is read as UTF-8 with stray Windows-1252 bytes when its valid multi-byte UTF-8
# characters outnumber the invalid bytes at least this many times.
_MIXED_MIN_RATIO = 4
_MAX_CONTROL_SHARE = 0.01
# C0 controls other than tab, newline, vertical tab, form feed and carriage return, plus DEL.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
# UK council files that are not UTF-8 are nearly always Windows-1252; charset-normalizer cannot
# tell it from its Central European cousins on short texts, so it wins whenever it fits.
_PREFERRED_LEGACY = ("cp1252", "latin_1")


class IngestError(Exception):
    """A file that cannot be ingested; ``str(e)`` is one line saying why and what to do."""


class UnsupportedFileType(IngestError):
    """The file's suffix is not one this tool reads."""


class UnreadableFile(IngestError):
    """The file has a supported suffix but no usable text (empty, binary, corrupt, locked...)."""


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def load_document(
    path: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_text_chars: int | None = None,
    data: bytes | None = None,
) -> LoadedDocument:
    """Load one file from disk, refusing it before reading if it is over ``max_bytes``, and as
    soon as its text passes ``max_text_chars`` (None: ``REPORTS_QA_MAX_TEXT_CHARS``).

    ``data`` is the file's bytes when the caller has read them already (``read_report_file``).
    The document records the file's resolved path and the hash of its bytes: together they are
    the report's identity on disk.
    """
    path = Path(path)
    name = display_name(path.name)
    file_type = _file_type(name)
    limit = _text_limit(max_text_chars)
    if data is None:
        data = read_report_file(path, max_bytes=max_bytes)
    doc = _load(data, name, file_type, limit)
    return dataclasses.replace(doc, path=str(path.resolve()), file_hash=file_digest(data))


def read_report_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of a report file, with the same refusals (size, folder, FIFO, permissions)
    ``load_document`` makes; an unchanged file can then be recognised by ``file_digest``
    without extracting its text."""
    path = Path(path)
    return _read_file(path, display_name(path.name), max_bytes)


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_bytes(
    data: bytes, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES, max_text_chars: int | None = None
) -> LoadedDocument:
    """Load an upload; ``filename`` only decides the type and the ``source`` shown in citations."""
    name = upload_name(filename)
    file_type = _file_type(name)
    if len(data) > max_bytes:
        raise UnreadableFile(_too_large(name, len(data), max_bytes))
    data = bytes(data)
    return dataclasses.replace(_load(data, name, file_type, _text_limit(max_text_chars)), file_hash=file_digest(data))


def iter_report_files(paths: Iterable[Path]) -> Iterator[tuple[Path, IngestError | None]]:
    """Expand the user's files and folders into report files, reporting what cannot be read.

    Folders are walked recursively in sorted order so runs are repeatable; hidden entries and
    unsupported files inside folders are skipped quietly (a folder of reports usually holds
    other things too), but a file the user named explicitly is always reported on. Symlinks
    inside a folder are followed only while they stay inside it.
    """
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        try:
            yield from _given_entry(path, seen)
        except OSError as exc:  # e.g. a path under a folder we may not enter
            yield path, UnreadableFile(f"{display_name(path.name or str(path))} cannot be read ({_reason(exc)})")


def _given_entry(path: Path, seen: set[Path]) -> Iterator[tuple[Path, IngestError | None]]:
    if path.is_symlink() and not path.exists():
        yield path, UnreadableFile(f"{display_name(path.name)} is a broken symlink (its target is missing)")
    elif path.is_dir():
        root = path.resolve()
        yield from _walk_folder(path, root, seen, {root})
    elif path.exists():
        if path.suffix.lower() not in SUPPORTED_TYPES:
            yield path, UnsupportedFileType(_unsupported(display_name(path.name)))
        else:
            yield from _file_entry(path, seen)
    else:
        yield path, UnreadableFile(f"{display_name(path.name or str(path))}: no such file or folder")


# --------------------------------------------------------------------------------------------
# Folder walking
# --------------------------------------------------------------------------------------------


def _walk_folder(
    folder: Path, root: Path, seen: set[Path], visited: set[Path]
) -> Iterator[tuple[Path, IngestError | None]]:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except PermissionError:
        yield folder, UnreadableFile(f"{display_name(folder.name)}: cannot open folder (permission denied)")
        return
    except OSError as exc:
        yield folder, UnreadableFile(f"{display_name(folder.name)}: cannot open folder ({_reason(exc)})")
        return

    for entry in entries:
        if entry.name.startswith((".", "~$")):  # hidden, or an Office lock file
            continue
        path = Path(entry.path)
        shown = display_name(entry.name)
        try:
            if entry.is_symlink():
                target = path.resolve()
                if not target.exists():
                    yield path, UnreadableFile(f"{shown} is a broken symlink (its target is missing)")
                    continue
                if not target.is_relative_to(root):
                    yield path, UnreadableFile(
                        f"{shown}: symlink points outside {display_name(root.name)} (to {display_name(str(target))}); "
                        "copy the file into the folder instead"
                    )
                    continue
            if entry.is_dir():  # follows in-folder symlinks; `visited` stops link loops
                real = path.resolve()
                if real in visited:
                    continue
                yield from _walk_folder(path, root, seen, visited | {real})
            elif entry.is_file():
                if path.suffix.lower() in SUPPORTED_TYPES:
                    yield from _file_entry(path, seen)
                else:
                    logger.debug("skipping %s: unsupported type", path)
            elif path.suffix.lower() in SUPPORTED_TYPES:  # reading a FIFO would block forever
                yield path, UnreadableFile(f"{shown} is not a regular file (a pipe, socket or device)")
        except (OSError, RuntimeError) as exc:  # RuntimeError: symlink loop (Python < 3.13)
            yield path, UnreadableFile(f"{shown} cannot be read ({_reason(exc)})")


def _file_entry(path: Path, seen: set[Path]) -> Iterator[tuple[Path, IngestError | None]]:
    real = path.resolve()
    if real in seen:  # the same report named twice (or via a folder and directly)
        return
    seen.add(real)
    if not os.access(real, os.R_OK):
        yield path, UnreadableFile(f"{display_name(path.name)} cannot be read (permission denied)")
    else:
        yield path, None


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def upload_name(filename: str) -> str:
    """Browsers may send ``C:\\fakepath\\x.pdf``; only the last component is the name."""
    return display_name(filename.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1])


# Characters that would break a one-line message or a table row, or reorder what a reader
# sees: C0/C1 controls (newlines included), line and paragraph separators, bidi overrides.
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
MAX_NAME_CHARS = 200


def display_name(name: str) -> str:
    """A file name fit to be a report's source and to start a one-line message: unsafe
    characters become "_" and a very long name keeps its start and its suffix."""
    name = _UNSAFE_NAME.sub("_", name)
    if len(name) > MAX_NAME_CHARS:
        suffix = Path(name).suffix
        suffix = suffix if len(suffix) <= 16 else ""
        name = name[: MAX_NAME_CHARS - len(suffix) - 1] + "\u2026" + suffix
    return name


def _file_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    try:
        return SUPPORTED_TYPES[suffix]
    except KeyError:
        raise UnsupportedFileType(_unsupported(name)) from None


def _unsupported(name: str) -> str:
    suffix = Path(name).suffix
    kind = f"'{suffix}'" if suffix else "(no extension)"
    supported = ", ".join(sorted(SUPPORTED_TYPES, key=lambda s: (SUPPORTED_TYPES[s], len(s), s)))
    return f"{name or '(no name)'}: unsupported file type {kind}; supported: {supported}"


def _human_size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    size = float(n)
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            break
    return f"{size:.1f}".removesuffix(".0") + f" {unit}"


def _too_large(name: str, size: int, limit: int) -> str:
    return (
        f"{name} is {_human_size(size)}, over the {_human_size(limit)} limit; "
        "split it or raise the limit"
    )


def _text_limit(given: int | None) -> int:
    """``given``, else the configured limit, so a caller that passes none still honours
    ``REPORTS_QA_MAX_TEXT_CHARS``."""
    if given is not None:
        return given
    from reports_qa.settings import Settings

    return Settings().max_text_chars


def _too_much_text(name: str, chars: int, limit: int, stopped: str = "") -> str:
    """Why a report was refused for its text size; ``stopped`` says where reading stopped, and
    then ``chars`` is what had been read by then."""
    count = f"over {chars:,} characters of text ({stopped})" if stopped else f"{chars:,} characters of text"
    return f"{name} has {count}, over the {limit:,}-character limit; split it or raise REPORTS_QA_MAX_TEXT_CHARS"


def _reason(exc: BaseException) -> str:
    """A parser's complaint squeezed onto one short line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _read_file(path: Path, name: str, max_bytes: int) -> bytes:
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise UnreadableFile(f"{name} is a folder, not a file")
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
            raise UnreadableFile(f"{name} is not a regular file")
        if st.st_size > max_bytes:
            raise UnreadableFile(_too_large(name, st.st_size, max_bytes))
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise UnreadableFile(f"{name} does not exist (moved, deleted or a broken link?)") from None
    except PermissionError:
        raise UnreadableFile(f"{name} cannot be read (permission denied)") from None
    except IsADirectoryError:
        raise UnreadableFile(f"{name} is a folder, not a file") from None
    except OSError as exc:
        raise UnreadableFile(f"{name} cannot be read ({_reason(exc)})") from None
    if len(data) > max_bytes:  # grew while we looked
        raise UnreadableFile(_too_large(name, len(data), max_bytes))
    return data


def _load(data: bytes, name: str, file_type: str, limit: int) -> LoadedDocument:
    """Extract the text and refuse it if it is longer than ``limit``, before anything parses or
    embeds it. The PDF and Word extractors also stop reading as soon as they pass it."""
    try:
        doc = _dispatch(data, name, file_type, limit)
        if len(doc.text) > limit:
            raise UnreadableFile(_too_much_text(name, len(doc.text), limit))
        return doc
    except IngestError:
        raise
    except Exception as exc:  # last line of defence: a parser bug must not stop a whole batch
        logger.exception("%s: unexpected failure while loading", name)
        raise UnreadableFile(f"{name} could not be read ({_reason(exc)})") from exc


def _dispatch(data: bytes, name: str, file_type: str, limit: int) -> LoadedDocument:
    if not data:
        raise UnreadableFile(f"{name} is empty (0 bytes)")
    if file_type in ("txt", "md"):
        return _load_text(data, name, file_type)
    if file_type == "pdf":
        return _load_pdf(data, name, limit)
    if file_type == "docx":
        return _load_docx(data, name, limit)
    if file_type == "html":
        return _load_html(data, name)
    raise AssertionError(f"no loader for {file_type}")  # SUPPORTED_TYPES and this list drifted


def _normalise_newlines(text: str) -> str:
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


# Anything but whitespace and the invisible characters editors leave behind (a BOM in the
# middle of a file, zero-width spaces and joiners, word joiners, soft hyphens).
_VISIBLE = re.compile(r"[^\s\ufeff\u200b\u200c\u200d\u2060\u00ad]")


def _is_blank(text: str) -> bool:
    return _VISIBLE.search(text) is None


# --------------------------------------------------------------------------------------------
# Plain text and Markdown
# --------------------------------------------------------------------------------------------

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _decode(data: bytes, name: str, what: str) -> tuple[str, str]:
    """Bytes to text plus the encoding used; raises if the bytes are not text at all.

    UTF-8 (with or without BOM) is tried first because it is both the commonest and the only
    encoding whose success is strong evidence; the rest is left to charset-normalizer, nudged
    towards Windows-1252 (see ``_PREFERRED_LEGACY``).
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = str(memoryview(data)[len(bom) :], encoding)
            except UnicodeDecodeError:
                break
            label = "utf-8-sig" if encoding == "utf-8" else encoding.removesuffix("-le").removesuffix("-be")
            _check_not_binary(text, name, what)
            return text, label

    if b"\x00" in data:
        utf16 = _bomless_utf16(data)
        if utf16 is None:
            raise UnreadableFile(_binary(name, what))
        try:
            text = data.decode(utf16)
        except UnicodeDecodeError:
            raise UnreadableFile(_binary(name, what)) from None
        _check_not_binary(text, name, what)
        return text, "utf-16"
    try:
        text = data.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        mixed = _mostly_utf8(data)
        text, encoding = (mixed, "utf-8+cp1252") if mixed is not None else _detect(data, name, what)
    _check_not_binary(text, name, what)
    return text, encoding


def _bomless_utf16(data: bytes) -> str | None:
    """The codec ("utf-16-le" or "utf-16-be") if ``data`` reads as mostly-ASCII UTF-16 without
    a BOM, else None.

    Such text has a NUL in every other byte; so do many binary formats, so the other byte of
    nearly every pair must also be printable ASCII or a line break before it counts as text.
    """
    sample = data[:_UTF16_SAMPLE_BYTES]
    if len(data) % 2 or len(sample) < 4:
        return None
    pairs = len(sample) // 2
    for encoding, low, high in (("utf-16-le", 0, 1), ("utf-16-be", 1, 0)):
        lows, highs = sample[low::2], sample[high::2]
        asciiish = sum(1 for lo, hi in zip(lows, highs) if hi == 0 and (32 <= lo < 127 or lo in (9, 10, 13)))
        if asciiish >= 0.7 * pairs:
            return encoding
    return None


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: bytes that are not UTF-8 read as Windows-1252 (Latin-1 where
    Windows-1252 leaves a byte undefined)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in bad), exc.end


codecs.register_error("reports_qa_cp1252", _cp1252_fallback)


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 text with a few Windows-1252 bytes pasted in (a smart quote from Word in an
    otherwise UTF-8 file), decoded as such; None if ``data`` is not mostly UTF-8.

    Decoding such a file as a whole with a legacy codec would turn every "£" and "–" into
    mojibake ("Â£", "â€“"), so each invalid byte is read as Windows-1252 instead, but only if
    the valid multi-byte UTF-8 characters far outnumber the invalid bytes: a legacy file
    (cp1252, or a CJK codec) only forms valid UTF-8 sequences by chance.
    """
    replaced = data.decode("utf-8", errors="replace")
    invalid = replaced.count("\ufffd")
    valid = len(replaced) - len(replaced.encode("ascii", errors="ignore")) - invalid  # non-ASCII characters
    if invalid == 0 or valid < _MIXED_MIN_RATIO * invalid:
        return None
    return data.decode("utf-8", errors="reports_qa_cp1252")


def _detect(data: bytes, name: str, what: str) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    sample = data[:_DETECT_SAMPLE_BYTES]
    matches = list(from_bytes(sample))
    if not matches:
        raise UnreadableFile(_binary(name, what))
    best = min(matches, key=lambda m: m.chaos)
    candidates = [m.encoding for m in matches if m.chaos <= best.chaos + 0.02]
    ordered = [e for e in _PREFERRED_LEGACY if e in candidates] + [best.encoding]
    ordered += [m.encoding for m in matches if m.encoding not in ordered]
    for encoding in ordered:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue  # the sample fitted but the rest of the file does not
        label = codecs.lookup(encoding).name
        logger.debug("%s: decoded as %s", name, label)
        return text, label
    raise UnreadableFile(_binary(name, what))


def _binary(name: str, what: str) -> str:
    return f"{name} looks like a binary file, not {what}"


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Files saved or downloaded under the wrong suffix are common; naming the real format tells
# the user the fix (rename) instead of just "binary".
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF; rename it to .pdf"),
    (b"PK\x03\x04", "a Word (.docx) or other zip file; if it is Word, rename it to .docx"),
    (_OLE_MAGIC, "an old Word .doc file; save it as .docx"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
)


def _refuse_other_format(data: bytes, name: str, what: str) -> None:
    head = data[:8]
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            raise UnreadableFile(f"{_binary(name, what)}: it is {kind}")


def _check_not_binary(text: str, name: str, what: str) -> None:
    sample = text[:_CONTROL_SAMPLE_CHARS]
    if sample and len(_CONTROL_CHARS.findall(sample)) / len(sample) > _MAX_CONTROL_SHARE:
        raise UnreadableFile(_binary(name, what))


def _load_text(data: bytes, name: str, file_type: str) -> LoadedDocument:
    _refuse_other_format(data, name, "text")
    text, encoding = _decode(data, name, "text")  # 50 MB decodes in about 0.1 s
    del data
    text = _normalise_newlines(text)
    if _is_blank(text):
        raise UnreadableFile(f"{name} is empty (only whitespace)")
    return LoadedDocument(source=name, text=text, file_type=file_type, encoding=encoding)


# --------------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------------


def _load_pdf(data: bytes, name: str, limit: int) -> LoadedDocument:
    try:
        return _read_pdf(data, name, limit)
    except IngestError:
        raise
    except Exception as exc:  # pypdf raises far more than its own error types on bad input
        raise _pdf_error(name, exc) from exc


_PDF_HINT = "it may be damaged or incomplete, try downloading it again"
# What a web page starts with (an error page or a login page a download saved instead of the
# PDF): a doctype or one of the tags every page opens with, after at most some blank space.
_WEB_PAGE = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|title)\b",
                       re.IGNORECASE | re.DOTALL)


def _pdf_error(name: str, exc: Exception) -> UnreadableFile:
    from pypdf.errors import LimitReachedError

    if isinstance(exc, LimitReachedError):  # one of pypdf's guards against PDF bombs tripped
        return UnreadableFile(
            f"{name} is too large or complex to read safely ({_reason(exc)}); split it or save a simpler copy"
        )
    return UnreadableFile(f"{name} is not a readable PDF ({_reason(exc)}); {_PDF_HINT}")


class _TooSlow(Exception):
    """Raised from inside pypdf's text extraction when a PDF has used up its time."""


# Operators that can put text on a page: showing text, or painting a form XObject that may.
# pypdf does not even parse a page's content stream without one, unless asked to watch it.
_DRAWS_TEXT = re.compile(rb"T[jJ]|Do|['\"]")


def _draws_text(page: object) -> bool:
    try:
        contents = page.get_contents()  # type: ignore[attr-defined]
        return contents is not None and _DRAWS_TEXT.search(contents.get_data()) is not None
    except Exception:  # let extract_text meet (and report) whatever is wrong, under watch
        return True


def _too_slow(name: str, index: int, n_pages: int) -> UnreadableFile:
    return UnreadableFile(
        f"{name} took more than {MAX_PDF_SECONDS:g} seconds to read (stopped at page {index + 1:,} of "
        f"{n_pages:,}; a PDF bomb?); split it or save a simpler copy"
    )


def _read_pdf(data: bytes, name: str, limit: int) -> LoadedDocument:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    if b"%PDF-" not in data[:1024]:
        if _WEB_PAGE.search(data[:4096]):  # a failed download, saved under the PDF's name
            raise UnreadableFile(f"{name} is a saved web page (HTML), not a PDF: download the PDF again "
                                 "(or rename it to .html to ingest the page itself)")
        raise UnreadableFile(f"{name} is not a readable PDF (no PDF header); {_PDF_HINT}")
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        # Many council PDFs are "encrypted" only to set permissions, with an empty password.
        try:
            unlocked = reader.decrypt("")
        except DependencyError:
            raise UnreadableFile(
                f"{name} uses AES encryption, which needs the 'cryptography' package; "
                "install it or save an unprotected copy"
            ) from None
        if not unlocked:
            raise UnreadableFile(f"{name} is password-protected; save an unprotected copy")

    n_pages = len(reader.pages)
    if n_pages > MAX_PDF_PAGES:
        raise UnreadableFile(
            f"{name} has {n_pages:,} pages, more than the {MAX_PDF_PAGES:,} this tool reads; split it"
        )
    if n_pages == 0:
        raise UnreadableFile(f"{name} has no pages")

    # Text extraction is pure Python: a few KB of PDF can make it run for hours (thousands of
    # pages sharing one huge content stream, a form painted thousands of times), and pypdf's
    # own limits bound only each stream. So reading has a deadline, checked between pages and,
    # on pages that draw text, before every operator.
    deadline = time.monotonic() + MAX_PDF_SECONDS

    def watch(*_: object) -> None:
        if time.monotonic() > deadline:
            raise _TooSlow

    texts: list[str] = []
    failures: list[Exception] = []
    size = 0
    for index in range(n_pages):
        if time.monotonic() > deadline:
            raise _too_slow(name, index, n_pages)
        try:
            page = reader.pages[index]
            page_text = page.extract_text(visitor_operand_before=watch if _draws_text(page) else None) or ""
        except _TooSlow:
            raise _too_slow(name, index, n_pages) from None
        except Exception as exc:  # one bad content stream should not lose the other pages
            logger.warning("%s: cannot read the text of page %d (%s)", name, index + 1, _reason(exc))
            failures.append(exc)
            page_text = ""
        # NUL marks glyphs pypdf could not map; it is not text and upsets downstream stores.
        texts.append(_normalise_newlines(page_text.replace("\x00", "")))
        size += len(texts[-1]) + 2
        if size - 2 > limit and index + 1 < n_pages:  # no need to read the remaining pages
            raise UnreadableFile(_too_much_text(name, size - 2, limit, f"stopped at page {index + 1:,} of {n_pages:,}"))

    if len(failures) == n_pages:
        raise _pdf_error(name, failures[0])
    if all(_is_blank(t) for t in texts):
        raise UnreadableFile(f"{name} has no text layer (scanned images?); OCR is not supported")

    starts: list[int] = []
    offset = 0
    for page_text in texts:
        starts.append(offset)
        offset += len(page_text) + 2
    return LoadedDocument(source=name, text="\n\n".join(texts), file_type="pdf", page_starts=tuple(starts))


# --------------------------------------------------------------------------------------------
# Word (.docx)
# --------------------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"heading\s*([1-9])$", re.IGNORECASE)


def _load_docx(data: bytes, name: str, limit: int) -> LoadedDocument:
    if data.startswith(_OLE_MAGIC):
        # Old binary .doc files and password-protected .docx files are both OLE containers.
        raise UnreadableFile(
            f"{name} is not a .docx file (an old .doc or a password-protected document?); "
            "save it as an unprotected .docx"
        )
    _check_zip(data, name)
    try:
        text = _read_docx(data, name, limit)
    except IngestError:
        raise
    except Exception as exc:
        raise UnreadableFile(f"{name} is not a readable Word document ({_reason(exc)})") from exc
    if _is_blank(text):
        raise UnreadableFile(f"{name} has no text")
    return LoadedDocument(source=name, text=text, file_type="docx")


def _check_zip(data: bytes, name: str) -> None:
    """Judge the zip by its directory before any member is inflated (zip bombs)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except Exception as exc:  # BadZipFile mostly, but zipfile also raises NotImplementedError etc.
        raise UnreadableFile(f"{name} is not a readable Word document (not a valid zip: {_reason(exc)})") from None
    total = sum(i.file_size for i in infos)
    if total > DOCX_MAX_UNCOMPRESSED:
        raise UnreadableFile(
            f"{name} expands to more than {_human_size(DOCX_MAX_UNCOMPRESSED)} "
            f"({_human_size(total)}) when unzipped (zip bomb?)"
        )
    for info in infos:
        if info.file_size > _DOCX_RATIO_MIN_SIZE and info.file_size > DOCX_MAX_RATIO * max(info.compress_size, 1):
            raise UnreadableFile(
                f"{name} expands to more than {DOCX_MAX_RATIO}x its size when unzipped "
                f"({info.filename}: {_human_size(info.compress_size)} -> {_human_size(info.file_size)}; zip bomb?)"
            )


def _read_docx(data: bytes, name: str, limit: int) -> str:
    import docx
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))
    body = document.element.body
    blocks: list[str] = []
    p_tag, tbl_tag, sdt_tag, sdt_content = qn("w:p"), qn("w:tbl"), qn("w:sdt"), qn("w:sdtContent")

    # Walk the body's XML rather than doc.paragraphs so tables stay in reading order and text
    # inside content controls (w:sdt, common in council templates) is not lost.
    stack = list(reversed(list(body.iterchildren())))
    in_list = False
    size = 0  # len("\n\n".join(blocks)), kept as blocks grow
    while stack:
        if size > limit:  # the rest of a long document need not be read
            raise UnreadableFile(_too_much_text(name, size, limit, "stopped part-way"))
        el = stack.pop()
        if el.tag == p_tag:
            line = _docx_paragraph(Paragraph(el, document._body))
            if line and in_list and line.startswith("- "):
                blocks[-1] += "\n" + line  # consecutive list items read as one list
                size += 1 + len(line)
            elif line:
                size += 2 * bool(blocks) + len(line)
                blocks.append(line)
                in_list = line.startswith("- ")
        elif el.tag == tbl_tag:
            rows = _docx_table(Table(el, document._body))
            if rows:
                size += 2 * bool(blocks) + sum(map(len, rows)) + len(rows) - 1
                blocks.append("\n".join(rows))
                in_list = False
        elif el.tag == sdt_tag:
            for content in el.iterchildren(sdt_content):
                stack.extend(reversed(list(content.iterchildren())))
    return "\n\n".join(blocks)


def _docx_paragraph(paragraph: Paragraph) -> str:
    text = " ".join(paragraph.text.split("\n")).strip()
    if not text:
        return ""
    style_name = (paragraph.style.name or "") if paragraph.style is not None else ""
    heading = _HEADING_STYLE.match(style_name.strip())
    if heading:
        return "#" * min(int(heading.group(1)), 6) + " " + text
    if style_name.strip().lower() == "title":
        return "# " + text
    ppr = paragraph._p.pPr
    if style_name.lower().startswith("list") or (ppr is not None and ppr.numPr is not None):
        return "- " + text
    return text


def _docx_table(table: Table) -> list[str]:
    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if previous is not None and cell._tc is previous:  # a merged cell repeats itself
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append("\t".join(cells))
    return rows


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_DROP_TAGS = frozenset(
    {"script", "style", "noscript", "nav", "header", "footer", "template", "head", "svg", "iframe", "object", "embed"}
)
# <header>/<footer> inside an article or main element usually hold the report's own title.
_CHROME_TAGS = frozenset({"header", "footer"})
_CONTENT_TAGS = frozenset({"article", "main"})
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_PARAGRAPH_TAGS = frozenset({"p", "blockquote", "pre", "table", "ul", "ol", "dl", "figure", "hr", "address"})
_LINE_TAGS = frozenset(
    {"div", "section", "article", "main", "aside", "li", "tr", "dt", "dd", "caption",
     "figcaption", "form", "fieldset", "legend", "details", "summary", "body", "center"}
)
_CELL_TAGS = frozenset({"td", "th"})
_CELL_SEP = "\x1f"  # marks a table cell boundary until lines are tidied; never real text
_WS = re.compile(r"[ \t\n\r\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r" {2,}")
_LABEL_ONLY = re.compile(r"^(#{1,6}|-)$")


def _load_html(data: bytes, name: str) -> LoadedDocument:
    _refuse_other_format(data, name, "HTML")
    markup, encoding = _decode_html(data, name)
    del data
    try:
        text = _html_text(markup)
    except RecursionError:
        logger.warning("%s: HTML nested too deeply for the parser; using flat text extraction", name)
        text = _html_text_flat(markup)
    except Exception as exc:
        raise UnreadableFile(f"{name} is not readable HTML ({_reason(exc)})") from exc
    if _is_blank(text):
        raise UnreadableFile(f"{name} has no text (only markup, scripts or navigation)")
    return LoadedDocument(source=name, text=text, file_type="html", encoding=encoding)


def _decode_html(data: bytes, name: str) -> tuple[str, str]:
    """Honour a declared charset, as a browser would, before guessing."""
    has_bom = any(data.startswith(bom) for bom, _ in _BOMS)
    match = None if has_bom else _META_CHARSET.search(data[:4096])
    if match:
        declared = match.group(1).decode("ascii", "replace").lower()
        # Browsers read "iso-8859-1"/"ascii" pages as windows-1252 (WHATWG encoding spec).
        if declared in ("iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii"):
            declared = "cp1252"
        try:
            encoding = codecs.lookup(declared).name
            if b"\x00" not in data or encoding.startswith("utf-16"):
                text = data.decode(encoding)
                _check_not_binary(text, name, "HTML")
                return text, encoding
        except (LookupError, UnicodeDecodeError):
            logger.debug("%s: declared charset %r does not fit; guessing", name, declared)
    return _decode(data, name, "HTML")


def _html_text(markup: str) -> str:
    from bs4 import BeautifulSoup

    try:
        soup = BeautifulSoup(markup, "lxml")
    except Exception as exc:  # lxml rejects some inputs html.parser accepts
        logger.debug("lxml could not parse HTML (%s); trying html.parser", _reason(exc))
        soup = BeautifulSoup(markup, "html.parser")
    return _tidy_lines(_walk_html(soup))


def _walk_html(soup: BeautifulSoup) -> str:
    """Flatten the tree with an explicit stack: recursion dies on deeply nested pages.

    Block boundaries only *request* line breaks; requests merge (the larger wins) and are
    written before the next real text, so nested divs or whitespace between list items do not
    pile up blank lines.
    """
    from bs4 import NavigableString, Tag
    from bs4.element import PreformattedString

    out: list[str] = []
    pending = 0  # newlines owed before the next text
    after_label = False  # just wrote "- " or "# ": a block opening inside must not split it
    content_depth = 0
    pre_depth = 0
    item_depth = 0  # inside <li>, blocks (nested lists, paragraphs) only start a new line
    cell_depth = 0  # inside <td>/<th>, blocks must not break the table row at all

    def brk(n: int) -> None:
        nonlocal pending
        if cell_depth:
            out.append(" ")
        elif not after_label:
            pending = max(pending, min(n, 1) if item_depth else n)

    def emit(text: str, *, label: bool = False) -> None:
        nonlocal pending, after_label
        if pending:
            out.append("\n" * pending)
            pending = 0
        out.append(text)
        after_label = label

    # Each stack item is a node to open, or a plain str "/name" marking where a tag closes.
    stack: list[object] = [soup]
    while stack:
        node = stack.pop()
        if isinstance(node, str) and not isinstance(node, NavigableString):
            name = node[1:]
            if name in _CONTENT_TAGS:
                content_depth -= 1
            elif name == "pre":
                pre_depth -= 1
            elif name == "li":
                item_depth -= 1
            elif name in _CELL_TAGS:
                cell_depth -= 1
            if name in _HEADINGS or name in _PARAGRAPH_TAGS:
                brk(2)
            elif name in _LINE_TAGS:
                brk(1)
            if name == "li" or name in _HEADINGS:
                after_label = False  # an empty item or heading: nothing more to protect
            continue
        if isinstance(node, NavigableString):
            if isinstance(node, PreformattedString):  # comments, doctype, CDATA, PIs
                continue
            text = str(node).replace(_CELL_SEP, "")
            if not pre_depth:
                text = _WS.sub(" ", text)
                if text == " " and (pending or after_label):
                    continue  # layout whitespace between blocks
            if text:
                emit(text)
            continue
        if not isinstance(node, Tag):
            continue
        name = (node.name or "").lower()
        if name in _DROP_TAGS and not (name in _CHROME_TAGS and content_depth):
            continue
        if name in _CONTENT_TAGS:
            content_depth += 1
        elif name == "pre":
            pre_depth += 1
        if name in _HEADINGS and not cell_depth:
            brk(2)
            emit("#" * _HEADINGS[name] + " ", label=True)
        elif name == "li" and not cell_depth:
            brk(1)
            if not after_label:  # an item opening inside an empty one: one bullet, not "- - -"
                emit("- ", label=True)
            item_depth += 1
        elif name == "li":
            item_depth += 1
        elif name in _CELL_TAGS:
            emit(_CELL_SEP)
            cell_depth += 1
        elif name == "br":
            if cell_depth:
                out.append(" ")
            elif not after_label:
                pending = min(pending + 1, 2)
        elif name in _PARAGRAPH_TAGS:
            brk(2)
        elif name in _LINE_TAGS:
            brk(1)
        stack.append("/" + name)
        stack.extend(reversed(node.contents))
    return "".join(out)


def _tidy_lines(raw: str) -> str:
    lines: list[str] = []
    for line in raw.split("\n"):
        if _CELL_SEP in line:
            cells = [" ".join(c.split()) for c in line.split(_CELL_SEP)]
            if cells and not cells[0]:
                cells = cells[1:]  # the separator opens each cell, so the first is empty
            line = "\t".join(cells).rstrip("\t")
        else:
            line = _SPACES.sub(" ", line).strip(" \t\f\v\xa0")
        if not _LABEL_ONLY.match(line):  # an empty heading or list item
            lines.append(line)
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


_FLAT_DROP = re.compile(  # an element left open runs to the end, as a browser reads it
    r"<(script|style|noscript|template|head)\b.*?(?:</\1\s*>|\Z)|<!--.*?(?:-->|\Z)", re.IGNORECASE | re.DOTALL
)
_FLAT_BLOCK = re.compile(r"<(?:/?(?:p|div|h[1-6]|li|tr|ul|ol|table|section|article)|br)\b[^>]*>", re.IGNORECASE)
_FLAT_TAG = re.compile(r"<[^>]*>")


def _html_text_flat(markup: str) -> str:
    """Last resort for pages the tree walker cannot handle: strip tags, keep line breaks."""
    text = _FLAT_DROP.sub(" ", markup)
    text = _FLAT_BLOCK.sub("\n", text)
    text = html.unescape(_FLAT_TAG.sub("", text))
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")
