"""From a loaded document to a parsed report: metadata, section tree and chunks."""

from __future__ import annotations

from dataclasses import replace

from ingest.chunker import TokenCounter, chunk_report
from ingest.judgements import extract_judgements
from ingest.metadata import extract_metadata
from ingest.models import LoadedDocument, ParsedReport
from ingest.sections import Layout, build_tree
from ingest.units import cut_units


def parse_document(
    doc: LoadedDocument,
    count_tokens: TokenCounter,
    *,
    max_tokens: int = 200,
    model_max_tokens: int = 256,
    overlap_tokens: int = 40,
    report_id: str | None = None,
) -> ParsedReport:
    """``report_id`` is the id the indexer chose (default: from the file name)."""
    meta = replace(
        extract_metadata(doc.text, doc.source, doc.file_type, report_id=report_id),
        source_path=doc.path,
        file_hash=doc.file_hash,
    )
    page_at = doc.page_at if doc.page_starts else None
    layout = Layout.of(doc.text)  # lines and page furniture, shared by tree and chunker
    sections = build_tree(doc.text, page_at=page_at, layout=layout)
    chunks = chunk_report(
        meta,
        doc.text,
        sections,
        count_tokens,
        max_tokens=max_tokens,
        model_max_tokens=model_max_tokens,
        overlap_tokens=overlap_tokens,
        page_at=page_at,
        layout=layout,
    )
    return ParsedReport(
        meta=meta, text=doc.text, sections=sections, chunks=chunks,
        judgements=extract_judgements(doc.text, meta.date),
        units=cut_units(doc.text, sections, layout),
    )
