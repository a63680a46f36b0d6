"""Units: the headings, list items and sentences answers are made of, cut at ingest and stored
with their vectors."""

from __future__ import annotations

from ingest.sections import Layout, build_tree
from ingest.units import cut_units, sentence_spans
from tests.samples import NORTH_SOMERSET, NORTH_SOMERSET_IMPROVE, sample_text


def units_of(text: str):
    layout = Layout.of(text)
    sections = build_tree(text, layout=layout)
    return cut_units(text, sections, layout), {s.id: s for s in sections}


def test_a_list_is_its_items_under_the_heading_that_introduces_it():
    text = sample_text(NORTH_SOMERSET)
    units, sections = units_of(text)
    heading = next(u for u in units if u.kind == "heading" and u.text_in(text) == "What needs to improve")
    items = [u for u in units if u.label == heading.index]
    assert [u.text_in(text) for u in items] == NORTH_SOMERSET_IMPROVE
    assert {u.kind for u in items} == {"item"} and len({u.list_id for u in items}) == 1
    assert all(text[u.start : u.end] == u.text_in(text) for u in items), "spans leave the bullet out"
    # "They inspected three separate areas:" introduces the three graded areas below it.
    lead = next(u for u in units if u.text_in(text) == "They inspected three separate areas:")
    graded = [u.text_in(text) for u in units if u.label == lead.index]
    assert len(graded) == 3 and graded[2] == "The experience and progress of children in care and care leavers - Good"


def test_every_unit_is_a_span_of_its_own_section():
    text = sample_text(NORTH_SOMERSET)
    units, sections = units_of(text)
    assert [u.index for u in units] == list(range(len(units)))
    for u in units:
        section = sections[u.section_id]
        assert section.start <= u.start < u.end <= section.end
        assert text[u.start : u.end].strip() == text[u.start : u.end]


def test_pdf_lines_run_on_into_one_sentence_and_bullets_start_items():
    text = (
        "What needs to improve?\n"
        "\u25fc The clarity and detail of the care leaver offer, including for care leavers who are \n"
        "parents. (Outcome four, National Framework)\n"
        "\u25fc Timeliness of \n"
        "assessments.\n"
        "\n"
        "Summary\n"
        "\n"
        "Children in Dorset receive exceptional services that help meet their needs and reduce \n"
        "risks, supporting them to have better experiences. Since the previous inspection in \n"
        "2021, leaders have strengthened services.\n"
    )
    units, _ = units_of(text)
    read = [(u.kind, u.text_in(text)) for u in units]
    assert ("item", "The clarity and detail of the care leaver offer, including for care leavers who are "
                    "parents. (Outcome four, National Framework)") in read
    assert ("item", "Timeliness of assessments.") in read
    assert ("sentence", "Children in Dorset receive exceptional services that help meet their needs and reduce "
                        "risks, supporting them to have better experiences.") in read
    assert ("sentence", "Since the previous inspection in 2021, leaders have strengthened services.") in read


def test_sentences_do_not_break_after_abbreviations_or_a_leading_number():
    text = "Leaders act quickly, e.g. in court work. Mr. Smith agreed. 3. The plan is new."
    spans = [text[a:b] for a, b in sentence_spans(text, 0, len(text))]
    assert spans == ["Leaders act quickly, e.g. in court work.", "Mr. Smith agreed.", "3. The plan is new."]


def test_stored_units_come_back_with_their_vectors(store, embedder):
    from ingest.loaders import load_document
    from ingest.parse import parse_document
    from reports_qa.settings import SAMPLE_REPORTS_DIR

    report = parse_document(load_document(SAMPLE_REPORTS_DIR / NORTH_SOMERSET), embedder.count_tokens)
    vectors = embedder.embed(report.embed_texts())
    store.put_report(report, vectors)
    record = store.get_report(report.meta.report_id)
    assert record.units == len(report.units) and not record.units_stale
    stored = store.units(report.meta.report_id, record.version)
    assert [u for u, _ in stored] == report.units
    first_unit_vector = vectors[len(report.chunks)]
    assert max(abs(a - b) for a, b in zip(stored[0][1], first_unit_vector)) < 1e-5
    assert store.remove_report(report.meta.report_id)
    assert store.units(report.meta.report_id, record.version) == []


def test_a_unit_search_leaves_out_units_of_an_older_cut(store, embedder):
    from ingest.loaders import load_document
    from ingest.parse import parse_document
    from reports_qa.settings import SAMPLE_REPORTS_DIR
    from vectorstore.store import UNITS_VERSION

    report = parse_document(load_document(SAMPLE_REPORTS_DIR / NORTH_SOMERSET), embedder.count_tokens)
    vectors = embedder.embed(report.embed_texts())
    store.put_report(report, vectors)
    question = embedder.embed_query(report.units[5].text_in(report.text))
    rid = report.meta.report_id
    for report_ids in (None, [rid]):
        nearest, _ = store.query_units(question, k=5, report_ids=report_ids)[0]
        assert (nearest["report_id"], nearest["start"]) == (rid, report.units[5].start)
    # a re-cut that stopped half-way leaves a unit of the older cut: it is never found
    old = store._units.get(where={"report_id": rid}, limit=1, include=["metadatas", "embeddings"])
    store._units.upsert(ids=["older-cut"], embeddings=[list(question)],
                        metadatas=[{**old["metadatas"][0], "units_version": UNITS_VERSION - 1}])
    for report_ids in (None, [rid]):
        found = store.query_units(question, k=5, report_ids=report_ids)
        assert found and all(m["units_version"] == UNITS_VERSION for m, _ in found)


def test_a_report_stored_before_units_gets_them_at_the_next_ingest(tmp_path, embedder):
    import shutil

    from reports_qa.settings import SAMPLE_REPORTS_DIR, Settings
    from vectorstore.indexer import Indexer
    from vectorstore.store import ReportStore

    folder = tmp_path / "reports"
    folder.mkdir()
    shutil.copy(SAMPLE_REPORTS_DIR / NORTH_SOMERSET, folder)
    settings = Settings(data_dir=tmp_path / "data")
    with ReportStore.open(settings, model_name=embedder.name, dimension=embedder.dimension) as store:
        indexer = Indexer(store, embedder, settings)
        first, = indexer.ingest_paths([folder])
        rid = first.report_id
        version = store.get_report(rid).version
        expected = store.units(rid, version)
        store.update_manifest(rid, {"units_version": 0, "unit_count": 0})  # as an older store has it
        store._units.delete(ids=store._units.get(where={"report_id": rid}, include=[])["ids"])
        assert store.get_report(rid).units_stale and store.units(rid, version) == []

        again, = indexer.ingest_paths([folder])
        assert again.status == "unchanged" and again.embedded == 0
        text = store.report_text(rid)
        distinct = len({u.text_in(text) for u, _ in expected})  # a sentence said twice is embedded once
        assert f"{len(expected)} sentences and list items cut again, {distinct} embedded" in again.message
        assert not store.get_report(rid).units_stale
        assert [u for u, _ in store.units(rid, version)] == [u for u, _ in expected]

        # a newer cutter on a store that has units: every unit cut as before keeps its vector
        store.update_manifest(rid, {"units_version": 0})
        third, = indexer.ingest_paths([folder])
        assert f"{len(expected)} sentences and list items cut again, 0 embedded" in third.message
        assert not store.get_report(rid).units_stale
        kept = store.units(rid, version)
        assert [u for u, _ in kept] == [u for u, _ in expected]
        assert max(abs(a - b) for (_, v), (_, w) in zip(kept, expected) for a, b in zip(v, w)) < 1e-6


def test_words_found_in_three_councils_reports_are_boilerplate(store, embedder):
    from ingest.models import LoadedDocument
    from ingest.parse import parse_document

    about = ("Ofsted regulates and inspects to achieve excellence in the care of children and young people, "
             "and in education and skills for learners of all ages.")

    def report(name: str, council: str, finding: str):
        text = f"{council}\nReport to the Cabinet\nDate of Meeting: 1 May 2024\n\n1. Findings\n\n{finding}\n\n2. About Ofsted\n\n{about}\n"
        parsed = parse_document(LoadedDocument(name, text, "txt"), embedder.count_tokens)
        store.put_report(parsed, embedder.embed(parsed.embed_texts()))
        return parsed.meta.report_id

    def shared(rid: str) -> dict[str, bool]:
        record = store.get_report(rid)
        text = store.report_text(rid)
        return {u.text_in(text): u.shared for u, _ in store.units(rid, record.version) if u.kind != "heading"}

    dorset = report("dorset.txt", "Dorset Council", "Children in Dorset receive exceptional help from their social workers every single week.")
    sefton = report("sefton.txt", "Sefton Council", "Children in Sefton waited too long for help from their social workers in the last year.")
    assert not shared(dorset)[about], "two councils may share words (one trust serving both)"
    medway = report("medway.txt", "Medway Council", "Children in Medway are seen quickly by social workers who know them well and listen.")
    dorset_again = report("dorset-cabinet.txt", "Dorset Council", "Children in Dorset receive exceptional help from their social workers every single week.")
    assert shared(dorset)[about] and shared(sefton)[about] and shared(medway)[about], "every council's report says it"
    assert not shared(sefton)["Children in Sefton waited too long for help from their social workers in the last year."]
    finding = "Children in Dorset receive exceptional help from their social workers every single week."
    assert not shared(dorset)[finding] and not shared(dorset_again)[finding], "one council's reports may repeat each other"
