"""The Judgements page under ``streamlit.testing`` (AppTest): real assistant, real stores.

Row selection is driven the way Streamlit documents for programmatic selection (the table's
key in session state), which AppTest supports; the click itself is the browser's business.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from ingest.judgements import extract_judgements
from reports_qa.settings import PROJECT_ROOT
from tests.conftest import SAMPLE_TEXT, build_report
from tests.samples import SWINDON, sample_text

APP = str(PROJECT_ROOT / "ui" / "app.py")
RI = "Requires improvement to be good"
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def shown(markdown: str) -> str:
    """What a reader sees of Markdown escaped by ``ui.sources.md_text``."""
    return _ESCAPED.sub(r"\1", markdown.replace("  \n", "\n"))


def judgements_page(data_dir, monkeypatch) -> AppTest:
    monkeypatch.setenv("REPORTS_QA_DATA_DIR", str(data_dir))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.sidebar.radio[0].set_value("Judgements").run()
    assert not at.exception
    return at


def rows(at: AppTest) -> list[dict]:
    return at.dataframe[0].value.to_dict("records")


def select(at: AppTest, index: int) -> AppTest:
    """Select a table row as a reader's click does: through the table's selection state."""
    at.session_state[at.dataframe[0].key] = {"selection": {"rows": [index]}}
    at.run()
    assert not at.exception
    return at


def html_with(at: AppTest, css_class: str) -> list[str]:
    return [h.proto.body for h in at.get("html") if css_class in h.proto.body]


def marked(passage_html: str) -> str:
    [inside] = re.findall(r"<mark[^>]*>(.*?)</mark>", passage_html, re.S)
    return html.unescape(inside)


@pytest.fixture
def page(sample_store, monkeypatch) -> AppTest:
    return judgements_page(sample_store, monkeypatch)


def test_the_table_lists_every_grade_the_sample_reports_state(page, sample_store):
    table = rows(page)
    got = {(r["Council"], r["Year"], r["When"], r["Area"], r["Grade"]) for r in table}
    assert ("Swindon Borough Council", "2019", "this inspection", "Overall effectiveness", "Good") in got
    assert ("Swindon Borough Council", "2019", "this inspection", "Children in care", RI) in got
    assert ("London Borough of Southwark", "2017", "this inspection", "Overall effectiveness", "Good") in got
    # Grades a report recalls from the inspection before its own are shown as such.
    assert ("Southend-on-Sea Borough Council", "2012", "previous inspection (2012)", "Children in care", "Good") in got
    assert ("North Somerset Council", "2017", "previous inspection (2017)", "Overall effectiveness", RI) in got
    # Each row has the report's own words and its whole quote, cut from the report at its offsets.
    swindon_care = next(r for r in table if r["Council"].startswith("Swindon") and r["Area"] == "Children in care")
    assert swindon_care["Report's words"] == (
        "The experience and progress of Children in Care and Care Leavers: Requires Improvement to be Good")
    start, end = (int(x) for x in swindon_care["Characters"].split("–"))
    assert swindon_care["Quote"] == " ".join(sample_text(SWINDON)[start:end].split())
    assert "graded as: **Requires Improvement to be Good**" in swindon_care["Quote"]
    assert swindon_care["Report"] == "swindon-2019-09-04-cabinet" and swindon_care["Framework"] == "ILACS"



def test_the_table_is_the_stored_records_in_catalogue_order(page, assistant):
    stored = [(m.council, j.area_label, j.grade, m.report_id, f"{j.start}–{j.end}")
              for m, j in assistant.store.judgements()]
    assert len(stored) > 20
    assert [(r["Council"], r["Area"], r["Grade"], r["Report"], r["Characters"]) for r in rows(page)] == stored


def test_the_council_and_area_filters_narrow_the_table(page):
    everyone = rows(page)
    page.multiselect[0].set_value(["Swindon Borough Council"]).run()
    swindon = rows(page)
    assert {r["Council"] for r in swindon} == {"Swindon Borough Council"}
    assert {(r["Area"], r["Grade"]) for r in swindon} == {
        ("Overall effectiveness", "Good"), ("Leaders and management", "Good"),
        ("Help and protection", "Good"), ("Children in care", RI)}
    assert len(swindon) < len(everyone)

    page.multiselect[0].set_value(["Southend-on-Sea Borough Council"]).run()
    page.multiselect[1].set_value(["overall"]).run()
    southend = rows(page)
    # Both Southend reports, not only the latest: the page is a table across years.
    assert [(r["Year"], r["When"], r["Report"]) for r in southend] == [
        ("2016", "this inspection", "southend-on-sea-2016-07-12-people-scrutiny-committee"),
        ("2019", "this inspection", "southend-on-sea-2019-09-17-cabinet"),
        ("2016", "previous inspection (2016)", "southend-on-sea-2019-09-17-cabinet"),
    ]


def test_the_chart_shows_each_councils_grade_by_inspection_year(page):
    [chart] = page.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    colour = spec["layer"][0]["encoding"]["color"]
    assert colour["type"] == "ordinal" and colour["title"] == "Overall effectiveness"
    assert colour["scale"]["domain"] == ["Outstanding", "Good", RI, "Inadequate"]
    [data] = [dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data) for d in chart.proto.datasets]
    cells = {(r["council"], r["year"]): (r["grade"], r["previous"]) for r in data.to_dict("records")}
    assert cells == {
        ("London Borough of Southwark", "2017"): ("Good", False),
        ("North Somerset Council", "2017"): (RI, True),  # recalled by the 2020 report
        ("North Somerset Council", "2020"): (RI, False),
        ("Southend-on-Sea Borough Council", "2016"): (RI, False),  # its own report, not 2019's recollection
        ("Southend-on-Sea Borough Council", "2019"): (RI, False),
        ("Swindon Borough Council", "2019"): ("Good", False),
    }

    page.selectbox[0].set_value("in_care").run()
    [chart] = page.get("vega_lite_chart")
    [data] = [dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data) for d in chart.proto.datasets]
    assert ("Swindon Borough Council", "2019", RI) in {(r["council"], r["year"], r["grade"]) for r in data.to_dict("records")}


def test_selecting_a_row_opens_its_passage_with_the_quote_marked(page):
    assert not html_with(page, "cited-passage")
    table = rows(page)
    index = next(i for i, r in enumerate(table) if r["Council"].startswith("Swindon") and r["Area"] == "Children in care")
    select(page, index)
    [passage] = html_with(page, "cited-passage")
    start, end = (int(x) for x in table[index]["Characters"].split("–"))
    assert marked(passage) == sample_text(SWINDON)[start:end]
    assert "3.6 Ofsted judged that the experience and progress of children in care" in html.unescape(passage)
    [facts] = html_with(page, "judgement-facts")
    for fact in ("Requires improvement to be good", "Children in care", "this inspection", "ILACS", "Cabinet",
                 f"swindon-2019-09-04-cabinet.txt, characters {start}–{end}"):
        assert fact in facts
    assert shown(page.subheader[-1].value) == f"Swindon Borough Council: Children in care, {RI}"

    next(t for t in page.toggle if t.label == "Open full report").set_value(True).run()
    [frame] = page.get("iframe")
    assert frame.proto.srcdoc.count('id="cited"') == 1

    page.multiselect[0].set_value(["Swindon Borough Council"]).run()  # new rows: the old selection goes
    assert not html_with(page, "cited-passage")


@pytest.fixture
def own_store(settings, store, embed_report):
    """A store holding a report that states no grade, and one whose graded line carries markup."""
    plain = build_report()  # North Somerset: a library review, no Ofsted grade in it
    line = ("1.1 From April 2021 three branch libraries will move to a community-managed model run by volunteers, "
            "with the council keeping the building costs.")
    hostile_line = ("1.1 <img src=x onerror=alert(1)> [read more](javascript:alert(1)) The overall effectiveness "
                    "of children's services was judged to be **Good**.")
    text = SAMPLE_TEXT.replace(line, hostile_line).replace("North Somerset Council\n", "Kent County Council\n")
    hostile = build_report(text, report_id="kent-2021-05-01-cabinet", council="Kent *County* Council",
                           date="2021-05-01")
    hostile.judgements = extract_judgements(text, "2021-05-01")
    assert [j.grade for j in hostile.judgements] == ["Good"]
    for report in (plain, hostile):
        store.put_report(report, embed_report(report))
    store.close()
    return settings.data_dir


def test_report_text_is_shown_never_rendered(own_store, monkeypatch):
    at = judgements_page(own_store, monkeypatch)
    [row] = rows(at)
    assert row["Council"] == "Kent *County* Council"
    assert row["Quote"].startswith("<img src=x onerror=alert(1)> [read more](javascript:alert(1))")
    select(at, 0)
    assert shown(at.subheader[-1].value) == "Kent *County* Council: Overall effectiveness, Good"
    [passage] = html_with(at, "cited-passage")
    assert "<img" not in passage and "&lt;img src=x onerror=alert(1)&gt;" in passage
    assert marked(passage).startswith("<img src=x onerror=alert(1)> [read more](javascript:alert(1))")
    for h in at.get("html"):
        assert "<img" not in h.proto.body
    markdown = [e.value for kind in ("markdown", "caption", "subheader", "info") for e in at.get(kind)]
    assert not any("](javascript" in m or "*County*" in m for m in markdown)


def test_a_council_whose_reports_state_no_grade_is_said_plainly(own_store, monkeypatch):
    at = judgements_page(own_store, monkeypatch)
    at.multiselect[0].set_value(["North Somerset"]).run()
    assert not at.dataframe and not at.get("vega_lite_chart")
    [info] = at.info
    assert shown(info.value) == "No Ofsted grades are stated in the reports on North Somerset."
