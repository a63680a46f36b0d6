"""The Judgements page: the Ofsted grades the reports state, by council and year, each one
opening the passage it was read from.

Nothing here judges anything: the chart and the table show the records ingest read from the
report text (``ingest.judgements``), as ``reports-qa judgements`` prints them, and a selected
row opens its report section with the quote marked from the stored offsets.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import altair as alt
import pandas as pd
import streamlit as st

from assistant.models import Citation
from ingest.judgements import AREA_ORDER, AREAS, GRADES, Judgement
from ingest.models import ReportMeta
from ui.sources import facts, md_text, passage_html, report_html

# Ordinal, best first: dark green, green, amber, red.
GRADE_COLOURS = {
    "Outstanding": "#1b5e20",
    "Good": "#66bb6a",
    "Requires improvement to be good": "#f0a500",
    "Inadequate": "#c62828",
}
SHORT = {"Requires improvement to be good": "RI"}
TABLE_KEY = "judgements-table"
Row = tuple[ReportMeta, Judgement]


def when(j: Judgement) -> str:
    """Whose grade this is: the inspection the report is about, or the one before it recalls."""
    if not j.previous:
        return "this inspection"
    return f"previous inspection ({j.inspection_year})" if j.inspection_year else "previous inspection"


def _year(meta: ReportMeta, j: Judgement) -> str:
    year = j.inspection_year or (int(meta.date[:4]) if meta.date and meta.date[:4].isdigit() else None)
    return str(year) if year else "undated"


def table_rows(rows: Sequence[Row]) -> list[dict[str, str]]:
    """The table as the reader sees it: plain strings (st.dataframe shows cells as text)."""
    return [
        {
            "Council": m.council or m.source,
            "Year": _year(m, j),
            "When": when(j),
            "Framework": j.framework or "",
            "Area": j.area_label,
            "Grade": j.grade,
            "Report's words": j.words,
            "Quote": " ".join(j.quote.split()),
            "Report": m.report_id,
            "Characters": f"{j.start}–{j.end}",
        }
        for m, j in rows
    ]


def chart_data(rows: Sequence[Row], area: str) -> pd.DataFrame:
    """One cell per council and inspection year for ``area``. Where a later report recalls an
    inspection that an earlier report is about, the earlier report's own record wins."""
    cells: dict[tuple[str, str], Row] = {}
    for m, j in sorted((r for r in rows if r[1].area == area), key=lambda r: r[1].previous):
        cells.setdefault((m.council or m.source, _year(m, j)), (m, j))
    return pd.DataFrame(
        [
            {
                "council": council,
                "year": year,
                "grade": j.grade,
                "label": SHORT.get(j.grade, j.grade),
                "stated": f"{when(j)}, as {m.report_id} states it",
                "words": j.words,
                "previous": j.previous,
            }
            for (council, year), (m, j) in sorted(cells.items())
        ],
        columns=["council", "year", "grade", "label", "stated", "words", "previous"],
    )


def grade_chart(data: pd.DataFrame, area: str) -> alt.LayerChart:
    """A heat-map of council × inspection year, coloured by grade; recalled grades paler."""
    years = sorted(data["year"].unique())
    base = alt.Chart(data).encode(
        x=alt.X("year:O", title="Inspection year", sort=years, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("council:N", title=None),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color(
            "grade:O",
            title=f"{AREAS[area]}",
            scale=alt.Scale(domain=list(GRADES), range=[GRADE_COLOURS[g] for g in GRADES]),
            legend=alt.Legend(orient="bottom", columns=2),
        ),
        opacity=alt.condition("datum.previous", alt.value(0.55), alt.value(1.0)),
        tooltip=[
            alt.Tooltip("council:N", title="Council"),
            alt.Tooltip("year:O", title="Inspection year"),
            alt.Tooltip("grade:N", title="Grade"),
            alt.Tooltip("words:N", title="Report's words"),
            alt.Tooltip("stated:N", title="Source"),
        ],
    )
    labels = base.mark_text(fontWeight="bold").encode(
        text="label:N",
        color=alt.condition("datum.grade == 'Outstanding' || datum.grade == 'Inadequate'",
                            alt.value("white"), alt.value("black")),
    )
    return (cells + labels).properties(height=alt.Step(36))


def judgement_citation(assistant, meta: ReportMeta, j: Judgement) -> Citation | None:
    """The record as a citation of the section it was read from (None if the report changed)."""
    passage = assistant.judgement_passage(meta, j, 1)
    return None if passage is None else Citation(1, passage, j.quote, j.start, j.end)


def judgement_panel(assistant, meta: ReportMeta, j: Judgement) -> None:
    """A selected record: its grade, where it comes from, the section with the quote marked."""
    with st.container(border=True):
        st.subheader(md_text(f"{meta.council or meta.source}: {j.area_label}, {j.grade}"), anchor=False)
        citation = judgement_citation(assistant, meta, j)
        if citation is None:
            st.warning("This report's text has changed since the grade was read: ingest it again.")
            return
        about = [("Grade", j.grade), ("Area", j.area_label), ("When", when(j)),
                 ("Report's words", j.words)]
        if j.framework:
            about.append(("Framework", j.framework))
        if j.inspected:
            about.append(("Inspected", j.inspected))
        if j.published:
            about.append(("Ofsted report published", j.published))
        rows = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
                       f"<td>{html.escape(v)}</td></tr>" for k, v in about + facts(citation, meta))
        # st.html, not st.markdown: report text is data, never markup.
        st.html(f"<table class='judgement-facts'>{rows}</table>")
        with st.container(height=320):
            st.html(passage_html(citation))
        if st.toggle("Open full report", key=f"judgement-full-{meta.report_id}-{j.start}",
                     help="The whole report, scrolled to this passage"):
            st.iframe(report_html(assistant.store.report_text(meta.report_id), citation), height=520)


def judgements_page(assistant) -> None:
    st.title("Inspection judgements")
    st.caption(
        "The Ofsted grades the reports state, by council and inspection. Each grade is read from the report "
        "text when the report is ingested, never guessed, and keeps the quote it was read from: select a row "
        "to read that passage with the quote marked. A report that states no grades has none here."
    )
    records = assistant.store.list_reports()
    if not records:
        st.info("No reports yet: add some on the Library page, or run `reports-qa ingest`.")
        return
    councils = sorted({r.meta.council or r.meta.source for r in records})
    left, right = st.columns(2)
    chosen = left.multiselect("Councils", councils, placeholder="All councils")
    areas = right.multiselect("Areas", list(AREA_ORDER), format_func=AREAS.__getitem__, placeholder="All areas")
    in_scope = [r for r in records if not chosen or (r.meta.council or r.meta.source) in chosen]
    stale = [r for r in in_scope if r.judgements_stale]
    rows = [(m, j) for m, j in assistant.store.judgements([r.meta.report_id for r in in_scope])
            if not areas or j.area in areas]
    if stale:
        st.caption(md_text(f"{len(stale)} report(s) were stored before grades were read from reports; "
                           "ingest them again to see their grades."))
    if not rows:
        where = ", ".join(chosen) if chosen else "the reports held"
        what = " for " + ", ".join(AREAS[a].lower() for a in areas) if areas else ""
        st.info(md_text(f"No Ofsted grades{what} are stated in the reports on {where}."
                        if chosen else f"No Ofsted grades{what} are stated in {where}."))
        return

    present = [a for a in AREA_ORDER if any(j.area == a for _, j in rows)]
    area = st.selectbox("Chart: grades by council and inspection year for", present, format_func=AREAS.__getitem__,
                        index=present.index("overall") if "overall" in present else 0)
    st.altair_chart(grade_chart(chart_data(rows, area), area), width="stretch")
    st.caption("Paler cells are grades a later report recalls from the inspection before its own.")

    # The key names the filters, so a selection never outlives the rows it was made on.
    key = f"{TABLE_KEY}:{'|'.join(chosen)}:{'|'.join(areas)}"
    event = st.dataframe(
        table_rows(rows), key=key, hide_index=True, on_select="rerun", selection_mode="single-row",
        column_config={"Quote": st.column_config.TextColumn(width="large"),
                       "Report's words": st.column_config.TextColumn(width="medium")},
    )
    selected = [i for i in event.selection.rows if 0 <= i < len(rows)]
    if selected:
        judgement_panel(assistant, *rows[selected[0]])
    else:
        st.caption("Select a row to read the passage its grade was read from.")
