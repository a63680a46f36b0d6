"""Chunk invariants on the sample reports, with the real tokenizer of the real model."""

import re

import pytest

from ingest.chunker import chunk_report
from ingest.metadata import extract_metadata
from ingest.models import LoadedDocument
from ingest.parse import parse_document
from ingest.sections import build_tree, find_furniture, split_lines
from tests.samples import ALL, NORTH_SOMERSET, SOUTHEND_2019, SWINDON, sample_text


@pytest.fixture(scope="module")
def parsed(embedder):
    return {
        name: parse_document(LoadedDocument(name, sample_text(name), "txt"), embedder.count_tokens,
                             model_max_tokens=embedder.max_tokens)
        for name in ALL
    }


@pytest.mark.parametrize("name", ALL)
def test_chunks_are_verbatim_within_one_section_and_fit_the_model(parsed, embedder, name):
    report = parsed[name]
    text = report.text
    assert report.chunks
    for chunk in report.chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip() == chunk.text and chunk.text
        section = report.section(chunk.section_id)
        in_body = section.body_start <= chunk.start and chunk.end <= section.body_end
        heading_only = not section.children and chunk.start == section.start and chunk.end <= section.body_start
        assert in_body or heading_only, (chunk.text[:60], section.path)
        # No other section's heading starts inside the chunk.
        assert not any(chunk.start < s.start < chunk.end for s in report.sections)
        # Measured, not guessed: MiniLM reads 256 word pieces and drops the rest silently.
        assert embedder.count_tokens(chunk.embed_text) == chunk.token_count <= embedder.max_tokens
        assert report.meta.council in chunk.context and report.meta.date in chunk.context
        assert section.label[:60] in chunk.context


@pytest.mark.parametrize("name", ALL)
def test_no_chunk_contains_page_furniture(parsed, name):
    report = parsed[name]
    lines = split_lines(report.text)
    furniture = [ln for ln in lines if ln.index in find_furniture(lines)]
    for chunk in report.chunks:
        assert "intentionally left blank" not in chunk.text.lower()
        for ln in furniture:
            assert not (chunk.start <= ln.start < chunk.end), (ln.text, chunk.text[:80])


def test_swindon_repeated_header_is_in_no_chunk_and_split_paragraph_stays_in_its_section(parsed):
    report = parsed[SWINDON]
    assert not any("4<sup>th</sup> September 2019" in c.text for c in report.chunks)
    assert not any(re.search(r"^Cabinet$", c.text, re.M) for c in report.chunks)
    # Paragraph 3.6 runs across a page break: two chunks, both cited to 3.6.
    pieces = [c for c in report.chunks if report.section(c.section_id).number == "3.6"]
    assert len(pieces) == 2
    assert pieces[1].text.startswith("has appointed additional capacity")


def test_a_list_stays_with_its_introduction(parsed):
    ns = parsed[NORTH_SOMERSET]
    improve = [c for c in ns.chunks if ns.section(c.section_id).label == "What needs to improve"]
    assert len(improve) == 1 and improve[0].text.count("\n- ") == 5
    southend = parsed[SOUTHEND_2019]
    para = [c for c in southend.chunks if southend.section(c.section_id).number == "3.11"]
    assert len(para) == 1
    assert "The areas for improvement are:" in para[0].text
    assert "pre-proceedings under the public law outline" in para[0].text


def test_chunk_ids_are_deterministic_and_versioned(parsed, embedder):
    report = parsed[NORTH_SOMERSET]
    again = parse_document(LoadedDocument(NORTH_SOMERSET, report.text, "txt"), embedder.count_tokens)
    assert [c.chunk_id for c in again.chunks] == [c.chunk_id for c in report.chunks]
    assert len({c.chunk_id for c in report.chunks}) == len(report.chunks)
    assert all(c.chunk_id.startswith(f"north-somerset-2020-10-21-executive:{report.meta.content_hash[:12]}:")
               for c in report.chunks)


def test_long_section_splits_on_boundaries_with_overlap(embedder):
    sentences = [f"Paragraph {i} says the service improved in area number {i} during the year." for i in range(60)]
    body = "\n\n".join(sentences)
    text = f"Wiltshire Council\n\nRecommendations\n\n{body}\n"
    meta = extract_metadata(text, "wiltshire.txt")
    sections = build_tree(text)
    chunks = chunk_report(meta, text, sections, embedder.count_tokens, max_tokens=120, overlap_tokens=40)
    own = [c for c in chunks if sections[-1].id == c.section_id]
    assert len(own) >= 4
    for chunk in own:
        assert chunk.text.startswith("Paragraph ") and chunk.text.endswith("during the year.")
        assert embedder.count_tokens(chunk.text) - 2 <= 120
    for a, b in zip(own, own[1:]):
        assert b.start < a.end  # the next chunk repeats the previous one's last paragraph
        assert a.text.split("\n\n")[-1] == b.text.split("\n\n")[0]
    covered = set()
    for c in own:
        covered.update(s for s in sentences if s in c.text)
    assert covered == set(sentences)


def test_one_huge_line_is_cut_at_sentences_then_words(embedder):
    line = " ".join(f"Sentence {i} is about child protection plans." for i in range(200))
    word_soup = "x" * 5000
    text = f"Essex County Council\n\nSummary\n\n{line}\n\n{word_soup}\n"
    meta = extract_metadata(text, "essex.txt")
    sections = build_tree(text)
    chunks = chunk_report(meta, text, sections, embedder.count_tokens)
    covered = set()
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.token_count <= embedder.max_tokens
        covered.update(range(chunk.start, chunk.end))
    for part in (line, word_soup):
        start = text.index(part)
        missing = set(range(start, start + len(part))) - covered
        assert not {i for i in missing if not text[i].isspace()}  # only the gaps between pieces
