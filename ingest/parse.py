"""From a loaded document to a parsed report: metadata, section tree and chunks."""

from __future__ import annotations

from dataclasses import replace

from ingest.chunker import TokenCounter, chunk_report
from ingest.judgements import Judgement, extract_judgements, no_overall_grade
from ingest.metadata import extract_metadata
from ingest.models import LoadedDocument, ParsedReport, ReportMeta
from ingest.sections import Layout, build_tree
from ingest.units import cut_units


def read_meta(text: str, source: str, file_type: str, *, report_id: str | None = None,
              source_path: str | None = None, file_hash: str | None = None,
              stated: ReportMeta | None = None) -> tuple[ReportMeta, list[Judgement]]:
    """What a report states about itself, and its Ofsted judgements: at ingest, and again for a
    stored report when a newer version reads metadata differently. ``stated``: its metadata as
    the caller has read it already (its id is then ``report_id``)."""
    if stated is None:
        meta = extract_metadata(text, source, file_type, report_id=report_id)
    else:
        meta = replace(stated, report_id=report_id or stated.report_id)
    meta = replace(meta, source_path=source_path, file_hash=file_hash)
    judgements = extract_judgements(text, meta.date)
    return replace(meta, no_overall_grade=no_overall_grade(judgements, meta.inspection_start)), judgements


def parse_document(
    doc: LoadedDocument,
    count_tokens: TokenCounter,
    *,
    max_tokens: int = 200,
    model_max_tokens: int = 256,
    overlap_tokens: int = 40,
    report_id: str | None = None,
    stated: ReportMeta | None = None,
) -> ParsedReport:
    """``report_id`` is the id the indexer chose (default: from the file name); ``stated`` the
    document's metadata where the caller has read it already."""
    meta, judgements = read_meta(doc.text, doc.source, doc.file_type, report_id=report_id,
                                 source_path=doc.path, file_hash=doc.file_hash, stated=stated)
    page_at = doc.page_at if doc.page_starts else None
    layout = Layout.of(doc.text, doc.page_starts)  # lines and page furniture, shared by tree and chunker
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
        meta=meta, text=doc.text, sections=sections, chunks=chunks, judgements=judgements,
        units=cut_units(doc.text, sections, layout),
    )
