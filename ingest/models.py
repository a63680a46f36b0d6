"""The data model every citation points into.

A report's ``text`` is kept exactly as loaded; sections and chunks refer to it by character
offsets, so ``text[chunk.start:chunk.end] == chunk.text`` always holds and the UI can open and
highlight the exact passage a citation names.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Literal

from ingest.judgements import Judgement

SectionKind = Literal["cover", "part", "heading", "paragraph"]
UnitKind = Literal["heading", "item", "sentence"]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LoadedDocument:
    """What a loader returns: the plain text of one file and where its pages start."""

    source: str  # file name, as the user will see it in citations
    text: str
    file_type: str  # "txt", "md", "pdf", "docx", "html"
    page_starts: tuple[int, ...] = ()  # offset of each page's first character (PDF only)
    encoding: str | None = None
    path: str | None = None  # the resolved path it was read from; None for an upload
    file_hash: str | None = None  # sha256 of the file's bytes

    def page_at(self, offset: int) -> int | None:
        """1-based page holding ``offset``, or None where the format has no pages."""
        if not self.page_starts:
            return None
        page = 0
        for i, start in enumerate(self.page_starts):
            if start <= offset:
                page = i
            else:
                break
        return page + 1


@dataclass(frozen=True)
class ReportMeta:
    report_id: str
    source: str
    council: str | None
    meeting: str | None
    title: str | None
    date: str | None  # ISO 8601 meeting date
    content_hash: str
    file_type: str = "txt"
    source_path: str | None = None  # resolved path of the file on disk; None for uploads
    file_hash: str | None = None  # sha256 of the file's bytes: an unchanged file is not read again

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def identity(self) -> tuple[str, ...]:
        """What the report itself states about which report it is: how an upload, which has no
        path, is told apart from another report that happens to share its file name."""
        return tuple((v or "").casefold() for v in (self.council, self.meeting, self.date, self.title))


@dataclass
class Section:
    """One node of a report's section tree.

    ``start``..``end`` spans the whole section with its descendants; ``body_start``..``body_end``
    is the section's own text (after its heading line, before its first child).
    """

    id: str
    kind: SectionKind
    number: str | None
    title: str
    level: int
    parent_id: str | None
    path: tuple[str, ...]  # labels from the top of the tree down to and including this one
    start: int
    end: int
    body_start: int
    body_end: int
    page: int | None = None
    children: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """How a citation names this section: ``3.11``, ``1. Summary of Report``, ``6.1 Risk``."""
        if self.kind == "paragraph" or not self.title:
            return self.number or self.title
        if not self.number:
            return self.title
        return f"{self.number}. {self.title}" if "." not in self.number else f"{self.number} {self.title}"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["path"] = list(self.path)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Section:
        return cls(**{**data, "path": tuple(data["path"])})


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: always inside one section, always a verbatim slice of the report."""

    chunk_id: str
    report_id: str
    section_id: str
    index: int
    text: str
    start: int
    end: int
    context: str  # council, report title and section path: embedded, never quoted
    token_count: int
    page: int | None = None

    @property
    def embed_text(self) -> str:
        return f"{self.context}\n{self.text}"


@dataclass(frozen=True)
class Unit:
    """One citable piece of a report: ``text[start:end]`` of the report text."""

    index: int  # position in the report, 0-based
    section_id: str
    kind: UnitKind
    start: int
    end: int
    list_id: int | None = None  # items of one list share it (unique within the report)
    label: int | None = None  # for items: the index of the unit introducing their list

    def text_in(self, report_text: str) -> str:
        """The unit as a reader reads it: its words on one line, without its bullet or number."""
        return " ".join(report_text[self.start : self.end].split())


@dataclass
class ParsedReport:
    meta: ReportMeta
    text: str
    sections: list[Section]
    chunks: list[Chunk]
    judgements: list[Judgement] = field(default_factory=list)  # graded Ofsted judgements it states
    units: list[Unit] = field(default_factory=list)  # headings, list items and sentences (ingest.units)

    def embed_texts(self) -> list[str]:
        """Everything of this report the model embeds, in the order ``put_report`` takes the
        vectors: the chunks (their context line and text), then the units (their words)."""
        return [c.embed_text for c in self.chunks] + [u.text_in(self.text) for u in self.units]

    def section(self, section_id: str) -> Section:
        for s in self.sections:
            if s.id == section_id:
                return s
        raise KeyError(section_id)
