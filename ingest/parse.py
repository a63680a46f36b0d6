"""From a loaded document to a parsed report: metadata, section tree and chunks."""

from __future__ import annotations

from ingest.chunker import TokenCounter, chunk_report
from ingest.metadata import extract_metadata
from ingest.models import LoadedDocument, ParsedReport
from ingest.sections import build_tree


def parse_document(
    doc: LoadedDocument,
    count_tokens: TokenCounter,
    *,
    max_tokens: int = 200,
    model_max_tokens: int = 256,
    overlap_tokens: int = 40,
) -> ParsedReport:
    meta = extract_metadata(doc.text, doc.source, doc.file_type)
    page_at = doc.page_at if doc.page_starts else None
    sections = build_tree(doc.text, page_at=page_at)
    chunks = chunk_report(
        meta,
        doc.text,
        sections,
        count_tokens,
        max_tokens=max_tokens,
        model_max_tokens=model_max_tokens,
        overlap_tokens=overlap_tokens,
        page_at=page_at,
    )
    return ParsedReport(meta=meta, text=doc.text, sections=sections, chunks=chunks)
