"""``reports-qa judgements`` over the ingested sample corpus, and over a store of its own."""

from __future__ import annotations

import json

import pytest

from ingest.judgements import GRADES, Judgement, extract_judgements
from tests.conftest import SAMPLE_TEXT, build_report
from tests.samples import ALL, sample_text
from ui.cli import main

RI = "Requires improvement to be good"
REPORT_FIELDS = {"council", "meeting", "date", "date_kind", "kind", "report_id", "source", "area_label"}
TEXTS = {name.removesuffix(".txt"): sample_text(name) for name in ALL}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def records(capsys, store_dir, *argv: str) -> list[dict]:
    code, out, _ = run(capsys, "--data-dir", str(store_dir), "judgements", "--json", *argv)
    assert code == 0
    return json.loads(out)


def table_rows(out: str) -> list[list[str]]:
    """The body rows of the printed table, each cell's wrapped lines put back together with
    no whitespace at all (a cell wraps at spaces, or inside a word too long for it)."""
    body = out.split("╇", 1)[1].split("\n", 1)[1]
    rows, cells = [], None
    for line in body.splitlines():
        if line.startswith("│"):
            parts = [part.strip() for part in line.split("│")[1:-1]]
            cells = [a + b for a, b in zip(cells, parts)] if cells else parts
        elif cells:  # a rule between rows, or the bottom of the table
            rows.append(["".join(c.split()) for c in cells])
            cells = None
    return rows


def flat(text: str) -> str:
    return "".join(text.split())


def test_json_has_every_field_of_each_record_and_its_report(sample_store, capsys):
    got = records(capsys, sample_store)
    assert got and all(set(r) == set(Judgement.__dataclass_fields__) | REPORT_FIELDS for r in got)
    for r in got:
        assert r["grade"] in GRADES
        assert TEXTS[r["report_id"]][r["start"] : r["end"]] == r["quote"]  # offsets into the report as filed
        assert r["source"] == r["report_id"] + ".txt"
    swindon = {r["area"]: r for r in got if r["report_id"] == "swindon-2019-09-04-cabinet"}
    assert {a: r["grade"] for a, r in swindon.items()} == {
        "overall": "Good", "leadership": "Good", "help_protection": "Good", "in_care": RI}
    care = swindon["in_care"]
    assert care["council"] == "Swindon Borough Council" and care["meeting"] == "Cabinet" and care["date"] == "2019-09-04"
    assert care["framework"] == "ILACS" and care["inspection_year"] == 2019 and care["previous"] is False
    assert care["grade_text"] == "Requires Improvement to be Good" and care["area_label"] == "Children in care"
    recalled = [r for r in got if r["previous"]]
    assert {(r["council"], r["area"], r["inspection_year"]) for r in recalled} >= {
        ("Southend-on-Sea Borough Council", "in_care", 2012), ("North Somerset Council", "overall", 2017)}


def test_the_table_shows_each_record_with_its_quote_and_offsets(sample_store, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")  # a terminal of usual width: cells wrap
    code, out, _ = run(capsys, "--data-dir", str(sample_store), "judgements")
    assert code == 0
    got = records(capsys, sample_store)
    shown = table_rows(out)
    assert len(shown) == len(got)
    for row, r in zip(shown, got):
        council, year, framework, area, grade, words, quote, where = row
        assert (council, area, grade) == (flat(r["council"]), flat(r["area_label"]), flat(r["grade"]))
        assert year == (f"{r['inspection_year']}(previousinspection)" if r["previous"] else str(r["inspection_year"]))
        assert framework == (r["framework"] or "")
        assert where == f"{r['report_id']}{r['start']}–{r['end']}"
        assert flat(r["grade_text"]) in words
        assert quote == flat(r["quote"]) or (quote.endswith("…") and flat(r["quote"]).startswith(quote[:-1]))
    assert [flat(x) for x in ("Swindon Borough Council", "2019", "ILACS", "Children in care", RI)] in [
        row[:5] for row in shown]
    assert f"{len(got)} Ofsted judgements from 5 reports" in out


def test_council_area_and_current_only_filters(sample_store, capsys):
    southend = records(capsys, sample_store, "--council", "Southend")
    # Every Southend report, not just the latest as `ask` would use: this is a table across years.
    assert {r["report_id"] for r in southend} == {
        "southend-on-sea-2016-07-12-people-scrutiny-committee", "southend-on-sea-2019-09-17-cabinet"}
    assert {r["council"] for r in southend} == {"Southend-on-Sea Borough Council"}

    overall = records(capsys, sample_store, "--area", "overall", "--current-only")
    assert {(r["council"], r["inspection_year"], r["grade"]) for r in overall} == {
        ("London Borough of Southwark", 2017, "Good"),
        ("North Somerset Council", 2020, RI),
        ("Southend-on-Sea Borough Council", 2016, RI),
        ("Southend-on-Sea Borough Council", 2019, RI),
        ("Swindon Borough Council", 2019, "Good"),
    }
    assert not any(r["previous"] for r in overall)

    both = records(capsys, sample_store, "--council", "Swindon", "--council", "Southwark", "--area", "in_care",
                   "--area", "overall")
    assert {(r["council"], r["area"], r["grade"]) for r in both} == {
        ("Swindon Borough Council", "overall", "Good"), ("Swindon Borough Council", "in_care", RI),
        ("London Borough of Southwark", "overall", "Good")}


def test_a_council_we_hold_no_report_on_is_an_error_naming_what_we_hold(sample_store, capsys):
    code, out, err = run(capsys, "--data-dir", str(sample_store), "judgements", "--council", "Essex")
    assert code == 1 and out == ""
    assert err.startswith("error: I hold no report on Essex County Council. I hold reports on:")
    assert "Swindon Borough Council (4 Sep 2019)" in err


def test_an_unknown_area_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["judgements", "--area", "schools"])
    assert exc.value.code == 2
    assert "invalid choice: 'schools'" in capsys.readouterr().err


@pytest.fixture
def own_store(store, settings, embed_report):
    """A report that states no grade, and one whose graded line carries rich markup."""
    plain = build_report()  # North Somerset: a library review, no Ofsted grade in it
    line = ("1.1 From April 2021 three branch libraries will move to a community-managed model run by volunteers, "
            "with the council keeping the building costs.")
    text = SAMPLE_TEXT.replace(line, "1.1 [red]A[/red] [/] [link=https://e.vil]x[/link] Overall "
                               "effectiveness was judged to be good.")
    marked = build_report(text, report_id="kent-2021-05-01-cabinet", council="Kent County Council", date="2021-05-01")
    marked.judgements = extract_judgements(text, "2021-05-01")
    for report in (plain, marked):
        store.put_report(report, embed_report(report))
    store.close()
    return settings.data_dir


def test_a_council_whose_reports_state_no_grade_is_said_plainly(own_store, capsys):
    code, out, _ = run(capsys, "--data-dir", str(own_store), "judgements", "--council", "North Somerset")
    assert code == 0
    assert out.strip() == "No Ofsted judgements are stated in the 1 report held on North Somerset."
    assert records(capsys, own_store, "--council", "North Somerset") == []


def test_report_text_is_printed_as_it_is_never_as_markup(own_store, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")  # a terminal of usual width: cells wrap
    code, out, _ = run(capsys, "--data-dir", str(own_store), "judgements")
    assert code == 0
    [row] = table_rows(out)
    assert row[6] == flat("[red]A[/red] [/] [link=https://e.vil]x[/link] Overall effectiveness was judged to be good.")


def test_help_says_what_a_judgement_record_is(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["judgements", "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for words in ("read from the report text when the report is ingested", "the quote it was read from",
                  "character offsets", "--council", "--area", "--current-only", "--json", "help_protection"):
        assert words in out
